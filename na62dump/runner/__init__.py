"""Stage 2: datasets.yaml -> coffea fileset -> channel processors -> saved accumulators.

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

Executors
---------
``"iterative"`` (one process), ``"futures"`` (a local process pool of ``workers`` processes,
the default) and ``"dask"`` (``dask.distributed``: the scheduler at ``scheduler`` if given,
else a ``LocalCluster`` of ``workers`` single-threaded processes on the loopback interface,
closed afterwards). Every executor gives the same result to the last bit: each chunk's output
is keyed by ``(dataset, file, entrystart)`` on the worker and the outputs are merged in that
sorted order at the end (:class:`OrderedMerge`), so neither completion order nor the executor's
reduction tree changes a floating-point sum.

Files are read by the workers, so on a remote dask cluster every worker needs the package
installed and the files at the same (absolute) paths; see ``docs/running.md``.

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

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from coffea import processor
from coffea.util import load as _coffea_load
from coffea.util import save as _coffea_save

from na62dump import artefacts, atomic, provenance, urls
from na62dump.errors import InputError
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
from na62dump.settings import (
    DEFAULT_CHUNKSIZE,
    DEFAULT_EXECUTOR,
    DEFAULT_SCHEDULER_TIMEOUT,
    DEFAULT_WORKERS,
    EXECUTORS,
)

#: What ``from na62dump.runner import ...`` offers: the names of every module of the package.
__all__ = [
    # na62dump.settings
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

# Executors and defaults (EXECUTORS, DEFAULT_EXECUTOR, DEFAULT_WORKERS, DEFAULT_CHUNKSIZE) live
# in na62dump.settings, cheap to import for the command line; re-exported here.
#: Where the outputs of ``na62dump run`` go: the run set ``DIR/run/`` (na62dump.artefacts).
SUMMARY_NAME = artefacts.SUMMARY_NAME


# --------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------


def output_path(results_dir: str | os.PathLike, channel: str) -> Path:
    """Path of the saved accumulator of ``channel``: ``results_dir/run/<channel>.coffea``."""
    return artefacts.output_path(results_dir, channel)


def load_output(results_dir: str | os.PathLike, channel: str) -> dict[str, dict]:
    """Load what ``na62dump run`` saved for one channel.

    Parameters
    ----------
    results_dir : path
        The ``--out`` directory of ``na62dump run`` (default ``results``).
    channel : str
        ``"ee"``, ``"mumu"``, ``"pipi"`` or ``"hadronic"``.

    Returns
    -------
    dict
        ``{dataset: accumulator}``, the accumulator as documented in ``docs/artefacts.md``
        (``"cutflow"``, ``"hists"``, ``"signal"`` for signal samples, ``"regions"`` for
        pseudo-data).

    Raises
    ------
    InputError
        If the file does not exist (the channel was not run) or cannot be read.
    """
    path = output_path(results_dir, channel)
    if not path.is_file():
        raise InputError(
            f"{path}: no output for channel {channel!r}; run `na62dump run --channels "
            f"{channel} --out {results_dir}` first"
        )
    try:
        return _coffea_load(str(path))
    except Exception as err:  # a truncated or foreign file: say which one
        raise InputError(f"{path}: cannot be read as a coffea output ({err})") from err


def dataset_records(
    plans: Mapping[str, Mapping[str, Mapping[str, Any]]],
    declared: Mapping[str, Any],
    skipped: Sequence[SkippedFile] = (),
) -> dict[str, dict[str, Any]]:
    """The ``datasets`` record of ``summary.json`` from ``{channel: checked fileset}``.

    Per dataset: ``kind``, the ``channels`` of this run that read it, its ``metadata`` as the
    processors saw it (normalised to the files processed: model, production, final state,
    mass, ``n_generated`` or ``pot``...), the ``files`` processed and those ``skipped``, and
    ``normalisation``: where the file list came from (``source``: manifest, list or glob),
    the ``unit`` (pot or events), the ``declared`` and ``processed`` totals and file counts.
    """
    records: dict[str, dict[str, Any]] = {}
    for channel, fileset in plans.items():
        for name, entry in sorted(fileset.items()):
            rec = records.get(name)
            if rec is None:
                meta = dict(entry.get("metadata") or {})
                inputs = declared.get(name)
                unit = inputs.unit if inputs is not None else None
                processed = meta.get("n_generated" if unit == "events" else "pot")
                rec = records[name] = {
                    "kind": meta.get("kind"),
                    "channels": [],
                    "metadata": meta,
                    "files": list(entry["files"]),
                    "skipped": sorted(s.file for s in skipped if s.dataset == name),
                    "normalisation": {
                        "source": inputs.source if inputs is not None else None,
                        "manifest": inputs.manifest if inputs is not None else None,
                        "unit": unit,
                        "declared": inputs.total if inputs is not None else None,
                        "processed": None if processed is None else float(processed),
                        "files_declared": len(inputs.files) if inputs is not None else None,
                        "files_processed": len(entry["files"]),
                    },
                }
            rec["channels"].append(channel)
    return dict(sorted(records.items()))


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_coffea(status: bool) -> Iterator[None]:
    """Silence coffea's rich console (the futures executor draws its bars regardless of
    ``status``) unless progress was asked for."""
    from coffea.util import coffea_console

    old = coffea_console.quiet
    coffea_console.quiet = not status
    try:
        yield
    finally:
        coffea_console.quiet = old


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    """Keep dask.distributed's INFO chatter (scheduler and worker start-up, shutdown) out of
    the output, unless this module logs at DEBUG (``na62dump -vv``)."""
    dist = logging.getLogger("distributed")
    old = dist.level
    if logger.getEffectiveLevel() > logging.DEBUG:
        dist.setLevel(logging.ERROR)
    try:
        yield
    finally:
        dist.setLevel(old)


def _start_workers_deaf_to_ctrl_c(pool, workers: int) -> None:
    """Start the ``workers`` processes of the loky ``pool`` with SIGINT ignored.

    Ctrl-C in a terminal sends SIGINT to every process of the foreground group, the pool's
    workers included; each would print its own KeyboardInterrupt traceback (loky's workers
    are new interpreters, interrupted mid-import) next to the one-line "interrupted" of
    ``na62dump``. A process started while SIGINT is ignored keeps ignoring it (POSIX
    exec semantics, which Python honours at start-up), so the workers are started here, one
    trivial task each, with SIGINT ignored for that moment; the main process then alone
    handles Ctrl-C and ends the workers. Outside the main thread (where signal handlers
    cannot be changed) the workers start as usual.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for future in [pool.submit(os.getpid) for _ in range(workers)]:
            future.result()
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def open_executor(
    name: str = DEFAULT_EXECUTOR,
    *,
    workers: int = DEFAULT_WORKERS,
    scheduler: str | None = None,
    status: bool = False,
    scheduler_timeout: float = DEFAULT_SCHEDULER_TIMEOUT,
) -> Iterator[processor.executor.ExecutorBase]:
    """A coffea executor, with the process pool or dask cluster it needs, closed on exit.

    Parameters
    ----------
    name : {"iterative", "futures", "dask"}
    workers : int
        Processes of the futures pool or of the local dask cluster (ignored by
        ``"iterative"`` and when ``scheduler`` is given).
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``); only with ``"dask"``.
    status : bool
        Draw coffea's progress bars.
    scheduler_timeout : float
        Seconds to wait for ``scheduler`` to answer (TCP connection, dask handshake and
        identity reply together; see :func:`probe_scheduler`).

    Raises
    ------
    InputError
        An unknown executor, ``workers < 1``, a scheduler without ``"dask"``, or a scheduler
        that cannot be reached.
    """
    validate_executor_args(name, workers, scheduler, scheduler_timeout)
    if name == "iterative":
        # one process: no point in pickling and compressing every chunk's output
        yield processor.IterativeExecutor(status=status, retries=0, compression=None)
    elif name == "futures":
        import loky

        pool = loky.ProcessPoolExecutor(max_workers=workers)
        try:
            _start_workers_deaf_to_ctrl_c(pool, workers)
            yield processor.FuturesExecutor(pool=pool, workers=workers, status=status, retries=0)
        finally:
            # after Ctrl-C too this waits for the chunks already running (at most one per
            # worker): loky's kill_workers=True trips over the futures coffea has cancelled
            # and prints a traceback of its manager thread
            pool.shutdown(wait=True)
    else:
        import distributed

        with contextlib.ExitStack() as stack:
            stack.enter_context(_quiet_distributed())
            if scheduler is None:
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                )
                client = stack.enter_context(distributed.Client(cluster))
            else:
                # distributed.Client bounds the TCP connection by its timeout but not the wait
                # for the scheduler's replies: at a port that accepts and stays silent, or at an
                # HTTP server, it hangs for minutes. Ask the scheduler who it is first, within
                # the timeout, and only then hand the address to the Client.
                probe_scheduler(scheduler, scheduler_timeout)
                try:
                    client = stack.enter_context(
                        distributed.Client(scheduler, timeout=f"{scheduler_timeout}s")
                    )
                except (OSError, TimeoutError) as err:
                    raise InputError(
                        f"--scheduler {scheduler}: cannot connect to a dask scheduler ({err})"
                    ) from err
            yield processor.DaskExecutor(client=client, status=status)


#: Address schemes of dask.distributed a scheduler can listen on (``inproc`` is in-process
#: only, ``ucx`` needs UCX-Py; neither reaches a scheduler given on the command line).
SCHEDULER_SCHEMES = ("tcp", "tls")


def parse_scheduler_address(address: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a dask scheduler address, or :class:`InputError`.

    Accepted: ``tcp://host:port``, ``tls://host:port`` and ``host:port`` (tcp), with an IPv6
    host in brackets (``tcp://[::1]:8786``). Not accepted: an ``http://`` address (that is
    the dashboard, usually port 8787; the scheduler listens on ``tcp://``, usually 8786), a
    missing or out-of-range port.

    >>> parse_scheduler_address("tcp://sched.example.org:8786")
    ('tcp', 'sched.example.org', 8786)
    >>> parse_scheduler_address("[::1]:8786")
    ('tcp', '::1', 8786)
    """
    from urllib.parse import urlsplit

    where = f"--scheduler {address}"
    if not isinstance(address, str) or not address.strip():
        raise InputError(f"--scheduler {address!r}: empty address; give tcp://host:port")
    text = address.strip()
    scheme = "tcp"
    if "://" in text:
        scheme, _, rest = text.partition("://")
        scheme = scheme.lower()
        if scheme in ("http", "https"):
            raise InputError(
                f"{where}: an {scheme}:// address is a web page (the dask dashboard?), not a "
                "scheduler; give the scheduler's tcp://host:port (port 8786 by default)"
            )
        if scheme not in SCHEDULER_SCHEMES:
            raise InputError(
                f"{where}: unknown scheme {scheme}://; give tcp://host:port or tls://host:port"
            )
        text = rest
    try:
        parts = urlsplit(f"//{text}")
        host, port = parts.hostname, parts.port
    except ValueError as err:  # port not a number or outside 0-65535
        raise InputError(f"{where}: bad port ({err}); give {scheme}://host:port") from None
    if not host or port is None or parts.path or parts.query or parts.fragment:
        raise InputError(f"{where}: not a host:port address; give {scheme}://host:port")
    if not 0 < port < 65536:
        raise InputError(f"{where}: port {port} outside 1-65535")
    return scheme, host, port


def probe_scheduler(address: str, timeout: float = DEFAULT_SCHEDULER_TIMEOUT) -> None:
    """Check within ``timeout`` seconds that a dask scheduler answers at ``address``.

    Three steps, one deadline: the TCP connection (a refused port fails at once, not after
    the timeout; an unknown host too), dask's connection handshake, and the scheduler's reply
    to an ``identity`` request (which must say ``"type": "Scheduler"``: a dask worker or
    nanny answers too but cannot run a job). TLS addresses use the security settings of the
    dask configuration (``distributed.comm.tls.*``), as :class:`distributed.Client` does.

    Raises
    ------
    InputError
        A malformed address, or no dask scheduler answering in time; the message names the
        address and what happened (refused, timed out, not a dask scheduler).
    """
    import asyncio
    import concurrent.futures
    import socket

    scheme, host, port = parse_scheduler_address(address)
    where = f"--scheduler {address}"
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror as err:
        raise InputError(f"{where}: unknown host {host!r} ({err.strerror})") from None
    except ConnectionRefusedError:
        raise InputError(f"{where}: connection refused (no scheduler listens there)") from None
    except TimeoutError:
        raise InputError(f"{where}: no answer within {timeout:g} s "
                         "(--scheduler-timeout)") from None
    except OSError as err:
        raise InputError(f"{where}: cannot connect ({err.strerror or err})") from None

    async def identity() -> Any:
        from distributed import Security
        from distributed.comm import connect

        args = Security().get_connection_args("client")
        left = max(deadline - time.monotonic(), 0.01)
        comm = await asyncio.wait_for(
            connect(f"{scheme}://{host}:{port}", timeout=left, **args), left
        )
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), max(deadline - time.monotonic(), 0.01))
        finally:
            comm.abort()

    # a fresh event loop in a thread of its own: works whether or not the caller (a notebook)
    # already runs one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            reply = pool.submit(asyncio.run, identity()).result()
        except TimeoutError:  # asyncio.TimeoutError too (the same class since Python 3.11)
            raise InputError(
                f"{where}: the port accepts connections but no dask scheduler answered within "
                f"{timeout:g} s (another service there? --scheduler-timeout to wait longer)"
            ) from None
        except Exception as err:  # whatever the far end did, it is no dask scheduler
            raise InputError(
                f"{where}: not a dask scheduler ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else 'connection closed'})"
            ) from None
    kind = reply.get("type") if isinstance(reply, Mapping) else None
    if kind != "Scheduler":
        raise InputError(f"{where}: answered as {kind or 'something unknown'}, not as a dask "
                         "scheduler (a worker's address?)")


def validate_executor_args(
    name: str,
    workers: int,
    scheduler: str | None,
    scheduler_timeout: float = DEFAULT_SCHEDULER_TIMEOUT,
) -> None:
    """Raise :class:`InputError` for an executor choice that cannot work (without connecting
    anywhere: the scheduler's address is only checked for its form)."""
    if name not in EXECUTORS:
        raise InputError(f"--executor {name!r}: choose one of {', '.join(EXECUTORS)}")
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"--workers {workers!r}: must be a positive integer")
    if scheduler is not None and name != "dask":
        raise InputError(f"--scheduler {scheduler}: only meaningful with --executor dask")
    if scheduler is not None:
        parse_scheduler_address(scheduler)
    if not (isinstance(scheduler_timeout, int | float) and 0 < scheduler_timeout < math.inf):
        raise InputError(f"--scheduler-timeout {scheduler_timeout!r}: must be a finite number "
                         "of seconds > 0")


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


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Plain Python types for :mod:`json` (numpy scalars and arrays become numbers/lists)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _region_count(output: Mapping[str, Any], region: str) -> int | None:
    regions = output.get("regions")
    if not regions:
        return None
    n = regions.get(region)
    return None if n is None else int(n)


def summarise(
    outputs: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    unblinded: bool,
    executor: str,
    chunksize: int,
    skipped_files: Sequence[SkippedFile] = (),
    datasets: Mapping[str, Mapping[str, Any]] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``summary.json`` (docs/artefacts.md), from ``{channel: {dataset: out}}``.

    ``datasets`` is the record of what was processed (:func:`dataset_records`), from which the
    later stages take each dataset's kind, model, mass, production, final state and
    normalisation instead of re-reading ``datasets.yaml``. ``provenance``: the run stage's
    record (:func:`run_record`), kept under ``"provenance"``.

    ``CR``/``SR`` are the pseudo-data region counts, ``null`` while blinded and for samples
    without ``"regions"`` (simulated samples: their region content is in the histograms).
    ``datasets``: the fileset metadata of every dataset processed, recorded as
    ``{name: {"kind", "metadata"}}`` (what the later stages need: kinds, POT, weights).
    """
    channels = {}
    for channel, per_dataset in outputs.items():
        channels[channel] = {
            dataset: {
                "cutflow": _jsonable(out["cutflow"]),
                "CR": _region_count(out, "CR"),
                "SR": _region_count(out, "SR"),
            }
            for dataset, out in sorted(per_dataset.items())
        }
    return {
        "unblinded": bool(unblinded),
        "executor": executor,
        "chunksize": int(chunksize),
        "skipped_files": [s.as_dict() for s in skipped_files],
        "datasets": _jsonable(dict(datasets or {})),
        "channels": channels,
        **({"provenance": dict(provenance)} if provenance else {}),
    }


def write_outputs(
    results_dir: str | os.PathLike,
    outputs: Mapping[str, Mapping[str, Any]],
    summary: Mapping[str, Any],
) -> dict[str, Path]:
    """Write the run set: every channel's ``.coffea``, ``summary.json`` and (from
    ``summary["provenance"]``) ``provenance.json``, into a fresh version of ``DIR/run/``
    that replaces the previous set in one step (:class:`na62dump.artefacts.StageSet`): an
    error or interrupt leaves the previous set, and no channel of an earlier run survives
    that this summary does not describe."""
    results_dir = Path(results_dir)
    with artefacts.StageSet(artefacts.run_dir(results_dir)) as staging:
        for channel, out in outputs.items():
            atomic.write_via(staging / f"{channel}.coffea",
                             lambda tmp, out=out: _coffea_save(out, str(tmp)))
        atomic.write_json(staging / artefacts.SUMMARY_NAME, _jsonable(summary))
        if summary.get("provenance"):
            provenance.write_record(staging, summary["provenance"])
    targets = {c: output_path(results_dir, c) for c in outputs}
    targets["summary"] = artefacts.summary_path(results_dir)
    return targets


def run_record(campaign, cuts: Mapping[str, Any], *, channels: Sequence[str], executor: str,
               chunksize: int, skip_bad_files: bool, unblind: bool) -> dict[str, Any]:
    """The provenance record of the run stage (:mod:`na62dump.provenance`): the campaign, the
    cut objects per channel, the options, the blinding and a fingerprint of the input files.

    ``na62dump all`` calls it with the same arguments as :func:`run` to tell whether the run
    set is up to date."""
    files = [p for ch in channels for e in campaign.fileset(channels=[ch]).values()
             for p, _ in _files(e)]
    return provenance.record(
        "run", campaign=campaign, cuts=cuts,
        options={"channels": list(channels), "executor": executor, "chunksize": int(chunksize),
                 "skip_bad_files": bool(skip_bad_files)},
        seeds={"simulation": int(campaign.seed)},
        blinding={"unblinded": bool(unblind)},
        inputs={"data": provenance.files_fingerprint(files)})
