"""Artefact files: atomic writes (a temporary file next to the target, then ``os.replace``)
and checked JSON reads.

Every artefact of the chain is written through here (or, for ROOT files and pickled coffea
outputs, by the same recipe in their writers), so that an interrupted or failed stage never
leaves a half-written file under the final name.

>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = write_json(d / "x.json", {"b": 1, "a": [1.5]})
>>> json.loads(p.read_text()) == {"b": 1, "a": [1.5]}, sorted(q.name for q in d.iterdir())
(True, ['x.json'])
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from na62dump.errors import InputError


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


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (parent directories are created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding) as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, payload: Any, *, indent: int | None = 2,
               sort_keys: bool = False, allow_nan: bool = False) -> Path:
    """Write ``payload`` as JSON (with a final newline) to ``path`` atomically.

    ``allow_nan=False`` by default: NaN and infinity are not JSON, and a reader in another
    language would refuse the file; serialise them as ``null`` before writing.
    """
    text = json.dumps(payload, indent=indent, sort_keys=sort_keys, allow_nan=allow_nan)
    return write_text(path, text + "\n")
