"""Artefact files: the one atomic-write helper of the project, and checked JSON reads.

Every file of the chain (JSON records, pickled coffea outputs, ROOT ntuples, figures, tables)
is written through here: to a temporary name next to the target (``.<name>.<random>.tmp``),
given the ordinary permissions of a new file (``0o666 & ~umask``: colleagues on a
shared area can read the limits, as with any file the user makes), then moved onto the final
name with ``os.replace``. An interrupted or failed write therefore never leaves a
half-written file under the final name; its temporary file is removed on any exception, and a
stage set (:mod:`na62dump.artefacts`) removes the ones a killed process could not.

- :func:`write_bytes`, :func:`write_text`, :func:`write_json`: the content in memory;
- :func:`write_via`: a writer that wants a path (``coffea.util.save``, ``uproot.recreate``,
  ``fig.savefig``) writes to the temporary path, which is then moved into place.

JSON is written strictly (``allow_nan=False``): NaN and infinity are not JSON and a reader in
another language would refuse the file. A NaN that slips through is an error naming the file
and the key where it sits.

>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = write_json(d / "x.json", {"b": 1, "a": [1.5]})
>>> json.loads(p.read_text()) == {"b": 1, "a": [1.5]}, sorted(q.name for q in d.iterdir())
(True, ['x.json'])
>>> write_json(d / "y.json", {"a": {"b": [1.0, float("nan")]}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: /.../y.json: not finite at a.b[1] (nan): JSON has no NaN or infinity
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from na62dump.errors import InputError

#: Suffix of the temporary files of this module (a stage set removes stale ones).
TMP_SUFFIX = ".tmp"


def read_json(path: str | os.PathLike, missing_hint: str = "") -> Any:
    """Parse the JSON file ``path``; a missing or unreadable file is an :class:`InputError`
    naming it (``missing_hint`` says which command makes the file)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        hint = f" ({missing_hint})" if missing_hint else ""
        raise InputError(f"{path}: missing{hint}") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: unreadable JSON ({err})") from err


def umask() -> int:
    """The process's umask (read without changing it for longer than the call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions of a new artefact file: ``0o666 & ~umask`` (what ``open()`` would give)."""
    return 0o666 & ~umask()


def write_via(path: str | os.PathLike, writer: Callable[[Path], Any], *,
              keep_name: bool = False) -> Path:
    """Have ``writer(tmp_path)`` write the file, then move it onto ``path``; return ``path``.

    For writers that take a path (``coffea.util.save``, ``uproot.recreate``,
    ``Figure.savefig``). The parent directory is created; on any exception (an interrupt
    included) the temporary file is removed and ``path`` is left as it was.

    ``keep_name``: the temporary file has ``path``'s own base name, inside a private
    temporary directory next to it (``.<name>.<random>.tmp/<name>``): for formats that store
    their file name (ROOT files), so that the bytes do not depend on a random suffix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = None
    if keep_name:
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX,
                                       dir=path.parent))
        tmp = tmpdir / path.name
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX,
                                    dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        writer(tmp)
        os.chmod(tmp, file_mode())  # mkstemp makes it private; artefacts are ordinary files
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return write_via(path, _write)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (parent directories are created); return the path."""
    return write_bytes(path, text.encode(encoding))


def _first_non_finite(value: Any, where: str = "") -> tuple[str, float] | None:
    """``(key path, value)`` of the first NaN or infinity in a JSON-like payload, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (where or "(top level)", value)
    if isinstance(value, Mapping):
        for k, v in value.items():
            hit = _first_non_finite(v, f"{where}.{k}" if where else str(k))
            if hit:
                return hit
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            hit = _first_non_finite(v, f"{where}[{i}]")
            if hit:
                return hit
    return None


def dumps_json(payload: Any, *, indent: int | None = 2, sort_keys: bool = False,
               allow_nan: bool = False, what: str = "JSON") -> str:
    """``json.dumps`` with a final newline; a NaN/inf (unless ``allow_nan``) is a ValueError
    naming ``what`` and the key path where it sits."""
    try:
        return json.dumps(payload, indent=indent, sort_keys=sort_keys,
                          allow_nan=allow_nan) + "\n"
    except ValueError as err:
        hit = _first_non_finite(payload)
        if hit is None:
            raise ValueError(f"{what}: {err}") from err
        raise ValueError(f"{what}: not finite at {hit[0]} ({hit[1]}): JSON has no NaN or "
                         "infinity") from err


def write_json(path: str | os.PathLike, payload: Any, *, indent: int | None = 2,
               sort_keys: bool = False, allow_nan: bool = False) -> Path:
    """Write ``payload`` as JSON (with a final newline) to ``path`` atomically.

    ``allow_nan=False`` by default: NaN and infinity are not JSON, and a reader in another
    language would refuse the file; serialise them as ``null`` before writing. A NaN is a
    ``ValueError`` naming the file and the key; nothing is written then.
    """
    return write_text(path, dumps_json(payload, indent=indent, sort_keys=sort_keys,
                                       allow_nan=allow_nan, what=str(path)))
