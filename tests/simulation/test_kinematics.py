"""Kinematics: boosts, two-body and n-body decays conserve four-momentum and masses."""

import numpy as np
import pytest
import vector

from na62dump.simulation import kinematics as k


@pytest.fixture
def parents():
    rng = np.random.default_rng(2)
    n = 2000
    return k.four_momentum(rng.normal(0, 0.3, n), rng.normal(0, 0.3, n),
                           rng.uniform(10, 300, n), 0.8)


def test_boost_agrees_with_vector(parents):
    rng = np.random.default_rng(3)
    p = k.four_momentum(*rng.normal(0, 1, (3, 50)), 0.14)
    beta = k.beta_of(parents[:50])
    ours = k.boost(p, beta)
    v = vector.array({"px": p[:, 0], "py": p[:, 1], "pz": p[:, 2], "E": p[:, 3]})
    b = vector.array({"x": beta[:, 0], "y": beta[:, 1], "z": beta[:, 2]})
    ref = v.boost_beta3(b)
    np.testing.assert_allclose(ours[:, 2], ref.pz, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours[:, 3], ref.E, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("angular", ["isotropic", "transverse"])
def test_two_body_conserves_four_momentum(parents, angular):
    rng = np.random.default_rng(4)
    d1, d2 = k.two_body_decay(parents, k.M_MU, k.M_MU, rng, angular=angular)
    np.testing.assert_allclose(d1 + d2, parents, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(k.invariant_mass(d1), k.M_MU, rtol=1e-6)
    np.testing.assert_allclose(k.invariant_mass(d1 + d2), 0.8, rtol=1e-10)


def test_transverse_angular_distribution():
    c = k.sample_cos_transverse(200_000, np.random.default_rng(5))
    assert np.all(np.abs(c) <= 1.0 + 1e-12)
    # <cos^2> of 1 + cos^2 is 2/5 (isotropic: 1/3)
    assert abs(np.mean(c * c) - 0.4) < 0.005


@pytest.mark.parametrize("masses", [
    (k.M_PI, k.M_PI, k.M_PI0), (k.M_PI, k.M_PI, k.M_PI0, k.M_PI0), (k.M_K, k.M_K, k.M_PI0)])
def test_phase_space_conserves_four_momentum(masses):
    rng = np.random.default_rng(6)
    parent = k.four_momentum(np.zeros(500), np.zeros(500), np.full(500, 60.0), 1.3)
    d = k.phase_space_decay(parent, masses, rng)
    assert d.shape == (500, len(masses), 4)
    np.testing.assert_allclose(d.sum(axis=1), parent, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(k.invariant_mass(d), np.broadcast_to(masses, (500, len(masses))),
                               rtol=1e-5, atol=1e-6)


def test_phase_space_dalitz_is_flat():
    """Three-body phase space is uniform in the Dalitz plane: m12^2 density is its projection."""
    rng = np.random.default_rng(7)
    m = 1.0
    parent = k.four_momentum(np.zeros(100_000), np.zeros(100_000), np.zeros(100_000), m)
    d = k.phase_space_decay(parent, (0.1, 0.1, 0.1), rng)
    m12sq = k.invariant_mass(d[:, 0] + d[:, 1]) ** 2
    # analytic projection: proportional to the m23^2 range at fixed m12^2, integrated per bin
    edges = np.linspace(0.04, 0.81, 12)
    fine = np.linspace(edges[0], edges[-1], 11 * 400 + 1)
    c = 0.5 * (fine[1:] + fine[:-1])
    m12 = np.sqrt(c)
    e2 = m12 / 2
    e3 = (m * m - c - 0.01) / (2 * m12)
    width = 4 * np.sqrt(np.clip(e2**2 - 0.01, 0, None)) * np.sqrt(np.clip(e3**2 - 0.01, 0, None))
    width = width.reshape(11, 400).sum(axis=1)
    hist, _ = np.histogram(m12sq, edges)
    expected = width / width.sum() * hist.sum()
    assert np.all(np.abs(hist - expected) < 5 * np.sqrt(expected) + 10)


def test_phase_space_below_threshold():
    parent = k.four_momentum([0.0], [0.0], [10.0], 0.3)
    with pytest.raises(ValueError, match="below"):
        k.phase_space_decay(parent, (k.M_PI, k.M_PI, k.M_PI0), np.random.default_rng(1))


def test_neutral_meson_decay_to_photons():
    rng = np.random.default_rng(8)
    p4 = k.four_momentum([0.1, 0.0], [0.0, 0.2], [20.0, 30.0], [k.M_PI0, k.M_ETA])
    parts = k.Particles.from_p4([0, 1], [k.PDG_PI0, k.PDG_ETA], 0, p4, np.zeros((2, 3)), 0.0)
    out = k.decay_neutral_mesons(parts, rng)
    assert len(out) == 4 and np.all(out.pdg == k.PDG_PHOTON)
    assert sorted(out.event.tolist()) == [0, 0, 1, 1]
    for ev, mass in ((0, k.M_PI0), (1, k.M_ETA)):
        sel = out.event == ev
        np.testing.assert_allclose(k.invariant_mass(out.p4[sel].sum(axis=0)), mass, rtol=1e-9)


def test_boost_of_blocks_equals_boost_of_rows():
    """(events, daughters, 4) blocks with one velocity per event (compiled without broadcast
    copies) give bit-identical results to the row-by-row boost, also for strided views."""
    rng = np.random.default_rng(3)
    p4 = k.four_momentum(*rng.normal(0, 0.2, (3, 500, 3)), 0.14)  # (500, 3, 4)
    beta = rng.uniform(-0.5, 0.5, (500, 1, 3))
    beta[:5] = 0.0
    for block in (p4, p4[:, :2]):
        rows = k.boost(block.reshape(-1, 4),
                       np.broadcast_to(beta, (*block.shape[:2], 3)).reshape(-1, 3))
        assert np.array_equal(k.boost(block, beta), rows.reshape(block.shape))
