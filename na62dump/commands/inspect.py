"""``na62dump inspect``: can the analysis read these ntuples? Tree, entries, branches, what is
missing per channel, dtypes against the format, NaN/inf counts.

For files made elsewhere (your own simulation or skim) before they go into a ``datasets.yaml``
(``docs/own-ntuples.md``); the checks are those of :mod:`na62dump.inspection`. Examples::

    na62dump inspect data/tiny/prompt/prompt_000.root
    na62dump inspect --kind signal my_signal_*.root
    na62dump inspect --json https://example.org/ntuples/run2021.root > report.json
    na62dump inspect root://eosuser.cern.ch//eos/user/j/jdoe/x.root   # needs na62dump[xrootd]

Per file: the tree and its entries, the number of branches and those outside the format, the
branches missing for ``na62dump run`` (its input check refuses the file without them) and for
each channel's processor, every branch whose stored dtype differs from ``docs/ntuple.md``, and
the NaN/inf count of every floating-point branch. Which branches are required depends on the
dataset kind (``--kind``; default: ``signal`` for a file with ``Truth_*`` branches, else
``pseudo_data``).

Exit status 0 when every file is good, 2 when any has a problem (each one a line
``na62dump inspect: error: FILE: problem`` on stderr), as for other bad input.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``inspect`` to the ``na62dump`` subcommands."""
    from na62dump.simulation.campaign import KINDS

    p = subparsers.add_parser(
        "inspect",
        help="check ntuples (paths or URLs) against the format the analysis reads",
        description=__doc__.splitlines()[0].replace("``", ""),
    )
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="ROOT files: paths or URLs (root://, https://, ...)")
    p.add_argument("--tree", default=None, metavar="NAME",
                   help="the TTree (default: events)")
    p.add_argument("--kind", choices=KINDS, default=None,
                   help="dataset kind the files are for, which decides the required branches "
                        "(default: signal if a file has Truth_* branches, else pseudo_data)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of per-file reports instead of text")
    p.set_defaults(func=main)
    return p


def _text(report) -> str:
    """The human-readable report of one file."""
    lines = [report.file]
    if report.problem is not None:
        lines.append(f"  PROBLEM: {report.problem}")
        return "\n".join(lines)
    kind = f"{report.kind} (guessed; --kind to say)" if report.kind_guessed else report.kind
    lines.append(f"  tree {report.tree!r}: {report.entries} entries, "
                 f"{len(report.branches)} branches; kind {kind}")
    if report.extra:
        lines.append(f"  branches outside the format (not read): {', '.join(report.extra)}")
    run_missing = report.missing.get("run", [])
    lines.append("  branches `na62dump run` requires: "
                 + (f"MISSING {', '.join(run_missing)}" if run_missing else "all present"))
    for channel, missing in report.missing.items():
        if channel != "run":
            lines.append(f"  channel {channel}: "
                         + (f"missing {', '.join(missing)}" if missing else "reads all it needs"))
    if report.dtype_mismatches:
        for name, (stored, want) in report.dtype_mismatches.items():
            lines.append(f"  dtype: {name} is {stored}, the format says {want}")
    else:
        lines.append("  dtypes: as docs/ntuple.md")
    bad = {k: v for k, v in report.nonfinite.items() if any(v)}
    if bad:
        for name, (n_nan, n_inf) in bad.items():
            lines.append(f"  finite: {name} holds {n_nan} NaN, {n_inf} inf")
    else:
        lines.append(f"  finite: no NaN or inf in {len(report.nonfinite)} float branches")
    lines.append("  OK" if report.ok else f"  {len(report.problems)} PROBLEM(S)")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from na62dump.inspection import inspect_ntuple
    from na62dump.urls import expand, has_magic, is_url

    files = []
    for name in args.files:  # the shell expands local globs; URL globs are listed here
        files.extend(expand(name) if is_url(name) and has_magic(name) else [name])
    reports = [inspect_ntuple(f, tree=args.tree, kind=args.kind) for f in files]
    if args.json:
        text = json.dumps([r.as_dict() for r in reports], indent=2, allow_nan=False)
        sys.stdout.write(text + "\n")
    else:
        sys.stdout.write("\n".join(_text(r) for r in reports) + "\n")
    sys.stdout.flush()
    problems = [(r.file, p) for r in reports for p in r.problems]
    for file, problem in problems:
        print(f"na62dump inspect: error: {file}: {problem}", file=sys.stderr)
    return 2 if problems else 0
