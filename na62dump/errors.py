"""Exceptions the command line turns into a one-line message and exit status 2.

Every error raised for bad *input* (a missing or corrupt file, a missing branch, a malformed
datasets.yaml, a NaN, an argument out of range) is an :class:`InputError` whose message names
the file, entry or argument and the problem; anything else is a bug and keeps its traceback.
"""


class Na62DumpError(Exception):
    """Base class of the errors this package raises on purpose."""


class InputError(Na62DumpError, ValueError):
    """Bad input: the message names the file/entry/argument and what is wrong with it."""
