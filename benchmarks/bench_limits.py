"""Benchmark of the combined (M, eps) CLs scan, side by side with per-point hypotests.

Run from the repository root::

    .venv/bin/python benchmarks/bench_limits.py            # 60 x 60 grid, 1000 toys
    .venv/bin/python benchmarks/bench_limits.py --quick    # 12 x 20 grid, 300 toys

What it measures, in one run:

1. the fast scan (:func:`na62dump.stats.scan.scan_dark_photon`, published toy treatment):
   ee + mumu combination on an ``n_mass x n_eps`` grid with ``--toys`` toys per hypothesis and
   tested yield, on synthetic physical yields (:mod:`na62dump.stats.synthetic`), one mu+mu-
   candidate at 411 MeV;
2. the per-point loop it replaces, ``pyhf.infer.hypotest(1, ..., calctype="toybased")`` on the
   workspace of each point (nominal yield N_exp(M, eps)), timed on ``--pyhf-points`` points
   with ``--pyhf-toys`` toys and extrapolated linearly to ``--toys`` toys and the whole grid
   (pyhf's toy time is linear in the number of toys);
3. the same answer: on sample points near the contour, the scan's CLs next to a per-point
   calculation of the same (published) treatment at ``mu = 1`` with 4x more toys, the
   independent one-bin calculation (infinitely many toys; e+e--only points, where it is
   equivalent), and pyhf's toys (which randomise the auxiliary data: a different treatment,
   see :mod:`na62dump.stats.toys`);
4. the headline numbers: the 90% CL limit with n = 0, b -> 0 (exact, toys, pyhf path,
   asymptotic), with the published e+e- nuisances, and pyhf's ToyCalculator limit there.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import warnings

import numpy as np

from na62dump.stats.counting import combined_log_normal_k, counting_cls, counting_upper_limit
from na62dump.stats.scan import cls_curve, scan_dark_photon
from na62dump.stats.synthetic import synthetic_dark_photon_yields
from na62dump.stats.toys import (
    FastModel,
    PublishedToys,
    pyhf_toy_hypotest,
    upper_limit_from_curve,
)
from na62dump.stats.workspace import build_channel_workspace, combine_workspaces

BACKGROUNDS = {"ee": {"median": 0.0094, "k": 4.0}, "mumu": {"median": 0.016, "k": 1.125}}
OBSERVED = {"ee": [], "mumu": [0.411]}
#: Synthetic relative mass resolution (sigma_M / M) per channel.
REL_RESOLUTION = {"ee": 0.012, "mumu": 0.008}
NO_SYST = {"n_pot_k": 1.0, "efficiency_rel": 0.0, "production_rel": 0.0}
#: The published e+e- signal nuisances (N_POT, efficiency, brems production) as one log-normal.
EE_K = combined_log_normal_k([1.2, 1.029, 1.01])


def _point_spec(mass, n_exp_point):
    specs = [build_channel_workspace(mass, n_exp_point[c], REL_RESOLUTION[c] * mass,
                                     BACKGROUNDS[c], OBSERVED[c], c)
             for c in ("ee", "mumu") if n_exp_point[c] > 0 and (c == "ee" or mass > 0.2114)]
    return combine_workspaces(specs) if len(specs) > 1 else specs[0]


def headline_numbers(rng, pyhf_limit_toys):
    out = {}
    out["n0_b0_exact"] = counting_upper_limit(0, 1e-6, toys="exact")
    out["n0_b0_counting_toys_20000"] = counting_upper_limit(0, 1e-6, toys=20000, rng=1)
    out["n0_b0_asymptotic_counting"] = counting_upper_limit(0, 1e-6)
    spec0 = build_channel_workspace(0.3, 1.0, 0.003, {"median": 1e-6, "k": 1.0}, [], "ee",
                                    NO_SYST)
    curve = cls_curve(spec0, method="toys", n_toys=20000, rng=rng, s_grid=(1.8, 1.05, 3.0))
    out["n0_b0_pyhf_model_published_toys_20000"] = upper_limit_from_curve(curve["mu"],
                                                                          curve["cls"])
    curve = cls_curve(spec0, method="asymptotic", s_grid=(0.8, 1.05, 3.0))
    out["n0_b0_pyhf_asymptotic"] = upper_limit_from_curve(curve["mu"], curve["cls"])
    out["ee_nuisances_counting_exact"] = counting_upper_limit(
        0, 0.0094, signal_rel_unc=EE_K - 1, background_k=4.0, toys="exact")
    spec_ee = build_channel_workspace(0.3, 1.0, 0.003, BACKGROUNDS["ee"], [], "ee")
    curve = cls_curve(spec_ee, method="toys", n_toys=20000, rng=rng, s_grid=(2.0, 1.04, 3.2))
    out["ee_nuisances_pyhf_model_published_toys_20000"] = upper_limit_from_curve(
        curve["mu"], curve["cls"])
    curve = cls_curve(spec_ee, method="asymptotic", s_grid=(0.8, 1.05, 3.0))
    out["ee_nuisances_pyhf_asymptotic"] = upper_limit_from_curve(curve["mu"], curve["cls"])
    # pyhf's ToyCalculator (aux data randomised), one-bin e+e- workspace, a few tested yields.
    spec_c = build_channel_workspace(0.3, 1.0, 0.003, BACKGROUNDS["ee"], 0, "ee",
                                     binning="counting")
    mus = np.array([1.8, 2.0, 2.2, 2.4, 2.6])
    cls = np.array([pyhf_toy_hypotest(spec_c, mu, pyhf_limit_toys, rng)["cls"] for mu in mus])
    out["ee_nuisances_pyhf_toycalculator"] = upper_limit_from_curve(mus, cls)
    out["ee_nuisances_pyhf_toycalculator_cls"] = dict(zip(mus.tolist(), cls.tolist(),
                                                          strict=True))
    out["pyhf_toycalculator_toys"] = pyhf_limit_toys
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-mass", type=int, default=60)
    parser.add_argument("--n-eps", type=int, default=60)
    parser.add_argument("--toys", type=int, default=1000)
    parser.add_argument("--pyhf-points", type=int, default=3)
    parser.add_argument("--pyhf-toys", type=int, default=100)
    parser.add_argument("--pyhf-limit-toys", type=int, default=500)
    parser.add_argument("--sample-points", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--quick", action="store_true", help="12 x 20 grid, 300 toys")
    parser.add_argument("--skip-headline", action="store_true")
    parser.add_argument("--out", help="write the numbers as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_mass, args.n_eps, args.toys = 12, 20, 300
        args.pyhf_points, args.pyhf_toys, args.pyhf_limit_toys = 1, 30, 60
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING)
    rng = np.random.default_rng(args.seed)
    masses = np.linspace(0.02, 0.68, args.n_mass)
    eps = np.geomspace(1e-8, 1e-4, args.n_eps)
    n_exp = {c: synthetic_dark_photon_yields(masses, eps, c) for c in BACKGROUNDS}
    sigma = {c: REL_RESOLUTION[c] * masses for c in BACKGROUNDS}
    report = {"grid": [args.n_mass, args.n_eps], "toys": args.toys}

    # 1. The fast scan.
    t0 = time.perf_counter()
    res = scan_dark_photon(n_exp, masses, eps, sigma_m_gev=sigma, backgrounds=BACKGROUNDS,
                           observed=OBSERVED, n_toys=args.toys, rng=rng, progress=True)
    t_scan = time.perf_counter() - t0
    n_points = args.n_mass * args.n_eps
    report["scan_seconds"] = t_scan
    report["scan_seconds_per_point"] = t_scan / n_points
    print(f"fast scan: {args.n_mass} x {args.n_eps} points, {args.toys} toys: "
          f"{t_scan:.1f} s ({1e3 * t_scan / n_points:.1f} ms/point)")

    # Points near the observed contour for the comparisons.
    total = n_exp["ee"] + n_exp["mumu"]
    near = np.argwhere((res.cls_observed > 0.03) & (res.cls_observed < 0.4) & (total > 0))
    pick = near[rng.choice(len(near), size=min(args.sample_points, len(near)),
                           replace=False)]

    # 2. The per-point loop: pyhf's toy hypotest at mu = 1, timed and extrapolated.
    times = []
    pyhf_cls = {}
    for i, j in pick[: args.pyhf_points]:
        spec = _point_spec(masses[i], {c: n_exp[c][i, j] for c in n_exp})
        t0 = time.perf_counter()
        pyhf_cls[(i, j)] = pyhf_toy_hypotest(spec, 1.0, args.pyhf_toys, rng)["cls"]
        times.append(time.perf_counter() - t0)
    t_point = float(np.mean(times)) * args.toys / args.pyhf_toys
    report["pyhf_point_seconds_at_toys"] = t_point
    report["pyhf_loop_seconds_extrapolated"] = t_point * n_points
    report["speedup_vs_pyhf_loop"] = t_point * n_points / t_scan
    print(f"pyhf toy hypotest per point: {np.mean(times):.1f} s with {args.pyhf_toys} toys -> "
          f"{t_point:.0f} s with {args.toys}; whole grid {t_point * n_points / 3600:.0f} h; "
          f"speed-up {t_point * n_points / t_scan:.0f}x")

    # Per-point published toys (the same treatment as the scan, no reuse across eps).
    rows = []
    t_pub = []
    for i, j in pick:
        spec = _point_spec(masses[i], {c: n_exp[c][i, j] for c in n_exp})
        t0 = time.perf_counter()
        direct = PublishedToys(FastModel.from_spec(spec), 4 * args.toys, rng).evaluate(1.0)
        t_pub.append((time.perf_counter() - t0) / 4)
        exact = None
        if masses[i] < 0.2114:  # e+e- only, n = 0: the one-bin calculation is equivalent
            exact = counting_cls(total[i, j], 0, BACKGROUNDS["ee"]["median"],
                                 signal_rel_unc=EE_K - 1, background_k=4.0,
                                 method="exact")["cls"]
        rows.append({"mass_gev": float(masses[i]), "eps": float(eps[j]),
                     "n_exp": float(total[i, j]), "cls_scan": float(res.cls_observed[i, j]),
                     "cls_point_published_4x_toys": float(direct["cls"]),
                     "cls_one_bin_exact": exact,
                     "cls_point_pyhf_toys": pyhf_cls.get((i, j))})
    report["published_point_seconds_at_toys"] = float(np.mean(t_pub))
    report["speedup_vs_published_point_loop"] = float(np.mean(t_pub)) * n_points / t_scan
    report["comparison"] = rows
    sigma_toys = math.sqrt(0.15 * 0.85 / args.toys)
    print(f"per-point published toys: {np.mean(t_pub):.2f} s/point -> speed-up "
          f"{np.mean(t_pub) * n_points / t_scan:.0f}x from the per-mass structure")
    print(f"\nsame answer (toy precision of the scan ~ {sigma_toys:.3f} at CLs ~ 0.15):")
    print(f"{'M [GeV]':>8} {'eps':>9} {'N_exp':>7} {'scan':>7} {'point':>7} {'exact':>7} "
          f"{'pyhf toys':>9}")
    for r in rows:
        p, e = r["cls_point_pyhf_toys"], r["cls_one_bin_exact"]
        print(f"{r['mass_gev']:8.3f} {r['eps']:9.2e} {r['n_exp']:7.2f} {r['cls_scan']:7.3f} "
              f"{r['cls_point_published_4x_toys']:7.3f} {'' if e is None else f'{e:7.3f}':>7} "
              f"{'' if p is None else f'{p:9.3f}'}")
    diff = np.array([r["cls_scan"] - r["cls_point_published_4x_toys"] for r in rows])
    report["max_abs_cls_difference"] = float(np.max(np.abs(diff)))
    print(f"max |scan - point| = {np.max(np.abs(diff)):.3f}")

    if not args.skip_headline:
        t0 = time.perf_counter()
        report["headline"] = headline_numbers(rng, args.pyhf_limit_toys)
        print(f"\nheadline numbers ({time.perf_counter() - t0:.0f} s):")
        for k, v in report["headline"].items():
            print(f"  {k}: {v}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(report, fh, indent=1)
    return report


if __name__ == "__main__":
    main()
