import awkward as ak
import numpy as np
import pytest
from coffea import processor
from coffea.nanoevents import NanoEventsFactory

from na62dump.errors import InputError
from na62dump.schema import (
    COLLECTIONS,
    NA62Schema,
    check_branches,
    check_finite,
)
from tests.processors.builders import Event, decay_from_tax, event_branches, write_events, write_raw


@pytest.fixture(scope="module")
def ee_file(tmp_path_factory):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    truth = {"mass": 0.1, "pz": 60.0, "prodZ": 24.0, "decayZ": 150.0, "weight": 1.0}
    path = tmp_path_factory.mktemp("schema") / "ee.root"
    return write_events(path, [Event(v, ds, truth=truth), Event(v, ds[:1])], truth=True)


def _events(path, mode="eager"):
    return NanoEventsFactory.from_root(
        {str(path): "events"}, schemaclass=NA62Schema, mode=mode
    ).events()


@pytest.mark.parametrize("mode", ["eager", "virtual"])
def test_collections_truth_and_event_fields(ee_file, mode):
    ev = _events(ee_file, mode)
    for c in COLLECTIONS:
        assert c in ev.fields
    assert ak.num(ev.Track, axis=1).tolist() == [2, 1]
    assert ev.nTrack.tolist() == [2, 1]
    assert ev.Track.charge.tolist() == [[1, -1], [1]]
    assert ev.Truth.mass.tolist() == pytest.approx([0.1, 0.0])
    assert "trig_H2" in ev.fields and "Track_px" not in ev.fields


def test_track_vector_behaviour(ee_file):
    ev = _events(ee_file)
    t = ev.Track
    p = np.sqrt(t.px**2 + t.py**2 + t.pz**2)
    assert ak.all(abs(t.p - p) < 1e-4)
    d = t.direction
    assert ak.all(abs(d.x**2 + d.y**2 + d.z**2 - 1) < 1e-6)
    assert ak.all(abs(t.p3.z - t.pz) == 0)
    pair = t[:1]
    m = (pair[:, 0].p4(0.000511) + pair[:, 1].p4(0.000511)).mass
    assert float(m[0]) == pytest.approx(0.1, rel=1e-6)
    assert ak.all(abs(t.p4(0.13957).mass - 0.13957) < 1e-3)


def test_no_truth_record_without_truth_branches(tmp_path):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    ev = _events(write_events(tmp_path / "d.root", [Event(v, ds)], truth=False))
    assert "Truth" not in ev.fields
    check_branches(ev)  # complete
    with pytest.raises(InputError, match="Truth_mass"):
        check_branches(ev, truth=True, source="d.root")


def test_missing_branch_is_named(tmp_path):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    path = write_events(tmp_path / "m.root", [Event(v, ds)], drop=("Track_hcalEnergy",))
    with pytest.raises(InputError, match=r"m\.root.*Track_hcalEnergy"):
        check_branches(_events(path), source=str(path))


def test_nan_is_named(tmp_path):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    good = write_events(tmp_path / "ok.root", [Event(v, ds)])
    branches = event_branches([Event(v, ds)])
    branches["Track_richRadius"] = ak.Array([[0.1, np.nan]])
    bad = write_raw(tmp_path / "nan.root", branches)
    check_finite(_events(good))
    with pytest.raises(InputError, match=r"nan\.root.*Track_richRadius"):
        check_finite(_events(bad), source=str(bad))


class _CountTracks(processor.ProcessorABC):
    def process(self, events):
        return {"p": float(ak.sum(events.Track.p)), "n": len(events)}

    def postprocess(self, accumulator):
        return accumulator


@pytest.mark.slow
def test_runner_with_futures_executor(ee_file):
    fileset = {"x": {"files": {str(ee_file): "events"}}}
    run = processor.Runner(processor.FuturesExecutor(workers=2), schema=NA62Schema, chunksize=1)
    out = run(fileset, processor_instance=_CountTracks())
    assert out["n"] == 2
    assert out["p"] == pytest.approx(float(ak.sum(_events(ee_file).Track.p)), rel=1e-6)


@pytest.mark.parametrize("mode", ["eager", "virtual"])
def test_flat_collection_matches_flatten(ee_file, mode):
    from na62dump.schema import flat_collection, flat_field

    events = _events(ee_file, mode=mode)
    for name in COLLECTIONS:
        flat = flat_collection(events, name)
        assert flat.counts.tolist() == ak.to_list(ak.num(events[name], axis=1))
        assert set(flat.fields) == set(events[name].fields)
        for field in events[name].fields:
            expected = ak.to_numpy(ak.flatten(events[name][field]))
            assert flat[field].dtype == expected.dtype
            assert flat[field].tolist() == expected.tolist()
    assert flat_field(events.trigger_time).tolist() == ak.to_list(events.trigger_time)
    # a sliced collection (not a plain ListOffsetArray from offset 0) goes the generic way
    sliced = flat_collection(events[1:], "Track")
    assert sliced.counts.tolist() == ak.to_list(ak.num(events.Track[1:], axis=1))
