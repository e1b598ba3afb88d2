"""``na62dump verify``: the CLs of one hypothesis by every treatment, side by side.

For one (model, channel, mass, coupling) of a limits scan it prints, each labelled:

- ``scan``: the CLs of ``DIR/limits/<model>_<channel>.json`` (observed, or the expected
  median while blinded), the per-mass CLs(s) curve mapped through N_exp
  (:mod:`na62dump.stats.scan`);
- ``project, per point``: the published toy treatment
  (:class:`na62dump.stats.toys.PublishedToys`) at ``mu = 1`` on the patched workspace of the
  point (``DIR/limits/workspaces/<model>_<channel>_bkgonly.json`` plus its patch in
  ``_patchset.json``, :mod:`na62dump.stats.patchset`);
- ``pyhf asymptotic``: plain pyhf (``Workspace.model()``, pyhf's default interpolation
  codes, ``pyhf.infer.hypotest`` with ``qtilde``) on the same workspace; ``pyhf toys``:
  pyhf's toybased calculator (:func:`na62dump.stats.toys.pyhf_toy_hypotest`).

The mass and coupling must be points of the scanned grid (relative tolerance 1e-3); the nearest
grid point is named otherwise. Every model the limits stage scans is accepted (the registry
:data:`na62dump.commands.limits.COUPLING_MODELS` and the model-independent ALP): for ``alp`` the
coupling is BR(B -> K a) x BR(a -> f) and the point needs the lifetime, ``--tau`` (s) or
``--ctau`` (m), which no other model takes. docs/statistics.md explains why the treatments
differ. Examples::

    na62dump verify --model dark_photon --channel ee --mass 0.1668 --coupling 2.4e-7
    na62dump verify --model alp --channel ee --mass 0.4 --tau 1e-10 --coupling 1e-7
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from na62dump.commands._args import int_at_least
from na62dump.commands.limits import ALP_AXES, COUPLING_MODELS, MODELS
from na62dump.errors import InputError

REL_TOL = 1e-3
#: What ``--coupling`` is, per model (the limit file's key of the coupling grid).
COUPLING_KEYS = {m: ALP_AXES[1] if m == "alp" else COUPLING_MODELS[m].coupling for m in MODELS}


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("verify", help="CLs of one hypothesis: scan, per point, pyhf",
                              description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", metavar="DIR",
                   help="results directory of `na62dump limits` (default: %(default)s)")
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--channel", required=True, help="ee, mumu, combined, pipi, ...")
    p.add_argument("--mass", required=True, type=float, metavar="GEV")
    p.add_argument("--coupling", required=True, type=float, metavar="X",
                   help="the model's coupling: " + ", ".join(
                       f"{key} ({m})" for m, key in COUPLING_KEYS.items()))
    life = p.add_mutually_exclusive_group()
    life.add_argument("--tau", type=float, metavar="S",
                      help="ALP lifetime tau_a in seconds (--model alp only)")
    life.add_argument("--ctau", type=float, metavar="M",
                      help="ALP c tau_a in metres, instead of --tau (--model alp only)")
    p.add_argument("--toys", type=int_at_least(10), default=2000,
                   help="pseudo-experiments of the toy treatments (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seed of the toys (default: 1)")
    p.add_argument("--published", action="store_true",
                   help="the limits of `--observed published` (DIR/limits_published)")
    p.set_defaults(func=main)
    return p


def _grid_index(values: np.ndarray, x: float, what: str) -> int:
    if not (np.isfinite(x) and x > 0):
        raise InputError(f"--{what} must be finite and > 0, got {x}")
    i = int(np.argmin(np.abs(np.log(values / x))))
    if abs(values[i] / x - 1) > REL_TOL:
        raise InputError(f"--{what} {x:g} is not a grid point of the scan; nearest {values[i]:.6g}")
    return i


def lifetime_s(model: str, tau_s: float | None = None, ctau_m: float | None = None):
    """The ALP lifetime (s) of ``--tau`` or ``--ctau``: required for ``alp``, refused for any
    other model (None then)."""
    from na62dump.physics.decay import C_M_PER_S

    given = "--tau" if tau_s is not None else "--ctau" if ctau_m is not None else None
    if model != "alp":
        if given:
            raise InputError(f"{given} is the lifetime axis of the model-independent ALP "
                             f"scan: only with --model alp (not {model})")
        return None
    if given is None:
        raise InputError("--model alp: the hypothesis (mass, tau_a, BR x BR) needs the "
                         "lifetime: give --tau SECONDS or --ctau METRES")
    value = tau_s if tau_s is not None else ctau_m
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"{given} must be finite and > 0, got {value}")
    return float(tau_s) if tau_s is not None else float(ctau_m) / C_M_PER_S


def point_cls(results: str | Path, model: str, channel: str, mass_gev: float, coupling: float,
              *, tau_s: float | None = None, n_toys: int = 2000, seed: int = 1,
              published: bool = False) -> dict:
    """``{"scan", "scan_kind", "per_point", "pyhf_asymptotic", "pyhf_toys", "n_exp",
    "mass_gev", "coupling", "tau_s", "workspace"}``: CLs of one hypothesis by each treatment
    (``tau_s``: the lifetime, for the ALP only, whose ``coupling`` is BR x BR)."""
    import pyhf

    from na62dump import artefacts, atomic
    from na62dump.stats import patchset
    from na62dump.stats.toys import FastModel, PublishedToys, pyhf_toy_hypotest
    from na62dump.stats.workspace import validate_workspace

    if model not in COUPLING_KEYS:
        raise InputError(f"--model {model!r}: choose among {', '.join(COUPLING_KEYS)}")
    tau_s = lifetime_s(model, tau_s)
    source = "published" if published else "pseudo-data"
    results = Path(results)
    limits = atomic.read_json(artefacts.limits_dir(results, source) / f"{model}_{channel}.json",
                              "run `na62dump limits` first")
    masses = np.asarray(limits["mass_gev"], dtype=float)
    couplings = np.asarray(limits[COUPLING_KEYS[model]], dtype=float)
    i, j = _grid_index(masses, mass_gev, "mass"), _grid_index(couplings, coupling, "coupling")
    index, point = (i, j), float(couplings[j])
    if tau_s is not None:  # the ALP: CLs arrays (mass, tau, BR x BR)
        taus = np.asarray(limits[ALP_AXES[0]], dtype=float)
        k = _grid_index(taus, tau_s, "tau")
        index, point = (i, k, j), (float(taus[k]), float(couplings[j]))
    blinded = limits.get("cls_observed") is None
    scan = np.asarray(limits["cls_expected"]["0"] if blinded else limits["cls_observed"],
                      dtype=float)[index]
    ws_dir = artefacts.workspaces_dir(results, source)
    bkg = atomic.read_json(ws_dir / f"{model}_{channel}_bkgonly.json",
                           "written by `na62dump limits`")
    ps = atomic.read_json(ws_dir / f"{model}_{channel}_patchset.json",
                          "written by `na62dump limits`")
    spec, meta = patchset.apply_patch(bkg, ps, masses[i], point)
    rng = np.random.default_rng(seed)
    per_point = PublishedToys(FastModel.from_spec(spec), n_toys, rng).evaluate(1.0)
    ws = validate_workspace(spec)
    pmodel = ws.model()  # plain pyhf: default interpolation codes
    data = ws.data(pmodel)
    asym = pyhf.infer.hypotest(1.0, data, pmodel, test_stat="qtilde", calctype="asymptotics",
                               return_expected=True)
    toys = pyhf_toy_hypotest(spec, 1.0, n_toys, np.random.default_rng(seed))
    return {
        "mass_gev": float(masses[i]), "coupling": float(couplings[j]),
        "tau_s": None if tau_s is None else point[0],
        "n_exp": float(meta["n_exp_total"]), "scan": float(scan),
        "scan_kind": "expected median (blinded)" if blinded else "observed",
        "blinded": blinded,
        "per_point": float(per_point["cls_expected"][2] if blinded else per_point["cls"]),
        "pyhf_asymptotic": float(asym[1] if blinded else asym[0]),
        "pyhf_toys": float(toys["cls_expected"][2] if blinded else toys["cls"]),
        "n_toys": n_toys,
        "workspace": f"{ws_dir / f'{model}_{channel}_bkgonly.json'} + patch {meta['name']}",
    }


def main(args: argparse.Namespace) -> int:
    tau = lifetime_s(args.model, args.tau, args.ctau)
    r = point_cls(args.results, args.model, args.channel, args.mass, args.coupling, tau_s=tau,
                  n_toys=args.toys, seed=args.seed, published=args.published)
    name = COUPLING_KEYS[args.model]
    life = "" if r["tau_s"] is None else f"tau_a = {r['tau_s']:.4g} s, "
    print(f"{args.model} {args.channel}: M = {1000 * r['mass_gev']:.1f} MeV, {life}"
          f"{name} = {r['coupling']:.4g}, N_exp = {r['n_exp']:.4g} events; CLs "
          f"({r['scan_kind']}):")
    rows = (("scan (limits JSON: CLs(s) curve at N_exp)", r["scan"]),
            (f"project, per point (published toys, {r['n_toys']})", r["per_point"]),
            ("pyhf asymptotic (qtilde)", r["pyhf_asymptotic"]),
            (f"pyhf toys (toybased, {r['n_toys']})", r["pyhf_toys"]))
    for label, value in rows:
        print(f"  {label:<46} {value:.4f}")
    print(f"  workspace: {r['workspace']}")
    return 0
