"""``na62dump hepdata``: a HEPData submission of the results (``hepdata_lib``).

Reads a results directory of ``na62dump limits`` (``limits/``, ``limits/yields/``,
``limits/workspaces/*_bkgonly.json`` and ``*_patchset.json``, ``background/background.json``,
``run/summary.json``, and each set's ``provenance.json``: the records go into the submission
as a ``provenance.json`` resource, and its comment names the version and code hash)
and writes ``OUT/`` (``submission.yaml``, one YAML per table, the patchsets and
background-only workspaces as additional resources, and ``submission.tar.gz``, the archive to
upload), both the directory and the archive validated by ``hepdata-validator`` (offline: the
schemas ship with it). Tables:

- per model and channel of ``limits/`` over (mass, coupling) (every model of the limits
  stage's registry :data:`na62dump.commands.limits.COUPLING_MODELS`: dark photon, dark scalar,
  gluon-coupled ALP, ...), and per combination of channels (``combined``, ``hadronic``: one
  likelihood over several final states) alike: the observed contour and the expected median,
  +-1 sigma and +-2 sigma contours (points of the CLs = 1 - CL lines in (mass, coupling),
  ``segment`` numbering the separate lines), and the 90% CL upper limit on the signal yield
  (events) per mass, observed and expected;
- per final state and mass of the model-independent ALP (``limits/alp_<state>.json``): the
  observed and expected (median, +-1, +-2 sigma) 90% CL upper limit on BR(B -> K a) x
  BR(a -> f) per lifetime tau_a (:func:`alp_tables`);
- per yield table: the N_exp map (mass x coupling; the ALP's mass x c tau at BR x BR = 1) and
  the selection efficiency per production mode;
- per channel of ``summary.json``: the cutflows (weighted) of the data, the MC backgrounds and
  every signal sample;
- ``background.json``: the expected background (median, k, 68% interval) per final state and
  region.

The resources hold the background-only workspace and PatchSet of every limit file (each
channel, each combination, each ALP final state). The pyhf schema of a PatchSet requires the
INSPIRE id of the record (``metadata.references.hepdata``); ``--inspire insNNNNNNN`` sets it
in the resources (and validates them with pyhf), without it they are attached as written
by ``na62dump limits``.
The INSPIRE id of NA62's record of arXiv:2312.12055 is not built in: no source at hand states
it, so it is given with ``--inspire`` (docs/statistics.md).
The output is written next to ``OUT`` and renamed into place: nothing half-written. Example::

    na62dump hepdata --results results --out hepdata
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from na62dump import artefacts, atomic, provenance
from na62dump.commands._args import check_writable_dir
from na62dump.commands.limits import ALP_AXES, COUPLING_MODELS
from na62dump.errors import InputError

#: sqrt(s) (GeV) of 400 GeV SPS protons on a nucleon at rest: sqrt(2 m_p E) (HEPData keyword).
SQRT_S_GEV = round(float(np.sqrt(2 * 0.93827 * 400.0)), 1)
BANDS = {"-2": "exp. -2 sigma", "-1": "exp. -1 sigma", "0": "exp. median",
         "1": "exp. +1 sigma", "2": "exp. +2 sigma"}


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("hepdata", help="HEPData submission of the results",
                              description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", metavar="DIR",
                   help="results directory (default: %(default)s)")
    p.add_argument("--out", default="hepdata", metavar="DIR",
                   help="output directory of the submission (default: %(default)s)")
    p.add_argument("--inspire", metavar="insNNNNNNN",
                   help="INSPIRE id of the record (the patchsets' references.hepdata)")
    p.set_defaults(func=main)
    return p


def _var(name, values, *, independent, units="", binned=False):
    from hepdata_lib import Variable

    v = Variable(name, is_independent=independent, is_binned=binned, units=units)
    v.values = list(values)
    return v


def _table(name: str, description: str, location: str, keywords=None):
    from hepdata_lib import Table

    t = Table(name)
    t.description = description
    t.location = location
    for k, vals in (keywords or {}).items():
        t.keywords[k] = list(vals)
    return t


def _finite(x) -> float | str:
    return float(x) if x is not None and np.isfinite(x) else "-"


def limit_tables(path: Path, tag: str = "") -> list:
    """Contours and signal-yield upper limits of one ``limits/<model>_<channel>.json``
    (``tag`` is appended to the table names, e.g. for the published observations)."""
    lim = atomic.read_json(path)
    model, channel = lim.get("model"), lim.get("channel")
    if model not in COUPLING_MODELS:
        return []
    states = lim.get("final_states") or [channel]
    what_of = (f"the {model} in {channel}" if len(states) == 1 else
               f"the {model}, combination '{channel}' of {', '.join(states)} (one likelihood)")
    channel = f"{channel}{tag}"
    key, label = COUPLING_MODELS[model].coupling, COUPLING_MODELS[model].label
    cl = float(lim["cl"])
    tables = []
    contours = lim.get("contours") or {}
    lines = [("observed", contours.get("observed"))]
    lines += [(BANDS[b], (contours.get("expected") or {}).get(b)) for b in BANDS]
    for what, segs in lines:
        if not segs:
            continue  # blinded (observed) or nothing excluded
        pts = [(k, p) for k, seg in enumerate(segs) for p in seg]
        t = _table(f"{model} {channel} {what} contour",
                   f"{100 * cl:.0f}% CL {what} exclusion contour (CLs = {1 - cl:.2f}) of "
                   f"{what_of}, in (mass, {key}); 'segment' numbers the lines.",
                   str(path.relative_to(path.parents[1 if not tag else 2])),
                   {"observables": ["CLs"], "cmenergies": [SQRT_S_GEV]})
        t.add_variable(_var("mass", [p[0] for _, p in pts], independent=True, units="GeV"))
        t.add_variable(_var(label, [p[1] for _, p in pts], independent=False))
        t.add_variable(_var("segment", [k for k, _ in pts], independent=False))
        tables.append(t)
    m = lim["mass_gev"]
    t = _table(f"{model} {channel} signal upper limit",
               f"{100 * cl:.0f}% CL upper limit on the signal yield (events) per mass of "
               f"{what_of}, observed and expected ('-' where none).",
               str(path.relative_to(path.parents[1 if not tag else 2])),
               {"observables": ["N"], "cmenergies": [SQRT_S_GEV]})
    t.add_variable(_var("mass", m, independent=True, units="GeV"))
    if lim.get("s_up_observed") is not None:
        t.add_variable(_var("observed", map(_finite, lim["s_up_observed"]), independent=False,
                            units="events"))
    for b, name in BANDS.items():
        t.add_variable(_var(name, map(_finite, lim["s_up_expected"][b]), independent=False,
                            units="events"))
    tables.append(t)
    return tables


def alp_tables(path: Path, tag: str = "") -> list:
    """Per mass of one ``limits/alp_<state>.json``: the observed and expected upper limits on
    BR(B -> K a) x BR(a -> f) vs the lifetime tau_a.

    The yield is linear in BR x BR, so the limit at (M, tau_a) is the upper limit on the signal
    yield at M (``s_up_observed``, ``s_up_expected``: the crossing of the scan's CLs(s) curve)
    over the expected events at BR x BR = 1 (``n_exp_br1``); ``"-"`` where that is above 1 or
    undefined (no signal at that lifetime, or no crossing)."""
    lim = atomic.read_json(path)
    if lim.get("model") != "alp":
        return []
    cl, state = float(lim["cl"]), f"{lim['channel']}{tag}"
    tau = np.asarray(lim[ALP_AXES[0]], dtype=float)
    unit = np.asarray([[np.nan if v is None else v for v in row] for row in lim["n_exp_br1"]],
                      dtype=float)
    location = str(path.relative_to(path.parents[1 if not tag else 2]))
    tables = []
    for i, mass in enumerate(lim["mass_gev"]):
        t = _table(f"alp {state} M {1000 * mass:.1f} MeV BR x BR upper limit",
                   f"{100 * cl:.0f}% CL upper limit on BR(B -> K a) x BR(a -> {lim['channel']}) "
                   f"vs the ALP lifetime tau_a at M = {1000 * mass:.1f} MeV, observed and "
                   "expected (median, +-1 and +-2 sigma): the signal-yield upper limit over "
                   "the expected events at BR x BR = 1 ('-' where none, or above 1).",
                   location, {"observables": ["BR"], "cmenergies": [SQRT_S_GEV]})
        t.add_variable(_var("$\\tau_a$", tau, independent=True, units="s"))
        columns = [] if lim.get("s_up_observed") is None else [
            ("observed", lim["s_up_observed"][i])]
        columns += [(name, lim["s_up_expected"][b][i]) for b, name in BANDS.items()]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for name, s_up in columns:
                br = (np.nan if s_up is None else s_up) / unit[i]
                t.add_variable(_var(name, [_finite(x) if x <= 1 else "-" for x in br],
                                    independent=False))
        tables.append(t)
    return tables


def yield_tables(path: Path) -> list:
    """N_exp and efficiency maps of one ``yields/<model>_<channel>.json``."""
    y = atomic.read_json(path)
    key = y["coupling"]
    mm, cc = np.meshgrid(np.asarray(y["mass_gev"], float), np.asarray(y[key], float),
                         indexing="ij")
    tables = []
    for what, values, units, desc in (
        ("N_exp", {"total": y["n_exp_total"], **y["n_exp"]}, "events",
         "expected signal events in the SR" + (" at BR(B -> K a) x BR(a -> f) = 1"
                                               if y["model"] == "alp" else "")),
        ("efficiency", y["efficiency"], "", "selection efficiency per production mode"),
    ):
        t = _table(f"{y['model']} {y['channel']} {what}",
                   f"{desc} of the {y['model']} in {y['channel']} over (mass, {key}); "
                   f"N_POT = {y['n_pot']:.3g}.", f"yields/{path.name}",
                   {"observables": [what], "cmenergies": [SQRT_S_GEV]})
        t.add_variable(_var("mass", mm.ravel(), independent=True, units="GeV"))
        t.add_variable(_var(key, cc.ravel(), independent=True))
        for mode, arr in values.items():
            a = np.asarray([[np.nan if v is None else v for v in row] for row in arr], float)
            t.add_variable(_var(mode, map(_finite, a.ravel()), independent=False, units=units))
        tables.append(t)
    return tables


def _pseudo_data(summary: dict) -> set[str]:
    """Names of the pseudo-data datasets of a run (its ``datasets`` record)."""
    return {n for n, d in (summary.get("datasets") or {}).items()
            if isinstance(d, dict) and d.get("kind") == "pseudo_data"}


def cutflow_tables(summary: dict) -> list:
    """Weighted cutflows per channel: data, MC backgrounds and every signal sample."""
    tables = []
    for channel, datasets in sorted(summary.get("channels", {}).items()):
        flows = {n: d["cutflow"] for n, d in datasets.items() if d.get("cutflow")}
        if not flows:
            continue
        names = max((f["names"] for f in flows.values()), key=len)
        blind = not summary.get("unblinded", False) and bool(set(datasets) & _pseudo_data(summary))
        note = (" The pseudo-data are blinded: their column is left out (its last steps "
                "exclude the signal and control regions, no SR or CR count is made)."
                if blind else "")
        t = _table(f"cutflow {channel}",
                   f"Weighted events after each selection step in {channel}: data, MC "
                   f"backgrounds and signal samples (columns named by dataset).{note}",
                   "summary.json", {"observables": ["N"], "cmenergies": [SQRT_S_GEV]})
        t.add_variable(_var("step", names, independent=True))
        for name in sorted(flows, key=lambda n: (n != "data", n)):
            f = flows[name]
            if f["names"] != names:
                continue
            t.add_variable(_var(name, f["weighted"], independent=False, units="events"))
        tables.append(t)
    return tables


def background_table(bkg: dict) -> list:
    rows = [(s, r, e) for s, regions in sorted(bkg.items()) if not s.startswith("_")
            for r, e in sorted(regions.items()) if isinstance(e, dict) and "median" in e]
    if not rows:
        return []
    t = _table("background", "Expected background per final state and region: median, "
               "log-normal k and 68% interval (events).", "background.json",
               {"observables": ["N"], "cmenergies": [SQRT_S_GEV]})
    t.add_variable(_var("final state / region", [f"{s} {r}" for s, r, _ in rows],
                        independent=True))
    for col, get in (("median", lambda e: e["median"]), ("k", lambda e: e["k"]),
                     ("68% low", lambda e: e["interval68"][0]),
                     ("68% high", lambda e: e["interval68"][1])):
        t.add_variable(_var(col, [_finite(get(e)) for *_, e in rows], independent=False,
                            units="" if col == "k" else "events"))
    return [t]


def _resources(ws_dir: Path, tmp: Path, inspire: str | None,
               prefix: str = "", tag: str = "") -> list[tuple[str, Path]]:
    """The background-only workspaces and patchsets of ``ws_dir``, copied to ``tmp`` as
    ``<prefix><name>`` (the reference filled in with ``inspire``, then validated by pyhf)."""
    from na62dump.stats.patchset import validate_patchset

    out = []
    for ps_path in sorted(ws_dir.glob("*_patchset.json")):
        name = ps_path.name[: -len("_patchset.json")]
        bkg, ps = atomic.read_json(ws_dir / f"{name}_bkgonly.json"), atomic.read_json(ps_path)
        if inspire:
            ps["metadata"]["references"] = {"hepdata": inspire}
            validate_patchset(bkg, ps)
        b = atomic.write_json(tmp / f"{prefix}{name}_bkgonly.json", bkg, indent=1,
                              sort_keys=True)
        p = atomic.write_json(tmp / f"{prefix}{name}_patchset.json", ps, indent=None)
        out.append((f"pyhf background-only workspace of {name}{tag}", b))
        out.append((f"pyhf PatchSet of {name}{tag}: one patch per (mass, coupling), mu = 1 is "
                    "the hypothesis", p))
    return out


def provenance_records(results: Path) -> dict[str, Any]:
    """``{set: record}`` of the stage sets a submission is built from (those present)."""
    sets = {"run": artefacts.run_dir(results), "background": artefacts.background_dir(results),
            "limits": artefacts.limits_dir(results),
            "limits_published": artefacts.limits_dir(results, "published")}
    return {name: rec for name, d in sets.items()
            if (rec := provenance.read_record(d)) is not None}


def provenance_note(records: Mapping[str, Any]) -> str:
    """One sentence for the submission comment: the na62dump version and code hash of the
    limits, and where the full records are."""
    rec = records.get("limits") or next(iter(records.values()), None)
    if rec is None:
        return "No provenance record was found in the results."
    git = rec.get("git") or {}
    commit = f", git {git['commit'][:12]}{' (dirty)' if git.get('dirty') else ''}" \
        if git.get("commit") else ""
    return (f"Made with na62dump {rec.get('na62dump')} (code sha256 {rec.get('code', '')[:16]}"
            f"{commit}); the full provenance records are in provenance.json.")


def build_submission(results: str | Path, out: str | Path, inspire: str | None = None) -> Path:
    """Write and validate the submission in ``out`` (replaced atomically); returns ``out``."""
    from hepdata_lib import Submission
    from hepdata_validator.full_submission_validator import FullSubmissionValidator

    results, out = Path(results), Path(out)
    if inspire is not None and not re.fullmatch(r"ins[0-9]{7}", inspire):
        raise InputError(f"--inspire {inspire!r}: expected ins followed by 7 digits")
    def limit_files(source: str) -> list[Path]:
        return sorted(p for p in artefacts.limits_dir(results, source).glob("*.json")
                      if p.name != artefacts.PROVENANCE_NAME)

    limits = limit_files("pseudo-data")
    if not limits:
        raise InputError(f"{artefacts.limits_dir(results)}: no limit files (run `na62dump "
                         "limits`)")
    tables = [t for p in limits for t in (*limit_tables(p), *alp_tables(p))]
    tables += [t for p in limit_files("published")
               for t in (*limit_tables(p, " (published obs.)"),
                         *alp_tables(p, " (published obs.)"))]
    tables += [t for p in sorted(artefacts.yields_dir(results).glob("*.json"))
               for t in yield_tables(p)
               if atomic.read_json(p).get("model") in (*COUPLING_MODELS, "alp")]
    if artefacts.summary_path(results).exists():
        tables += cutflow_tables(atomic.read_json(artefacts.summary_path(results)))
    if artefacts.background_path(results).exists():
        tables += background_table(atomic.read_json(artefacts.background_path(results)))
    records = provenance_records(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        res_dir = tmp / "_resources"
        res_dir.mkdir()
        sub = Submission()
        sub.comment = ("na62dump: an open reproduction of the NA62 2021 beam-dump searches "
                       "(NA62, PRL 133 (2024) 111802, arXiv 2312.12055; JHEP 09 (2023) 035), "
                       "from simulated pseudo-data unless the limits say otherwise. "
                       + provenance_note(records))
        for t in tables:
            sub.add_table(t)
        res = _resources(artefacts.workspaces_dir(results), res_dir, inspire)
        res += _resources(artefacts.workspaces_dir(results, "published"), res_dir, inspire,
                          prefix="published_", tag=" (published observations)")
        res.append(("provenance records of the na62dump stage sets these tables come from "
                    "(na62dump.provenance)",
                    atomic.write_json(res_dir / "provenance.json", records, sort_keys=True)))
        for desc, path in res:
            sub.add_additional_resource(desc, str(path), copy_file=True, file_type="json")
        stage = tmp / "submission"
        with contextlib.chdir(tmp):  # hepdata_lib writes submission.tar.gz in the cwd
            sub.create_files(str(stage), validate=False)
        for what in ({"directory": str(stage)}, {"archive": str(tmp / "submission.tar.gz")}):
            validator = FullSubmissionValidator(autoload_remote_schemas=False)
            if not validator.validate(**what):
                msgs = [f"{f}: {m.message}" for f, ms in validator.get_messages().items()
                        for m in ms]
                raise InputError("hepdata-validator: " + "; ".join(msgs)[:400])
        shutil.move(tmp / "submission.tar.gz", stage / "submission.tar.gz")
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        stage.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(args: argparse.Namespace) -> int:
    check_writable_dir(args.out, "--out")
    check_writable_dir(Path(args.out).absolute().parent, "--out")  # staged next to it
    out = build_submission(args.results, args.out, args.inspire)
    n = len(list(out.glob("*.yaml"))) - 1
    print(f"written: {out} ({n} tables, submission.yaml, submission.tar.gz; validated)")
    return 0

