"""``na62dump plot``: draw every figure whose inputs exist (stage 5).

Reads the saved results (the stage sets ``DIR/run``, ``DIR/background``, ``DIR/limits`` with
its ``yields/``, ``DIR/limits_published``, ``DIR/limits_projection``), writes PNG/PDF figures
and cutflow tables as one figure set, ``DIR/figures`` (or ``--out``), replacing the previous
set whole, and says which figures it skipped and why. Examples::

    na62dump plot
    na62dump plot --results results --format png --reference babar.txt --reference e137.txt

A reference curve is an earlier experiment's limit as a text file (two columns ``mass_gev
coupling``: a boundary polyline; three columns ``mass_gev low high``: a band), drawn in grey on
the dark-photon exclusions (see ``na62dump.plotting.load_reference_curve``). The earlier
experiments' limits compiled by DarkCast (``na62dump/data/earlier_limits/``) are drawn on the
dark-photon exclusions by default; ``--no-earlier`` leaves them out.
"""

from __future__ import annotations

import argparse
import sys

from na62dump.commands._args import check_writable_dir, comma_list

_FORMATS = comma_list("format", "png,pdf", lower=True)


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("plot", help="draw the figures from saved results (stage 5)",
                              description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", metavar="DIR",
                   help="results directory (default: %(default)s)")
    p.add_argument("--out", metavar="DIR",
                   help="figure set directory, replaced whole (default: DIR/figures)")
    p.add_argument("--format", type=_FORMATS, default=["png", "pdf"], metavar="LIST",
                   help="comma-separated formats: png,pdf,svg (default: png,pdf)")
    p.add_argument("--reference", action="append", default=[], metavar="FILE",
                   help="an earlier experiment's limit to overlay in grey (repeatable)")
    p.add_argument("--no-earlier", dest="earlier", action="store_false",
                   help="leave out the earlier experiments' limits on the dark-photon plots")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes drawing the figures (default: %(default)s)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from na62dump import plotting

    if args.out is None:
        check_writable_dir(args.results, "--results")  # figures/ goes there
    else:
        check_writable_dir(args.out, "--out")
    made, skipped = plotting.plot_all(args.results, args.out, args.format, args.reference,
                                      workers=args.workers, earlier=args.earlier)
    figures = sorted({p.with_suffix("").name for p in made})
    print(f"wrote {len(made)} files ({len(figures)} figures/tables) to "
          f"{args.out or f'{args.results}/figures'}")
    for what, why in skipped:
        print(f"skipped {what}: {why}", file=sys.stderr)
    return 0
