"""Background generators: normalisation per POT, halo and prompt topology, pseudo-data."""

import awkward as ak
import numpy as np
import pytest

from na62dump import geometry as g
from na62dump.codes import Production
from na62dump.simulation import background_gen as bg
from na62dump.simulation.generators import generate


def test_expected_counts_scale_with_pot():
    a = bg.expected_counts(1e16)
    b = bg.expected_counts(3e16)
    for key in a:
        assert b[key] == pytest.approx(3 * a[key], rel=1e-12), key
    assert bg.expected_counts(0.0)["overlaps"] == 0.0


def test_generated_counts_follow_pot():
    """Poisson counts of a component scale with POT (within a few sigma)."""
    pot1, pot2 = 2e16, 8e16
    n1 = len(generate("q1_control", {}, pot1, np.random.default_rng(1))["run"])
    n2 = len(generate("q1_control", {}, pot2, np.random.default_rng(2))["run"])
    assert n1 > 100
    assert abs(n2 / n1 - 4.0) < 5 * 4.0 * np.sqrt(1 / n1 + 1 / n2)


def test_combinatorial_weight_is_consistent_with_overlaps():
    """Pairs of all Q1 events weighted by the pair weight = the genuine overlap count."""
    pot = 1.4e17
    n_q1 = bg.HALO.rate_per_pot * pot / g.Q1_DOWNSCALE
    estimate = 0.5 * n_q1**2 * bg.combinatorial_pair_weight(pot)
    assert estimate == pytest.approx(bg.expected_overlaps(pot), rel=1e-12)


def test_halo_muons_come_from_upstream_and_cross_anti0():
    rng = np.random.default_rng(3)
    es = bg.halo_single(2000, rng)
    assert np.all(es.particles.z < g.ANTI0_Z) and np.all(es.particles.pdg == 13)
    out = bg._respond(es, rng, truth=False, keep_triggered=False)
    tracks = ak.num(out["Track_px"]) > 0
    assert 0.3 < np.mean(ak.to_numpy(tracks)) < 1.0
    # a muon that makes a track crossed ANTI0 (unless it missed the hodoscope)
    assert np.mean(ak.to_numpy(ak.num(out["ANTI0_x"][tracks]) > 0)) > 0.9


def test_prompt_vertex_at_the_interaction_with_lav_activity():
    rng = np.random.default_rng(4)
    es = bg.prompt_events("ee", 3000, rng, site="lav")
    t = es.truth
    assert np.all(t["mode"] == Production.PROMPT)
    # interactions at the inner edge of LAV1-5
    assert np.all(np.isin(np.round(t["decayZ"] - 0.01, 3), np.round(g.LAV_Z[:5], 3)))
    r = np.hypot(t["decayX"], t["decayY"])
    assert np.all(r >= g.LAV_R_INNER[0])
    out = bg._respond(es, rng, truth=True, keep_triggered=False)
    # the incoming muon crosses the ring: LAV activity in most events
    assert np.mean(ak.to_numpy(ak.num(out["LAV_time"]) > 0)) > 0.85
    # pair mass: NA62's e+e- background shape, ~15 MeV
    assert 0.012 < np.median(t["mass"]) < 0.025


def test_k3pi_kinematics():
    rng = np.random.default_rng(5)
    es = bg.k3pi_events(500, rng)
    p = es.particles
    pions = p.select(p.pdg == 211)
    total = np.zeros((500, 4))
    np.add.at(total, pions.event, pions.p4)
    m = np.sqrt(total[:, 3] ** 2 - np.sum(total[:, :3] ** 2, axis=1))
    np.testing.assert_allclose(m, bg.M_K, rtol=1e-8)
    assert np.sum(pions.charge) == 500  # pi+ pi+ pi-


def test_pseudo_data_has_no_truth_and_is_mostly_backgrounds():
    out = generate("pseudo_data", {}, 1e16, np.random.default_rng(6))
    assert not any(k.startswith("Truth_") for k in out)
    assert np.all(out["run"] == 202101)
    assert len(out["run"]) > 50


@pytest.mark.slow
def test_published_selection_on_the_backgrounds():
    """The channel processors on the simulated backgrounds give the published orders.

    Prompt e+e-: ~60 vertices in the FV after PID (59.9 +- 6.7 published) with ~1% surviving
    the LAV and ANTI0 vetoes; mu+mu- pseudo-data: ~26 events outside the CR (26.3 +- 3.4),
    nothing much in the CR (0.17) and SR (0.016). Samples at 3x the 2021 exposure.
    """
    from tests.simulation.physics_check import selected_counts

    pot = 3 * g.N_POT
    ee = selected_counts("prompt", {"channels": ["ee"]}, pot, seed=21, channels=("ee",))["ee"]
    assert 40 < ee["fv_pid"] < 85
    assert ee["after_veto"] < 0.05 * ee["fv_pid"]
    mumu = selected_counts("pseudo_data", {}, pot, seed=22, channels=("mumu",))["mumu"]
    assert 16 < mumu["outside_cr"] < 38
    assert mumu["CR"] <= 1.0 and mumu["SR"] <= 0.34
