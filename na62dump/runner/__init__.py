"""Stage 2: datasets.yaml (or a fileset) -> coffea fileset -> channel processors -> saved
accumulators.

The runner turns the campaign (``datasets.yaml``, see :mod:`na62dump.simulation.campaign`) into
one coffea fileset per decay channel (the datasets whose ``channels`` include it) of the files
each dataset *declares* (its manifest, written by ``na62dump simulate``, or its list), checks
every input file before any work starts (a declared file missing, unreadable, or with other
entries than its manifest says stops the run, or is left out with ``skip_bad_files``, the
dataset then normalised to the POT or events of the files processed), runs
``processors.PROCESSORS[channel]`` through ``coffea.processor.Runner`` with the chosen
executor and writes, only if everything succeeded:

- ``DIR/run/<channel>.coffea``: ``{dataset: processor output}`` (read it back with
  :func:`load_output`);
- ``DIR/run/summary.json``: cutflows and region counts per channel and dataset, the executor,
  the chunk size, whether the run was unblinded, which files were skipped, per dataset what
  was processed (``datasets``: kind, metadata, files, normalisation), and the provenance
  record (:func:`run_record`, :mod:`na62dump.provenance`), also in ``DIR/run/provenance.json``.

The run set replaces the previous one whole (:mod:`na62dump.artefacts`).

Executors: ``"iterative"``, ``"futures"`` (the default) and ``"dask"``; every executor gives
the same result to the last bit.

Modules
-------
One module per responsibility; every public name is importable from ``na62dump.runner``:

- :mod:`na62dump.runner.inputs`: the input checks, before any work (:func:`inspect_file`,
  :func:`check_fileset`, :func:`check_declared_entries`, :func:`normalise_fileset`);
- :mod:`na62dump.runner.executors`: the executors and the process pool or dask cluster they
  need (:func:`open_executor`, the ``--scheduler`` checks);
- :mod:`na62dump.runner.merge`: the merge of chunk outputs in a fixed order
  (:class:`OrderedMerge`), and bad input met by a work item returned as a one-line message;
- :mod:`na62dump.runner.outputs`: the run set and what ``summary.json`` says
  (:func:`summarise`, :func:`write_outputs`, :func:`load_output`);
- this module: the stage itself (:func:`run`), one processor over a fileset
  (:func:`run_processor`) and the fileset as coffea takes it.

Examples
--------
>>> from na62dump import runner
>>> runner.output_path("results", "ee").as_posix()
'results/run/ee.coffea'
>>> out = runner.load_output("results", "ee")  # doctest: +SKIP
>>> out["data"]["cutflow"]["names"][:3]  # doctest: +SKIP
['all', 'trigger', 'two_tracks']

From Python, the whole stage (what ``na62dump run`` does)::

    from na62dump.simulation.campaign import load_campaign
    result = runner.run(load_campaign(preset="tiny"), ["ee"], executor="iterative")
    result.channels["ee"].output["data"]["hists"]["mass"]
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coffea import processor

from na62dump import urls
from na62dump.errors import InputError
from na62dump.runner.executors import (
    SCHEDULER_SCHEMES,
    _quiet_coffea,
    open_executor,
    parse_scheduler_address,
    probe_scheduler,
    validate_executor_args,
)
from na62dump.runner.inputs import (
    TREE,
    FileInfo,
    SkippedFile,
    _files,
    check_declared_entries,
    check_file,
    check_fileset,
    inspect_file,
    inspect_files,
    normalise_fileset,
)
from na62dump.runner.merge import ChunkKey, ChunkSum, OrderedMerge, _Runner, chunk_order
from na62dump.runner.outputs import (
    SUMMARY_NAME,
    dataset_records,
    load_output,
    output_path,
    read_summary,
    run_record,
    summarise,
    write_outputs,
)
from na62dump.settings import (
    DEFAULT_CHUNKSIZE,
    DEFAULT_EXECUTOR,
    DEFAULT_SCHEDULER_TIMEOUT,
    DEFAULT_WORKERS,
    EXECUTORS,
)

#: What ``from na62dump.runner import ...`` offers: the names of every module of the package.
__all__ = [
    # executors and defaults: they live in na62dump.settings, cheap to import for the
    # command line
    "DEFAULT_CHUNKSIZE",
    "DEFAULT_EXECUTOR",
    "DEFAULT_SCHEDULER_TIMEOUT",
    "DEFAULT_WORKERS",
    "EXECUTORS",
    # inputs
    "TREE",
    "FileInfo",
    "SkippedFile",
    "check_declared_entries",
    "check_file",
    "check_fileset",
    "inspect_file",
    "inspect_files",
    "normalise_fileset",
    # merge
    "ChunkKey",
    "ChunkSum",
    "OrderedMerge",
    "chunk_order",
    # executors
    "SCHEDULER_SCHEMES",
    "open_executor",
    "parse_scheduler_address",
    "probe_scheduler",
    "validate_executor_args",
    # outputs
    "SUMMARY_NAME",
    "dataset_records",
    "load_output",
    "read_summary",
    "output_path",
    "run_record",
    "summarise",
    "write_outputs",
    # running (this module)
    "ChannelRun",
    "RunResult",
    "required_branches",
    "run",
    "run_processor",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass
class ChannelRun:
    """What one channel's run produced (kept in memory; also saved by :func:`run`)."""

    channel: str
    output: dict[str, dict]
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events processed per wall-clock second."""
        return self.events / self.seconds if self.seconds > 0 else math.inf


@dataclass
class RunResult:
    """The outcome of :func:`run`."""

    channels: dict[str, ChannelRun]
    summary: dict[str, Any]
    skipped_files: list[SkippedFile] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)


def run_processor(
    fileset: Mapping[str, Mapping[str, Any]],
    proc: processor.ProcessorABC,
    executor: processor.executor.ExecutorBase,
    *,
    chunksize: int = DEFAULT_CHUNKSIZE,
    status: bool = False,
    file_info: Mapping[tuple[str, str], FileInfo] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one processor over a (checked) fileset with a coffea executor.

    Parameters
    ----------
    file_info : mapping, optional
        ``{(path, tree): FileInfo}`` from the input checks (:func:`check_fileset`'s cache):
        entries and UUID of each file, so that coffea need not open every file once more
        before processing to learn them.

    Returns
    -------
    (output, metrics)
        ``{dataset: output}`` merged in a deterministic order (:class:`OrderedMerge`) and
        coffea's metrics (``entries``, ``processtime``, ``bytesread``, ``chunks``).
    """
    from na62dump.schema import NA62Schema

    coffea_fileset = _coffea_fileset(fileset, getattr(proc, "branches", None))
    runner = _Runner(
        executor=executor,
        chunksize=chunksize,
        schema=NA62Schema,
        skipbadfiles=False,  # bad files were dealt with by check_fileset, before any work
        savemetrics=True,
        # never trust metadata cached from a file rewritten at the same path: a fresh cache,
        # filled from this run's own checks
        metadata_cache=_metadata_cache(fileset, coffea_fileset, file_info or {}),
    )
    with _quiet_coffea(status):
        chunks = list(runner.preprocess(coffea_fileset, treename=TREE))
        output, metrics = runner(chunks, OrderedMerge(proc, chunk_order(chunks)))
    return output, metrics


def _metadata_cache(fileset, coffea_fileset, file_info) -> dict:
    """coffea's per-file metadata (user metadata, ``numentries``, ``uuid``) from our checks."""
    cache = {}
    for dataset, entry in fileset.items():
        usermeta = coffea_fileset[dataset]["metadata"]
        for (path, tree), abspath in zip(
            entry["files"].items(), coffea_fileset[dataset]["files"], strict=True
        ):
            info = file_info.get((path, tree))
            if info is not None and info.problem is None:
                key = processor.executor.FileMeta(dataset, abspath, tree)
                cache[key] = {**usermeta, "numentries": info.entries, "uuid": info.uuid}
    return cache


def _coffea_fileset(
    fileset: Mapping[str, Mapping[str, Any]], branches=None
) -> dict[str, dict[str, Any]]:
    """The fileset as coffea's Runner takes it.

    Paths become absolute (workers may run in another directory or on another node), and the
    metadata loses the keys coffea sets itself (``dataset``, ``filename``, ...: it refuses
    them in a fileset); a ``dataset`` entry must then agree with the dataset's name. Unless the
    entry says otherwise, coffea preloads the branches the processor reads: ``branches(meta)``
    (the processor's ``branches`` method) if given, else :func:`required_branches`.
    """
    branches = branches or required_branches
    out = {}
    for dataset, entry in fileset.items():
        files = {
            (os.path.abspath(p) if not urls.is_url(p) else p): t for p, t in entry["files"].items()
        }
        meta = dict(entry.get("metadata") or {})
        if meta.pop("dataset", dataset) != dataset:
            raise InputError(
                f"dataset {dataset!r}: its metadata names another dataset "
                f"({entry['metadata']['dataset']!r})"
            )
        reserved = sorted(set(meta) & _COFFEA_RESERVED)
        if reserved:
            raise InputError(
                f"dataset {dataset!r}: metadata key(s) {', '.join(reserved)} are reserved by "
                "coffea; rename them in datasets.yaml"
            )
        # coffea reads the branches the processors need in one bulk call per chunk instead of
        # one call per branch (measured: ~20-50% more events/s in benchmarks/bench_processors)
        out[dataset] = {"preload": list(branches(meta)), **entry, "files": files,
                        "metadata": meta}
    return out


#: Metadata keys coffea fills in per chunk and refuses in a fileset.
_COFFEA_RESERVED = frozenset(processor.executor._PROTECTED_NAMES)


def required_branches(dataset_meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The ntuple branches the processors read for a dataset with metadata ``dataset_meta``.

    The ntuple contract's :func:`na62dump.ntuple.required_branches` of the dataset's kind:
    every processor reads the event-level and collection branches; signal samples
    (``kind == "signal"``) also need the truth branches for the truth-binned histograms.
    """
    from na62dump import ntuple

    return ntuple.required_branches(dataset_meta.get("kind"))


def run(
    campaign,
    channels: Sequence[str] | None = None,
    *,
    executor: str = DEFAULT_EXECUTOR,
    workers: int = DEFAULT_WORKERS,
    scheduler: str | None = None,
    scheduler_timeout: float = DEFAULT_SCHEDULER_TIMEOUT,
    chunksize: int = DEFAULT_CHUNKSIZE,
    skip_bad_files: bool = False,
    unblind: bool = False,
    out_dir: str | os.PathLike = "results",
    status: bool = False,
) -> RunResult:
    """Run the channel processors over a campaign and save their outputs.

    Parameters
    ----------
    campaign : na62dump.simulation.campaign.Campaign
        The datasets (``load_campaign()``).
    channels : sequence of str, optional
        Channels to run (keys of ``processors.PROCESSORS``); default all of them.
    executor, workers, scheduler, scheduler_timeout
        See :func:`open_executor`.
    chunksize : int
        Target events per chunk.
    skip_bad_files : bool
        Leave out missing, unreadable or rewritten files (listed in ``summary.json``) instead
        of failing; each such dataset is normalised to the POT or events of the files
        processed (:func:`normalise_fileset`).
    unblind : bool
        Open the signal and control regions of pseudo-data (recorded in every output).
    out_dir : path
        Results directory: writes the run set ``out_dir/run/`` (``<channel>.coffea``,
        ``summary.json``, ``provenance.json``), replacing the previous set whole once every
        channel ran.
    status : bool
        Show coffea's progress bars.

    Raises
    ------
    InputError
        Bad arguments, a channel no dataset feeds, bad input files (see
        :func:`check_fileset`). Nothing is written then.
    """
    from processors import PROCESSORS

    if channels is None:
        channels = list(PROCESSORS)
    channels = list(dict.fromkeys(channels))  # drop repeats, keep order
    unknown = [c for c in channels if c not in PROCESSORS]
    if unknown or not channels:
        raise InputError(
            f"--channels {','.join(channels)}: unknown channel(s) {', '.join(unknown)}; "
            f"choose among {', '.join(PROCESSORS)}"
        )
    if not isinstance(chunksize, int) or chunksize < 1:
        raise InputError(f"--chunksize {chunksize!r}: must be a positive integer")
    validate_executor_args(executor, workers, scheduler, scheduler_timeout)

    # 1. filesets of the declared files (cheap: no ROOT file is opened yet)
    declared = campaign.declared_inputs(channels)
    filesets = {}
    for channel in channels:
        filesets[channel] = campaign.fileset(channels=[channel])
        if not filesets[channel]:
            raise InputError(
                f"channel {channel!r}: no dataset of the campaign lists it in its `channels`"
            )
    results: dict[str, ChannelRun] = {}
    with open_executor(executor, workers=workers, scheduler=scheduler,
                       scheduler_timeout=scheduler_timeout, status=status) as exe:
        # 2. input checks of every file of every channel, on the executor's workers, before
        #    any processing
        cache = inspect_files(
            {(p, t) for fs in filesets.values() for e in fs.values() for p, t in _files(e)}, exe
        )
        cache = check_declared_entries(declared, cache)
        plans: dict[str, tuple[processor.ProcessorABC, dict]] = {}
        skipped: dict[tuple[str, str], SkippedFile] = {}
        for channel, fileset in filesets.items():
            branches = {
                name: required_branches(entry.get("metadata") or {})
                for name, entry in fileset.items()
            }
            checked, bad = check_fileset(
                fileset, branches, skip_bad_files=skip_bad_files, _cache=cache,
                searched={d.name: d.files for d in campaign.datasets},
                declared=declared,
            )
            for s in bad:
                skipped.setdefault((s.dataset, s.file), s)
            checked = normalise_fileset(checked, declared, bad, cache)
            plans[channel] = (PROCESSORS[channel](cuts=None, unblind=unblind), checked)
        record = run_record(campaign, {c: proc.cuts for c, (proc, _) in plans.items()},
                            channels=channels, executor=executor, chunksize=chunksize,
                            skip_bad_files=skip_bad_files, unblind=unblind)

        # 3. processing
        for channel, (proc, fileset) in plans.items():
            tic = time.perf_counter()
            output, metrics = run_processor(
                fileset, proc, exe, chunksize=chunksize, status=status, file_info=cache
            )
            seconds = time.perf_counter() - tic
            results[channel] = ChannelRun(
                channel, output, int(metrics.get("entries", 0)), seconds
            )
            logger.info(
                "%s: %d datasets, %d events in %.1f s",
                channel, len(output), results[channel].events, seconds,
            )

    # 4. summary and outputs, committed together
    skipped_list = sorted(skipped.values(), key=lambda s: (s.dataset, s.file))
    summary = summarise(
        {c: r.output for c, r in results.items()},
        unblinded=unblind,
        executor=executor,
        chunksize=chunksize,
        skipped_files=skipped_list,
        datasets=dataset_records({c: fs for c, (_, fs) in plans.items()}, declared,
                                 skipped_list),
        provenance=record,
    )
    paths = write_outputs(out_dir, {c: r.output for c, r in results.items()}, summary)
    return RunResult(results, summary, skipped_list, paths)
