"""The coffea executors of ``na62dump run``, with the process pool or dask cluster they need.

``"iterative"`` (one process), ``"futures"`` (a local process pool of ``workers`` processes,
the default) and ``"dask"`` (``dask.distributed``: the scheduler at ``scheduler`` if given,
else a ``LocalCluster`` of ``workers`` single-threaded processes on the loopback interface,
closed afterwards), opened by :func:`open_executor`. Every executor gives the same result to
the last bit (:mod:`na62dump.runner.merge`).

Files are read by the workers, so on a remote dask cluster every worker needs the package
installed and the files at the same (absolute) paths; see ``docs/running.md``.

The executor options are checked before anything starts (:func:`validate_executor_args`,
:func:`parse_scheduler_address`), and a scheduler is asked who it is within a deadline before
the dask client connects (:func:`probe_scheduler`). coffea's progress bars and dask's start-up
chatter stay quiet unless asked for, and Ctrl-C reaches only the main process.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from coffea import processor

from na62dump.errors import InputError
from na62dump.settings import (
    DEFAULT_EXECUTOR,
    DEFAULT_SCHEDULER_TIMEOUT,
    DEFAULT_WORKERS,
    EXECUTORS,
)

#: The runner's one logger, ``na62dump.runner``, whichever of its modules logs.
logger = logging.getLogger(__package__)


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


#: Environment of the futures pool's workers: loky's memory-leak guard switched off. loky
#: restarts a worker whose memory, after a garbage collection, exceeds by 300 MB what it was
#: after its first task: a heuristic for arbitrary tasks. A worker of ``na62dump run`` holds
#: one chunk at a time and keeps nothing between chunks (the processors are stateless and each
#: chunk's histograms go back to the main process), but the allocator keeps the pages of a big
#: chunk: at the default 200 000 events a worker peaks near 570 MB, 390 MB above its memory
#: with the stack imported, and loky took that for a leak. It restarted workers mid-run (a new
#: interpreter importing everything again, with a UserWarning in the output), and a restarted
#: worker is not deaf to Ctrl-C (:func:`_start_workers_deaf_to_ctrl_c`), so a Ctrl-C at that
#: moment printed its KeyboardInterrupt traceback. The guard's limit is set to the machine's
#: memory, which no worker can exceed: loky reads it in each new worker before any import.
_NO_LOKY_LEAK_GUARD = {
    "LOKY_MAX_MEMORY_LEAK_SIZE": str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
}


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

        pool = loky.ProcessPoolExecutor(max_workers=workers, env=_NO_LOKY_LEAK_GUARD)
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
