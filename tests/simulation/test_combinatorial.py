"""The combinatorial pseudo-events (na62dump.simulation.combinatorial): pairing, weights, the
``combinatorial`` generator, and ``na62dump simulate`` making them after their source."""

from __future__ import annotations

import json

import numpy as np
import pytest

from na62dump.cli import main
from na62dump.errors import InputError
from na62dump.simulation import combinatorial as C
from na62dump.simulation import generators
from na62dump.simulation.campaign import load_campaign
from na62dump.simulation.writer import TRUTH_BRANCHES, write_ntuple


def _singles(n, rng):
    """n single-track Q1 events in the ntuple layout (one track, a few hits each)."""
    import awkward as ak

    from na62dump.simulation.writer import COLLECTIONS

    out = {"run": np.full(n, 1, np.int32), "burst": np.arange(n, dtype=np.int32),
           "event": np.arange(n, dtype=np.int64), "trig_H2": np.zeros(n, bool),
           "trig_Q1": np.ones(n, bool), "trig_control": np.zeros(n, bool),
           "trigger_time": rng.uniform(-1, 1, n).astype(np.float32)}
    counts = {"Track": np.ones(n, int), "Cluster": rng.integers(0, 3, n),
              "MUV3": rng.integers(0, 2, n), "LAV": rng.integers(0, 2, n),
              "ANTI0": rng.integers(0, 2, n)}
    for coll, fields in COLLECTIONS.items():
        k = counts[coll]
        for f in fields:
            flat = rng.uniform(-1, 1, k.sum())
            if f.startswith("has"):
                flat = np.ones(k.sum(), bool)
            if coll == "Track" and f == "charge":
                flat = np.where(np.arange(n) % 2 == 0, 1, -1)  # +, -, +, ...
            out[f"{coll}_{f}"] = ak.unflatten(flat, k)
    out["nTrack"] = np.ones(n, np.int32)
    return out


def test_combinatorial_pseudo_events_pairs_and_times():
    import awkward as ak

    rng = np.random.default_rng(1)
    singles = _singles(6, rng)
    ev, per_pair = C.combinatorial_pseudo_events(singles, rng, max_pairs=100, window_ns=10.0)
    assert per_pair == 1.0 and len(ev["run"]) == 9  # all 3 x 3 opposite-charge pairs
    assert ak.all(ak.num(ev["Track_px"]) == 2)
    assert ak.all(ak.sum(ev["Track_charge"], axis=1) == 0)
    t = ev["Track_na48chodTime"]
    assert np.all(np.abs(ak.to_numpy(t[:, 1] - t[:, 0])) <= 10.0)
    # the second event's hits move with its track
    i, j = (a.ravel() for a in np.meshgrid([0, 2, 4], [1, 3, 5], indexing="ij"))
    shift = ak.to_numpy(t[:, 1]) - ak.to_numpy(singles["Track_na48chodTime"][j][:, 0])
    n_i = ak.to_numpy(ak.num(singles["Cluster_time"][i]))
    moved = ev["Cluster_time"][ak.local_index(ev["Cluster_time"]) >= n_i]
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(moved - singles["Cluster_time"][j])),
                               np.repeat(shift, ak.to_numpy(ak.num(moved))), atol=1e-5)
    # sampling when there are more pairs than allowed
    ev, per_pair = C.combinatorial_pseudo_events(singles, rng, max_pairs=3)
    assert len(ev["run"]) == 3 and per_pair == pytest.approx(3.0)
    with pytest.raises(InputError, match="at least 2"):
        C.combinatorial_pseudo_events({k: v[:1] for k, v in singles.items()}, rng)


def test_pair_weight():
    w = C.combinatorial_pair_weight(1.4e17, 4.0e-19)
    assert w == pytest.approx(20**2 * 2 * 10e-9 / (4.0e-19 * 1.4e17))
    with pytest.raises(InputError, match="live time"):
        C.combinatorial_pair_weight(1.4e17, 0.0)


CONFIG = """\
data_dir: {data}
seed: 3
datasets:
  - name: q1_control
    kind: q1_control
    channels: [ee, mumu]
    recipe: {{size: 1.4e15, per_file: 7.0e14}}
  - name: combinatorial
    kind: combinatorial
    channels: [ee, mumu]
    recipe:
      params: {{source: q1_control, max_pairs: 400}}
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "datasets.yaml"
    path.write_text(CONFIG.format(data=tmp_path / "data"))
    return path


def test_combinatorial_dataset_takes_its_source_pot(config):
    c = load_campaign(config, preset="tiny")
    d = c.get("combinatorial")
    assert d.kind == "combinatorial" and d.channels == ("ee", "mumu")
    assert d.metadata["pot"] == c.get("q1_control").metadata["pot"] == 1.4e15
    assert d.metadata["source"] == "q1_control" and d.metadata["has_truth"]
    assert d.recipe.n_files == 1


@pytest.mark.parametrize(("old", "new", "message"), [
    ("params: {source: q1_control, max_pairs: 400}",
     "params: {source: q1_control}\n      size: 1.0e15", "leave 'size'"),
    ("source: q1_control,", "source: nothing,", "not a q1_control dataset"),
    ("max_pairs: 400", "max_pairs: 0", "max_pairs"),
])
def test_bad_combinatorial_recipes(config, old, new, message):
    config.write_text(config.read_text().replace(old, new))
    with pytest.raises(InputError, match=message):
        load_campaign(config, preset="tiny")


def test_simulate_makes_the_pseudo_events_after_the_source(config, tmp_path, capsys):
    """Two workers, one wave each: the pseudo-events read the Q1 files written just before;
    their Truth_weight is the pair weight x pairs per drawn pair; only those that fire H2 are
    written."""
    import uproot

    assert main(["simulate", "--config", str(config), "--preset", "tiny", "--workers", "2"]) == 0
    c = load_campaign(config, preset="tiny")
    q1, comb = c.get("q1_control"), c.get("combinatorial")
    (path,) = comb.output_paths()
    with uproot.open(path) as f:
        t = f["events"]
        assert set(TRUTH_BRANCHES) <= set(t.keys())
        w = t["Truth_weight"].array(library="np")
        n_track = t["nTrack"].array(library="np")
        fired = t["trig_H2"].array(library="np")
    # of max_pairs random pairs of two tracks, those that fire H2 (about half)
    assert 100 < len(w) < 400 and np.all(n_track == 2) and np.all(fired)
    singles = C.single_track_events(C.read_branches(q1.existing_files(), "events"))
    charge = np.asarray([x[0] for x in singles["Track_charge"].tolist()])
    pairs = int((charge > 0).sum() * (charge < 0).sum())
    assert pairs > 400
    pair_weight = C.combinatorial_pair_weight(q1.metadata["pot"],
                                              q1.metadata["live_time_s_per_pot"])
    np.testing.assert_allclose(w, pair_weight * pairs / 400, rtol=1e-6)
    record = json.loads((path.parent / "manifest.json").read_text())
    assert record["source"]["dataset"] == "q1_control"
    # up to date: nothing remade; the source remade (--force): the pseudo-events too
    capsys.readouterr()
    assert main(["simulate", "--config", str(config), "--preset", "tiny"]) == 0
    assert "wrote 0 of 3 files" in capsys.readouterr().out
    assert main(["simulate", "--config", str(config), "--preset", "tiny", "--only",
                 "q1_control", "combinatorial", "--force"]) == 0
    assert "wrote 3 of 3 files" in capsys.readouterr().out


def test_pseudo_events_alone_need_the_source_files(config, capsys):
    status = main(["simulate", "--config", str(config), "--preset", "tiny", "--only",
                   "combinatorial"])
    assert status == 2
    err = capsys.readouterr().err
    assert "q1_control" in err and "simulate" in err and len(err.strip().splitlines()) == 1


def test_generator_needs_its_source():
    with pytest.raises(InputError, match="source dataset"):
        generators.generate("combinatorial", {"source": "q1"}, 1e15, np.random.default_rng(1))


@pytest.mark.slow
def test_q1_pairs_reproduce_genuine_overlaps(tmp_path):
    """The combinatorial estimate (Q1 single-track pairs, weighted) against the truth: halo
    muons simulated overlapping within the window, both through the mu+mu- processor.

    At 1.4e17 POT the two agree on the vertices in the FV with muon PID (about 26 events,
    the published mu+mu- count outside the CR) within the statistical precision.
    """
    from na62dump import backgrounds as B
    from na62dump import runner
    from na62dump.simulation import background_gen as bg
    from processors import PROCESSORS

    pot = 1.4e17
    q1 = write_ntuple(tmp_path / "q1.root",
                      generators.generate("q1_control", {}, pot, np.random.default_rng(21)))
    meta = {"pot": pot, **generators.sample_metadata("q1_control", {})}
    pseudo = generators.generate("combinatorial", {"source": "q1", "max_pairs": 100_000}, pot,
                                 np.random.default_rng(22),
                                 source={"files": [str(q1)], "tree": "events", "metadata": meta})
    comb = write_ntuple(tmp_path / "comb.root", pseudo)

    # genuine overlaps: n events, each standing for expected_overlaps / n
    rng = np.random.default_rng(23)
    n = 60_000
    ov = bg._respond(bg.halo_overlaps(n, rng), rng, truth=False, keep_triggered=True)
    k = len(ov["trig_H2"])
    ov = {"run": np.full(k, 1, np.int32), "burst": np.zeros(k, np.int32),
          "event": np.arange(k, dtype=np.int64), **ov}
    path = write_ntuple(tmp_path / "overlaps.root", ov)
    fs = {"ov": {"files": {str(path): "events"}, "metadata": {
              "dataset": "ov", "kind": "combinatorial", "weight": bg.expected_overlaps(pot) / n}},
          "pairs": {"files": {str(comb): "events"}, "metadata": {
              "dataset": "pairs", "kind": "combinatorial", "pot": pot}}}
    with runner.open_executor("iterative") as exe:
        out, _ = runner.run_processor(fs, PROCESSORS["mumu"](), exe)
    # the processors' MC scaling (Truth_weight x N_POT / pot) puts the pairs at N_POT
    scale = pot / B.geometry.N_POT
    est = B.cutflow_count(out["pairs"], "pid", "pairs").scaled(scale)
    ref = B.cutflow_count(out["ov"], "pid", "overlaps")
    assert ref.n_eff > 300  # ~4% statistical precision of the reference
    assert est.value == pytest.approx(ref.value, rel=0.2)
    assert 15 < ref.value < 40  # the calibration: ~26 selected mu+mu- vertices
