"""Checks of one ntuple against the format of ``docs/ntuple.md``: what ``na62dump inspect`` shows.

Before running on files made elsewhere (your own simulation, a skim of real data), a physicist
wants to know whether the analysis can read them and what it would refuse: this module answers
per file, without running any selection,

- whether the file opens and holds the tree (:func:`na62dump.runner.inspect_file`, the same
  check as the input check of ``na62dump run``);
- which branches the input check of ``na62dump run`` requires that are missing
  (:func:`na62dump.runner.required_branches`), and per channel which branches its processor
  reads that are missing (``processors.PROCESSORS[channel].branches(meta)``);
- the stored dtype of every branch against the contract (:func:`contract_dtypes`): a
  ``Track_px`` stored as int32 would be read and silently truncate momenta;
- the number of NaN and infinite values in every floating-point branch (the format forbids
  them: every comparison with NaN is false, so a selection drops such objects silently).

The small functions (:func:`contract_dtypes`, :func:`dtype_mismatches`,
:func:`nonfinite_counts`) are the one place these checks live; the command
(``na62dump/commands/inspect.py``) only formats :func:`inspect_ntuple`'s :class:`NtupleReport`.
(The module is not called ``inspect`` so as not to shadow the standard library's.)

>>> contract_dtypes()["Track_px"], contract_dtypes()["nTrack"], "Truth_mass" in contract_dtypes()
(dtype('float32'), dtype('int32'), True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from na62dump.simulation.campaign import KINDS  # dataset kinds: they decide what is required

#: Entries read at once by the finite checks (bounded memory on large files: ~100 MB for the
#: float branches of the format at a few objects per event). An entry count, not uproot's
#: "100 MB": a byte step makes uproot read basket keys one by one with numpy offsets, which
#: the XRootD bindings refuse (TypeError; measured with uproot 5.7.7, fsspec-xrootd 0.5.5,
#: xrootd 6.2.1 on root:// files), while an entry step reads as coffea does.
FINITE_STEP = 200_000


def contract_dtypes(truth: bool = True) -> dict[str, np.dtype]:
    """``{branch: dtype}`` of the ntuple contract (``docs/ntuple.md``, :mod:`na62dump.ntuple`),
    counters included; the dtype of a jagged branch is that of its elements. ``truth``: include
    the ``Truth_*`` branches (Monte Carlo)."""
    from na62dump.ntuple import BRANCHES

    return {name: b.dtype for name, b in BRANCHES.items() if truth or not b.truth}


def stored_dtype(branch) -> np.dtype | None:
    """The numpy dtype an uproot ``TBranch`` is stored with (of its elements, for a jagged
    branch), or ``None`` for a non-numeric branch (strings, objects). Known from the branch's
    streamer without reading any data."""
    import uproot

    interp = branch.interpretation
    if isinstance(interp, uproot.interpretation.jagged.AsJagged):
        interp = interp.content
    if isinstance(interp, uproot.interpretation.numerical.AsDtype):
        dtype = np.dtype(interp.to_dtype)
        return dtype if dtype.kind in "biuf" and dtype.shape == () else None
    return None


def stored_dtype_name(branch) -> str:
    """:func:`stored_dtype` as a name (``"float32"``), ``"not numeric"`` for the others."""
    dtype = stored_dtype(branch)
    return "not numeric" if dtype is None else dtype.name


def dtype_mismatches(stored: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``{branch: (stored, contract)}`` for the branches of the contract stored with another
    dtype (``stored``: ``{branch: dtype name}``, as :func:`stored_dtype_name` gives them);
    branches outside the contract are not compared.

    >>> dtype_mismatches({"Track_px": "int32", "Track_py": "float32"})
    {'Track_px': ('int32', 'float32')}
    """
    contract = contract_dtypes()
    out = {}
    for name, dtype in stored.items():
        want = contract.get(name)
        if want is not None and dtype != want.name:
            out[name] = (dtype, want.name)
    return out


def nonfinite_counts(tree, branches: Iterable[str], step_size=FINITE_STEP) -> dict[str, list]:
    """``{branch: [n_nan, n_inf]}`` over every entry of the uproot ``tree`` for ``branches``
    (floating-point ones; jagged branches count every element), ``step_size`` entries at a
    time."""
    import awkward as ak

    names = list(branches)
    counts = {name: [0, 0] for name in names}
    if not names:
        return counts
    for chunk in tree.iterate(names, step_size=step_size, library="ak"):
        for name in names:
            values = ak.to_numpy(ak.flatten(chunk[name], axis=None))
            n_nan = int(np.count_nonzero(np.isnan(values)))
            counts[name][0] += n_nan
            counts[name][1] += int(np.count_nonzero(~np.isfinite(values))) - n_nan
    return counts


def guess_kind(branches: Iterable[str]) -> str:
    """The dataset kind assumed for a file when none is given: ``"signal"`` if it carries
    ``Truth_*`` branches (Monte Carlo; signal needs the most of them), else ``"pseudo_data"``
    (data carry no truth).

    >>> guess_kind(["run", "Truth_weight"]), guess_kind(["run"])
    ('signal', 'pseudo_data')
    """
    return "signal" if any(b.startswith("Truth_") for b in branches) else "pseudo_data"


def missing_branches(present: Iterable[str], kind: str) -> dict[str, list[str]]:
    """Branches a dataset of ``kind`` would need that ``present`` lacks.

    Returns ``{"run": [...], <channel>: [...], ...}``: under ``"run"`` what the input check
    of ``na62dump run`` requires (:func:`na62dump.runner.required_branches`: the file is refused
    without them), under each channel what its processor reads
    (``PROCESSORS[channel].branches``), blinded.
    """
    from na62dump.runner import required_branches
    from processors import PROCESSORS

    present = set(present)
    meta = {"kind": kind}
    out = {"run": [b for b in required_branches(meta) if b not in present]}
    for channel, cls in PROCESSORS.items():
        out[channel] = [b for b in cls().branches(meta) if b not in present]
    return out


@dataclass
class NtupleReport:
    """What :func:`inspect_ntuple` found in one file (``as_dict`` for ``--json``).

    ``problem`` is set when the file cannot be read at all (then only ``file`` and ``tree``
    mean anything); otherwise ``problems`` lists every finding that would stop or corrupt a
    run: missing branches, dtypes off the contract, NaN/inf values.
    """

    file: str
    tree: str
    kind: str
    kind_guessed: bool
    problem: str | None = None
    entries: int = 0
    branches: dict[str, str] = field(default_factory=dict)  #: branch -> stored dtype
    missing: dict[str, list[str]] = field(default_factory=dict)
    dtype_mismatches: dict[str, tuple[str, str]] = field(default_factory=dict)
    nonfinite: dict[str, list[int]] = field(default_factory=dict)  #: float branches only
    extra: list[str] = field(default_factory=list)  #: branches outside the contract

    @property
    def problems(self) -> list[str]:
        """One line per problem (without the file name)."""
        if self.problem is not None:
            return [self.problem]
        out = []
        if self.missing.get("run"):
            out.append(
                f"tree {self.tree!r} lacks branch(es) {', '.join(self.missing['run'])} that "
                f"`na62dump run` requires for a {self.kind} dataset (docs/ntuple.md)"
            )
        for name, (stored, want) in self.dtype_mismatches.items():
            out.append(f"branch {name!r} is {stored}, the format says {want} (docs/ntuple.md)")
        for name, (n_nan, n_inf) in self.nonfinite.items():
            if n_nan or n_inf:
                out.append(f"branch {name!r} holds {n_nan} NaN and {n_inf} infinite value(s); "
                           "the format forbids them")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "problems": self.problems,
            "tree": self.tree,
            "kind": self.kind,
            "kind_guessed": self.kind_guessed,
            "entries": self.entries,
            "branches": self.branches,
            "missing": self.missing,
            "dtype_mismatches": {k: {"stored": s, "contract": c}
                                 for k, (s, c) in self.dtype_mismatches.items()},
            "nonfinite": {k: {"nan": n, "inf": i} for k, (n, i) in self.nonfinite.items()},
            "extra_branches": self.extra,
        }


def inspect_ntuple(path: str, tree: str | None = None, kind: str | None = None) -> NtupleReport:
    """Every check of this module on the file (or URL) ``path``.

    Parameters
    ----------
    path : str
        A local path or a URL (``root://``, ``https://``, ...; :mod:`na62dump.urls`).
    tree : str, optional
        The TTree (default ``events``, :data:`na62dump.runner.TREE`).
    kind : str, optional
        Dataset kind the file is meant for (``datasets.yaml``: signal, prompt, q1_control,
        upstream, pseudo_data); it decides which branches are required. Default: guessed by
        :func:`guess_kind`.

    Raises
    ------
    InputError
        An unknown ``kind``, or a URL whose protocol needs a package that is not installed.
    """
    import uproot

    from na62dump.errors import InputError
    from na62dump.runner import TREE, inspect_file
    from na62dump.urls import open_options

    tree = tree or TREE
    if kind is not None and kind not in KINDS:
        raise InputError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    info = inspect_file(path, tree)  # the input check's own verdict: opens, has the tree
    if info.problem is not None:
        return NtupleReport(path, tree, kind or "unknown", kind is None, problem=info.problem)
    guessed = kind is None
    kind = kind or guess_kind(info.branches)
    report = NtupleReport(path, tree, kind, guessed, entries=info.entries)
    try:
        with uproot.open(path, **open_options(path)) as handle:
            ttree = handle[tree]
            stored = dict(info.dtypes)  # the input check's dtypes (no data read)
            report.branches = stored
            report.missing = missing_branches(stored, kind)
            report.dtype_mismatches = dtype_mismatches(stored)
            contract = contract_dtypes()
            report.extra = [b for b in stored if b not in contract]
            floats = [b for b, v in stored.items() if v.startswith("float")]
            report.nonfinite = nonfinite_counts(ttree, floats)
    except Exception as err:  # unreadable baskets (a truncated or damaged file)
        detail = " ".join(str(err).split())
        report.problem = f"cannot read its data ({type(err).__name__}: {detail})"
    return report
