"""The registry of final states (na62dump.finalstates): consistent with the code that
implements each fact, and the one source of every stage's list."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from na62dump import finalstates as fs
from na62dump.codes import Channel, Model


def test_records_are_consistent_with_the_code_that_implements_them():
    from na62dump.selection.config import DEFAULT_CUTS, TRACK_MASS
    from na62dump.simulation.kinematics import SPECIES
    from na62dump.stats.workspace import BACKGROUND_MODELS
    from processors import PROCESSORS

    keys = [s.key for s in fs.FINAL_STATES]
    codes = [s.code for s in fs.FINAL_STATES]
    assert len(set(keys)) == len(keys) and codes == sorted(set(codes))
    model_names = {m.name.lower() for m in Model} - {"none"}
    assert set(fs.MODELS) == model_names
    # a reading of another model's samples has no Truth_model code and reads a simulated model
    assert not set(fs.READS_SAMPLES_OF) & model_names
    assert set(fs.READS_SAMPLES_OF.values()) <= set(fs.MODELS)
    charge = {"electron": "e+", "muon": "mu+", "pion": "pi+", "kaon": "K+"}
    for s in fs.FINAL_STATES:
        assert all(d in SPECIES for d in s.daughters), s.key
        assert sum(SPECIES[d][2] for d in s.daughters) == 0, s.key
        assert set(s.models) <= set(fs.SCANNED_MODELS), s.key
        if not s.is_signal:
            assert not (s.models or s.pid or s.stats_channel or s.exclusive), s.key
            continue
        assert s.pid in fs.PIDS and s.pid in TRACK_MASS
        assert s.daughters[0] == charge[s.pid], s.key  # the PID is that of the tracks
        assert s.stats_channel in BACKGROUND_MODELS
        lo, hi = s.mass_range_gev
        assert 0 < lo < hi
        assert s.analysis in {a.name for a in fs.ANALYSES}
        assert s.leptonic == (not s.exclusive)  # leptons: no neutral requirement
    for a in fs.ANALYSES:
        proc = PROCESSORS[a.name]
        assert proc.channel == a.name and proc.cuts_class is DEFAULT_CUTS[a.name]
        assert proc.cuts_class.__name__ == a.cuts
        assert a.states, a.name


@pytest.mark.parametrize(("model", "module"), [("dark_photon", "dark_photon"),
                                               ("dark_scalar", "scalar"),
                                               ("alp_gluon", "alp_gluon")])
def test_models_decay_where_their_physics_has_a_branching_ratio(model, module):
    """``models`` of each state is what the physics module gives a width to (the ALP of
    B -> K a has a free BR: its states are checked against parity in test_alp)."""
    import importlib

    phys = importlib.import_module(f"na62dump.physics.{module}")
    with_br = tuple(s.key for s in fs.SIGNAL_STATES if s.key in phys.STATES)
    assert fs.decays_of(model) == with_br


def test_the_known_registry_views():
    assert [s.key for s in fs.states_of("ee")] == ["ee"]
    assert fs.by_key("pipi").kshort_mask and fs.by_key("pipi").neutrals == (0, 0, 0)
    assert fs.by_key("ee").neutrals is None
    assert Channel.PIPIETA.final_state is fs.by_key("pipieta")
    assert fs.by_key("mupi").analysis is None and Channel.MUPI == 10
    with pytest.raises(KeyError, match="unknown final state 'xx'"):
        fs.by_key("xx")
    with pytest.raises(KeyError, match="unknown analysis channel"):
        fs.states_of("leptonic")


#: Adds a hypothetical K+K-gamma state to the registry, then imports every stage.
_ADD_STATE = textwrap.dedent("""
    import json
    import na62dump.finalstates as fs
    new = fs.FinalState("kkgamma", 11, ("K+", "K-", "gamma"), r"K^+K^-\\gamma",
                        analysis="hadronic", pid="kaon", exclusive=True,
                        stats_channel="hadronic", mass_range_gev=(0.3, 2.0),
                        combinatorial=True, models=("dark_photon", "alp"))
    fs.FINAL_STATES += (new,)
    fs.SIGNAL_STATES += (new,)
    fs._BY_KEY[new.key] = new

    from na62dump import backgrounds, plotting
    from na62dump.codes import Channel
    from na62dump.commands import limits
    from na62dump.physics import alp
    from na62dump.selection.neutrals import NEUTRAL_CONTENT
    from na62dump.simulation import campaign, signal
    from na62dump.stats.workspace import CHANNELS
    from processors import PROCESSORS

    states = {s.name: s for s in PROCESSORS["hadronic"].states}
    print(json.dumps({
        "channel": [int(Channel.KKGAMMA), list(Channel.KKGAMMA.daughters)],
        "processor": [states["kkgamma"].pid, states["kkgamma"].track_mass,
                      states["kkgamma"].neutrals],
        "neutrals": NEUTRAL_CONTENT["kkgamma"],
        "simulation": "kkgamma" in signal.CHANNELS,
        "validate": int(signal.validate("dark_photon", "brems", "kkgamma", 1.2)[2]),
        "campaign": campaign.FINAL_STATE_TO_ANALYSIS["kkgamma"],
        "stats": CHANNELS["kkgamma"].mass_range_gev,
        "model_states": "kkgamma" in limits.model_states("dark_photon"),
        "combination": "kkgamma" in limits.combinations("dark_photon")["hadronic"],
        "alp": "kkgamma" in alp.FINAL_STATES,
        "combinatorial": backgrounds.COMBINATORIAL_CHANNELS,
        "latex": plotting.STATE_LATEX["kkgamma"],
    }))
""")


def test_a_state_added_to_the_registry_reaches_every_stage():
    """Each stage's list is a view of the registry: a new record is seen by the codes, the
    processor, the neutral selection, the simulation, the campaign, the statistics, the
    limits, the ALP physics, the background stage and the figures (a fresh interpreter, so
    that every module builds its views from the extended registry)."""
    out = subprocess.run([sys.executable, "-c", _ADD_STATE], capture_output=True, text=True,
                         check=True)  # fmt: skip
    got = json.loads(out.stdout.splitlines()[-1])
    from na62dump.selection.config import M_KAON

    assert got == {
        "channel": [11, ["K+", "K-", "gamma"]],
        "processor": ["kaon", M_KAON, True],
        "neutrals": [1, 0, 0],
        "simulation": True,
        "validate": 11,
        "campaign": "hadronic",
        "stats": [0.3, 2.0],
        "model_states": True,
        "combination": True,
        "alp": True,
        "combinatorial": ["ee", "mumu", "hadronic"],
        "latex": r"K^+K^-\gamma",
    }


def test_the_docs_table_is_the_registry():
    """docs/finalstates.md: one row per record, with the record's values."""
    from pathlib import Path

    doc = Path(__file__).resolve().parent.parent / "docs" / "finalstates.md"
    rows = {}
    for line in doc.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells[1:]
    assert list(rows) == [s.key for s in fs.FINAL_STATES]

    def dash(v):
        return "-" if v in (None, ()) else v

    for s in fs.FINAL_STATES:
        neutrals = dash(s.neutrals and ", ".join(map(str, s.neutrals)))
        mass = dash(s.mass_range_gev and f"{s.mass_range_gev[0]} - {s.mass_range_gev[1]}")
        assert rows[s.key] == [
            str(s.code), " ".join(s.daughters), dash(s.analysis), dash(s.pid), neutrals,
            dash(s.stats_channel), mass, "yes" if s.combinatorial else "no",
            "yes" if s.kshort_mask else "no", dash(", ".join(s.models) or None),
        ], s.key
