"""Time the dark-photon widths and branching ratios on a (mass x eps) grid.

Target: partial widths, total width, c tau and branching ratios on a 1000 x 1000 grid in under
a second. The script also times the naive alternative (the model evaluated on the flattened
grid, i.e. the VMD recomputed for every (mass, eps) pair) on a 100 x 100 grid and reports the
ratio measured side by side in this run.

Usage::

    .venv/bin/python benchmarks/bench_widths.py [--n 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from na62dump.physics import dark_photon as dp


def _best_of(func, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="grid size per axis")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    lo, hi = dp.MASS_RANGE_GEV
    mass = np.linspace(lo * 1.01, hi, args.n)
    eps = np.logspace(-9, -3, args.n)

    t0 = time.perf_counter()
    dp.branching_ratios(np.array([0.5]))  # first call builds the phase-space tables
    t_setup = time.perf_counter() - t0

    def grid():
        widths = dp.partial_widths(mass[:, None], eps[None, :])
        ctau = dp.ctau_m(mass[:, None], eps[None, :])
        br = dp.branching_ratios(mass)
        return widths, ctau, br

    t_grid = _best_of(grid, args.repeat)

    n_small = 100
    m_small = np.linspace(lo * 1.01, hi, n_small)
    e_small = np.logspace(-9, -3, n_small)
    mm, ee = np.meshgrid(m_small, e_small, indexing="ij")

    def broadcast_small():
        dp.partial_widths(m_small[:, None], e_small[None, :])

    def flattened_small():
        dp.partial_widths(mm.ravel(), ee.ravel())

    t_b = _best_of(broadcast_small, args.repeat)
    t_f = _best_of(flattened_small, args.repeat)

    print(f"one-off table setup (first call)            : {t_setup:8.3f} s")
    print(
        f"{args.n} x {args.n} grid: widths + ctau + BRs   : {t_grid:8.3f} s "
        f"({'PASS' if t_grid < 1.0 else 'FAIL'}: target < 1 s)"
    )
    print(f"{n_small} x {n_small} widths, broadcast eps^2       : {t_b * 1e3:8.2f} ms")
    print(f"{n_small} x {n_small} widths, VMD per (M, eps) pair : {t_f * 1e3:8.2f} ms")
    print(f"speed-up of broadcasting (same run)         : {t_f / t_b:8.1f} x")


if __name__ == "__main__":
    main()
