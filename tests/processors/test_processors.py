import awkward as ak
import numpy as np
import pytest
from coffea import processor

from na62dump.errors import InputError
from na62dump.schema import NA62Schema
from na62dump.selection.config import M_PI0, EECuts, MuMuCuts
from processors import PROCESSORS, EEProcessor, HadronicProcessor, MuMuProcessor, PiPiProcessor
from tests.processors.builders import (
    Daughter,
    Event,
    decay_from_tax,
    event_branches,
    write_events,
    write_raw,
)


def _truth(mass, p, z):
    return {"model": 1, "mode": 0, "channel": 1, "mass": mass, "pz": p, "prodZ": 24.0,
            "decayZ": z, "zMin": 102.4, "zMax": 181.0, "weight": 1.0}  # fmt: skip


def _cf(out):
    return dict(zip(out["cutflow"]["names"], out["cutflow"]["unweighted"], strict=True))


def test_processors_registry_and_cut_type_check():
    assert set(PROCESSORS) == {"ee", "mumu", "pipi", "hadronic"}
    with pytest.raises(InputError, match="EECuts"):
        EEProcessor(cuts=MuMuCuts())


def test_ee_signal_event_in_sr_with_truth_hists(tmp_path, run_processor):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    # displaced by 50 mm perpendicular to the (2, 1) transverse flight direction: CDA_TAX 50 mm
    perp = (-0.05 / np.sqrt(5.0), 0.1 / np.sqrt(5.0))
    v_cr, ds_cr = decay_from_tax(150.0, 0.1, 60.0, offset=perp)
    events = [
        Event(v, ds, truth=_truth(0.1, 60.0, 150.0)),
        Event(v, ds, lav_times=[2.0], truth=_truth(0.1, 60.0, 150.0)),  # LAV veto
        Event(v, ds, anti0=[(0.0, 0.0, 1.0)], truth=_truth(0.1, 60.0, 150.0)),  # ANTI0
        Event(v, ds, trig_H2=False, truth=_truth(0.1, 60.0, 150.0)),
        Event(v_cr, ds_cr, truth=_truth(0.1, 60.0, 150.0)),
    ]
    path = write_events(tmp_path / "ee.root", events, truth=True)
    out = run_processor(EEProcessor(), path, kind="signal")
    cf = _cf(out)
    assert cf == {"all": 5, "trigger": 4, "two_tracks": 4, "vertex": 4, "fv": 4, "pid": 4,
                  "veto": 2, "CR": 1, "SR": 1}  # fmt: skip
    h = out["hists"]
    assert h["mass"].sum().value == 2
    mass_axis = h["mass"].axes["mass"]
    assert mass_axis.centers[np.argmax(h["mass"]["ee", :].values())] == pytest.approx(
        0.1, abs=0.005
    )
    assert h["vertex"]["ee", :, :, True].sum().value == 4  # 4 vertices with PID
    assert h["momentum"].sum().value == 4  # two tracks per selected event
    sig = out["signal"]
    assert sig["generated"].sum().value == sig["n_generated"] == 5
    assert sig["accepted"].sum().value == 1
    res = sig["resolution"]["ee", sum, sum, :]
    assert res.axes[0].centers[np.argmax(res.values())] == pytest.approx(0.0, abs=0.01)


def test_mumu_uses_lav_but_not_anti0(tmp_path, run_processor):
    v, ds = decay_from_tax(150.0, 0.4, 60.0, charge_kind="mu")
    events = [Event(v, ds), Event(v, ds, anti0=[(0.0, 0.0, 1.0)]), Event(v, ds, lav_times=[1.0])]
    path = write_events(tmp_path / "mm.root", events)
    cf = _cf(run_processor(MuMuProcessor(), path, kind="prompt"))
    assert cf["pid"] == 3 and cf["veto"] == 2 and cf["SR"] == 2
    # electrons are not muons
    v, ds = decay_from_tax(150.0, 0.4, 60.0, charge_kind="e")
    path = write_events(tmp_path / "ee.root", [Event(v, ds)])
    assert _cf(run_processor(MuMuProcessor(), path, kind="prompt"))["pid"] == 0


def test_cuts_change_the_selection_without_editing_the_processor(tmp_path, run_processor):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)  # two 30 GeV tracks
    path = write_events(tmp_path / "ee.root", [Event(v, ds)])
    assert _cf(run_processor(EEProcessor(), path, kind="prompt"))["SR"] == 1
    assert (
        _cf(run_processor(EEProcessor(cuts=EECuts(p_min_gev=31.0)), path, kind="prompt"))[
            "two_tracks"
        ]
        == 0
    )


def test_prompt_weight_is_pot_scaling(tmp_path, run_processor):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    path = write_events(tmp_path / "ee.root", [Event(v, ds)], truth=True)
    out = run_processor(EEProcessor(), path, kind="prompt", pot=1.4e16)
    assert out["cutflow"]["weighted"][0] == pytest.approx(10.0)
    assert out["hists"]["mass"].sum().value == pytest.approx(10.0)


def test_blinding_of_pseudo_data(tmp_path, run_processor):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)  # points to the TAX: SR
    v_out, ds_out = decay_from_tax(150.0, 0.1, 60.0, offset=(0.0, 0.3))  # outside SR and CR
    path = write_events(tmp_path / "data.root", [Event(v, ds), Event(v_out, ds_out)])
    blind = run_processor(EEProcessor(), path, kind="pseudo_data")
    assert blind["unblinded"] is False
    assert blind["regions"] == {"CR": None, "SR": None}
    assert "SR" not in blind["cutflow"]["names"]
    cf = _cf(blind)
    # the steps before the last count both events; the last (the selected candidates) and the
    # histograms of selected candidates leave the SR event out
    assert cf == {"all": 2, "trigger": 2, "two_tracks": 2, "vertex": 2, "fv": 2, "pid": 2,
                  "veto": 1}  # fmt: skip
    assert blind["hists"]["mass"].sum().value == 1  # only the event outside the regions
    assert blind["hists"]["vertex"].sum().value == 4  # both vertices, with and without PID
    assert blind["candidates"] == []
    opened = run_processor(EEProcessor(unblind=True), path, kind="pseudo_data")
    assert opened["unblinded"] is True
    assert opened["regions"] == {"CR": 0, "SR": 1}
    assert opened["hists"]["mass"].sum().value == 2
    (cand,) = opened["candidates"]
    assert cand["region"] == "SR" and cand["mass"] == pytest.approx(0.1, rel=1e-5)
    assert cand["z_tax"] == pytest.approx(23.0, abs=0.5) and cand["cda_tax"] < 0.005
    # Monte Carlo is never blinded
    assert _cf(run_processor(EEProcessor(), path, kind="prompt"))["SR"] == 1


def test_blinded_outputs_do_not_give_the_number_of_masked_events(tmp_path, run_processor):
    """Two pseudo-data files, one with an event in the SR, the other with the same event
    vetoed instead (it fails the last cut): blinded, every count and histogram is the same, so
    nothing written tells a masked event from one the last cut rejected, nor their number."""
    v, ds = decay_from_tax(150.0, 0.1, 60.0)  # points to the TAX: SR
    v_out, ds_out = decay_from_tax(150.0, 0.1, 60.0, offset=(0.0, 0.3))  # outside SR and CR
    outside = Event(v_out, ds_out)
    in_sr = write_events(tmp_path / "sr.root", [Event(v, ds), outside])
    vetoed = write_events(tmp_path / "veto.root", [Event(v, ds, lav_times=[2.0]), outside])
    a = run_processor(EEProcessor(), in_sr, kind="pseudo_data")
    b = run_processor(EEProcessor(), vetoed, kind="pseudo_data")
    assert a["cutflow"] == b["cutflow"]
    for name, h in a["hists"].items():
        assert h == b["hists"][name], name
    # unblinded they differ: one SR event against none
    assert run_processor(EEProcessor(unblind=True), in_sr, kind="pseudo_data")["regions"][
        "SR"] == 1
    assert run_processor(EEProcessor(unblind=True), vetoed, kind="pseudo_data")["regions"][
        "SR"] == 0


def test_pipi_masks_the_kshort_window_in_data(tmp_path, run_processor):
    v_ks, ds_ks = decay_from_tax(150.0, 0.4976, 80.0, charge_kind="pi", offset=(0.0, 0.3))
    v, ds = decay_from_tax(150.0, 0.6, 80.0, charge_kind="pi", offset=(0.0, 0.3))
    path = write_events(tmp_path / "pp.root", [Event(v_ks, ds_ks), Event(v, ds)])
    out = run_processor(PiPiProcessor(), path, kind="pseudo_data")
    assert out["hists"]["mass"].sum().value == 1
    cf = _cf(out)
    assert cf["all"] == 2 and cf["neutrals"] == 1  # the K_S candidate leaves the last step
    mc = _cf(run_processor(PiPiProcessor(), path, kind="prompt"))
    assert mc["neutrals"] == 2 and mc["SR"] == 0 and mc["CR"] == 0


def test_hadronic_pipipi0(tmp_path, run_processor):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    # A -> pi+ pi- pi0 built by hand: two pions and two photons of a pi0 from the vertex
    pions = [Daughter(1, (0.06, 0.0, 30.0), "pi"), Daughter(-1, (-0.06, 0.002, 30.0), "pi")]
    e_g = 10.0
    half = np.arcsin(M_PI0 / (2 * e_g))
    photons = [
        Daughter(0, (e_g * np.sin(half), 0.03, e_g * np.cos(half)), "gamma"),
        Daughter(0, (-e_g * np.sin(half), 0.03, e_g * np.cos(half)), "gamma"),
    ]
    path = write_events(tmp_path / "h.root", [Event(v, pions + photons), Event(v, pions)])
    out = run_processor(HadronicProcessor(), path, kind="prompt")
    cf = _cf(out)
    assert cf["pipipi0:pid"] == 2 and cf["pipipi0:neutrals"] == 1
    assert cf["pipigamma:neutrals"] == 0 and cf["kk:pid"] == 0
    h = out["hists"]["mass"]
    assert h["pipipi0", :].sum().value == 1 and h.sum().value == 1
    # and the pi+pi- processor takes the event without photons only
    assert _cf(run_processor(PiPiProcessor(), path, kind="prompt"))["neutrals"] == 1


def test_missing_branch_raises_input_error(tmp_path, run_processor):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    path = write_events(tmp_path / "bad.root", [Event(v, ds)], drop=("Track_chi2",))
    with pytest.raises(InputError, match=r"bad\.root.*Track_chi2"):
        run_processor(EEProcessor(), path, kind="prompt")
    branches = event_branches([Event(v, ds)])
    branches["Cluster_energy"] = ak.Array([[np.nan, 1.0]])
    path = write_raw(tmp_path / "nan.root", branches)
    with pytest.raises(InputError, match=r"nan\.root.*Cluster_energy"):
        run_processor(EEProcessor(), path, kind="prompt")
    path = write_events(tmp_path / "notruth.root", [Event(v, ds)], truth=False)
    with pytest.raises(InputError, match="Truth_"):
        run_processor(EEProcessor(), path, kind="signal")


@pytest.mark.slow
def test_iterative_and_futures_executors_agree(tmp_path):
    v, ds = decay_from_tax(150.0, 0.1, 60.0)
    events = [Event(v, ds), Event(v, ds, lav_times=[0.0]), Event(v, ds[:1])] * 3
    path = write_events(tmp_path / "ee.root", events)
    fileset = {"p": {"files": {str(path): "events"}, "metadata": {"kind": "prompt"}}}
    outs = []
    for ex in (processor.IterativeExecutor(), processor.FuturesExecutor(workers=2)):
        run = processor.Runner(ex, schema=NA62Schema, chunksize=4)
        outs.append(run(fileset, processor_instance=EEProcessor())["p"])
    assert outs[0]["cutflow"] == outs[1]["cutflow"]
    assert outs[0]["cutflow"]["unweighted"][0] == 9
    assert outs[0]["hists"]["mass"] == outs[1]["hists"]["mass"]


@pytest.mark.parametrize("kind", ["pseudo_data", "signal"])
def test_empty_file(tmp_path, run_processor, kind):
    from na62dump.simulation.writer import empty_branches, write_ntuple

    path = write_ntuple(tmp_path / "empty.root", empty_branches(0, truth=kind == "signal"))
    out = run_processor(HadronicProcessor(), path, kind=kind)
    assert set(out["cutflow"]["unweighted"]) == {0}
    assert out["hists"]["mass"].sum().value == 0
    assert ("signal" in out) == (kind == "signal")
