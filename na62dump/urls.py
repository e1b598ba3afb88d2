"""Input files given by URL: which strings are URLs, whether this environment can open them,
and the expansion of a URL glob.

Wherever the campaign or the command line takes an input file, a URL works too, because uproot
5 reads every path through `fsspec <https://filesystem-spec.readthedocs.io>`_:

- ``root://host//path/file.root`` (XRootD, e.g. EOS) needs ``fsspec-xrootd`` and the XRootD
  Python bindings: ``pip install 'na62dump[xrootd]'`` (the optional extra of
  ``pyproject.toml``);
- ``http://`` and ``https://`` work as installed (fsspec's HTTP filesystem on ``aiohttp``,
  both pinned); the server must answer HTTP range requests (uproot reads baskets, not whole
  files), as web servers and EOS/dCache HTTP doors do;
- any other fsspec protocol (``s3://``, ``gs://``, ``simplecache::http://...``) once its
  fsspec implementation is installed.

``file://`` URLs and plain paths are local files. A URL is never joined to a campaign's
``data_dir`` and is not resolved against the working directory.

>>> is_url("root://eosna62.cern.ch//eos/x.root"), is_url("data/tiny/x.root")
(True, False)
>>> is_url("file:///tmp/x.root"), is_local("file:///tmp/x.root")
(True, True)
>>> is_url("simplecache::https://example.org/x.root")
True
>>> protocol("simplecache::https://example.org/x.root"), protocol("/tmp/x.root")
('simplecache', 'file')
"""

from __future__ import annotations

import glob as _glob
import os
import re

from na62dump.errors import InputError

#: ``scheme://`` (RFC 3986 scheme), optionally behind fsspec chained protocols (``a::b://``).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*(::[A-Za-z][A-Za-z0-9+.-]*)*://")

#: Seconds the input check waits for a server to connect or to send the next bytes (HTTP), and
#: the XRootD connection window: a server that does not answer is reported after about this
#: (HTTP) or twice this (XRootD, two tries), not after the libraries' own 5 (aiohttp's total
#: timeout) or 10 minutes (XRootD: a 120 s window tried 5 times).
NO_ANSWER_TIMEOUT_S = 15

#: Defaults of the XRootD client's retries when a server does not answer (its environment
#: variables; yours win).
XROOTD_ENV_DEFAULTS = {"XRD_CONNECTIONWINDOW": str(NO_ANSWER_TIMEOUT_S),
                       "XRD_CONNECTIONRETRY": "2"}

#: What to install for a protocol whose fsspec implementation is missing, where the package
#: itself says less (its own ImportError message is kept as well).
_INSTALL_HINTS = {
    "root": "pip install 'na62dump[xrootd]' (fsspec-xrootd and the XRootD Python bindings)",
}


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL (``scheme://...``, ``file://`` included), not a plain path."""
    return bool(_URL.match(str(path)))


def is_local(path: str) -> bool:
    """Whether ``path`` names a local file: a plain path or a ``file://`` URL."""
    return not is_url(path) or str(path).startswith("file://")


def protocol(path: str) -> str:
    """The (first) fsspec protocol of ``path``: ``"file"`` for a plain path."""
    if not is_url(path):
        return "file"
    return str(path).split("://", 1)[0].split("::", 1)[0]


def check_readable_protocol(url: str) -> None:
    """Raise :class:`InputError` if no installed fsspec implementation reads ``url``.

    Checks every protocol of a chained URL (``simplecache::root://...``); the message names
    the URL and what to install. Local paths always pass. For ``root://`` also sets
    :data:`XROOTD_ENV_DEFAULTS` in this process's environment where not set (before the
    XRootD client reads it, at its first use in the process).
    """
    if not is_url(url):
        return
    import fsspec

    for proto in str(url).split("://", 1)[0].split("::"):
        if proto == "root":
            for key, value in XROOTD_ENV_DEFAULTS.items():
                os.environ.setdefault(key, value)
        try:
            fsspec.get_filesystem_class(proto)
        except ImportError as err:
            hint = _INSTALL_HINTS.get(proto, str(err).split(". ")[0])
            raise InputError(f"{url}: {proto}:// URLs need a package that is not installed: "
                             f"{hint}") from None
        except ValueError:
            raise InputError(f"{url}: unknown URL protocol {proto!r} (not an fsspec protocol)"
                             ) from None


def open_options(path: str) -> dict:
    """Extra ``uproot.open`` options for ``path``: for ``http(s)://`` a connect and read timeout
    of :data:`NO_ANSWER_TIMEOUT_S` (aiohttp's client timeout, through fsspec's HTTP
    filesystem); nothing for other paths."""
    if protocol(path) not in ("http", "https"):
        return {}
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=NO_ANSWER_TIMEOUT_S,
                                    sock_read=NO_ANSWER_TIMEOUT_S)
    return {"client_kwargs": {"timeout": timeout}}


def has_magic(pattern: str) -> bool:
    """Whether ``pattern`` holds glob characters (``*``, ``?``, ``[``)."""
    return _glob.has_magic(pattern)


def expand(pattern: str) -> list[str]:
    """The files matching ``pattern``, sorted: a local glob, or a URL glob through fsspec.

    A URL without glob characters is returned as it is (a declared file: whether it answers is
    the input check's business, see :func:`na62dump.runner.inspect_file`). A URL glob asks the
    server for a listing (XRootD, S3 and local file systems list directories; an HTTP server
    only through an HTML index page); a failure is an :class:`InputError` naming the pattern.
    """
    if not is_url(pattern):
        return sorted(_glob.glob(pattern))
    if not has_magic(pattern):
        return [pattern]
    check_readable_protocol(pattern)
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(pattern)
        found = fs.glob(path)
        if not found:  # some implementations list an unreachable server as empty: ask it
            parts = path.split("/")
            first = next(i for i, part in enumerate(parts) if has_magic(part))
            fs.info("/".join(parts[:first]) or "/")
    except Exception as err:  # network and server errors of any fsspec implementation
        detail = " ".join(str(err).split())
        raise InputError(f"{pattern}: cannot list the files of this URL glob "
                         f"({type(err).__name__}: {detail})") from None
    return sorted(fs.unstrip_protocol(p) for p in found)
