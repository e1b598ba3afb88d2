"""Argument types shared by the subcommands (argparse turns their errors into exit status 2).

>>> int_at_least(1)("1e6"), int_at_least(0)("0")
(1000000, 0)
>>> comma_list("channel", "ee,mumu")(" ee, mumu ,")
['ee', 'mumu']
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


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
