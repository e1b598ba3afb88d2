"""The ntuple contract: every branch of the ``events`` tree, its dtype, and which files carry it.

One table, read by everything that writes or reads the ntuples (``docs/ntuple.md`` describes
the same branches; a test checks the document against this module):

- the writer (:mod:`na62dump.simulation.writer`) stores exactly these branches, in this order,
  cast to these dtypes;
- the schema (:mod:`na62dump.schema`) zips the collections and the truth record from them and
  checks the float branches for NaN;
- the input checks (:func:`required_branches`, used by ``na62dump.runner``) ask every file for
  the branches its dataset kind must carry; :func:`expected_dtype` gives the on-disk dtype of
  any branch, for checks of the input files' types.

Layout (NanoAOD style): event-level branches (:data:`EVENT_BRANCHES`, one value per event),
then per collection ``X`` of :data:`COLLECTIONS` a counter ``nX`` (:data:`COUNTER_DTYPE`) and
jagged branches ``X_field``, then the Monte Carlo truth ``Truth_field``
(:data:`TRUTH_BRANCHES`, one value per event, no counter). The truth branches are all present
(Monte Carlo) or all absent (pseudo-data, as real data); signal samples must carry them
(:data:`TRUTH_REQUIRED_KINDS`: the truth-binned signal histograms), the background Monte Carlo
samples carry them when their generator writes truth (the processors then read the generation
weight).

>>> expected_dtype("Track_px"), expected_dtype("nTrack"), expected_dtype("Truth_channel")
(dtype('float32'), dtype('int32'), dtype('int8'))
>>> BRANCHES["Track_hasChod"].collection, BRANCHES["Track_hasChod"].field
('Track', 'hasChod')
>>> "Truth_mass" in required_branches("signal"), "Truth_mass" in required_branches("pseudo_data")
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from na62dump.errors import InputError

__all__ = [
    "BRANCHES",
    "COLLECTIONS",
    "COUNTER_DTYPE",
    "EVENT_BRANCHES",
    "TRUTH_BRANCHES",
    "TRUTH_FIELDS",
    "TRUTH_REQUIRED_KINDS",
    "Branch",
    "branch_names",
    "expected_dtype",
    "required_branches",
]

_F4 = np.dtype(np.float32)
_I1 = np.dtype(np.int8)
_I4 = np.dtype(np.int32)
_I8 = np.dtype(np.int64)
_B = np.dtype(np.bool_)

#: Event-level branches (one value per event), in storage order.
EVENT_BRANCHES: dict[str, np.dtype] = {
    "run": _I4,
    "burst": _I4,
    "event": _I8,
    "trig_H2": _B,
    "trig_Q1": _B,
    "trig_control": _B,
    "trigger_time": _F4,
}

#: dtype of the ``nX`` counter of every collection.
COUNTER_DTYPE = _I4

#: Collections: ``{collection: {field: dtype}}``; stored as counter ``n<collection>`` followed
#: by the jagged branches ``<collection>_<field>``.
COLLECTIONS: dict[str, dict[str, np.dtype]] = {
    "Track": {
        "charge": _I1,
        "px": _F4,
        "py": _F4,
        "pz": _F4,
        "x": _F4,
        "y": _F4,
        "z": _F4,
        "xDown": _F4,
        "yDown": _F4,
        "txDown": _F4,
        "tyDown": _F4,
        "chi2": _F4,
        "nChambers": _I1,
        "chodTime": _F4,
        "hasChod": _B,
        "na48chodTime": _F4,
        "hasNa48chod": _B,
        "richRadius": _F4,
        "hasRich": _B,
        "hcalEnergy": _F4,
    },
    "Cluster": {"energy": _F4, "x": _F4, "y": _F4, "time": _F4},
    "MUV3": {"x": _F4, "y": _F4, "time": _F4},
    "LAV": {"station": _I1, "time": _F4},
    "ANTI0": {"x": _F4, "y": _F4, "time": _F4},
}

#: Fields of the Monte Carlo truth record (``Truth_<field>``), in storage order.
TRUTH_FIELDS: dict[str, np.dtype] = {
    "model": _I1,  # na62dump.codes.Model
    "mode": _I1,  # na62dump.codes.Production
    "channel": _I1,  # na62dump.codes.Channel
    **{f: _F4 for f in ("mass", "parentMass", "px", "py", "pz", "prodX", "prodY", "prodZ",
                        "decayX", "decayY", "decayZ", "zMin", "zMax", "weight")},
}  # fmt: skip
#: The truth branches (ROOT names).
TRUTH_BRANCHES: dict[str, np.dtype] = {f"Truth_{f}": dt for f, dt in TRUTH_FIELDS.items()}

#: Dataset kinds whose files must carry the truth branches.
TRUTH_REQUIRED_KINDS = ("signal",)


@dataclass(frozen=True)
class Branch:
    """One branch: ROOT ``name``, on-disk ``dtype``, ``collection`` (``"Track"``, ...,
    ``"Truth"`` for the truth record, ``None`` for event-level branches and counters),
    ``field`` (its name inside the NanoEvents collection or record), ``counter`` (an ``nX``),
    ``truth`` (Monte Carlo only)."""

    name: str
    dtype: np.dtype
    collection: str | None = None
    field: str | None = None
    counter: bool = False
    truth: bool = False


def _branches() -> dict[str, Branch]:
    out = {n: Branch(n, dt, field=n) for n, dt in EVENT_BRANCHES.items()}
    for coll, fields in COLLECTIONS.items():
        out[f"n{coll}"] = Branch(f"n{coll}", COUNTER_DTYPE, field=f"n{coll}", counter=True)
        out.update({f"{coll}_{f}": Branch(f"{coll}_{f}", dt, coll, f)
                    for f, dt in fields.items()})  # fmt: skip
    out.update({f"Truth_{f}": Branch(f"Truth_{f}", dt, "Truth", f, truth=True)
                for f, dt in TRUTH_FIELDS.items()})  # fmt: skip
    return out


#: Every branch of the contract, in storage order (counters before their collection).
BRANCHES: dict[str, Branch] = _branches()


def branch_names(truth: bool = True) -> list[str]:
    """Every branch of a file, counters included, in storage order.

    >>> names = branch_names(truth=False)
    >>> names[:3], names.index("nTrack") < names.index("Track_charge")
    (['run', 'burst', 'event'], True)
    >>> "Truth_mass" in branch_names(), "Truth_mass" in names
    (True, False)
    """
    return [b.name for b in BRANCHES.values() if truth or not b.truth]


def expected_dtype(branch: str) -> np.dtype:
    """The on-disk dtype of ``branch`` (:class:`InputError` for a name outside the contract)."""
    try:
        return BRANCHES[branch].dtype
    except KeyError:
        raise InputError(f"branch {branch!r} is not in the ntuple contract "
                         "(na62dump.ntuple, docs/ntuple.md)") from None


#: Branches every file carries: event-level, then the counters, then the collection fields.
_EVERY_FILE: tuple[str, ...] = (
    tuple(EVENT_BRANCHES)
    + tuple(f"n{c}" for c in COLLECTIONS)
    + tuple(f"{c}_{f}" for c, fields in COLLECTIONS.items() for f in fields)
)


def required_branches(kind: str | None) -> tuple[str, ...]:
    """The branches a file of a dataset of ``kind`` must carry: every branch of every file,
    plus the truth branches for the kinds of :data:`TRUTH_REQUIRED_KINDS`."""
    if kind in TRUTH_REQUIRED_KINDS:
        return _EVERY_FILE + tuple(TRUTH_BRANCHES)
    return _EVERY_FILE
