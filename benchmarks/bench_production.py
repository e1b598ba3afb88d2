"""Time the production samplers (A' from bremsstrahlung, mesons, B -> K X).

Target: the bremsstrahlung grid sampler (alias method) draws >= 1e6 A' per second (after its
one-off per-mass grid). For comparison the script times, in the same run, the naive
alternative: accept-reject from a flat envelope in (z, p_T^2) with the density evaluated for
every proposal, and reports the ratio. The meson and B samplers are timed too. Rates are per
second of the process's CPU time (single-threaded numpy), so that a busy machine does not
distort them.

Usage::

    .venv/bin/python benchmarks/bench_production.py [--n 1000000] [--mass 0.1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from na62dump.physics import bmesons, brems, mesons


def _accept_reject(mass: float, n: int, rng) -> int:
    """Naive accept-reject in (z, p_T^2) from a flat envelope; returns the proposals used."""
    cuts = brems.DEFAULT_CUTS
    fmax = 1.05 * float(np.max(brems.differential_rate(np.linspace(0.1, 0.9, 801), 0.0, mass)))
    kept, proposed = 0, 0
    while kept < n:
        m = 4 * (n - kept) + 1000
        z = rng.uniform(cuts.z_min, cuts.z_max, m)
        pt2 = rng.uniform(0.0, cuts.pt_max**2, m)
        ok = rng.uniform(0.0, fmax, m) < brems.differential_rate(z, pt2, mass)
        kept += int(ok.sum())
        proposed += m
    return proposed


def _rate(func, n: int) -> float:
    """Draws per second of CPU time of this process (robust on a shared, loaded machine)."""
    t0 = time.process_time()
    func()
    return n / (time.process_time() - t0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--mass", type=float, default=0.1)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(1)

    t0 = time.perf_counter()
    brems.sample(args.mass, 10, rng)  # builds the per-mass grid
    t_grid = time.perf_counter() - t0
    r_brems = _rate(lambda: brems.sample(args.mass, args.n, rng), args.n)
    n_ar = max(args.n // 20, 1000)
    r_ar = _rate(lambda: _accept_reject(args.mass, n_ar, rng), n_ar)
    print(f"brems grid for M = {args.mass} GeV (once per mass) : {t_grid:8.3f} s")
    print(f"brems grid sampler (alias method)         : {r_brems:10.3g} draws/s "
          f"({'PASS' if r_brems >= 1e6 else 'FAIL'}: target >= 1e6)")
    print(f"brems naive accept-reject (same run)       : {r_ar:10.3g} draws/s")
    print(f"speed-up of the grid sampler               : {r_brems / r_ar:8.1f} x")
    for meson in ("pi0", "eta", "omega"):
        m = 0.5 * mesons.source(meson).threshold
        r = _rate(lambda meson=meson, m=m: mesons.sample(m, meson, args.n, rng), args.n)
        print(f"meson sampler {meson:<8} (M = {m:.3f} GeV)       : {r:10.3g} draws/s")
    r_b = _rate(lambda: bmesons.sample_b_to_kx(1.0, args.n, rng), args.n)
    print(f"B -> K X sampler (M = 1 GeV)               : {r_b:10.3g} draws/s")


if __name__ == "__main__":
    main()
