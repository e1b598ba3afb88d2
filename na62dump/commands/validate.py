"""``na62dump validate``: every validated quantity against its reference (``docs/validation.md``).

Physics rows (widths, lifetimes, production) are computed from the models; results rows
(backgrounds, limits at zero observed events, contour edges with the published observations)
are read from a results directory of ``na62dump all --observed published``. Examples::

    na62dump validate                                   # physics rows, printed
    na62dump validate --results results --out docs/validation.md

Exit status 0 whatever the verdicts (they are in the document); 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from na62dump.commands._args import check_writable_dir


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "validate", help="validated quantities against their references (docs/validation.md)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--results", metavar="DIR",
                   help="results directory for the backgrounds and limits rows (default: none)")
    p.add_argument("--out", metavar="FILE", help="write the Markdown here (default: print it)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from na62dump import atomic, validation

    if args.out:
        check_writable_dir(Path(args.out).absolute().parent, "--out")
    rows = [*validation.physics_rows(), *validation.results_rows(args.results)]
    command = "na62dump validate" + (f" --results {args.results}" if args.results else "") \
        + (f" --out {args.out}" if args.out else "")
    text = validation.markdown(rows, results=args.results, command=command)
    if args.out:
        atomic.write_text(args.out, text)
        n_fail = sum(r.passed is False for r in rows)
        print(f"written: {args.out} ({len(rows)} rows, {n_fail} outside tolerance)")
    else:
        sys.stdout.write(text)
    return 0
