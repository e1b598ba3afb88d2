"""Model-independent ALP from B -> K(*) a: parameters, final states, sampler."""

import numpy as np
import pytest
from scipy import stats

from na62dump.errors import InputError
from na62dump.physics import alp, bmesons, sampling


def test_final_states_follow_thresholds_and_parity():
    assert alp.allowed_final_states(0.05) == ("ee",)
    assert alp.allowed_final_states(0.25) == ("ee", "mumu")
    states = alp.allowed_final_states(1.5)
    assert set(states) == set(alp.FINAL_STATES)
    assert not set(alp.FORBIDDEN_STATES) & set(states)
    assert alp.threshold("pipipi0") == pytest.approx(2 * 0.13957039 + 0.1349768, rel=1e-6)
    assert "pipipi0" not in alp.allowed_final_states(0.41)
    assert "pipipi0" in alp.allowed_final_states(0.42)


def test_production_is_b_yield_times_br_product():
    assert alp.n_produced_per_pot(1e-7) == pytest.approx(bmesons.B_PER_POT * 1e-7)
    # the B yield derived once in bmesons (4.3e-7 B+/B0 per POT), not a local figure
    assert alp.n_produced_per_pot(1.0) == pytest.approx(4.298e-7, rel=1e-3)
    np.testing.assert_allclose(
        alp.n_produced_per_pot(np.array([0.0, 1.0])), [0.0, bmesons.B_PER_POT]
    )


@pytest.mark.parametrize("bad", [-1e-6, 1.5, float("nan"), "x"])
def test_bad_br_product(bad):
    with pytest.raises(InputError):
        alp.n_produced_per_pot(bad)


def test_lifetime_ctau_round_trip():
    assert alp.ctau_from_lifetime(1e-9) == pytest.approx(0.299792458)
    assert alp.lifetime_from_ctau(alp.ctau_from_lifetime(3e-11)) == pytest.approx(3e-11)
    with pytest.raises(InputError):
        alp.ctau_from_lifetime(-1.0)


@pytest.mark.parametrize("mass", [0.0005, 5.0])
def test_mass_out_of_range(mass):
    with pytest.raises(InputError, match="outside"):
        alp.sample(mass, 10, np.random.default_rng(0))


def test_sampler_two_body_momentum_and_isotropy():
    n, seed, m = 40_000, 17, 0.4
    bx, by, bz = bmesons.sample_b(n, np.random.default_rng(seed), "B+")
    ax, ay, az = alp.sample(m, n, np.random.default_rng(seed))
    m_b = bmesons.M_B_CHARGED
    eb = np.sqrt(bx**2 + by**2 + bz**2 + m_b**2)
    ea = np.sqrt(ax**2 + ay**2 + az**2 + m**2)
    qx, qy, qz, qe = sampling.boost(ax, ay, az, ea, -bx / eb, -by / eb, -bz / eb)
    q = np.sqrt(qx**2 + qy**2 + qz**2)
    m_k = bmesons.KAONS["K+"][0]
    np.testing.assert_allclose(q, sampling.two_body_momentum(m_b, m, m_k), rtol=1e-6)
    assert stats.kstest(qz / q, stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # azimuth of the ALP around the beam is uniform
    assert stats.kstest(np.arctan2(ay, ax), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
