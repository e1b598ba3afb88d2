"""Argument types shared by the subcommands (argparse turns their errors into exit status 2),
and :func:`check_writable_dir`, the check every stage makes of its output directory before
it starts working.

>>> int_at_least(1)("1e6"), int_at_least(0)("0")
(1000000, 0)
>>> comma_list("channel", "ee,mumu")(" ee, mumu ,")
['ee', 'mumu']
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from na62dump.errors import InputError


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An integer >= ``minimum``; integer-valued exponent notation (``1e6``) is accepted."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
            if not as_float.is_integer():
                raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
            value = int(as_float)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be >= {minimum}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def positive_float(text: str) -> float:
    """A finite number > 0 (``nan``, ``inf`` and ``1e999``, which is inf, are refused).

    >>> positive_float("2.5"), positive_float("1e-3")
    (2.5, 0.001)
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0.0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number > 0")
    return value


def comma_list(what: str, example: str, lower: bool = False) -> Callable[[str], list[str]]:
    """A comma-separated, non-empty list of names (``what`` and ``example`` for the message)."""

    def parse(text: str) -> list[str]:
        names = [c.strip() for c in text.split(",") if c.strip()]
        if lower:
            names = [n.lower() for n in names]
        if not names:
            raise argparse.ArgumentTypeError(f"give at least one {what}, e.g. {example}")
        return names

    return parse


def check_writable_dir(path: str | os.PathLike, what: str) -> Path:
    """Check, before any work, that the output directory ``path`` can be written; return it.

    ``what`` names the option in the message (``"--out"``). The directory need not exist yet
    (the stage creates it), but then its nearest existing ancestor must be a directory where
    files can be made. Writability is found out by making (and removing) a small file there,
    not from the permission bits: those do not see a read-only mount, and the tests run as
    root, whom permission bits do not stop. Nothing is left behind.

    Raises
    ------
    InputError
        ``path`` (or an ancestor) is a file, or no file can be made there (read-only,
        permission denied, disk full); the message names the directory and the reason.
    """
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.is_symlink():  # a dangling link: mkdir would fail on it
            raise InputError(f"{what} {path}: {probe} is a broken symbolic link")
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        where = "is a file" if probe == path else f"cannot be made: {probe} is a file"
        raise InputError(f"{what} {path}: {where}, not a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".na62dump-write-test.", dir=probe)
        try:
            os.write(fd, b"\0")
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as err:
        place = "" if probe == path else f" ({probe})"
        raise InputError(f"{what} {path}: cannot write there{place}: "
                         f"{err.strerror or err}") from None
    return path
