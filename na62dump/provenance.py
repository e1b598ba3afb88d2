"""Provenance: the record every artefact carries of how it was made.

Each stage (run, background, limits, plot) builds one record (:func:`record`) and writes it
into every artefact of its set (``summary.json`` ``"provenance"``, ``background.json``
``"_provenance"``, each yield table, limit file and workspace's metadata, the HEPData tables,
the figures' PNG/PDF metadata) and as ``<set>/provenance.json`` (docs/artefacts.md). A record
holds:

- ``stage``; ``na62dump`` (the package version); ``git`` (``commit`` and ``dirty`` of the
  checkout the package runs from, or null outside a git checkout); ``code`` (SHA-256 over the
  package's own source files, ``na62dump/`` and ``processors/``: it catches uncommitted
  edits and installed copies alike); ``stack`` (versions of coffea, awkward, uproot, hist,
  pyhf, numpy, dask, vector, mplhep);
- ``campaign``: the campaign file and its SHA-256, the preset, the data directory, the base
  seed of the simulation;
- ``cuts``: the cut objects of the processors (``model_dump()`` per channel), for ``run``;
- ``options``: what the stage was asked (executor, chunk size, toys, form factor, observed
  mode, grid sizes, formats, ...); ``seeds``; ``blinding``;
- ``inputs``: per artefact set the stage read, the :func:`digest` of that set's record, so
  provenance chains: a changed cut changes the run record, hence the digest the background
  and limits records name, hence theirs.

No time stamp: the same inputs give the same bytes (the files' mtimes say when).

``na62dump all`` decides "up to date" with :func:`differences`: a stage is up to date when
its set exists and its record equals the one the stage would write now, ``git`` aside (a
commit that changes no source file changes no result; the ``code`` hash does change with any
edit).

>>> a = record("limits", options={"toys": 200})
>>> b = record("limits", options={"toys": 300})
>>> differences(a, a), differences(a, b)
([], ['options changed (toys)'])
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import na62dump
from na62dump import artefacts, atomic

#: The scientific stack whose versions every record names (and ``na62dump --version`` prints).
STACK = ("coffea", "awkward", "uproot", "hist", "pyhf", "numpy", "dask", "vector", "mplhep")
#: Record fields :func:`differences` does not compare (they change without changing a result).
NOT_COMPARED = ("git",)
#: Version of the record's layout.
SCHEMA = 1

_PACKAGE_DIR = Path(na62dump.__file__).resolve().parent
#: Source trees hashed into ``code``: the package and the channel processors beside it.
SOURCE_DIRS = (_PACKAGE_DIR, _PACKAGE_DIR.parent / "processors")
_SOURCE_SUFFIXES = (".py", ".yaml", ".json", ".csv", ".txt")


@functools.cache
def stack_versions() -> dict[str, str | None]:
    """``{package: version}`` of :data:`STACK` (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in STACK:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def code_hash() -> str:
    """SHA-256 over the relative paths and contents of the package's own source files."""
    h = hashlib.sha256()
    for root in SOURCE_DIRS:
        if not root.is_dir():
            continue
        files = sorted(p for p in root.rglob("*")
                       if p.suffix in _SOURCE_SUFFIXES and p.is_file()
                       and "__pycache__" not in p.parts)
        for p in files:
            h.update(f"{root.name}/{p.relative_to(root).as_posix()}\0".encode())
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


@functools.cache
def git_info() -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout holding the package, or None (an
    installed copy, or no git)."""
    root = _PACKAGE_DIR.parent
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def file_sha256(path: str | os.PathLike) -> str | None:
    """SHA-256 of a file's bytes (None if it cannot be read)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def campaign_record(campaign) -> dict[str, Any]:
    """The campaign file (path and SHA-256), preset, data directory and simulation seed."""
    config = Path(campaign.config).resolve()
    return {"config": str(config), "sha256": file_sha256(config), "preset": campaign.preset,
            "data_dir": str(Path(campaign.data_dir).resolve()), "seed": int(campaign.seed)}


def cuts_record(cuts: Mapping[str, Any]) -> dict[str, Any]:
    """``{channel: cuts.model_dump()}`` of cut objects (pydantic models)."""
    return {ch: c.model_dump(mode="json") for ch, c in sorted(cuts.items())}


def files_fingerprint(paths: Sequence[str]) -> str:
    """Digest of ``(path, size, mtime)`` of input files: cheap, and changes when a file is
    remade, removed or added."""
    rows = []
    for p in sorted(set(map(str, paths))):
        try:
            st = os.stat(p.removeprefix("file://"))
            rows.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            rows.append([p, None, None])  # remote (xrootd, ...) or missing
    return _sha(rows)


def _canonical(value: Any) -> Any:
    return json.loads(atomic.dumps_json(value, indent=None, sort_keys=True, what="record"))


def _sha(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def record(stage: str, *, campaign=None, cuts: Mapping | None = None,
           options: Mapping | None = None, seeds: Mapping | None = None,
           blinding: Mapping | None = None, inputs: Mapping | None = None) -> dict[str, Any]:
    """The provenance record of a stage (module docstring); plain JSON types only."""
    rec = {
        "schema": SCHEMA,
        "stage": stage,
        "na62dump": na62dump.__version__,
        "git": git_info(),
        "code": code_hash(),
        "stack": stack_versions(),
        "campaign": None if campaign is None else campaign_record(campaign),
        "cuts": cuts_record(cuts) if cuts else None,
        "options": dict(options or {}),
        "seeds": dict(seeds or {}),
        "blinding": dict(blinding or {}),
        "inputs": dict(sorted((inputs or {}).items())),
    }
    return _canonical(rec)


def digest(rec: Mapping[str, Any]) -> str:
    """SHA-256 of a record's compared fields (what the next stage names in ``inputs``)."""
    return _sha({k: v for k, v in rec.items() if k not in NOT_COMPARED})


def read_record(set_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The record of a stage set (``<set>/provenance.json``), or None if it has none."""
    path = artefacts.provenance_path(set_dir)
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def input_digest(set_dir: str | os.PathLike) -> str | None:
    """:func:`digest` of a set's record; None when the set is missing or has no record."""
    rec = read_record(set_dir)
    return None if rec is None else digest(rec)


def write_record(set_dir: str | os.PathLike, rec: Mapping[str, Any]) -> Path:
    """Write ``<set>/provenance.json``."""
    return atomic.write_json(artefacts.provenance_path(set_dir), rec, sort_keys=True)


def differences(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Why a set with record ``old`` is not what the stage would make now (``new``): short
    texts such as ``"code changed"``, ``"cuts of ee changed"``, ``"input run changed"``,
    ``"options changed (toys)"``; empty when up to date."""
    if old is None:
        return ["no provenance record"]
    why: list[str] = []
    for key in new:
        if key in NOT_COMPARED or old.get(key) == new.get(key):
            continue
        a, b = old.get(key), new.get(key)
        if key == "code":
            why.append("code changed")
        elif key in ("cuts", "inputs", "stack", "options", "seeds", "blinding", "campaign") \
                and isinstance(a, Mapping) and isinstance(b, Mapping):
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            if key == "cuts":
                why += [f"cuts of {k} changed" for k in keys]
            elif key == "inputs":
                why += [f"input {k} changed" for k in keys]
            elif key == "campaign":
                why.append("campaign file changed" if keys == ["sha256"]
                           else f"campaign changed ({', '.join(keys)})")
            else:
                why.append(f"{key} changed ({', '.join(keys)})")
        else:
            why.append(f"{key} changed")
    return why


def version_text() -> str:
    """What ``na62dump --version`` prints: version, git commit, stack versions."""
    git = git_info()
    lines = [f"na62dump {na62dump.__version__}"]
    if git is not None:
        lines.append(f"git {git['commit']}{' (dirty)' if git['dirty'] else ''}")
    lines.append(f"code sha256 {code_hash()}")
    lines += [f"{name} {v or 'not installed'}" for name, v in stack_versions().items()]
    return "\n".join(lines)


def png_metadata(rec: Mapping[str, Any]) -> dict[str, str]:
    """matplotlib ``metadata=`` of a PNG: the record as JSON text (``Provenance`` chunk)."""
    return {"Software": f"na62dump {rec.get('na62dump')}",
            "Provenance": json.dumps(rec, sort_keys=True)}


def pdf_metadata(rec: Mapping[str, Any]) -> dict[str, str]:
    """matplotlib ``metadata=`` of a PDF (the record in ``Subject``; PDF has no free keys
    matplotlib passes through)."""
    return {"Creator": f"na62dump {rec.get('na62dump')}",
            "Subject": json.dumps(rec, sort_keys=True)}
