"""BC10, the ALP coupled to fermions: loop couplings, widths, B -> K(*) a, against ALPINIST and
analytic limits."""

import numpy as np
import pytest

from na62dump.errors import InputError
from na62dump.physics import alp_couplings as ac
from na62dump.physics import alp_fermion as af
from na62dump.physics import bmesons, scalar
from na62dump.physics import constants as C
from na62dump.physics.decay import HBAR_GEV_S

MASSES = np.array([0.05, 0.3, 0.7, 1.2, 2.0, 2.9])


@pytest.mark.parametrize("row", af.alpinist_check(), ids=lambda r: f"{r['mass_gev']}-"
                         f"{r['quantity']}")
def test_agrees_with_alpinist(row):
    """ALPINIST's own numbers (c_ff = 1, Lambda = 1 TeV): the coupling, lifetime and lepton BRs
    to 1e-4 (the same formulas and tables); the B BRs to 1 % (the B lifetimes: PDG 2024 here,
    1.638 / 1.519 ps in ALPINIST, 0.3 %)."""
    rtol = 0.01 if row["quantity"].startswith("br_b") else 1e-4
    assert row["ours"] == pytest.approx(row["reference"], rel=rtol)


def test_bc11_bs_coupling_matches_alpinist():
    # ALPINIST above_EW.C_qq_ij_mu(m_t, 1, 0, 0, 0, i="b", j="s") (its _cbs_G), commit 53441e5
    assert ac.k_bs(*ac.gluon_inputs()) == pytest.approx(-5.26121936601609e-07, rel=1e-6)


def test_fermion_inputs_are_the_anomaly_sums():
    # c_f = 1/2 on u, d, e and c_F = -1/2 on Q, L for 3 generations: 3 (1/2 + 1/2 + 1) / 2 ...
    assert ac.fermion_inputs() == pytest.approx((3.0, 3.0, 5.0, 1.0))
    # no coupling, no b -> s
    assert ac.k_bs(*ac.fermion_inputs(0.0, 0.0)[:3], 0.0) == 0.0


def test_widths_scale_as_the_coupling_squared_and_brs_sum_to_one():
    a, b = af.partial_widths(MASSES, 1e-4), af.partial_widths(MASSES, 3e-4)
    for k in af.STATES:
        np.testing.assert_allclose(b[k], 9.0 * a[k], rtol=1e-12)
    np.testing.assert_allclose(sum(af.branching_ratios(MASSES).values()), 1.0, rtol=1e-12)
    assert af.total_width(0.7, 0.0) == 0.0 and af.ctau_m(0.7, 0.0) == np.inf


def test_lepton_widths_analytic_limits():
    """Gamma = g^2 m_l^2 M beta / (8 pi): linear in M far above threshold, the mu/e ratio
    (m_mu / m_e)^2 beta_mu / beta_e, closed below 2 m_mu."""
    g = ac.k_ll(*ac.fermion_inputs()) * 1e-3
    w = af.partial_widths(2.5, 1e-3)
    assert w["ee"] == pytest.approx(g**2 * C.M_E**2 * 2.5 / (8 * np.pi), rel=1e-6)
    beta_mu = np.sqrt(1 - 4 * C.M_MU**2 / 2.5**2)
    assert w["mumu"] / w["ee"] == pytest.approx((C.M_MU / C.M_E) ** 2 * beta_mu, rel=1e-6)
    assert af.partial_widths(0.2, 1e-3)["mumu"] == 0.0
    # below the hadronic thresholds the ALP is leptons and photons only
    assert af.branching_ratios(0.2)["other_hadrons"] == 0.0
    assert all(af.branching_ratios(0.2)[k] == 0.0 for k in af.HADRONIC_STATES)


def _b1(tau):
    """Loop function B_1(tau) = 1 - tau |f(tau)|^2 (Bauer et al. 1708.00443)."""
    if tau >= 1:
        f2 = np.arcsin(1 / np.sqrt(tau)) ** 2
    else:
        r = np.sqrt(1 - tau)
        f2 = (np.pi / 2) ** 2 + 0.25 * np.log((1 + r) / (1 - r)) ** 2
    return 1 - tau * f2


def test_photon_width_is_the_fermion_loop_at_high_mass():
    """At 2.9 GeV (perturbative) the digitised gamma gamma width is the one-loop fermion
    triangle, Gamma = 4 pi alpha^2 M^3 |sum_f N_c Q_f^2 c_ff B_1(4 m_f^2 / M^2) / (16 pi^2)|^2 /
    Lambda^2 (Bauer et al. 1708.00443 eq. 22, c_ff = 1 in our normalisation), quark pole masses
    (PDG: c 1.67, b 4.78 GeV, light quarks B_1 = 1): a check of the table's normalisation,
    including the factor 1/4. Tolerance 25 %: the charm term depends on its mass."""
    m = 2.9
    fermions = [(1, 1.0, C.M_E), (1, 1.0, C.M_MU), (1, 1.0, C.M_TAU), (3, 2 / 3, 0.0),
                (3, 1 / 3, 0.0), (3, 1 / 3, 0.0), (3, 2 / 3, 1.67), (3, 1 / 3, 4.78)]
    c_gg = sum(n * q * q * (_b1(4 * mf**2 / m**2) if mf > 0 else 1.0)
               for n, q, mf in fermions) / (16 * np.pi**2)
    expected = 4 * np.pi * C.ALPHA_EM**2 * m**3 * c_gg**2 * 1e-6  # cff = 1e-3 GeV^-1
    assert af.partial_widths(m, 1e-3)["gammagamma"] == pytest.approx(expected, rel=0.25)


def test_b_to_k_width_is_the_closed_form():
    """Gamma(B+ -> K+ a) = g_bs^2 m_B^3 f_0^2 lambda^(1/2) (1 - m_K^2/m_B^2)^2 / (64 pi)
    (2110.10698), f_0 = 0.330 / (1 - M^2 / 37.46 GeV^2), from the scalar's shared amplitude."""
    m, g = 0.7, 1e-6
    m_k, _, m_b = bmesons.KAONS["K+"]
    lam = np.sqrt((1 - (m_k + m) ** 2 / m_b**2) * (1 - (m_k - m) ** 2 / m_b**2))
    f0 = 0.330 / (1 - m * m / 37.46)
    closed = g**2 * m_b**3 * f0**2 * lam * (1 - m_k**2 / m_b**2) ** 2 / (64 * np.pi)
    assert af.width_b_to_kx(m, g, "K+") == pytest.approx(closed, rel=1e-10)
    # above the end point the mode is closed
    assert af.width_b_to_kx(4.9, g, "K+") == 0.0


def test_production_normalisation():
    br = af.br_b_to_ka(0.3, 1e-3)
    # summed over the nine kaon families (as ALPINIST), K and K*(892) a quarter of it
    assert af.PRODUCTION_FAMILIES == tuple(scalar.KAON_FAMILIES)
    assert br == pytest.approx(sum(af.br_b_to_kx(0.3, 1e-3, f) for f in scalar.KAON_FAMILIES))
    k_kstar = af.br_b_to_kx(0.3, 1e-3, "K") + af.br_b_to_kx(0.3, 1e-3, "K*(892)")
    assert 0.2 < k_kstar / br < 0.35
    gbs = af.g_bs(1e-3)
    mean = 0.5 * (af.width_b_to_kx(0.3, gbs, "K+") * bmesons.TAU_B_CHARGED_S
                  + af.width_b_to_kx(0.3, gbs, "K0") * bmesons.TAU_B0_S) / HBAR_GEV_S
    assert af.br_b_to_kx(0.3, 1e-3, "K") == pytest.approx(mean, rel=1e-12)
    assert af.n_produced_per_pot(0.3, 1e-3) == pytest.approx(bmesons.B_PER_POT * br)
    assert af.n_produced_per_pot(0.3, 2e-3) == pytest.approx(4 * af.n_produced_per_pot(0.3, 1e-3))


@pytest.mark.parametrize("call", [lambda: af.partial_widths(5.0, 1e-3),
                                  lambda: af.ctau_m(0.3, -1.0),
                                  lambda: af.br_b_to_kx(0.3, 1e-3, "K9")])
def test_bad_input_is_an_input_error(call):
    with pytest.raises(InputError):
        call()
