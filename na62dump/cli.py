"""Command line: ``na62dump <command> ...``.

Each command lives in ``na62dump/commands/<name>.py`` and provides ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable taking the parsed arguments and returning
an exit status. Errors of bad input (:class:`na62dump.errors.InputError`) become a one-line
message on stderr and exit status 2, never a traceback; so do the OSErrors of a hostile
environment (disk full, read-only, a file where a directory should be:
:data:`ENVIRONMENT_ERRNOS`), and Ctrl-C ends with "interrupted" and exit status 130.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import logging
import os
import sys

from na62dump.errors import Na62DumpError

#: Subcommands in the order of the analysis chain.
COMMANDS = ("model", "simulate", "run", "background", "limits", "plot", "all", "validate",
            "verify", "hepdata", "inspect")


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 on usage errors already; keep its one-line message."""


class _Version(argparse.Action):
    """``--version``: version, git commit and stack versions (computed only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from na62dump.provenance import version_text

        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="na62dump", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--version", action=_Version,
                        help="print the version, git commit and stack versions, and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"na62dump.commands.{name}").register(sub)
    return parser


#: OSError numbers of a hostile environment rather than of a bug: the disk or quota is full,
#: the place is read-only or not ours, or a file stands where a directory should (or the
#: reverse). They become a one-line message naming the path, exit status 2.
ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name) for name in (
        "ENOSPC", "EDQUOT", "EFBIG", "EROFS", "EACCES", "EPERM", "ENOTDIR", "EISDIR", "EEXIST",
        "ENAMETOOLONG",
    ) if hasattr(errno, name)
)
#: Exit status after Ctrl-C: 128 + SIGINT, what a shell reports for a process it interrupted.
INTERRUPTED = 130


def environment_error_message(err: OSError, output: str | None = None) -> str | None:
    """The one-line message for an OSError of :data:`ENVIRONMENT_ERRNOS`, else None.

    The path is the error's own (``err.filename``) when the system call had one. A failed
    ``write`` on an open file (the usual way a full disk shows) carries none: then the message
    names ``output``, the directory the command writes to, or standard output for a command
    that writes no file.

    >>> import errno
    >>> environment_error_message(OSError(errno.ENOSPC, "No space left on device", "r/x.json"))
    'r/x.json: No space left on device'
    >>> environment_error_message(OSError(errno.ENOSPC, "No space left on device"), "results")
    'results: No space left on device (writing the outputs there)'
    >>> environment_error_message(OSError(errno.EIO, "Input/output error", "x")) is None
    True
    """
    if err.errno not in ENVIRONMENT_ERRNOS:
        return None
    reason = err.strerror or str(err)
    if err.filename is None:
        if output is None:
            return f"standard output: {reason}"
        return f"{output}: {reason} (writing the outputs there)"
    where = str(err.filename)
    if err.filename2 is not None:
        where += f" -> {err.filename2}"
    return f"{where}: {reason}"


def _stdout_failure() -> str | None:
    """Flush stdout; if that fails (the file it is redirected to is on a full disk), point it
    at os.devnull, so that the interpreter's own flush at exit prints no traceback, and return
    the reason."""
    try:
        sys.stdout.flush()
        return None
    except OSError as err:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return err.strerror or str(err)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        status = int(args.func(args) or 0)
    except Na62DumpError as err:
        print(f"na62dump {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        # the directory the command writes to (every stage names it --out or --results)
        output = getattr(args, "out", None) or getattr(args, "results", None)
        message = environment_error_message(err, None if output is None else str(output))
        if message is None:
            raise
        _stdout_failure()  # so that the exit's flush of a broken stdout is silent
        print(f"na62dump {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # the stages write through temporary files renamed at the end: nothing half-written
        print(f"na62dump {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    # a full disk under a redirected stdout shows at the flush, else at the interpreter's exit
    failure = _stdout_failure()
    if failure is not None:
        print(f"na62dump {args.command}: error: standard output: {failure}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
