"""Meson-decay production: branching ratios, rates, and the samplers' kinematics."""

import numpy as np
import pytest
from scipy import stats

from na62dump.codes import Production
from na62dump.errors import InputError
from na62dump.physics import mesons, sampling


def test_meson_names_match_production_codes():
    assert set(mesons.MESONS) <= {p.name.lower() for p in Production}


@pytest.mark.parametrize("meson", mesons.MESONS)
def test_br_tends_to_the_radiative_one_at_zero_mass(meson):
    src = mesons.source(meson)
    factor = 2.0 if src.kind == "pseudoscalar" else 1.0
    assert mesons.br_to_aprime(1e-9, meson) == pytest.approx(factor * src.br_radiative, rel=1e-9)
    assert mesons.br_to_aprime(src.threshold * 1.0001, meson) == 0.0


def test_pseudoscalar_br_formula_and_eps_scaling():
    m = 0.3
    expected = 2 * 1e-12 * (1 - m**2 / mesons.source("eta").mass ** 2) ** 3 * 0.3936
    assert mesons.br_to_aprime(m, "eta", eps=1e-6) == pytest.approx(expected, rel=1e-12)


def test_vector_br_uses_kallen_three_halves():
    src = mesons.source("omega")
    m = 0.4
    mv2, mp2, ma2 = src.mass**2, src.partner_mass**2, m * m
    lam = mv2**2 + mp2**2 + ma2**2 - 2 * (mv2 * mp2 + mv2 * ma2 + mp2 * ma2)
    expected = src.br_radiative * lam**1.5 / (mv2 - mp2) ** 3
    assert mesons.br_to_aprime(m, "omega") == pytest.approx(expected, rel=1e-12)


def test_rate_is_multiplicity_times_br_and_vectorised():
    masses = np.array([0.01, 0.1, 0.2])
    rate = mesons.rate_per_pot(masses, "pi0", eps=1e-4)
    assert rate.shape == (3,)
    assert rate[2] == 0.0  # above the pi0 mass
    assert rate[1] == pytest.approx(
        mesons.multiplicity("pi0") * mesons.br_to_aprime(0.1, "pi0", 1e-4)
    )


def test_unknown_meson_and_bad_mass():
    with pytest.raises(InputError, match="unknown meson"):
        mesons.rate_per_pot(0.1, "kaon")
    with pytest.raises(InputError):
        mesons.br_to_aprime(-0.1, "eta")
    with pytest.raises(InputError, match="threshold"):
        mesons.sample(0.2, "pi0", 10, np.random.default_rng(0))


def test_meson_spectrum_marginals():
    """x_F and p_T^2 of the meson sampler against the analytic marginals (KS)."""
    src = mesons.source("eta")
    rng = np.random.default_rng(2024)
    n = 100_000
    spec = src.spectrum
    xf = sampling.sample_xf(spec.n, n, rng)
    # CDF of |x_F| for (1 - |x|)^n: 1 - (1 - |x|)^(n + 1)
    assert stats.kstest(np.abs(xf), lambda x: 1 - (1 - x) ** (spec.n + 1)).pvalue > 1e-3
    pt = sampling.sample_pt(src.mass, spec.b_per_gev, n, rng)
    grid = np.linspace(0.0, 10.0, 200_001)
    dens = sampling.pt_density(grid, src.mass, spec.b_per_gev)
    cdf = np.concatenate(([0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))))
    assert cdf[-1] == pytest.approx(1.0, abs=1e-6)
    assert stats.kstest(pt**2, lambda x: np.interp(x, grid, cdf)).pvalue > 1e-3


def test_lab_boost_of_the_meson_spectrum():
    # x_F is symmetric in the CM frame, so is the CM rapidity; rapidities add under the boost
    # along Z, hence the lab rapidity is symmetric about the CM rapidity atanh(beta_cm) = 3.37.
    rng = np.random.default_rng(5)
    px, py, pz = mesons.sample_meson("pi0", 100_000, rng)
    m = mesons.source("pi0").mass
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    y_lab = 0.5 * np.log((e + pz) / (e - pz))
    dy = y_lab - np.arctanh(sampling.BETA_CM)
    n = dy.size
    assert abs(np.mean(dy > 0) - 0.5) < 4 * 0.5 / np.sqrt(n)
    assert np.mean(dy) == pytest.approx(0.0, abs=4 * np.std(dy) / np.sqrt(n))
    assert stats.ks_2samp(dy[dy > 0], -dy[dy < 0]).pvalue > 1e-3
    # the CM rapidity is half the beam rapidity (equal-mass collision)
    y_beam = np.arctanh(400.0 / sampling.E_BEAM_GEV)
    assert np.arctanh(sampling.BETA_CM) == pytest.approx(0.5 * y_beam, rel=1e-9)


def test_two_body_lab_energy_is_flat():
    """For a fixed parent momentum, the lab energy of an isotropic daughter is uniform."""
    rng = np.random.default_rng(11)
    n = 50_000
    m_parent, m_a = 0.547862, 0.2
    p = 30.0
    px, py, pz = np.zeros(n), np.zeros(n), np.full(n, p)
    qx, qy, qz = sampling.two_body_decay(px, py, pz, m_parent, m_a, 0.0, rng)
    e = np.sqrt(qx**2 + qy**2 + qz**2 + m_a**2)
    pstar = (m_parent**2 - m_a**2) / (2 * m_parent)
    estar = np.hypot(pstar, m_a)
    gamma = np.hypot(p, m_parent) / m_parent
    beta = p / np.hypot(p, m_parent)
    lo, hi = gamma * (estar - beta * pstar), gamma * (estar + beta * pstar)
    assert stats.kstest(e, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3


@pytest.mark.parametrize("meson", ["pi0", "omega", "phi"])
def test_aprime_sample_conserves_four_momentum_scale(meson):
    rng = np.random.default_rng(3)
    src = mesons.source(meson)
    m = 0.5 * src.threshold
    px, py, pz = mesons.sample(m, meson, 20_000, rng)
    assert np.all(np.isfinite(px + py + pz))
    # the A' carries a fraction of the meson's momentum: most go forward with the beam
    assert np.mean(pz > 0) > 0.9
    # deterministic for a seed
    again = mesons.sample(m, meson, 20_000, np.random.default_rng(3))
    np.testing.assert_array_equal(pz, again[2])


def test_production_depth_is_a_truncated_exponential():
    from na62dump import geometry as g

    _, y, z = sampling.sample_production_point(100_000, np.random.default_rng(8))
    length = g.TAX_Z_END - g.TAX_Z_START
    lam = g.TAX_LAMBDA_I
    norm = -np.expm1(-length / lam)
    cdf = lambda d: -np.expm1(-np.clip(d, 0.0, length) / lam) / norm  # noqa: E731
    assert stats.kstest(z - g.TAX_Z_START, cdf).pvalue > 1e-3
    assert np.all(y == g.BEAM_POINT[1])


def test_mean_decay_probability_matches_the_exponential_law():
    pz = np.full(1000, 50.0)
    z_prod = np.full(1000, 24.0)
    mass, ctau = 0.3, 0.5
    lam = 50.0 / mass * ctau
    expected = np.exp(-(105.0 - 24.0) / lam) * (1.0 - np.exp(-75.0 / lam))
    got = sampling.mean_decay_probability(pz, z_prod, mass, ctau, (105.0, 180.0))
    assert got == pytest.approx(expected, rel=1e-12)
    # backward-going particles never reach the decay volume
    assert sampling.mean_decay_probability(-pz, z_prod, mass, ctau, (105.0, 180.0)) == 0.0
    assert sampling.mean_decay_probability(pz, z_prod, mass, 1e-4, (105.0, 180.0)) == 0.0
