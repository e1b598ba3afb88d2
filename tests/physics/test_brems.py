"""Proton bremsstrahlung: rate, form factor, and the sampler against its analytic marginals."""

import numpy as np
import pytest
from scipy import integrate, stats

from na62dump.errors import InputError
from na62dump.physics import brems


@pytest.mark.parametrize("mass, expected", [(0.1, 7.7e-3), (0.3, 6.3e-3), (0.5, 5.0e-3)])
def test_rate_without_form_factor_matches_the_independent_check(mass, expected):
    # ANALYSIS.md, "Signal yield": 7.7e-3 / 6.3e-3 / 5.0e-3 eps^2 A' per POT (no form factor,
    # independently checked to 0.1% by the issue author; quoted here to two digits).
    rate = brems.rate_per_pot(mass)
    assert rate == pytest.approx(expected, rel=0.015)  # two-digit quotes: +-0.05e-3
    assert brems.rate_per_pot(mass, eps=1e-3) == pytest.approx(rate * 1e-6)


def test_form_factor_is_an_explicit_option_default_none():
    m = np.array([0.1, 0.5, 0.7])
    none = brems.rate_per_pot(m)
    assert np.array_equal(none, brems.rate_per_pot(m, form_factor="none"))
    ratio = brems.rate_per_pot(m, form_factor="vmd") / none
    assert ratio == pytest.approx(brems.form_factor_sq(m**2))
    assert ratio[1] == pytest.approx(4.0, rel=0.15) and ratio[2] == pytest.approx(44.0, rel=0.1)
    # the spectrum shape, hence the sampler, does not depend on it
    d_none = brems.differential_rate(0.5, 0.01, 0.7)
    assert brems.differential_rate(0.5, 0.01, 0.7, form_factor="vmd") == pytest.approx(
        d_none * brems.form_factor_sq(0.49))
    with pytest.raises(InputError, match="form factor"):
        brems.rate_per_pot(0.1, form_factor="rho")


def test_grid_integral_matches_adaptive_quadrature():
    m = 0.25
    ref, _ = integrate.dblquad(
        lambda pt2, z: brems.differential_rate(z, pt2, m), 0.1, 0.9, 0.0, 1.0, epsrel=1e-7
    )
    assert brems.rate_per_pot(m) == pytest.approx(ref, rel=2e-3)


def test_rate_is_vectorised_over_masses():
    masses = np.array([0.05, 0.1, 0.4])
    rates = brems.rate_per_pot(masses)
    assert rates.shape == (3,)
    assert rates[1] == pytest.approx(brems.rate_per_pot(0.1))


def test_form_factor_normalised_and_peaks_at_rho_omega():
    assert brems.form_factor_sq(0.0) == pytest.approx(1.0, abs=1e-12)
    assert brems.form_factor_sq(0.1**2) == pytest.approx(1.05, abs=0.02)
    masses = np.linspace(0.5, 1.2, 701)
    peak = masses[np.argmax(brems.form_factor_sq(masses**2))]
    assert 0.75 < peak < 0.80


def test_sigma_pp_ratio_suppresses_hard_emission():
    # At fixed p_T the cross-section ratio sigma(s')/sigma(s) falls as z -> 1.
    low = brems.differential_rate(0.2, 0.0, 0.1) / brems.splitting_function(0.2, 0.0, 0.1)
    high = brems.differential_rate(0.95, 0.0, 0.1) / brems.splitting_function(0.95, 0.0, 0.1)
    assert high < low


@pytest.mark.parametrize("mass", [0.0, -0.1, float("nan")])
def test_bad_mass_is_an_input_error(mass):
    with pytest.raises(InputError):
        brems.rate_per_pot(mass)


def _gauss_legendre(edges, order):
    """Nodes and weights of a Gauss-Legendre rule of ``order`` points in every bin."""
    x, w = np.polynomial.legendre.leggauss(order)
    lo, hi = edges[:-1, None], edges[1:, None]
    return 0.5 * (hi - lo) * x + 0.5 * (hi + lo), 0.5 * (hi - lo) * w


def test_sampler_reproduces_z_and_pt2_marginals():
    """Analytic marginals by adaptive quadrature (independent of the sampler's grid)."""
    m = 0.1
    n = 200_000
    px, py, pz = brems.sample(m, n, np.random.default_rng(12345))
    z = pz / 400.0
    pt2 = px * px + py * py
    total = brems.rate_per_pot(m)

    # z marginal: Gauss-Legendre in z inside each bin, adaptive quadrature over p_T^2.
    z_edges = np.linspace(0.1, 0.9, 17)
    zn, zw = _gauss_legendre(z_edges, 8)
    g, _ = integrate.quad_vec(lambda p: brems.differential_rate(zn, p, m), 0.0, 1.0,
                              epsrel=1e-8, points=[1e-3, 1e-2, 1e-1])
    expected_z = (g * zw).sum(axis=1) / total
    observed_z = np.histogram(z, z_edges)[0]
    chi2_z = np.sum((observed_z - n * expected_z) ** 2 / (n * expected_z))
    assert stats.chi2.sf(chi2_z, len(observed_z) - 1) > 1e-3

    # p_T^2 marginal in logarithmic bins: adaptive over p_T^2, Gauss-Legendre over z.
    p_edges = np.concatenate(([0.0], np.geomspace(1e-3, 1.0, 12)))
    zz, wz = _gauss_legendre(np.linspace(0.1, 0.9, 9), 16)
    zz, wz = zz.ravel(), wz.ravel()
    expected_p = np.array([
        integrate.quad(lambda p: float(np.sum(brems.differential_rate(zz, p, m) * wz)), a, b,
                       epsrel=1e-8)[0]
        for a, b in zip(p_edges[:-1], p_edges[1:], strict=True)
    ]) / total
    assert expected_p.sum() == pytest.approx(1.0, rel=1e-3)
    observed_p = np.histogram(pt2, p_edges)[0]
    chi2_p = np.sum((observed_p - n * expected_p) ** 2 / (n * expected_p))
    assert stats.chi2.sf(chi2_p, len(observed_p) - 1) > 1e-3

    # azimuth uniform
    phi = np.arctan2(py, px)
    assert stats.kstest(phi, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_sampler_is_deterministic_for_a_seed():
    a = brems.sample(0.2, 1000, np.random.default_rng(7))
    b = brems.sample(0.2, 1000, np.random.default_rng(7))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
