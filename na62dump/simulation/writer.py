"""Write one ntuple (a TTree ``events``) in the format of ``docs/ntuple.md``.

The branch contract is :mod:`na62dump.ntuple` (every name and its on-disk dtype, in the order
the tree stores them; the schema reads the same table). :func:`write_ntuple` checks a dict of
branches against it (no missing, no unknown, no NaN, one counter per collection), casts to the
contract dtypes and writes a TTree with ``uproot``'s ``mktree`` (NanoAOD style: counter
``nTrack`` shared by ``Track_px``, ``Track_py``, ...).

Reproducible bytes
------------------
``uproot`` stamps every file with a random UUID (``uuid.uuid1``) and the wall-clock time (the
``fDatime`` of the file header, the directory and every key, including basket keys), and the
TFile record holds the file's own name. To make "the same seed gives byte-identical trees" true:

* the UUID comes from ``uproot.recreate(..., uuid_function=...)``: a name-based ``uuid5`` of the
  file's base name;
* the time stamps: ``uproot`` 5.7 has no option for them, so while writing, the ``datetime``
  name in its three writing modules is pointed at a clock frozen at :data:`FILE_DATIME`
  (:func:`frozen_uproot_clock`, restored on exit, reference counted across threads);
* the name: the file is written under its final base name inside a private temporary directory
  next to the destination, then moved into place with ``os.replace`` (atomic on one
  filesystem; :func:`na62dump.atomic.write_via` with ``keep_name=True``), so no half-written
  file ever appears at the final path and the stored name does not carry a temporary suffix.

Compression
-----------
:data:`COMPRESSION` is LZ4 level 1, the usual choice for analysis ntuples that are written once
and read many times: with ``uproot`` it writes about 3.8x and reads about 1.9x faster than its
default ZLIB level 1, for files 1.3-1.6x larger (100k dark-photon ee events: 21.8 MB instead
of 13.9 MB; the default campaign 81 MB instead of 61 MB; ZSTD level 1 gives 14.1 MB at 2.5x
the ZLIB write speed). ``uproot`` compresses LZ4 with ``cramjam`` and checksums it with
``xxhash``; both are pinned in ``pyproject.toml`` because
the compressed bytes (and so the byte-identity of files for a given seed) depend on them.
Readers need nothing to choose: the algorithm is recorded in every basket.

>>> import tempfile, pathlib, awkward as ak, uproot
>>> from na62dump.ntuple import COLLECTIONS
>>> from na62dump.simulation.writer import empty_branches, write_ntuple
>>> b = empty_branches(2, truth=False)  # two events, no track yet
>>> for field, dtype in COLLECTIONS["Track"].items():  # two tracks in event 0, none in 1
...     b["Track_" + field] = ak.values_astype(ak.Array([[1, -1], []]), dtype)
>>> b["Track_px"] = ak.Array([[1.5, -0.5], []])
>>> p = write_ntuple(pathlib.Path(tempfile.mkdtemp()) / "x.root", b)
>>> with uproot.open(p) as f:
...     t = f["events"]
...     print(t["nTrack"].array(library="np").tolist(), t["Track_px"].array().tolist())
[2, 0] [[1.5, -0.5], []]
"""

from __future__ import annotations

import datetime as _datetime
import logging
import os
import threading
import types
import uuid
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import awkward as ak
import numpy as np
import uproot
import uproot.writing._cascade
import uproot.writing._cascadetree
import uproot.writing.writable

from na62dump import atomic
from na62dump.errors import InputError
from na62dump.ntuple import COLLECTIONS, EVENT_BRANCHES, TRUTH_BRANCHES, branch_names

log = logging.getLogger(__name__)

#: Compression of every basket (see the module documentation for the choice and its cost).
COMPRESSION = uproot.LZ4(1)

#: Default number of events per basket (one basket per branch per ``extend`` call).
BASKET_EVENTS = 50_000

#: Time stamp written into every file (ROOT ``TDatime``; its epoch starts in 1995), so that the
#: bytes depend on the content only. The start of the 2021 data taking year.
FILE_DATIME = _datetime.datetime(2021, 1, 1, 0, 0, 0)

#: Namespace of the name-based file UUIDs.
UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/na62dump/na62dump")


def empty_branches(n_events: int, truth: bool = True) -> dict[str, np.ndarray | ak.Array]:
    """A valid branch dict of ``n_events`` events with zeros and empty collections.

    Useful to build small files by hand (tests, examples): replace the entries you need.
    """
    out: dict[str, np.ndarray | ak.Array] = {
        name: np.zeros(n_events, dtype) for name, dtype in EVENT_BRANCHES.items()
    }
    out["event"] = np.arange(n_events, dtype=np.int64)
    offsets = np.zeros(n_events + 1, np.int64)
    for coll, fields in COLLECTIONS.items():
        for f, dtype in fields.items():
            content = ak.contents.NumpyArray(np.zeros(0, dtype))
            layout = ak.contents.ListOffsetArray(ak.index.Index64(offsets), content)
            out[f"{coll}_{f}"] = ak.Array(layout)
    if truth:
        out.update({name: np.zeros(n_events, dtype) for name, dtype in TRUTH_BRANCHES.items()})
        out["Truth_weight"] = np.ones(n_events, np.float32)
    return out


# --------------------------------------------------------------------------------------------
# Reproducible time stamps
# --------------------------------------------------------------------------------------------
class _FrozenDatetime(_datetime.datetime):
    """``datetime.datetime`` whose ``now()`` is :data:`FILE_DATIME`."""

    @classmethod
    def now(cls, tz=None):
        return FILE_DATIME


_FROZEN_DATETIME_MODULE = types.SimpleNamespace(datetime=_FrozenDatetime)
_UPROOT_WRITING_MODULES = (
    uproot.writing._cascade,
    uproot.writing._cascadetree,
    uproot.writing.writable,
)
_clock_lock = threading.Lock()
_clock_users = 0
_clock_saved: list = []


@contextmanager
def frozen_uproot_clock():
    """Make ``uproot``'s writers stamp :data:`FILE_DATIME` instead of the wall clock.

    ``uproot`` calls ``datetime.datetime.now()`` for every ``fDatime`` it writes and has no
    option to set it. Inside this context the module attribute ``datetime`` of its writing
    modules is a namespace whose ``datetime.now()`` returns the fixed time; the originals are
    restored when the last (thread-)user leaves. Nothing else in those modules uses
    ``datetime``.
    """
    global _clock_users
    with _clock_lock:
        if _clock_users == 0:
            _clock_saved[:] = [m.datetime for m in _UPROOT_WRITING_MODULES]
            for m in _UPROOT_WRITING_MODULES:
                m.datetime = _FROZEN_DATETIME_MODULE
        _clock_users += 1
    try:
        yield
    finally:
        with _clock_lock:
            _clock_users -= 1
            if _clock_users == 0:
                for m, saved in zip(_UPROOT_WRITING_MODULES, _clock_saved, strict=True):
                    m.datetime = saved


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def _cast_flat(name: str, values: np.ndarray, dtype: np.dtype, where: str) -> np.ndarray:
    """Cast a flat numpy array to ``dtype`` checking NaN/inf and integer overflow."""
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        raise InputError(f"{where}: branch {name!r}: dtype {values.dtype} is not numeric")
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            kind = "NaN" if np.isnan(values).any() else "inf"
            raise InputError(
                f"{where}: branch {name!r} holds {int(bad.sum())} non-finite value(s) ({kind});"
                " the ntuple format forbids NaN/inf (flag absent signals instead)"
            )
    if dtype.kind in "iub" and values.dtype.kind == "f":
        if not np.array_equal(values, np.round(values)):
            raise InputError(f"{where}: branch {name!r}: non-integer values for dtype {dtype}")
    out = values.astype(dtype)
    if dtype.kind in "iu" and not np.array_equal(out, values):
        raise InputError(f"{where}: branch {name!r}: values overflow dtype {dtype}")
    if dtype.kind == "b" and not np.array_equal(out, values.astype(bool)):
        raise InputError(f"{where}: branch {name!r}: not boolean")
    if dtype.kind == "b" and values.dtype.kind != "b" and not np.isin(values, (0, 1)).all():
        raise InputError(f"{where}: branch {name!r}: boolean branch holds values other than 0/1")
    return out


def _as_event_array(name: str, value, n: int | None, where: str) -> np.ndarray:
    if isinstance(value, ak.Array):
        if value.ndim != 1:
            raise InputError(f"{where}: branch {name!r} must be flat (one value per event)")
        value = ak.to_numpy(value)
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise InputError(f"{where}: branch {name!r} must be one-dimensional, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise InputError(f"{where}: branch {name!r} has {len(arr)} entries, expected {n}")
    return arr


def _check_names(branches: Mapping, where: str) -> bool:
    """Return whether the dict carries truth; raise on missing or unknown names."""
    given = set(branches)
    has_truth = any(k.startswith("Truth_") for k in given)
    counters = {f"n{c}" for c in COLLECTIONS}
    expected = set(branch_names(truth=has_truth)) - counters
    unknown = sorted(given - expected - counters)
    if unknown:
        raise InputError(f"{where}: unknown branch(es) {unknown} (not in docs/ntuple.md)")
    missing = [k for k in branch_names(truth=has_truth) if k in expected - given]
    if missing:
        raise InputError(f"{where}: missing branch(es) {missing}")
    return has_truth


def validate_branches(
    branches: Mapping[str, np.ndarray | ak.Array], where: str = "ntuple"
) -> dict[str, np.ndarray | ak.Array]:
    """Check ``branches`` against the contract and return them cast, keyed for ``mktree``.

    Returns ``{event branch: numpy array, collection: zipped awkward record array, Truth_x:
    numpy array}`` in storage order. Raises :class:`InputError` naming the branch for a missing
    or unknown branch, a counter ``nX`` that disagrees with its collection, a NaN/inf, a
    length mismatch, fields of one collection with different counts per event, or values that
    do not fit the contract dtype.
    """
    has_truth = _check_names(branches, where)
    n = len(np.asarray(branches["run"]) if not isinstance(branches["run"], ak.Array)
            else branches["run"])
    out: dict[str, np.ndarray | ak.Array] = {}
    for name, dtype in EVENT_BRANCHES.items():
        out[name] = _cast_flat(name, _as_event_array(name, branches[name], n, where), dtype, where)
    for coll, fields in COLLECTIONS.items():
        fast = _collection_fast(coll, fields, branches, n, where)
        if fast is not None:
            counts, out[coll] = fast
            _check_counter(coll, branches, counts, n, where)
            continue
        counts = None
        first = None
        zipped = {}
        for f, dtype in fields.items():
            name = f"{coll}_{f}"
            arr = branches[name]
            if not isinstance(arr, ak.Array):
                arr = ak.Array(arr)
            if arr.ndim != 2 or len(arr) != n:
                raise InputError(
                    f"{where}: branch {name!r} must be jagged (events x {coll}) with {n} events"
                )
            this = np.asarray(ak.num(arr, axis=1))
            if counts is None:
                counts, first = this, name
            elif not np.array_equal(counts, this):
                raise InputError(
                    f"{where}: branch {name!r} has different counts per event than {first!r}"
                    f" (all {coll}_* share the counter n{coll})"
                )
            flat = _cast_flat(name, ak.to_numpy(ak.flatten(arr, axis=1)), dtype, where)
            zipped[f] = ak.unflatten(flat, counts)
        _check_counter(coll, branches, counts, n, where)
        out[coll] = ak.zip(zipped, depth_limit=2) if n else _empty_collection(fields)
    if has_truth:
        for name, dtype in TRUTH_BRANCHES.items():
            arr = _as_event_array(name, branches[name], n, where)
            out[name] = _cast_flat(name, arr, dtype, where)
    return out


def _check_counter(coll: str, branches: Mapping, counts: np.ndarray, n: int, where: str):
    """A given counter ``n<coll>`` (optional; the writer derives it) must match the lengths."""
    counter = f"n{coll}"
    if counter in branches:
        given = _as_event_array(counter, branches[counter], n, where)
        if not np.array_equal(given, counts):
            raise InputError(
                f"{where}: counter {counter!r} disagrees with the lengths of the {coll}_* "
                "branches"
            )


def _list_parts(arr) -> tuple[np.ndarray, np.ndarray] | None:
    """``(offsets, flat values)`` of a plain jagged array of numbers, else ``None``.

    Plain: an ``ak.Array`` whose layout is a ``ListOffsetArray`` of a 1-d ``NumpyArray`` (what
    ``ak.unflatten`` and ``ak.Array(list of lists)`` make); anything else takes the general
    path of :func:`validate_branches`.
    """
    if not isinstance(arr, ak.Array):
        return None
    layout = arr.layout
    if not (isinstance(layout, ak.contents.ListOffsetArray)
            and isinstance(layout.content, ak.contents.NumpyArray)
            and layout.content.data.ndim == 1 and not layout.parameters
            and not layout.content.parameters):
        return None
    offsets = np.asarray(layout.offsets.data)
    data = np.asarray(layout.content.data)
    if offsets.size == 0 or offsets[-1] > data.size:
        return None
    return offsets, data[offsets[0] : offsets[-1]]


def _collection_fast(coll, fields, branches, n, where):
    """Validated ``(counts, zipped collection)`` for plain jagged fields, else ``None``.

    Same checks and result as the general path, without awkward's per-field flatten/unflatten
    (the fields of a collection made by the simulation share one offsets array).
    """
    if n == 0:
        return None
    offsets = None
    contents = []
    for f, dtype in fields.items():
        name = f"{coll}_{f}"
        parts = _list_parts(branches[name])
        if parts is None or parts[0].size != n + 1:
            return None
        off, flat = parts
        if offsets is None:
            offsets, first = off, name
        elif off is not offsets and not np.array_equal(off - off[0], offsets - offsets[0]):
            raise InputError(
                f"{where}: branch {name!r} has different counts per event than {first!r}"
                f" (all {coll}_* share the counter n{coll})"
            )
        contents.append(ak.contents.NumpyArray(_cast_flat(name, flat, dtype, where)))
    offsets = offsets - offsets[0] if offsets[0] else offsets
    record = ak.contents.RecordArray(contents, list(fields), length=int(offsets[-1]))
    layout = ak.contents.ListOffsetArray(ak.index.Index64(offsets.astype(np.int64)), record)
    return np.diff(offsets), ak.Array(layout)


def _empty_collection(fields: Mapping[str, np.dtype]) -> ak.Array:
    offsets = ak.index.Index64(np.zeros(1, np.int64))
    contents = [ak.contents.NumpyArray(np.zeros(0, dt)) for dt in fields.values()]
    record = ak.contents.RecordArray(contents, list(fields), length=0)
    return ak.Array(ak.contents.ListOffsetArray(offsets, record))


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
def file_uuid(path: str | os.PathLike) -> uuid.UUID:
    """The UUID stamped into a file: name-based (uuid5) on its base name, reproducible."""
    return uuid.uuid5(UUID_NAMESPACE, Path(path).name)


def write_ntuple(
    path: str | os.PathLike,
    branches: Mapping[str, np.ndarray | ak.Array],
    tree: str = "events",
    basket_events: int = BASKET_EVENTS,
    compression: uproot.compression.Compression | None = COMPRESSION,
) -> Path:
    """Write ``branches`` as the TTree ``tree`` of a new ROOT file at ``path``, atomically.

    Parameters
    ----------
    path
        Destination file; its directory is created if needed; an existing file is replaced only
        once the new one is complete.
    branches
        ``{name: array}`` exactly as in ``docs/ntuple.md``: event-level and ``Truth_*`` branches
        as 1-d arrays, collection branches ``X_field`` as jagged awkward arrays (all fields of a
        collection with equal counts per event). Counters ``nX`` are optional (the writer
        makes them; given ones must agree with the collection's lengths). The
        ``Truth_*`` branches are all given (Monte Carlo) or all absent (pseudo-data).
    tree
        Name of the TTree.
    basket_events
        Events per basket (a basket per branch per chunk of this many events).
    compression
        ``uproot`` compression of the baskets (default :data:`COMPRESSION`, LZ4 level 1;
        ``None`` stores them uncompressed).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        Missing/unknown branch, NaN or inf, inconsistent lengths or counts, values outside the
        dtype: the message names ``path`` and the branch. Nothing is written then.
    """
    path = Path(path)
    if basket_events < 1:
        raise InputError(f"write_ntuple: basket_events must be >= 1, got {basket_events}")
    data = validate_branches(branches, where=str(path))
    n = len(data["run"])
    branch_types = {
        name: (arr.dtype if isinstance(arr, np.ndarray) else arr.type.content)
        for name, arr in data.items()
    }
    def _write(tmp: Path) -> None:
        with frozen_uproot_clock():
            with uproot.recreate(
                tmp, compression=compression, uuid_function=lambda: file_uuid(path)
            ) as f:
                t = f.mktree(
                    tree,
                    branch_types,
                    counter_name=lambda coll: f"n{coll}",
                    field_name=lambda coll, field: f"{coll}_{field}",
                )
                for start in range(0, n, basket_events):
                    t.extend({k: v[start : start + basket_events] for k, v in data.items()})

    atomic.write_via(path, _write, keep_name=True)
    log.debug("wrote %s: %d events", path, n)
    return path
