"""Coffea NanoEvents schema for the na62dump ntuples (``docs/ntuple.md``).

:class:`NA62Schema` zips every jagged branch ``X_field`` with its counter ``nX`` into a
collection ``events.X`` (``Track``, ``Cluster``, ``MUV3``, ``LAV``, ``ANTI0``), the per-event
truth scalars ``Truth_field`` into a record ``events.Truth`` (Monte Carlo only), and keeps the
event-level branches (``run``, ``burst``, ``event``, ``trig_H2``, ...) as top-level fields.

The behaviour lives in this module (never in ``__main__``) so that the workers of the futures
and dask executors can unpickle it. Tracks get momentum-vector methods:

- ``Track.p3``: the momentum as a coffea ``ThreeVector`` (GeV);
- ``Track.p``: its magnitude, ``Track.direction``: the unit vector;
- ``Track.p4(mass)``: a ``LorentzVector`` under a mass hypothesis (GeV), so that
  ``(t1.p4(M_E) + t2.p4(M_E)).mass`` is the e+e- invariant mass;
- ``Track.slope_x`` / ``slope_y``: the upstream slopes px/pz, py/pz.

``Track.x``/``y``/``z`` are the *position* of the upstream line at the first STRAW chamber,
which is why the track record is not itself a vector.

Usage::

    from coffea.nanoevents import NanoEventsFactory
    from na62dump.schema import NA62Schema
    events = NanoEventsFactory.from_root({"file.root": "events"},
                                         schemaclass=NA62Schema, mode="eager").events()
    events.Track.p

The branches and their dtypes are the ntuple contract, :mod:`na62dump.ntuple`; the names
here are views of it. :data:`REQUIRED_BRANCHES` lists the branches every processor reads (the
runner checks them up front); :func:`check_branches` raises
:class:`na62dump.errors.InputError` naming a missing one, :func:`check_finite` one holding a
NaN.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
from coffea.nanoevents import transforms
from coffea.nanoevents.methods import base, vector
from coffea.nanoevents.schemas.base import BaseSchema, zip_forms

from na62dump import ntuple
from na62dump.errors import InputError
from na62dump.selection.flat import FlatCollection, offsets_from_counts

#: Jagged collections of the ntuple (each with its ``nX`` counter), from the contract.
COLLECTIONS: tuple[str, ...] = tuple(ntuple.COLLECTIONS)

#: Event-level branches (no underscore in the ntuple, except the trigger bits).
EVENT_BRANCHES: tuple[str, ...] = tuple(ntuple.EVENT_BRANCHES)

#: Fields of each collection (the contract's, :mod:`na62dump.ntuple`).
COLLECTION_FIELDS: dict[str, tuple[str, ...]] = {
    c: tuple(fields) for c, fields in ntuple.COLLECTIONS.items()
}

#: Per-event truth scalars (Monte Carlo only).
TRUTH_FIELDS: tuple[str, ...] = tuple(ntuple.TRUTH_FIELDS)

#: Branches (ROOT names) every processor needs; the truth branches are needed for signal MC.
REQUIRED_BRANCHES: tuple[str, ...] = ntuple.required_branches(None)
#: Truth branches a signal sample must carry (the truth-binned signal histograms need them).
TRUTH_BRANCHES: tuple[str, ...] = tuple(ntuple.TRUTH_BRANCHES)

_MIXINS = {
    "Track": "NA62Track",
    "Cluster": "NA62Cluster",
    "MUV3": "NA62Hit",
    "LAV": "NA62Hit",
    "ANTI0": "NA62Hit",
}


class NA62Schema(BaseSchema):
    """NanoEvents schema of the na62dump ``events`` TTree.

    Branches ``X_field`` with a counter ``nX`` become the jagged collection ``events.X``
    (offsets taken from the counter, so every field shares one set of offsets); branches
    ``Truth_field`` become the record ``events.Truth``; every other branch stays a top-level
    field. The counters themselves stay available as ``events.nX``.
    """

    __dask_capable__ = True

    def __init__(self, base_form, *args, **kwargs):
        super().__init__(base_form, *args, **kwargs)
        output = self._build_collections(self._form["fields"], self._form["contents"])
        self._form["fields"] = list(output)
        self._form["contents"] = list(output.values())

    @staticmethod
    def _build_collections(field_names, input_contents):
        branch_forms = dict(zip(field_names, input_contents, strict=True))
        output = {}
        used = set()
        for name in COLLECTIONS:
            counter = "n" + name
            members = {
                k[len(name) + 1 :]: v for k, v in branch_forms.items() if k.startswith(name + "_")
            }
            if counter not in branch_forms or not members:
                continue
            offsets = transforms.counts2offsets_form(branch_forms[counter])
            output[name] = zip_forms(members, name, record_name=_MIXINS[name], offsets=offsets)
            used.update(name + "_" + k for k in members)
        truth = {k[len("Truth_") :]: v for k, v in branch_forms.items() if k.startswith("Truth_")}
        if truth:
            output["Truth"] = zip_forms(truth, "Truth", record_name="NA62Truth")
            used.update("Truth_" + k for k in truth)
        for k, v in branch_forms.items():
            if k not in used:
                output[k] = v
        return output

    @classmethod
    def behavior(cls):
        """Behaviour of the schema: coffea base + vector + the NA62 mixins of this module."""
        return behavior


behavior: dict = {}
behavior.update(base.behavior)
behavior.update(vector.behavior)


def _f64(array):
    return ak.values_astype(array, np.float64)


@ak.mixin_class(behavior)
class NA62Track:
    """A STRAW spectrometer track (momentum upstream of the magnet, GeV; positions in m).

    Kinematics are computed in double precision: the stored float32 components would cost
    ~0.5% on a 100 MeV e+e- mass at 60 GeV through E1 + E2 - |P|.
    """

    @property
    def p3(self):
        """Momentum as a coffea ``ThreeVector`` (GeV)."""
        return ak.zip(
            {"x": _f64(self.px), "y": _f64(self.py), "z": _f64(self.pz)},
            with_name="ThreeVector",
            behavior=self.behavior,
        )

    @property
    def p(self):
        """Momentum magnitude (GeV)."""
        return np.sqrt(_f64(self.px) ** 2 + _f64(self.py) ** 2 + _f64(self.pz) ** 2)

    @property
    def direction(self):
        """Unit vector along the momentum (a ``ThreeVector``)."""
        p = self.p
        return ak.zip(
            {"x": _f64(self.px) / p, "y": _f64(self.py) / p, "z": _f64(self.pz) / p},
            with_name="ThreeVector",
            behavior=self.behavior,
        )

    @property
    def slope_x(self):
        """Upstream slope dx/dz = px/pz."""
        return self.px / self.pz

    @property
    def slope_y(self):
        """Upstream slope dy/dz = py/pz."""
        return self.py / self.pz

    def p4(self, mass):
        """Four-momentum (a ``LorentzVector``, GeV) under the mass hypothesis ``mass`` (GeV)."""
        px, py, pz = _f64(self.px), _f64(self.py), _f64(self.pz)
        return ak.zip(
            {"x": px, "y": py, "z": pz, "t": np.sqrt(px**2 + py**2 + pz**2 + mass * mass)},
            with_name="LorentzVector",
            behavior=self.behavior,
        )


@ak.mixin_class(behavior)
class NA62Cluster:
    """An LKr cluster at the LKr front plane (energy GeV, position m, time ns)."""


@ak.mixin_class(behavior)
class NA62Hit:
    """A detector signal (MUV3 tile, LAV block, ANTI0 tile): position and/or time."""


@ak.mixin_class(behavior)
class NA62Truth:
    """Per-event Monte Carlo truth (``docs/ntuple.md``)."""


def _present_branches(events) -> set[str]:
    """ROOT branch names represented in a NanoEvents array built with :class:`NA62Schema`."""
    present = set()
    for field in events.fields:
        if field in COLLECTIONS or field == "Truth":
            present.update(f"{field}_{sub}" for sub in events[field].fields)
        else:
            present.add(field)
    return present


def missing_branches(events, truth: bool = False) -> list[str]:
    """Required branches absent from ``events`` (plus the truth branches when ``truth``)."""
    present = _present_branches(events)
    wanted = REQUIRED_BRANCHES + (TRUTH_BRANCHES if truth else ())
    return [b for b in wanted if b not in present]


def check_branches(events, truth: bool = False, source: str | None = None) -> None:
    """Raise :class:`InputError` naming the first missing branch (and the file, if known)."""
    missing = missing_branches(events, truth=truth)
    if missing:
        where = source or events.metadata.get("filename", "<input>")
        more = f" (and {len(missing) - 1} more: {', '.join(missing[1:6])})" if missing[1:] else ""
        raise InputError(f"{where}: missing branch {missing[0]!r}{more}")


#: Floating-point branches of the contract (truth included), checked for NaN/inf by
#: :func:`check_finite`.
FLOAT_BRANCHES: tuple[str, ...] = tuple(
    name for name, b in ntuple.BRANCHES.items() if b.dtype.kind == "f"
)


def flat_field(array) -> np.ndarray:
    """A flat (one value per entry) awkward/NanoEvents field as a numpy array, reading the
    layout's buffer directly (no awkward operation) when it is a plain numpy-backed array."""
    layout = ak.to_layout(array)
    if isinstance(layout, ak.contents.NumpyArray):
        return np.asarray(layout.data)
    return ak.to_numpy(array)


def flat_collection(events, name: str, fields=None) -> FlatCollection:
    """The jagged collection ``events[name]`` (only ``fields`` if given) as flat numpy arrays
    with offsets.

    Reads each field's buffer straight from the layout (one materialisation per field, no
    awkward operation), which is what makes the processors' flat fast path cheap on small
    chunks; falls back to ``ak.flatten`` for any other layout.

    >>> import awkward as ak
    >>> ev = ak.Array({"Cluster": [[{"x": 1.0}, {"x": 2.0}], [], [{"x": 3.0}]]})
    >>> c = flat_collection(ev, "Cluster")
    >>> c.offsets.tolist(), c.x.tolist()
    ([0, 2, 2, 3], [1.0, 2.0, 3.0])
    """
    array = events[name]
    layout = ak.to_layout(array)
    content = getattr(layout, "content", None)
    if (
        isinstance(layout, ak.contents.ListOffsetArray)
        and isinstance(content, ak.contents.RecordArray)
        and all(isinstance(content.content(f), ak.contents.NumpyArray) for f in content.fields)
    ):
        offsets = np.asarray(layout.offsets.data).astype(np.int64)
        lo, hi = int(offsets[0]), int(offsets[-1])
        data = {f: np.asarray(content.content(f).data)[lo:hi] for f in fields or content.fields}
        return FlatCollection(offsets - lo, data)
    counts = ak.to_numpy(ak.num(array, axis=1))
    data = {f: ak.to_numpy(ak.flatten(array[f], axis=1)) for f in fields or array.fields}
    return FlatCollection(offsets_from_counts(counts), data)


def check_finite(events, source: str | None = None, collections=None, branches=None) -> None:
    """Raise :class:`InputError` naming the first float branch holding a NaN or an infinity.

    The ntuple contract (``docs/ntuple.md``) forbids them: a selection would otherwise drop
    such tracks silently (every comparison with NaN is false), and a NaN generation weight
    (``Truth_weight``) would turn every weighted count of its dataset into NaN.

    Parameters
    ----------
    events : NanoEvents
        A chunk (built with :class:`NA62Schema`).
    source : str, optional
        The file, for the message (default ``events.metadata["filename"]``).
    collections : dict, optional
        The :func:`flat_collection` of each collection, if already built (else built here).
    branches : iterable of str, optional
        Check only these branches (those a processor reads: the other values never reach an
        output, and reading them would cost a read of their own); default every float branch
        of the contract that the chunk holds, ``Truth_*`` included.

    The message names the file, the branch, what it holds and the first entry holding it
    (counted from the start of the file).
    """
    meta = getattr(events, "metadata", None) or {}
    where = source or meta.get("filename", "<input>")
    first_entry = int(meta.get("entrystart") or 0)
    collections = collections or {c: flat_collection(events, c) for c in COLLECTIONS}
    wanted = FLOAT_BRANCHES if branches is None else set(branches)
    truth = events["Truth"] if "Truth" in events.fields else None
    for branch in FLOAT_BRANCHES:
        if branch not in wanted:
            continue
        coll, _, field = branch.partition("_")
        offsets = None
        if coll in COLLECTIONS:
            if coll not in collections or field not in collections[coll].fields:
                continue
            values, offsets = collections[coll][field], collections[coll].offsets
        elif coll == "Truth":
            if truth is None or field not in truth.fields:
                continue
            values = flat_field(truth[field])
        elif branch in events.fields:
            values = flat_field(events[branch])
        else:
            continue
        finite = np.isfinite(values)
        if not bool(np.all(finite)):
            i = int(np.argmin(finite))  # the first non-finite value
            row = i if offsets is None else int(np.searchsorted(offsets, i, side="right")) - 1
            what = "NaN" if np.isnan(values[i]) else "an infinity"
            n_bad = int(np.count_nonzero(~finite))
            last = first_entry + len(events)
            more = f" ({n_bad} non-finite values in entries {first_entry}-{last})"
            raise InputError(
                f"{where}: branch {branch!r} holds {what} at entry {first_entry + row}"
                f"{more if n_bad > 1 else ''}; "
                "the ntuple format (docs/ntuple.md) allows finite values only"
            )
