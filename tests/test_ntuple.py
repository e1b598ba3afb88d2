"""The ntuple contract (na62dump.ntuple): written files, the schema and docs/ntuple.md hold
exactly its branches with its dtypes."""

from __future__ import annotations

import re
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from coffea.nanoevents import NanoEventsFactory

from na62dump import ntuple, runner
from na62dump.errors import InputError
from na62dump.schema import NA62Schema
from na62dump.simulation.generators import GENERATORS

DOC = Path(__file__).resolve().parent.parent / "docs" / "ntuple.md"


def _on_disk(branch) -> np.dtype:
    """The dtype a TTree branch stores (the content's, for a jagged branch)."""
    interp = branch.interpretation
    interp = getattr(interp, "content", interp)
    return np.dtype(interp.to_dtype).newbyteorder("=")


def _files_by_truth(campaign):
    """One simulated file with truth and one without (every kind of file the campaign has)."""
    out = {}
    for d in campaign.datasets:
        files = d.existing_files()
        if files:
            out.setdefault(bool(d.metadata["has_truth"]), (d, files[0]))
    assert set(out) == {True, False}
    return out


def test_written_files_hold_the_contract_names_and_dtypes(tiny_campaign):
    """Every file of the simulated tiny campaign (every generator kind): the contract's
    branches, in its order, with its dtypes; truth exactly for the generators that write it."""
    kinds = set()
    for d in tiny_campaign.datasets:
        for path in d.existing_files():
            truth = GENERATORS[d.kind].truth
            with uproot.open(path) as f:
                t = f[d.tree]
                assert t.keys() == ntuple.branch_names(truth=truth), path
                for name in t.keys():
                    assert _on_disk(t[name]) == ntuple.expected_dtype(name), (path, name)
            kinds.add(d.kind)
    assert kinds == set(GENERATORS)  # every kind of file was looked at


@pytest.mark.parametrize("truth", [True, False])
def test_the_schema_reads_exactly_the_contract(tiny_campaign, truth):
    """NA62Schema: one collection per contract collection with exactly its fields and dtypes,
    the truth record with the truth fields, the event branches and counters at top level."""
    _, path = _files_by_truth(tiny_campaign)[truth]
    ev = NanoEventsFactory.from_root({path: "events"}, schemaclass=NA62Schema,
                                     mode="eager").events()
    top = {b.name for b in ntuple.BRANCHES.values() if b.collection is None}
    colls = set(ntuple.COLLECTIONS) | ({"Truth"} if truth else set())
    assert set(ev.fields) == top | colls
    records = {**ntuple.COLLECTIONS, **({"Truth": ntuple.TRUTH_FIELDS} if truth else {})}
    for coll, fields in records.items():
        assert ev[coll].fields == list(fields), coll
        for field, dtype in fields.items():
            values = ev[coll][field]
            flat = ak.flatten(values, axis=None) if values.ndim > 1 else values
            assert ak.to_numpy(flat).dtype == dtype, (coll, field)
    for name in top:
        assert ak.to_numpy(ev[name]).dtype == ntuple.expected_dtype(name), name


def test_input_checks_ask_for_the_contract():
    """runner.required_branches: every non-truth branch for every kind, the truth branches
    for signal; expected_dtype names an unknown branch."""
    every = [b for b in ntuple.branch_names(truth=False)]
    for kind in GENERATORS:
        want = runner.required_branches({"kind": kind})
        assert set(want) == set(every) | (set(ntuple.TRUTH_BRANCHES) if kind == "signal"
                                          else set())  # fmt: skip
    with pytest.raises(InputError, match="Track_foo"):
        ntuple.expected_dtype("Track_foo")


def _documented() -> dict[str, str]:
    """``{branch: type}`` of the tables of docs/ntuple.md."""
    out: dict[str, str] = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([^`]+)`", cells[0])
        types = [t.strip() for t in cells[1].split(",")]
        if len(types) == 1:
            types = types * len(names)
        assert len(types) == len(names), line
        for n, t in zip(names, types, strict=True):
            assert n not in out, f"{n} documented twice"
            out[n] = t
    return out


def test_docs_describe_the_contract():
    """docs/ntuple.md: every branch (counters in the section headings) with its type, no
    other branch."""
    text = DOC.read_text()
    documented = _documented()
    contract = {b.name: b.dtype for b in ntuple.BRANCHES.values() if not b.counter}
    assert set(documented) == set(contract)
    for name, dtype in contract.items():
        assert documented[name] == ("bool" if dtype.kind == "b" else dtype.name), name
    for coll in ntuple.COLLECTIONS:
        assert f"counter `n{coll}`" in text
    assert f"counter `nX` ({ntuple.COUNTER_DTYPE.name})" in text
    assert "na62dump/ntuple.py" in text
