"""The ntuple writer: contract names and dtypes, counters, NaN rejection, atomicity, bytes."""

from __future__ import annotations

import hashlib
import os

import awkward as ak
import numpy as np
import pytest
import uproot

from na62dump.errors import InputError
from na62dump.ntuple import COLLECTIONS, EVENT_BRANCHES, TRUTH_BRANCHES, branch_names
from na62dump.simulation import writer
from na62dump.simulation.writer import empty_branches, write_ntuple


def random_branches(n: int, seed: int = 1, truth: bool = True) -> dict:
    """Branches of ``n`` events with random content and random multiplicities."""
    rng = np.random.default_rng(seed)
    b = empty_branches(n, truth=truth)
    b["run"] = rng.integers(1000, 2000, n)  # int64 in, int32 on disk
    b["trigger_time"] = rng.normal(0.0, 5.0, n)  # float64 in, float32 on disk
    b["trig_H2"] = rng.random(n) < 0.5
    for coll, fields in COLLECTIONS.items():
        counts = rng.integers(0, 4, n)
        for field, dtype in fields.items():
            size = int(counts.sum())
            if dtype.kind == "f":
                flat = rng.normal(size=size)
            elif dtype.kind == "b":
                flat = rng.random(size) < 0.5
            else:
                flat = rng.integers(-1, 3, size)
            b[f"{coll}_{field}"] = ak.unflatten(flat, counts)
    if truth:
        for name in TRUTH_BRANCHES:
            if TRUTH_BRANCHES[name].kind == "f":
                b[name] = rng.uniform(0.0, 100.0, n)
    return b


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("truth", [True, False])
def test_round_trip_names_dtypes_counters_content(tmp_path, truth):
    b = random_branches(300, truth=truth)
    path = write_ntuple(tmp_path / "f.root", b)
    with uproot.open(path) as f:
        assert f.keys(cycle=False) == ["events"]
        t = f["events"]
        assert t.classname == "TTree"
        assert t.num_entries == 300
        assert t.keys() == branch_names(truth=truth)
        arrays = t.arrays(library="ak")
        for name, dtype in {**EVENT_BRANCHES, **(TRUTH_BRANCHES if truth else {})}.items():
            got = t[name].array(library="np")
            assert got.dtype.newbyteorder("=") == dtype, name
            np.testing.assert_array_equal(got, np.asarray(b[name]).astype(dtype))
        for coll, fields in COLLECTIONS.items():
            counter = t[f"n{coll}"].array(library="np")
            assert counter.dtype.newbyteorder("=") == np.int32
            for field, dtype in fields.items():
                name = f"{coll}_{field}"
                np.testing.assert_array_equal(counter, ak.num(arrays[name]))
                assert ak.to_numpy(ak.flatten(arrays[name])).dtype.newbyteorder("=") == dtype
                expected = ak.values_astype(b[name], dtype)
                assert ak.to_list(arrays[name]) == ak.to_list(expected), name


def test_given_counters_are_accepted_when_consistent(tmp_path):
    b = random_branches(30)
    write_ntuple(tmp_path / "a" / "f.root", b)
    b.update({f"n{c}": ak.num(b[f"{c}_time" if c != "Track" else "Track_px"]) for c in COLLECTIONS
              if c != "Cluster"})
    write_ntuple(tmp_path / "b" / "f.root", b)
    assert sha(tmp_path / "a" / "f.root") == sha(tmp_path / "b" / "f.root")


def test_branch_order_of_input_does_not_matter(tmp_path):
    b = random_branches(50)
    reordered = dict(reversed(list(b.items())))
    write_ntuple(tmp_path / "a" / "f.root", b)
    write_ntuple(tmp_path / "b" / "f.root", reordered)
    assert sha(tmp_path / "a" / "f.root") == sha(tmp_path / "b" / "f.root")


def test_identical_input_gives_identical_bytes(tmp_path, monkeypatch):
    """Independent of the wall clock and of the temporary name (the pid is part of it)."""
    b = random_branches(200)
    write_ntuple(tmp_path / "a" / "f.root", b)
    first = sha(tmp_path / "a" / "f.root")
    # a later clock second and another pid would change a naive file
    monkeypatch.setattr(os, "getpid", lambda: 424242)
    import time

    time.sleep(1.05)
    write_ntuple(tmp_path / "b" / "f.root", b)
    assert sha(tmp_path / "b" / "f.root") == first
    # ... and different content gives different bytes
    write_ntuple(tmp_path / "c" / "f.root", random_branches(200, seed=2))
    assert sha(tmp_path / "c" / "f.root") != first


def test_uproot_clock_is_restored(tmp_path):
    import datetime

    write_ntuple(tmp_path / "f.root", empty_branches(3))
    for module in writer._UPROOT_WRITING_MODULES:
        assert module.datetime is datetime
    with uproot.open(tmp_path / "f.root") as f:
        assert f.file.uuid == writer.file_uuid(tmp_path / "f.root")


def test_many_baskets_round_trip(tmp_path):
    b = random_branches(1000)
    path = write_ntuple(tmp_path / "f.root", b, basket_events=300)
    with uproot.open(path) as f:
        t = f["events"]
        assert t["Track_px"].num_baskets == 4
        got = t["Track_px"].array()
    assert ak.to_list(got) == ak.to_list(ak.values_astype(b["Track_px"], np.float32))


def test_zero_events(tmp_path):
    path = write_ntuple(tmp_path / "f.root", empty_branches(0, truth=False))
    with uproot.open(path) as f:
        t = f["events"]
        assert t.num_entries == 0
        assert t.keys() == branch_names(truth=False)


@pytest.mark.parametrize("name", ["trigger_time", "Truth_decayZ", "Cluster_energy", "Track_pz"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rejected_naming_branch(tmp_path, name, bad):
    b = random_branches(20)
    if name.startswith(tuple(COLLECTIONS)) and "_" in name:
        flat = np.array(ak.flatten(b[name]), dtype=float)
        flat[len(flat) // 2] = bad
        b[name] = ak.unflatten(flat, ak.num(b[name]))
    else:
        arr = np.array(b[name], dtype=float)
        arr[7] = bad
        b[name] = arr
    with pytest.raises(InputError, match=rf"f\.root.*'{name}'.*non-finite"):
        write_ntuple(tmp_path / "f.root", b)
    assert list(tmp_path.iterdir()) == []


def test_missing_unknown_and_counter_branches(tmp_path):
    b = random_branches(5)
    del b["Track_chi2"]
    with pytest.raises(InputError, match=r"missing branch\(es\) \['Track_chi2'\]"):
        write_ntuple(tmp_path / "f.root", b)
    b = random_branches(5)
    b["Track_energy"] = b["Track_px"]
    with pytest.raises(InputError, match="unknown branch.*Track_energy"):
        write_ntuple(tmp_path / "f.root", b)
    b = random_branches(5)
    b["nTrack"] = ak.num(b["Track_px"]) + 1
    with pytest.raises(InputError, match="counter 'nTrack' disagrees"):
        write_ntuple(tmp_path / "f.root", b)
    b = random_branches(5)
    del b["Truth_weight"]  # truth is all or nothing
    with pytest.raises(InputError, match="Truth_weight"):
        write_ntuple(tmp_path / "f.root", b)


def test_inconsistent_shapes_rejected(tmp_path):
    b = random_branches(10)
    b["Cluster_x"] = ak.Array([[0.0]] * 10)
    with pytest.raises(InputError, match="'Cluster_x'.*counts per event.*nCluster"):
        write_ntuple(tmp_path / "f.root", b)
    b = random_branches(10)
    b["burst"] = np.zeros(9)
    with pytest.raises(InputError, match="'burst' has 9 entries, expected 10"):
        write_ntuple(tmp_path / "f.root", b)
    b = random_branches(10)
    counts = np.ones(10, np.int64)
    b["LAV_time"] = ak.unflatten(np.zeros(10), counts)
    b["LAV_station"] = ak.unflatten(np.full(10, 300), counts)  # int8 holds 1-12
    with pytest.raises(InputError, match="'LAV_station'.*overflow"):
        write_ntuple(tmp_path / "f.root", b)


def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch):
    """A crash inside uproot leaves neither a file at the final path nor temporary debris,
    and an existing older file at that path survives untouched."""
    old = write_ntuple(tmp_path / "f.root", random_branches(10, seed=5))
    old_sha = sha(old)

    class Boom(RuntimeError):
        pass

    def exploding_extend(self, data, **kwargs):
        raise Boom("disk full")

    monkeypatch.setattr(uproot.writing.writable.WritableTree, "extend", exploding_extend)
    with pytest.raises(Boom):
        write_ntuple(tmp_path / "f.root", random_branches(10))
    with pytest.raises(Boom):
        write_ntuple(tmp_path / "g.root", random_branches(10))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.root"]
    assert sha(tmp_path / "f.root") == old_sha


def test_fast_collection_path_writes_the_same_bytes(tmp_path, monkeypatch):
    """Plain jagged fields (shared or separate offsets, sliced views) skip awkward's
    flatten/unflatten; the file is byte-identical to the general path's."""
    full = random_branches(13, seed=9)
    sliced = {k: v[3:] for k, v in full.items()}  # offsets not starting at 0
    assert writer._list_parts(sliced["Track_px"])[0][0] > 0
    fast = sha(write_ntuple(tmp_path / "a" / "f.root", sliced))
    monkeypatch.setattr(writer, "_collection_fast", lambda *args: None)
    general = sha(write_ntuple(tmp_path / "b" / "f.root", sliced))
    assert fast == general
    b = random_branches(10)
    b["Cluster_x"] = ak.Array([[0.0]] * 10)
    monkeypatch.undo()
    with pytest.raises(InputError, match="'Cluster_x'.*counts per event.*nCluster"):
        write_ntuple(tmp_path / "f.root", b)
