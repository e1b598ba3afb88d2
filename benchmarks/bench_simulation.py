"""Benchmark of the fast simulation: signal events per second per core.

Measures, side by side in one run, signal generation alone (``generators.generate``: production
sampling, forced decay, detector response) and generation plus writing with the campaign's
writer (``simulation.writer.write_ntuple``), for a few representative samples, and one
pseudo-data sample at the 2021 exposure. Rates are given per core from the process CPU time
(the simulation is single-threaded numpy and numba), and from the wall clock, which on a shared
machine can be much lower; the target is >= 200k signal events/s per core for generation plus
writing (the ``gen+write cpu`` column). The writer's compression is printed first.

Usage::

    .venv/bin/python benchmarks/bench_simulation.py [--events 200000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from na62dump import geometry
from na62dump.simulation import writer
from na62dump.simulation.generators import generate
from na62dump.simulation.writer import write_ntuple

SAMPLES = [
    ("dark_photon brems ee 0.1 GeV",
     {"model": "dark_photon", "production": "brems", "channel": "ee", "mass_gev": 0.1}),
    ("dark_photon brems mumu 0.4 GeV",
     {"model": "dark_photon", "production": "brems", "channel": "mumu", "mass_gev": 0.4}),
    ("dark_photon eta pipipi0 0.45 GeV",
     {"model": "dark_photon", "production": "eta", "channel": "pipipi0", "mass_gev": 0.45}),
]


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    args = ap.parse_args(argv)
    n = args.events
    print(f"writer compression: {writer.COMPRESSION!r}")
    print(f"{'sample':36s} {'gen cpu ev/s':>13s} {'gen wall ev/s':>14s} {'write cpu ev/s':>15s} "
          f"{'gen+write cpu':>14s} {'write/gen':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, params in SAMPLES:
            warm = generate("signal", params, 1000, np.random.default_rng(0))  # tables, numba
            write_ntuple(Path(tmp) / "warm.root", warm)
            best = None
            for r in range(args.repeat):
                out, wall, cpu = _timed(
                    lambda r=r, p=params: generate("signal", p, n, np.random.default_rng(r)))
                _, wall_w, cpu_w = _timed(
                    lambda out=out: write_ntuple(Path(tmp) / "bench.root", out))
                res = (cpu, wall, cpu_w)
                best = res if best is None or res[0] < best[0] else best
            cpu, wall, cpu_w = best
            print(f"{label:36s} {n / cpu:13.0f} {n / wall:14.0f} {n / cpu_w:15.0f} "
                  f"{n / (cpu + cpu_w):14.0f} {cpu_w / cpu:9.2f}")
        (out, wall, cpu) = _timed(
            lambda: generate("pseudo_data", {}, geometry.N_POT, np.random.default_rng(1)))
        print(f"pseudo_data at {geometry.N_POT:.1e} POT: {len(out['run'])} triggered events, "
              f"{cpu:.2f} s cpu, {wall:.2f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
