"""The generator registry: the ntuple contract, determinism, parameters, metadata."""

import awkward as ak
import numpy as np
import pytest

from na62dump.errors import InputError
from na62dump.ntuple import COLLECTIONS, EVENT_BRANCHES, TRUTH_BRANCHES
from na62dump.simulation.generators import GENERATORS, generate, sample_metadata

SIGNAL = {"model": "dark_photon", "production": "brems", "channel": "ee", "mass_gev": 0.2}
CASES = [
    ("signal", SIGNAL, 200),
    ("signal", {**SIGNAL, "production": "eta", "channel": "pipipi0", "mass_gev": 0.45}, 100),
    ("signal", {**SIGNAL, "production": "omega", "channel": "pipigamma", "mass_gev": 0.5}, 100),
    ("prompt", {}, 2e16),
    ("prompt", {"channels": ["mumu"]}, 2e16),
    ("q1_control", {}, 2e16),
    ("upstream", {"process": "k3pi"}, 2e17),
    ("upstream", {"process": "ks"}, 2e16),
    ("upstream", {"process": "interaction"}, 2e16),
    ("pseudo_data", {}, 2e16),
]


def test_registry_kinds():
    assert set(GENERATORS) == {"signal", "prompt", "q1_control", "combinatorial", "upstream",
                               "pseudo_data"}


@pytest.mark.parametrize(("kind", "params", "size"), CASES)
def test_branches_follow_the_contract(kind, params, size):
    out = generate(kind, params, size, np.random.default_rng(1))
    names = set(EVENT_BRANCHES) | {f"{c}_{f}" for c, fs in COLLECTIONS.items() for f in fs}
    if GENERATORS[kind].truth:
        names |= set(TRUTH_BRANCHES)
    assert set(out) == names
    n = len(out["run"])
    assert n > 0
    for name, v in out.items():
        assert len(v) == n, name
        flat = ak.to_numpy(ak.flatten(v)) if isinstance(v, ak.Array) else np.asarray(v)
        assert not np.any(np.isnan(flat.astype(float))), name
    if kind == "signal":
        assert n == size
    else:  # only triggered events are written
        assert np.all(out["trig_H2"] | out["trig_Q1"] | out["trig_control"])
    assert np.array_equal(out["event"], np.arange(n))


@pytest.mark.parametrize(("kind", "params", "size"), [CASES[0], CASES[-1]])
def test_deterministic(kind, params, size):
    a = generate(kind, params, size, np.random.default_rng(7))
    b = generate(kind, params, size, np.random.default_rng(7))
    c = generate(kind, params, size, np.random.default_rng(8))
    for key in a:
        if isinstance(a[key], ak.Array):
            assert ak.to_list(a[key]) == ak.to_list(b[key])
        else:
            assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a["trigger_time"][:5], c["trigger_time"][:5]) or \
        len(a["trigger_time"]) != len(c["trigger_time"])


def test_writes_with_the_campaign_writer(tmp_path):
    import uproot

    from na62dump.simulation.writer import write_ntuple

    out = generate("signal", SIGNAL, 50, np.random.default_rng(2))
    path = write_ntuple(tmp_path / "s.root", out)
    with uproot.open(path) as f:
        t = f["events"]
        assert t.num_entries == 50
        assert np.array_equal(t["nTrack"].array(library="np"), ak.to_numpy(ak.num(
            out["Track_px"])))


@pytest.mark.parametrize(("kind", "params", "match"), [
    ("signal", {**SIGNAL, "mass_gev": 0.0005}, "mass_gev"),
    ("signal", {k: v for k, v in SIGNAL.items() if k != "channel"}, "missing"),
    ("signal", {**SIGNAL, "colour": 1}, "unknown"),
    ("signal", {**SIGNAL, "angular": "transverse", "channel": "pipipi0", "mass_gev": 0.5},
     "two-body"),
    ("upstream", {"process": "k4pi"}, "process"),
    ("prompt", {"channels": ["tautau"]}, "channels"),
    ("nonsense", {}, "kind"),
])
def test_bad_parameters(kind, params, match):
    with pytest.raises(InputError, match=match):
        generate(kind, params, 10, np.random.default_rng(3))


@pytest.mark.parametrize("size", [-1, float("nan"), "many"])
def test_bad_size(size):
    with pytest.raises(InputError, match="size"):
        generate("prompt", {}, size, np.random.default_rng(3))


def test_signal_size_must_be_whole():
    with pytest.raises(InputError, match="whole"):
        generate("signal", SIGNAL, 10.5, np.random.default_rng(3))


def test_metadata():
    meta = sample_metadata("signal", SIGNAL)
    assert meta["z_range_m"] == [102.4, 181.0]
    assert meta["production_code"] == 0 and meta["channel_code"] == 1
    q1 = sample_metadata("q1_control", {})
    assert q1["q1_downscale"] == 20 and q1["live_time_s_per_pot"] > 0
    assert sample_metadata("upstream", {"process": "ks"})["production_code"] == 23
    with pytest.raises(InputError):
        sample_metadata("upstream", {"process": "x"})


@pytest.mark.parametrize(("kind", "params"), [("signal", SIGNAL), ("prompt", {}),
                                              ("pseudo_data", {})])
def test_empty_samples(kind, params, tmp_path):
    from na62dump.simulation.writer import write_ntuple

    out = generate(kind, params, 0, np.random.default_rng(4))
    assert len(out["run"]) == 0 and len(out["Track_px"]) == 0
    write_ntuple(tmp_path / "empty.root", out)


def test_background_chunks_do_not_change_the_sample_size(monkeypatch):
    from na62dump.simulation import background_gen as bg

    monkeypatch.setattr(bg, "CHUNK_EVENTS", 97)
    out = generate("q1_control", {}, 2e16, np.random.default_rng(5))
    n_small = len(out["run"])
    monkeypatch.setattr(bg, "CHUNK_EVENTS", 100_000)
    n_big = len(generate("q1_control", {}, 2e16, np.random.default_rng(5))["run"])
    # same Poisson count of muons; triggered fractions agree within fluctuations
    assert abs(n_small - n_big) < 5 * np.sqrt(n_big)
