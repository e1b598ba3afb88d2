"""The processors on samples of the project's own fast simulation (generators + writer)."""

import numpy as np
import pytest

from na62dump.simulation.generators import generate
from na62dump.simulation.writer import write_ntuple
from processors import EEProcessor, HadronicProcessor, MuMuProcessor


def _sample(tmp_path, kind, params, size, seed):
    path = tmp_path / f"{kind}_{seed}.root"
    return write_ntuple(path, generate(kind, params, size, np.random.default_rng(seed)))


def _cf(out):
    return dict(zip(out["cutflow"]["names"], out["cutflow"]["unweighted"], strict=True))


@pytest.mark.parametrize(("channel", "proc", "mass"), [("ee", EEProcessor, 0.1),
                                                       ("mumu", MuMuProcessor, 0.4)])  # fmt: skip
def test_signal_efficiency_and_mass_peak(tmp_path, run_processor, channel, proc, mass):
    params = {"model": "dark_photon", "production": "brems", "channel": channel,
              "mass_gev": mass}  # fmt: skip
    path = _sample(tmp_path, "signal", params, 600, 3)
    out = run_processor(proc(), path, kind="signal")
    cf = _cf(out)
    assert cf["all"] == 600
    # selection + trigger efficiency for decays forced in the FV: of order 10-20%
    eff = cf["SR"] / cf["all"]
    assert 0.05 < eff < 0.35
    # the SR costs little signal once everything else is applied (published ~1.7% for ee)
    assert cf["SR"] / cf["veto"] > 0.95
    sig = out["signal"]
    assert sig["generated"].sum().value == 600
    assert sig["accepted"].sum().value == cf["SR"]
    res = sig["resolution"][channel, sum, sum, :]
    assert abs(np.average(res.axes[0].centers, weights=res.values())) < 0.02
    m = out["hists"]["mass"][channel, :]
    peak = m.axes[0].centers[np.argmax(m.values())]
    assert peak == pytest.approx(mass, abs=0.01)


@pytest.mark.slow
def test_prompt_ee_vertices_and_veto_rejection(tmp_path, run_processor):
    """Published: 59.9 +- 6.7 e+e- PID vertices in the FV at 1.4e17 POT, ~1% survive vetoes."""
    path = _sample(tmp_path, "prompt", {}, 1.4e17, 11)
    cf = _cf(run_processor(EEProcessor(), path, kind="prompt", pot=1.4e17))
    assert 35 < cf["pid"] < 95
    assert cf["veto"] <= 0.05 * cf["pid"]


def test_hadronic_pipipi0_signal(tmp_path, run_processor):
    params = {"model": "dark_photon", "production": "brems", "channel": "pipipi0",
              "mass_gev": 0.8}  # fmt: skip
    path = _sample(tmp_path, "signal", params, 600, 4)
    out = run_processor(HadronicProcessor(), path, kind="signal")
    cf = _cf(out)
    assert cf["pipipi0:SR"] > 0.02 * cf["all"]
    # the exclusive states take far fewer events than the generated one
    assert cf["pipipi0pi0:SR"] + cf["kk:SR"] + cf["kkpi0:SR"] < 0.2 * cf["pipipi0:SR"]
    m = out["hists"]["mass"]["pipipi0", :]
    assert m.axes[0].centers[np.argmax(m.values())] == pytest.approx(0.8, abs=0.02)
    acc = out["signal"]["accepted"]
    assert acc["pipipi0", sum, sum].value == cf["pipipi0:SR"]


@pytest.mark.slow
@pytest.mark.parametrize("channel", ["ee", "hadronic"])
def test_artefact_layout_on_the_tiny_campaign(tiny_campaign, channel):
    """docs/artefacts.md Stage 2 on every dataset of the tiny campaign, through the Runner."""
    from coffea import processor

    from na62dump.schema import NA62Schema
    from processors import PROCESSORS

    fileset = tiny_campaign.fileset([channel])
    for entry in fileset.values():  # coffea reserves "dataset" (it sets it itself)
        entry["metadata"] = {k: v for k, v in entry["metadata"].items() if k != "dataset"}
    run = processor.Runner(processor.IterativeExecutor(), schema=NA62Schema, chunksize=100_000)
    out = run(fileset, processor_instance=PROCESSORS[channel]())
    assert set(out) == set(fileset)
    states = [s.name for s in PROCESSORS[channel].states]
    for name, o in out.items():
        kind = fileset[name]["metadata"]["kind"]
        cf = o["cutflow"]
        assert cf["names"][:5] == ["all", "trigger", "two_tracks", "vertex", "fv"]
        assert len(cf["names"]) == len(cf["unweighted"]) == len(cf["weighted"])
        u = cf["unweighted"]
        assert all(u[i] >= u[i + 1] for i in range(4))  # the common steps are nested
        assert set(o["hists"]) == {"mass", "pointing", "vertex", "momentum", "eop", "dt"}
        assert list(o["hists"]["mass"].axes["state"]) == states
        assert ("signal" in o) == (kind == "signal")
        if kind == "signal":
            gen = o["signal"]["generated"]
            assert gen.sum(flow=True).value == o["signal"]["n_generated"] == cf["unweighted"][0]
            # only particles with p_z < 10 MeV (backward ones included) leave the axis range
            assert gen.sum().value >= 0.9 * cf["unweighted"][0]
        if kind == "pseudo_data":
            assert o["regions"] == {"CR": None, "SR": None} and o["unblinded"] is False
            assert not any(n.endswith("SR") for n in cf["names"])


@pytest.fixture(scope="module")
def samples_of_every_kind(tmp_path_factory):
    """One small file per dataset kind the processors know, with its metadata."""
    tmp = tmp_path_factory.mktemp("kinds")
    signal = {"model": "dark_photon", "production": "brems", "channel": "ee", "mass_gev": 0.1}
    made = {}
    for seed, (kind, params, size, meta) in enumerate([
        ("signal", signal, 300, {}),
        ("prompt", {}, 3e14, {"pot": 3e14}),
        ("q1_control", {}, 1e15, {}),
        ("pseudo_data", {}, 1e15, {}),
    ]):  # fmt: skip
        made[kind] = (_sample(tmp, kind, params, size, seed), {"kind": kind, **meta})
    return made


@pytest.mark.parametrize("kind", ["signal", "prompt", "q1_control", "pseudo_data"])
@pytest.mark.parametrize("unblind", [False, True])
def test_processors_read_exactly_the_branches_they_declare(samples_of_every_kind, kind, unblind):
    """``branches(meta)`` is what the runner has coffea preload: a chunk must read all of
    them (present in the file) and nothing else."""
    import uproot
    from coffea.nanoevents import NanoEventsFactory

    from na62dump.schema import NA62Schema
    from processors import PROCESSORS

    path, meta = samples_of_every_kind[kind]
    with uproot.open(path) as f:
        in_file = set(f["events"].keys())
    for name, cls in PROCESSORS.items():
        proc = cls(unblind=unblind)
        log = []
        events = NanoEventsFactory.from_root(
            {str(path): "events"}, schemaclass=NA62Schema, mode="virtual", access_log=log,
            metadata={"dataset": "d", "filename": str(path), **meta},
        ).events()  # fmt: skip
        proc.process(events)
        read = {a.branch for a in log}
        assert read == set(proc.branches(meta)) & in_file, (name, kind)
        assert read, (name, kind)
