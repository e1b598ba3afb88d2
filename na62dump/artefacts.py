"""Where every artefact of a results directory lives, and how a stage replaces its set.

One module for the layout, so that the stages, the figures, HEPData export, the tools and the
notebooks agree on it (docs/artefacts.md)::

    DIR/run/                 <channel>.coffea, summary.json, provenance.json   (na62dump run)
    DIR/background/          background.json, provenance.json           (na62dump background)
    DIR/limits/              <model>_<channel>.json, yields/, workspaces/, provenance.json
    DIR/limits_published/    the same limits and workspaces/ with NA62's observations
    DIR/limits_projection/   expected limits and workspaces/ at another exposure
    DIR/figures/             PNG/PDF figures, cutflow tables, provenance.json (na62dump plot)

Stage sets (all or nothing)
---------------------------
Each name above is a *stage set*: the complete output of one invocation of its stage. The
name is a relative symbolic link to a versioned directory ``DIR/.<name>-<time>-<pid>/``. A
stage writes its whole set into a fresh versioned directory (:class:`StageSet`) and, only
once everything is written, points the link at it with one ``os.replace`` (atomic on POSIX);
the previous version is removed afterwards. Readers follow the link and always see one
complete set, old or new:

- an interrupted (SIGTERM, Ctrl-C) or failed stage leaves the previous set as it was; its
  unfinished directory is removed on the way out, or, after a kill that allowed no clean-up,
  at the start of the next run of that stage (:func:`clean_stale`);
- a re-run replaces the whole set: ``run --channels ee`` after a full run leaves exactly the
  ee outputs that its ``summary.json`` describes, a new mass grid leaves no workspace of the
  old one;
- the pseudo-data limits, the limits with NA62's published observations and a projection are
  three sets: each is computed on one grid by one invocation, and ``limits --projection``
  does not wipe the 2021 limits. ``na62dump all`` (without ``--observed published``) removes
  a published set left by an earlier run, so its figures and summary describe this run.

A real directory left by an older version of na62dump under a set's name (and the old
top-level ``summary.json``, ``background.json``, ``yields/``, ``workspaces/``) is removed at
the first commit of the set that replaces it.

Two processes writing the same set of the same results directory at once is not supported:
the later commit wins whole (the sets never mix).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

#: Stage sets of a results directory (names of the links).
RUN, BACKGROUND, LIMITS, FIGURES = "run", "background", "limits", "figures"
#: The limit sets per observation source (``observed_source`` of the limit files).
LIMIT_SETS = {"pseudo-data": LIMITS, "published": "limits_published",
              "projection": "limits_projection"}
SUMMARY_NAME = "summary.json"
BACKGROUND_NAME = "background.json"
PROVENANCE_NAME = "provenance.json"
YIELDS_SUBDIR = "yields"
WORKSPACES_SUBDIR = "workspaces"
#: What older versions wrote where a set now lives: removed at the first commit of the set.
LEGACY = {RUN: ("summary.json",), BACKGROUND: ("background.json",),
          LIMITS: ("yields", "workspaces")}


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------
def run_dir(out: str | os.PathLike) -> Path:
    """``DIR/run``: the run set (channel outputs and ``summary.json``)."""
    return Path(out) / RUN


def output_path(out: str | os.PathLike, channel: str) -> Path:
    """``DIR/run/<channel>.coffea``: the saved accumulator of ``channel``."""
    return run_dir(out) / f"{channel}.coffea"


def summary_path(out: str | os.PathLike) -> Path:
    """``DIR/run/summary.json``."""
    return run_dir(out) / SUMMARY_NAME


def background_dir(out: str | os.PathLike) -> Path:
    """``DIR/background``: the background set."""
    return Path(out) / BACKGROUND


def background_path(out: str | os.PathLike) -> Path:
    """``DIR/background/background.json``."""
    return background_dir(out) / BACKGROUND_NAME


def _source_key(source: str) -> str:
    """``pseudo-data``, ``published`` or ``projection`` from an ``observed_source`` text
    (``"published (arXiv 2312.12055)"`` counts as published)."""
    if source in LIMIT_SETS:
        return source
    if source.startswith("published"):
        return "published"
    raise ValueError(f"unknown observation source {source!r}; one of {sorted(LIMIT_SETS)}")


def limits_dir(out: str | os.PathLike, source: str = "pseudo-data") -> Path:
    """The limit set of an observation source: ``DIR/limits``, ``DIR/limits_published`` or
    ``DIR/limits_projection``."""
    return Path(out) / LIMIT_SETS[_source_key(source)]


def yields_dir(out: str | os.PathLike) -> Path:
    """``DIR/limits/yields``: the N_exp tables (part of the pseudo-data limit set)."""
    return limits_dir(out) / YIELDS_SUBDIR


def workspaces_dir(out: str | os.PathLike, source: str = "pseudo-data") -> Path:
    """``<limit set>/workspaces``: the pyhf workspaces and patchsets of a limit set."""
    return limits_dir(out, source) / WORKSPACES_SUBDIR


def figures_dir(out: str | os.PathLike) -> Path:
    """``DIR/figures``: the figure set."""
    return Path(out) / FIGURES


def provenance_path(set_dir: str | os.PathLike) -> Path:
    """``<set>/provenance.json``: the record of the stage that wrote the set."""
    return Path(set_dir) / PROVENANCE_NAME


# --------------------------------------------------------------------------------------------
# Stage sets
# --------------------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _version_pid(set_name: str, name: str) -> int | None:
    """The pid in the name of a version (``.<set>-<time>-<pid>``, ``.<set>-legacy-<pid>``)
    or a temporary link (``.<set>-link-<pid>.tmp``) of the set ``set_name``; None for any
    other name (e.g. a temporary directory of another tool that starts alike)."""
    m = re.fullmatch(rf"\.{re.escape(set_name)}-(?:\d{{8}}T\d{{6}}\.\d{{9}}|legacy|link)"
                     rf"-(\d+)(?:\.tmp)?", name)
    return int(m.group(1)) if m else None


def current_version(link: str | os.PathLike) -> Path | None:
    """The versioned directory the set ``link`` points to (None: no set, or a real directory
    of an older version)."""
    link = Path(link)
    if not link.is_symlink():
        return None
    return link.parent / os.readlink(link)


def clean_stale(link: str | os.PathLike) -> list[Path]:
    """Remove what killed runs of the set ``link`` left: versioned directories that the link
    does not point to and temporary links, unless the process that made them still runs.
    Returns what was removed."""
    link = Path(link)
    parent = link.parent
    if not parent.is_dir():
        return []
    keep = current_version(link)
    removed = []
    for p in parent.glob(f".{link.name}-*"):
        if keep is not None and p.name == keep.name:
            continue
        pid = _version_pid(link.name, p.name)
        if pid is None or (pid != os.getpid() and _pid_alive(pid)):
            continue  # another process is writing its version right now
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


class StageSet:
    """Write a stage's complete set aside, then replace the previous set in one step.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> with StageSet(out / "limits") as d:
    ...     _ = (d / "a.json").write_text("{}")
    >>> sorted(p.name for p in (out / "limits").iterdir()), (out / "limits").is_symlink()
    (['a.json'], True)
    >>> with StageSet(out / "limits") as d:
    ...     _ = (d / "b.json").write_text("{}")
    >>> sorted(p.name for p in (out / "limits").iterdir()), len(list(out.iterdir()))
    (['b.json'], 2)

    Used as a context manager: ``__enter__`` removes stale versions (:func:`clean_stale`)
    and returns the fresh versioned directory to write into; a normal exit commits it
    (:meth:`commit`), an exception (SIGTERM included: while the set is open it raises
    ``SystemExit(143)`` in the main thread, so the clean-up runs) removes it and leaves the
    previous set untouched.
    """

    def __init__(self, link: str | os.PathLike):
        self.link = Path(link)
        self.dir: Path | None = None
        self._old_handler = None

    def __enter__(self) -> Path:
        parent = self.link.parent
        parent.mkdir(parents=True, exist_ok=True)
        clean_stale(self.link)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}"
        self.dir = parent / f".{self.link.name}-{stamp}-{os.getpid()}"
        self.dir.mkdir()
        if threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGTERM, _raise_on_sigterm)
        return self.dir

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                self.commit()
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            if self._old_handler is not None:
                signal.signal(signal.SIGTERM, self._old_handler)
                self._old_handler = None
        return False

    def commit(self) -> Path:
        """Point the link at the new version, then remove the previous one (and what an older
        na62dump left in its place, :data:`LEGACY`). Returns the link."""
        link, parent = self.link, self.link.parent
        old = current_version(link)
        legacy = None
        if link.exists() and not link.is_symlink():  # an older version's real directory
            legacy = parent / f".{link.name}-legacy-{os.getpid()}"
            os.replace(link, legacy)
        tmp_link = parent / f".{link.name}-link-{os.getpid()}.tmp"
        tmp_link.unlink(missing_ok=True)
        os.symlink(self.dir.name, tmp_link)
        try:
            os.replace(tmp_link, link)
        except BaseException:
            tmp_link.unlink(missing_ok=True)
            raise
        for stale in (old, legacy):
            if stale is not None and stale.name != self.dir.name:
                shutil.rmtree(stale, ignore_errors=True)
        for name in LEGACY.get(link.name, ()):
            p = parent / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            elif p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()
        return link


def remove_set(link: str | os.PathLike) -> None:
    """Remove the set ``link`` (the link first, then its version): e.g. a published set that
    no longer belongs to the results of ``na62dump all``."""
    link = Path(link)
    old = current_version(link)
    if link.is_symlink():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    clean_stale(link)
