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
grid point is named otherwise. docs/statistics.md explains why the treatments differ. Example::

    na62dump verify --model dark_photon --channel ee --mass 0.1668 --coupling 2.4e-7
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from na62dump.commands._args import int_at_least
from na62dump.errors import InputError

COUPLING_KEYS = {"dark_photon": "eps", "dark_scalar": "sin2theta"}
REL_TOL = 1e-3


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("verify", help="CLs of one hypothesis: scan, per point, pyhf",
                              description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", metavar="DIR",
                   help="results directory of `na62dump limits` (default: %(default)s)")
    p.add_argument("--model", required=True, choices=sorted(COUPLING_KEYS))
    p.add_argument("--channel", required=True, help="ee, mumu, combined, pipi, ...")
    p.add_argument("--mass", required=True, type=float, metavar="GEV")
    p.add_argument("--coupling", required=True, type=float, metavar="X",
                   help="eps (dark photon) or sin^2 theta (dark scalar)")
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


def point_cls(results: str | Path, model: str, channel: str, mass_gev: float, coupling: float,
              *, n_toys: int = 2000, seed: int = 1, published: bool = False) -> dict:
    """``{"scan", "scan_kind", "per_point", "pyhf_asymptotic", "pyhf_toys", "n_exp",
    "mass_gev", "coupling", "workspace"}``: CLs of one hypothesis by each treatment."""
    import pyhf

    from na62dump import artefacts, atomic
    from na62dump.stats import patchset
    from na62dump.stats.toys import FastModel, PublishedToys, pyhf_toy_hypotest
    from na62dump.stats.workspace import validate_workspace

    if model not in COUPLING_KEYS:
        raise InputError(f"--model {model!r}: choose among {sorted(COUPLING_KEYS)}")
    source = "published" if published else "pseudo-data"
    results = Path(results)
    limits = atomic.read_json(artefacts.limits_dir(results, source) / f"{model}_{channel}.json",
                              "run `na62dump limits` first")
    masses = np.asarray(limits["mass_gev"], dtype=float)
    couplings = np.asarray(limits[COUPLING_KEYS[model]], dtype=float)
    i, j = _grid_index(masses, mass_gev, "mass"), _grid_index(couplings, coupling, "coupling")
    blinded = limits.get("cls_observed") is None
    scan = (limits["cls_expected"]["0"] if blinded else limits["cls_observed"])[i][j]
    ws_dir = artefacts.workspaces_dir(results, source)
    bkg = atomic.read_json(ws_dir / f"{model}_{channel}_bkgonly.json",
                           "written by `na62dump limits`")
    ps = atomic.read_json(ws_dir / f"{model}_{channel}_patchset.json",
                          "written by `na62dump limits`")
    spec, meta = patchset.apply_patch(bkg, ps, masses[i], couplings[j])
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
        "n_exp": float(meta["n_exp_total"]), "scan": None if scan is None else float(scan),
        "scan_kind": "expected median (blinded)" if blinded else "observed",
        "blinded": blinded,
        "per_point": float(per_point["cls_expected"][2] if blinded else per_point["cls"]),
        "pyhf_asymptotic": float(asym[1] if blinded else asym[0]),
        "pyhf_toys": float(toys["cls_expected"][2] if blinded else toys["cls"]),
        "n_toys": n_toys,
        "workspace": f"{ws_dir / f'{model}_{channel}_bkgonly.json'} + patch {meta['name']}",
    }


def main(args: argparse.Namespace) -> int:
    r = point_cls(args.results, args.model, args.channel, args.mass, args.coupling,
                  n_toys=args.toys, seed=args.seed, published=args.published)
    name = COUPLING_KEYS[args.model]
    print(f"{args.model} {args.channel}: M = {1000 * r['mass_gev']:.1f} MeV, "
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
