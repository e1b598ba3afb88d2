"""``na62dump run``: process the campaign with the channel processors (stage 2).

Writes the run set ``DIR/run/`` (``<channel>.coffea``, ``summary.json``, ``provenance.json``;
docs/artefacts.md), replacing the previous set whole; nothing if anything fails. Examples::

    na62dump run                                    # every channel, 2 local processes
    na62dump run --channels ee,mumu --executor iterative
    na62dump run --executor dask --workers 4        # a local dask cluster on 127.0.0.1
    na62dump run --executor dask --scheduler tcp://scheduler.example.org:8786
    na62dump run --preset tiny --dump-fileset tiny.json   # the campaign as a coffea fileset
    na62dump run --fileset my_files.json            # your own files instead of the campaign

Running on a batch system through dask-jobqueue: ``docs/running.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from na62dump import settings
from na62dump.commands._args import (
    check_writable_dir,
    comma_list,
    positive_float,
    positive_int,
)
from na62dump.errors import InputError

logger = logging.getLogger(__name__)

UNBLIND_WARNING = (
    "WARNING: --unblind: the signal and control regions of the pseudo-data are opened; "
    "summary.json and every output record it"
)


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``run`` to the ``na62dump`` subcommands."""
    p = subparsers.add_parser(
        "run",
        help="run the channel processors over the campaign (stage 2)",
        description="Process the campaign with the channel processors (stage 2).",
        epilog="Running on an existing dask cluster (HTCondor, SLURM): see docs/running.md.",
    )
    p.add_argument("--config", metavar="FILE", help="datasets.yaml (default: the packaged one)")
    p.add_argument("--preset", metavar="NAME", help="campaign preset of datasets.yaml")
    p.add_argument(
        "--data-dir", metavar="DIR", help="where the simulated files live (default: data_dir of"
        " datasets.yaml)",
    )
    p.add_argument(
        "--fileset", metavar="FILE.json",
        help="run on the datasets of this coffea fileset (with the metadata of "
        "docs/own-ntuples.md) instead of the campaign; not with --config/--preset/--data-dir",
    )
    p.add_argument(
        "--dump-fileset", metavar="FILE",
        help="write the campaign's fileset (declared files, metadata, per-file POT or events) "
        "to FILE in the --fileset format and exit without processing",
    )
    p.add_argument(
        "--channels",
        type=comma_list("channel", "ee,mumu"),
        metavar="LIST",
        help="comma-separated channels (default: all: ee,mumu,pipi,hadronic)",
    )
    p.add_argument(
        "--executor",
        choices=settings.EXECUTORS,
        default=settings.DEFAULT_EXECUTOR,
        help="coffea executor (default: %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=settings.DEFAULT_WORKERS,
        metavar="N",
        help="processes of the futures pool or local dask cluster (default: %(default)s)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running dask scheduler, e.g. tcp://host:8786 (with --executor dask)",
    )
    p.add_argument(
        "--scheduler-timeout",
        type=positive_float,
        default=settings.DEFAULT_SCHEDULER_TIMEOUT,
        metavar="S",
        help="seconds to wait for the --scheduler to answer (default: %(default)s)",
    )
    p.add_argument(
        "--chunksize",
        type=positive_int,
        default=settings.DEFAULT_CHUNKSIZE,
        metavar="N",
        help="target events per chunk (default: %(default)s)",
    )
    p.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="leave out missing, unreadable or rewritten files (listed in summary.json; the "
        "dataset normalised to the POT or events of the files processed) instead of failing",
    )
    p.add_argument(
        "--unblind",
        action="store_true",
        help="open the signal and control regions of the pseudo-data (recorded in the output)",
    )
    p.add_argument(
        "--out", metavar="DIR", default="results", help="results directory (default: %(default)s)"
    )
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Run stage 2 with the parsed arguments; return the exit status."""
    from na62dump.simulation.campaign import load_campaign

    if args.scheduler is not None and args.executor != "dask":
        raise InputError(f"--scheduler {args.scheduler}: only meaningful with --executor dask")
    check_writable_dir(args.out, "--out")  # now, not after all the processing
    if args.unblind:
        print(UNBLIND_WARNING, file=sys.stderr)
    if args.fileset is not None:
        given = [opt for opt, value in (("--config", args.config), ("--preset", args.preset),
                                        ("--data-dir", args.data_dir),
                                        ("--dump-fileset", args.dump_fileset))
                 if value is not None]
        if given:
            raise InputError(f"--fileset {args.fileset}: replaces the campaign, so not with "
                             f"{', '.join(given)}")
        from na62dump.fileset import load_fileset

        campaign = load_fileset(args.fileset)
    else:
        kwargs = {} if args.preset is None else {"preset": args.preset}
        if args.data_dir is not None:
            kwargs["data_dir"] = args.data_dir
        campaign = load_campaign(args.config, **kwargs)
    if args.dump_fileset is not None:
        from na62dump.fileset import dump_fileset

        written = dump_fileset(campaign, args.dump_fileset, args.channels)
        print(f"fileset of {len(written)} datasets -> {args.dump_fileset}")
        return 0
    from na62dump import runner

    result = runner.run(
        campaign,
        args.channels,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        scheduler_timeout=args.scheduler_timeout,
        chunksize=args.chunksize,
        skip_bad_files=args.skip_bad_files,
        unblind=args.unblind,
        out_dir=args.out,
        status=sys.stdout.isatty(),
    )
    for skipped in result.skipped_files:
        print(
            f"na62dump run: skipped {skipped.file} (dataset {skipped.dataset}): "
            f"{skipped.reason}",
            file=sys.stderr,
        )
    for name, ch in result.channels.items():
        print(
            f"{name}: {len(ch.output)} datasets, {ch.events} events in {ch.seconds:.1f} s "
            f"({ch.rate:.3g} events/s) -> {result.paths[name]}"
        )
    print(f"summary: {result.paths['summary']}")
    return 0
