"""``na62dump all``: the whole search on the built-in campaign, make-like (stages 1-5).

Runs ``simulate -> run -> background -> limits -> plot`` into one results directory, reusing
every artefact that is up to date, and ends with a short summary: events per region and
channel, background expectations, the excluded mass and coupling ranges per channel and
combined, and where the files are. Examples::

    na62dump all                                   # the demo: preset default, into results/
    na62dump all --preset tiny --out /tmp/tiny     # seconds, for a first look or tests
    na62dump all --blind                           # keep the pseudo-data blinded: expected only
    na62dump all --force limits                    # redo limits and plot, reuse the rest
    na62dump all --observed published              # also NA62's published observations

Make-like reuse, from provenance
--------------------------------
Every stage set carries the provenance record of the stage that wrote it
(``<set>/provenance.json``, :mod:`na62dump.provenance`): the code hash, the campaign file's
hash, preset and data directory, the cut objects, the options, seeds and blinding, and the
digests of the records of the sets it read. At its turn, each stage builds the record it would
write now and compares it with its set's (:func:`stale_reason`); it reruns only when they
differ, and says what changed (``cuts of ee changed``, ``code changed``, ``input run
changed``, ``options changed (toys)``). A changed cut therefore reruns run and, through the
digests, background, limits and plot; a changed limits option reruns limits and plot only.
``simulate`` runs when a campaign file is missing, and itself only makes missing files.

Blinding
--------
The published analysis opened its signal and control regions only after validating the
background estimates. The demo must show observed limits, so ``all`` processes the pseudo-data
**unblinded by default**, says so loudly, and records it (``summary.json`` ``"unblinded":
true``, ``DIR/all.json``, every limit file's ``"blinded": false``). ``--blind`` keeps the
regions closed: the limits are then expected only and the figures draw the regions as masked.

Published observations
----------------------
``--observed published`` adds, beside the pseudo-data limits (``DIR/limits/*.json``), the
limits computed with NA62's published observations and backgrounds (``na62dump limits
--observed published``: the set ``DIR/limits_published/``); the plot stage draws their
observed contour on the dark-photon exclusion figures, and the summary prints their extents.
The default, ``--observed pseudo-data``, computes the pseudo-data limits only and removes a
published set left by an earlier run. The choice is part of the limits stage's record.

Speed
-----
For the ``default`` preset (``make demo``) the statistics use fewer toys and a coarser grid
than the ``limits`` command's defaults (:data:`STATS_BY_PRESET`), so the demo ends within
minutes on two cores; ``--toys``, ``--masses``, ``--hadronic-masses``,
``--combination-masses`` and ``--couplings`` override them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from na62dump import atomic, settings
from na62dump.commands._args import check_writable_dir, comma_list, positive_int
from na62dump.errors import InputError

logger = logging.getLogger(__name__)

STAGES = ("simulate", "run", "background", "limits", "plot")
#: Per preset: toys per tested yield, mass points, coupling points of the limit scans.
STATS_BY_PRESET = {
    "tiny": {"toys": 200, "masses": 6, "hadronic_masses": 6, "combination_masses": 6,
             "couplings": 16},
    # the combinations with hadronic states (up to seven channels per fit) are the costliest
    # scans, but at 12 masses instead of 24 the contours of the BC4 and BC11 combinations
    # shrink (BC4 to 325 MeV instead of 414, BC11 to 877 instead of 1041): the grid spacing,
    # not the physics; so the hadronic grid's 24
    "default": {"toys": 300, "masses": 64, "hadronic_masses": 24, "combination_masses": 24,
                "couplings": 30},
    "full": {"toys": 1000, "masses": 96, "hadronic_masses": 48, "combination_masses": 48,
             "couplings": 40},
}
#: Background pseudo-experiments per preset (the ``background`` command's default is 1e6).
PSEUDO_EXPERIMENTS = {"tiny": 20_000, "default": 200_000, "full": 1_000_000}
#: Where older versions kept their make-like records (removed: provenance decides now).
RECORD_DIR = ".all"
UNBLIND_NOTE = (
    "NOTE: `na62dump all` opens the signal and control regions of the pseudo-data (unblinded) "
    "to show observed limits, as the published analysis did after validating its backgrounds. "
    "Recorded in summary.json and all.json; use --blind to keep them closed."
)

_FORMATS = comma_list("format", "png,pdf", lower=True)


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``all`` to the ``na62dump`` subcommands."""
    p = subparsers.add_parser(
        "all", help="the whole chain: simulate, run, background, limits, plot (make-like)",
        description=__doc__.splitlines()[0],
        epilog="Blinding: unblinded by default (observed limits), --blind for expected only.",
    )
    p.add_argument("--preset", default="default", metavar="NAME",
                   help="campaign preset: tiny, default or full (default: %(default)s)")
    p.add_argument("--config", metavar="FILE", help="datasets.yaml (default: the packaged one)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="where the simulated files live (default: the campaign's data_dir)")
    p.add_argument("--out", metavar="DIR", default="results",
                   help="results directory (default: %(default)s)")
    p.add_argument("--executor", choices=settings.EXECUTORS, default=settings.DEFAULT_EXECUTOR,
                   help="coffea executor of the run stage (default: %(default)s)")
    p.add_argument("--workers", type=positive_int, default=settings.DEFAULT_WORKERS,
                   metavar="N", help="worker processes (default: %(default)s)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--toys", type=positive_int, metavar="N",
                     help="pseudo-experiments per tested yield (default: per preset, "
                          + ", ".join(f"{k} {v['toys']}" for k, v in STATS_BY_PRESET.items())
                          + ")")
    how.add_argument("--asymptotic", action="store_true",
                     help="asymptotic CLs instead of toys (not valid at zero background)")
    p.add_argument("--masses", type=positive_int, metavar="N",
                   help="mass points of the leptonic limit scans (default: per preset)")
    p.add_argument("--hadronic-masses", type=positive_int, metavar="N",
                   help="mass points of the hadronic limit scans (default: per preset)")
    p.add_argument("--combination-masses", type=positive_int, metavar="N",
                   help="mass points of the combinations with hadronic states (default: per "
                        "preset)")
    p.add_argument("--couplings", type=positive_int, metavar="N",
                   help="coupling points of the limit scans (default: per preset)")
    p.add_argument("--blind", action="store_true",
                   help="keep the pseudo-data blinded (expected limits only)")
    p.add_argument("--form-factor", choices=settings.BREMS_FORM_FACTORS,
                   default=settings.DEFAULT_BREMS_FORM_FACTOR,
                   help="proton form factor of the dark-photon bremsstrahlung rate "
                        "(none: the published treatment; vmd) (default: %(default)s)")
    p.add_argument("--observed", choices=("pseudo-data", "published"), default="pseudo-data",
                   help="published: also the limits with NA62's published observations, "
                        "beside the pseudo-data ones (default: %(default)s only)")
    p.add_argument("--format", type=_FORMATS, default=["png", "pdf"], metavar="LIST",
                   help="figure formats (default: png,pdf)")
    p.add_argument("--reference", action="append", default=[], metavar="FILE",
                   help="an earlier experiment's limit to overlay in grey (repeatable)")
    p.add_argument("--force", choices=STAGES, metavar="STAGE",
                   help="rerun from this stage on even if up to date (" + ", ".join(STAGES)
                        + ")")
    p.set_defaults(func=main)
    return p


# --------------------------------------------------------------------------------------------
# Up to date, from provenance
# --------------------------------------------------------------------------------------------
def stale_reason(expected: Mapping[Path, Mapping]) -> str | None:
    """Why a stage must rerun (a short text), or None when each of its sets exists with the
    record the stage would write now (``expected``: ``{set directory: record}``)."""
    from na62dump import provenance

    reasons: list[str] = []
    for set_dir, record in expected.items():
        if not set_dir.exists():
            reasons.append(f"no {set_dir}")
            continue
        reasons += [r for r in provenance.differences(provenance.read_record(set_dir), record)
                    if r not in reasons]
    return "; ".join(reasons) if reasons else None


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------
def _command_args(name: str, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` with the ``name`` command's own parser (its options, its defaults)."""
    module = importlib.import_module(f"na62dump.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"na62dump {name}")
    module.register(parser.add_subparsers(dest="command"))
    return parser.parse_args([name, *argv])


def _stage_simulate(ctx) -> None:
    argv = ["--preset", ctx.preset]
    if ctx.config:
        argv += ["--config", ctx.config]
    if ctx.data_dir:
        argv += ["--data-dir", ctx.data_dir]
    _call(_command_args("simulate", [*argv, "--workers", str(ctx.workers)]))
    ctx.reload_campaign()
    missing = [p for p in ctx.data_files() if not p.is_file()]
    if missing:
        raise InputError(f"simulate: {len(missing)} campaign files still missing, e.g. "
                         f"{missing[0]}")


def _simulate_expected(ctx) -> str | None:
    missing = [p for p in ctx.data_files() if not p.is_file()]
    return f"{len(missing)} campaign files missing, e.g. {missing[0]}" if missing else None


def _stage_run(ctx) -> None:
    from na62dump import runner

    # the library directly: `na62dump run` has no --data-dir, the campaign object carries it
    result = runner.run(ctx.campaign, executor=ctx.executor, workers=ctx.workers,
                        unblind=ctx.unblind, out_dir=ctx.out, status=ctx.tty)
    for name, ch in result.channels.items():
        print(f"  {name}: {len(ch.output)} datasets, {ch.events} events in {ch.seconds:.1f} s")


def _run_expected(ctx) -> dict[Path, dict]:
    from na62dump import artefacts, runner
    from processors import PROCESSORS

    record = runner.run_record(
        ctx.campaign, {c: p(cuts=None).cuts for c, p in PROCESSORS.items()},
        channels=list(PROCESSORS), executor=ctx.executor, chunksize=settings.DEFAULT_CHUNKSIZE,
        skip_bad_files=False, unblind=ctx.unblind)
    return {artefacts.run_dir(ctx.out): record}


def _background_args(ctx) -> argparse.Namespace:
    """The ``background`` command's options (its defaults) for this chain."""
    return _command_args("background", ["--results", str(ctx.out),
                                        "--pseudo-experiments", str(ctx.n_pe)])


def _background_record(ctx) -> dict:
    from na62dump import backgrounds

    a = _background_args(ctx)
    prior = backgrounds.UNIFORM_PRIOR if a.prior == "uniform" else backgrounds.JEFFREYS_PRIOR
    return backgrounds.background_record(ctx.out, n_pe=a.pseudo_experiments, seed=a.seed,
                                         prior=prior, published=a.published_background)


def _stage_background(ctx) -> None:
    from na62dump import backgrounds

    # from the run's artefacts only
    a = _background_args(ctx)
    prior = backgrounds.UNIFORM_PRIOR if a.prior == "uniform" else backgrounds.JEFFREYS_PRIOR
    result = backgrounds.estimate_backgrounds(ctx.out, n_pe=a.pseudo_experiments, seed=a.seed,
                                              prior=prior, published=a.published_background)
    result["_provenance"] = _background_record(ctx)
    backgrounds.write_background(ctx.out, result)


def _background_expected(ctx) -> dict[Path, dict]:
    from na62dump import artefacts

    return {artefacts.background_dir(ctx.out): _background_record(ctx)}


def _limits_args(ctx) -> argparse.Namespace:
    """The ``limits`` command's options for this chain (per-preset grid and toys); the signal
    datasets are described by the run's summary.json, not by datasets.yaml."""
    argv = ["--results", str(ctx.out),
            "--masses", str(ctx.stats["masses"]),
            "--hadronic-masses", str(ctx.stats["hadronic_masses"]),
            "--combination-masses", str(ctx.stats["combination_masses"]),
            "--couplings", str(ctx.stats["couplings"]),
            "--workers", str(ctx.workers)]
    argv += ["--asymptotic"] if ctx.asymptotic else ["--toys", str(ctx.stats["toys"])]
    argv += ["--form-factor", ctx.form_factor]
    # with --observed published, the published limits beside the pseudo-data ones (never
    # over them), from the same yields
    sources = "pseudo-data" + (",published" if ctx.observed == "published" else "")
    return _command_args("limits", [*argv, "--observed", sources])


def _stage_limits(ctx) -> None:
    from na62dump import artefacts

    _call(_limits_args(ctx))
    if ctx.observed != "published":  # an earlier run's published set does not describe this
        artefacts.remove_set(artefacts.limits_dir(ctx.out, "published"))


def _limits_expected(ctx) -> dict[Path, dict]:
    from na62dump import artefacts, runner
    from na62dump.commands import limits

    try:  # as the limits stage will read it
        blinded = not runner.read_summary(ctx.out)["unblinded"]
    except InputError:  # no usable run yet: the run this chain makes
        blinded = not ctx.unblind
    wanted = {"pseudo-data": blinded}
    if ctx.observed == "published":
        wanted["published"] = False
    records = limits.stage_records(_limits_args(ctx), ctx.out, wanted)
    expected = {artefacts.limits_dir(ctx.out, k): r for k, r in records.items()}
    published = artefacts.limits_dir(ctx.out, "published")
    if ctx.observed != "published" and published.exists():
        expected[published] = {"stage": "none: not asked (--observed pseudo-data)"}
    return expected


def _stage_plot(ctx) -> None:
    from na62dump import plotting

    _, skipped = plotting.plot_all(ctx.out, None, ctx.formats, ctx.references,
                                   workers=ctx.workers)
    for what, why in skipped:
        print(f"  skipped {what}: {why}")


def _plot_expected(ctx) -> dict[Path, dict]:
    from na62dump import artefacts, plotting

    return {artefacts.figures_dir(ctx.out):
            plotting.plot_record(ctx.out, ctx.formats, ctx.references)}


def _call(args: argparse.Namespace) -> None:
    status = int(args.func(args) or 0)
    if status:
        raise InputError(f"{args.command}: stage failed with exit status {status}")


class _Context:
    """What the stages share: the parsed options and the campaign."""

    def __init__(self, args: argparse.Namespace):
        from na62dump.plotting import load_reference_curve
        from na62dump.simulation.campaign import DEFAULT_CONFIG

        self.preset = args.preset
        self.config = args.config
        self.config_path = Path(args.config or DEFAULT_CONFIG).resolve()
        self.data_dir = args.data_dir
        self.out = Path(args.out)
        self.executor = args.executor
        self.workers = args.workers
        self.unblind = not args.blind
        self.asymptotic = args.asymptotic
        self.form_factor = args.form_factor
        self.observed = args.observed
        stats = dict(STATS_BY_PRESET.get(args.preset, STATS_BY_PRESET["default"]))
        for key in ("toys", "masses", "hadronic_masses", "combination_masses", "couplings"):
            if getattr(args, key) is not None:
                stats[key] = getattr(args, key)
        self.stats = stats
        self.n_pe = PSEUDO_EXPERIMENTS.get(args.preset, PSEUDO_EXPERIMENTS["full"])
        self.formats = tuple(args.format)
        bad = [f for f in self.formats if f not in ("png", "pdf", "svg")]
        if bad or not self.formats:
            raise InputError(f"--format {','.join(args.format)}: choose among png, pdf, svg")
        self.references = list(args.reference)
        for ref in self.references:  # check them now, not after the whole chain
            load_reference_curve(ref)
        self.reload_campaign()  # validates the preset and the campaign file
        self.tty = sys.stdout.isatty()

    def reload_campaign(self) -> None:
        from na62dump.simulation.campaign import load_campaign

        kwargs = {"data_dir": self.data_dir} if self.data_dir else {}
        self.campaign = load_campaign(self.config, preset=self.preset, **kwargs)

    def data_files(self) -> list[Path]:
        files = []
        for d in self.campaign.datasets:  # made by simulate, or supplied (no recipe)
            files += d.output_paths() if d.recipe is not None else map(Path, d.existing_files())
        return files

    def plan(self) -> list[tuple[str, Callable, Callable]]:
        """(stage, function, expected) in order: ``expected(ctx)`` is the reason to run
        (simulate) or ``{set: record}`` the stage would write now (the others)."""
        return [
            ("simulate", _stage_simulate, _simulate_expected),
            ("run", _stage_run, _run_expected),
            ("background", _stage_background, _background_expected),
            ("limits", _stage_limits, _limits_expected),
            ("plot", _stage_plot, _plot_expected),
        ]


# --------------------------------------------------------------------------------------------
# The summary
# --------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{x:.3g}"


def excluded_ranges(limits: Mapping, coupling_key: str = "eps") -> dict[str, Any] | None:
    """The mass range (GeV) and coupling range excluded in a limit file, observed if present.

    Returns None when nothing is excluded on the grid. Uses ``cls_observed`` when present,
    else the median expected ``cls_expected["0"]`` (then ``"kind": "expected"``).

    >>> lim = {"mass_gev": [0.1, 0.2, 0.3], "eps": [1e-7, 1e-6], "cl": 0.9,
    ...        "cls_observed": [[0.5, 0.01], [0.05, 0.2], [0.5, 0.5]],
    ...        "cls_expected": {"0": [[1, 1], [1, 1], [1, 1]]}}
    >>> r = excluded_ranges(lim)
    >>> r["kind"], r["mass_gev"], r["coupling"]
    ('observed', [0.1, 0.2], [1e-07, 1e-06])
    """
    alpha = 1.0 - float(limits.get("cl", 0.9))
    observed = limits.get("cls_observed")
    kind = "observed" if observed is not None else "expected"
    cls = np.asarray(observed if observed is not None else limits["cls_expected"]["0"],
                     dtype=float)
    excluded = cls < alpha
    if not excluded.any():
        return None
    mass = np.asarray(limits["mass_gev"], dtype=float)
    coupling = np.asarray(limits[coupling_key], dtype=float)
    rows, cols = np.nonzero(excluded)
    return {"kind": kind,
            "mass_gev": [float(mass[rows].min()), float(mass[rows].max())],
            "coupling": [float(coupling[cols].min()), float(coupling[cols].max())]}


def contour_extent(limits: Mapping) -> dict[str, list[float]] | None:
    """Mass and coupling range (min, max) spanned by the observed contour lines, or None.

    >>> contour_extent({"contours": {"observed": [[[0.1, 1e-6], [0.3, 2e-6], [0.2, 5e-7]]]}})
    {'mass_gev': [0.1, 0.3], 'coupling': [5e-07, 2e-06]}
    """
    from na62dump.validation import contour_points

    arr = contour_points(limits)
    if not len(arr):
        return None
    return {"mass_gev": [float(arr[:, 0].min()), float(arr[:, 0].max())],
            "coupling": [float(arr[:, 1].min()), float(arr[:, 1].max())]}


def _open_note(limits: Mapping) -> str:
    """``" (open at mass min, ...)"`` for the contour the summary line reports, or ``""``."""
    open_at = (limits.get("contours") or {}).get("open_at") or {}
    edges = (open_at.get("observed") if limits.get("cls_observed") is not None
             else (open_at.get("expected") or {}).get("0"))
    return f" (open at {', '.join(edges)})" if edges else ""


def _model_of(stem: str) -> tuple[str, str, str] | None:
    """``(label, channel, coupling key)`` of a dark-photon, dark-scalar, gluon-coupled (BC11)
    or fermion-coupled ALP (BC10) limit file, all over (M, coupling)."""
    if stem.startswith("dark_photon_"):
        return "A'", stem.removeprefix("dark_photon_"), "eps"
    if stem.startswith("dark_scalar_"):
        return "scalar", stem.removeprefix("dark_scalar_"), "sin2theta"
    if stem.startswith("alp_gluon_"):
        return "ALP-g", stem.removeprefix("alp_gluon_"), "cgg"
    if stem.startswith("alp_fermion_"):
        return "ALP-f", stem.removeprefix("alp_fermion_"), "cff"
    return None


def _model_limits(files, lines: list[str]):
    """``(limits, (label, channel, coupling key))`` of the limit files over (M, coupling);
    the model-independent ALP files' summary lines go straight to ``lines``."""
    for path in files:
        limits = json.loads(path.read_text())
        which = _model_of(path.stem)
        if which is None and path.stem.startswith("alp_"):  # (tau_a, BR x BR) per mass
            lines.append(f"  ALP    {path.stem.removeprefix('alp_'):<11} "
                         + _alp_summary(limits))
            continue
        if which is not None:
            yield limits, which


def _published_lines(out: Path) -> list[str]:
    """Summary lines of ``DIR/limits_published/*.json``: the observed contour extents."""
    files = sorted(_limit_files(out, "published"), key=_file_order)
    if not files:
        return []
    source = json.loads(files[0].read_text()).get("observed_source", "published")
    lines = [f"With NA62's observations ({source}) and published backgrounds, observed "
             "contour extents:"]
    for limits, (model, channel, unit) in _model_limits(files, lines):
        r, what = contour_extent(limits), ""
        if r is None and unit in limits:  # no line (one mass): the excluded grid points
            r, what = excluded_ranges(limits, unit), " (excluded grid points)"
        if r is None:
            lines.append(f"  {model:<6} {channel:<11} nothing excluded")
            continue
        lines.append(f"  {model:<6} {channel:<11} M {1e3 * r['mass_gev'][0]:.0f}-"
                     f"{1e3 * r['mass_gev'][1]:.0f} MeV, {unit} {r['coupling'][0]:.2g}-"
                     f"{r['coupling'][1]:.2g}{what}{_open_note(limits)}")
    return lines


def _limit_files(out: Path, source: str) -> list[Path]:
    """The limit files of a limit set (its ``provenance.json`` aside)."""
    from na62dump import artefacts

    return [p for p in artefacts.limits_dir(out, source).glob("*.json")
            if p.name != artefacts.PROVENANCE_NAME]


def _file_order(path: Path) -> tuple:
    """Summary order: the dark photon combined, ee, mumu first, then the rest by name."""
    first = {"dark_photon_combined": 0, "dark_photon_ee": 1, "dark_photon_mumu": 2}
    return first.get(path.stem, 3), not path.stem.startswith("dark_photon"), path.stem


def summary_text(out: Path) -> str:
    """The terminal summary of a results directory (also written to ``DIR/summary.txt``)."""
    from na62dump import artefacts

    lines = []
    summary_path = artefacts.summary_path(out)
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    unblinded = bool(summary.get("unblinded"))
    lines.append(f"Pseudo-data {'UNBLINDED' if unblinded else 'blinded'} "
                 f"(summary.json: \"unblinded\": {str(unblinded).lower()})")
    lines.append("Events of the pseudo-data in the control (CR) and signal (SR) regions:")
    for channel, per_dataset in summary.get("channels", {}).items():
        counts = [(name, d) for name, d in per_dataset.items()
                  if "CR" in d and (d.get("CR") is not None or d.get("SR") is not None
                                    or name == "data")]
        for name, d in counts:
            if d.get("CR") is None and d.get("SR") is None:
                if name == "data" or not unblinded:
                    lines.append(f"  {channel:<9} {name:<10} CR blinded   SR blinded")
                continue
            lines.append(f"  {channel:<9} {name:<10} CR {d['CR']:<8}   SR {d['SR']}")
    bkg_path = artefacts.background_path(out)
    if bkg_path.is_file():
        bkg = json.loads(bkg_path.read_text())
        lines.append("Expected background (median [68% interval]):")
        for state, regions in bkg.items():
            if state.startswith("_"):
                continue
            parts = []
            for region in ("CR", "SR"):
                e = regions.get(region)
                if e:
                    lo, hi = e["interval68"]
                    parts.append(f"{region} {_fmt(e['median']):>8} [{_fmt(lo)}, {_fmt(hi)}]"
                                 .ljust(30))
            lines.append(f"  {state:<11} " + " ".join(parts).rstrip())
    files = sorted(_limit_files(out, "pseudo-data"), key=_file_order)
    if files:
        lines.append("Excluded at 90% CL (observed; expected median while blinded), "
                     "within the scanned grid:")
    for limits, (model, channel, key) in _model_limits(files, lines):
        unit = key
        if key not in limits:
            continue
        r = excluded_ranges(limits, key)
        grid = np.asarray(limits["mass_gev"], dtype=float) * 1e3
        scanned = (f"[grid {grid.min():.0f}-{grid.max():.0f} MeV]" if grid.size > 1
                   else f"[one mass, {grid[0]:.0f} MeV]")
        if r is None:
            lines.append(f"  {model:<6} {channel:<11} nothing excluded {scanned}")
        else:
            lines.append(
                f"  {model:<6} {channel:<11} {r['kind']}: M {1e3 * r['mass_gev'][0]:.0f}-"
                f"{1e3 * r['mass_gev'][1]:.0f} MeV, {unit} {r['coupling'][0]:.2g}-"
                f"{r['coupling'][1]:.2g} {scanned}{_open_note(limits)}")
    lines += _published_lines(out)
    figures = artefacts.figures_dir(out)
    lines.append("Files (each stage set with its provenance.json):")
    lines.append(f"  run outputs   {artefacts.run_dir(out)}/*.coffea, {summary_path}")
    lines.append(f"  backgrounds   {bkg_path}")
    lines.append(f"  limits        {artefacts.limits_dir(out)}/*.json (yields: "
                 f"{artefacts.yields_dir(out)}, workspaces: {artefacts.workspaces_dir(out)})")
    if artefacts.limits_dir(out, "published").is_dir():
        lines.append(f"  published     {artefacts.limits_dir(out, 'published')}/*.json "
                     "(NA62's observations)")
    n_fig = len(list(figures.glob("*.png"))) if figures.is_dir() else 0
    lines.append(f"  figures       {figures}/ ({n_fig} PNG, with PDF and cutflow tables)")
    return "\n".join(lines) + "\n"


def _alp_summary(limits: Mapping) -> str:
    """Per ALP mass: excluded or not, observed (or expected while blinded)."""
    alpha = 1.0 - float(limits.get("cl", 0.9))
    observed = limits.get("cls_observed")
    cls = np.asarray(observed if observed is not None else limits["cls_expected"]["0"],
                     dtype=float)
    masses = np.asarray(limits["mass_gev"], dtype=float)
    if cls.ndim != 3 or len(masses) != cls.shape[0]:
        return "(unrecognised layout)"
    kind = "observed" if observed is not None else "expected"
    parts = []
    records = limits.get("masses") or [{}] * len(masses)
    for m, c, rec in zip(masses, cls, records, strict=True):
        br = np.asarray(limits.get("br_x_br", []), dtype=float)
        ex = c < alpha
        if ex.any() and br.size == c.shape[1]:
            parts.append(f"{1e3 * m:.0f} MeV: BRxBR >= {br[np.nonzero(ex)[1]].min():.1g}"
                         + _open_note({"cls_observed": observed, **rec}))
        else:
            parts.append(f"{1e3 * m:.0f} MeV: none")
    return f"{kind}: " + "; ".join(parts)


# --------------------------------------------------------------------------------------------
def main(args: argparse.Namespace) -> int:
    """Run the chain; return the exit status."""

    ctx = _Context(args)
    check_writable_dir(ctx.out, "--out")
    check_writable_dir(ctx.campaign.data_dir, "--data-dir" if ctx.data_dir else
                       f"data_dir of {ctx.config_path}")
    if ctx.unblind:
        print(UNBLIND_NOTE, file=sys.stderr)
    ctx.out.mkdir(parents=True, exist_ok=True)
    forced = STAGES.index(args.force) if args.force else len(STAGES)
    shutil.rmtree(ctx.out / RECORD_DIR, ignore_errors=True)  # records of older versions
    timings: dict[str, float] = {}
    tic_all = time.perf_counter()
    for i, (stage, func, expected) in enumerate(ctx.plan()):
        # at the stage's turn: its inputs' records are those of the stages just run
        if i >= forced:
            reason = "--force"
        elif stage == "simulate":
            reason = expected(ctx)
        else:
            reason = stale_reason(expected(ctx))
        if reason is None:
            print(f"[{i + 1}/{len(STAGES)}] {stage}: up to date")
            timings[stage] = 0.0
            continue
        print(f"[{i + 1}/{len(STAGES)}] {stage}: running ({reason})", flush=True)
        tic = time.perf_counter()
        func(ctx)
        timings[stage] = time.perf_counter() - tic
        print(f"[{i + 1}/{len(STAGES)}] {stage}: done in {timings[stage]:.1f} s", flush=True)
    text = summary_text(ctx.out)
    atomic.write_text(ctx.out / "summary.txt", text)
    atomic.write_json(ctx.out / "all.json", {
        "preset": ctx.preset, "config": str(ctx.config_path),
        "data_dir": str(ctx.campaign.data_dir), "unblinded": ctx.unblind,
        "blinding_note": UNBLIND_NOTE if ctx.unblind else "blinded: expected limits only",
        "statistics": {"asymptotic": ctx.asymptotic, "observed": ctx.observed, **ctx.stats},
        "seconds": timings, "wall_seconds": time.perf_counter() - tic_all,
        "argv": sys.argv[1:],
    })
    print()
    print(text, end="")
    print(f"  this summary  {ctx.out / 'summary.txt'} ({time.perf_counter() - tic_all:.0f} s)")
    if ctx.unblind:
        print("(pseudo-data unblinded by `na62dump all`: observed limits shown)", file=sys.stderr)
    return 0
