"""Time of the plot stage on a results directory, per group of figures, against its limits stage.

Run from the repository root on the results of a default run (``make demo`` or
``na62dump all --preset default``); the results are only read, the figures go to a temporary
directory::

    .venv/bin/python benchmarks/bench_plot.py --results results
    .venv/bin/python benchmarks/bench_plot.py --results results --group limits --format png

It prints the seconds of each figure group (``yields``: efficiency, resolution and yield maps;
``run``: control planes, mass spectra and cutflows; ``limits``: exclusions), their sum, and
the limits stage's seconds recorded in ``DIR/all.json`` (``seconds.limits``) when present:
the issue-14 target is a plot stage no slower than the limits stage.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from na62dump import plotting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results", type=Path)
    parser.add_argument("--format", default="png,pdf")
    parser.add_argument("--group", action="append", choices=("yields", "run", "limits"))
    args = parser.parse_args()
    formats = tuple(args.format.split(","))
    groups = args.group or ["yields", "run", "limits"]
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for group in groups:
            tic = time.perf_counter()
            made, skipped = plotting._figure_group(group, args.results, Path(tmp), formats, [])
            seconds = time.perf_counter() - tic
            total += seconds
            print(f"{group:7s} {seconds:7.1f} s  {len(made)} files, {len(skipped)} skipped")
    print(f"plot    {total:7.1f} s  (formats {','.join(formats)})")
    record = args.results / "all.json"
    if record.is_file():
        limits = json.loads(record.read_text()).get("seconds", {}).get("limits")
        if limits:
            print(f"limits  {limits:7.1f} s  (recorded in {record})")


if __name__ == "__main__":
    main()
