"""BC11, the ALP coupled to gluons: widths from the ASW tables, mixing, production, sampling."""

import numpy as np
import pytest

from na62dump.errors import InputError
from na62dump.physics import alp_gluon as ag
from na62dump.physics import constants as C
from na62dump.physics import mesons
from na62dump.physics.decay import HBAR_C_GEV_M

#: Kinematic thresholds (GeV) of the exclusive states, from the daughter masses.
THRESHOLDS = {
    "pipigamma": 2 * C.M_PI, "pipipi0": 2 * C.M_PI + C.M_PI0, "3pi0": 3 * C.M_PI0,
    "pipieta": 2 * C.M_PI + C.M_ETA, "pi0pi0eta": 2 * C.M_PI0 + C.M_ETA,
    "pipietaprime_all": 2 * C.M_PI0 + C.M_ETAP, "pipipipi": 4 * C.M_PI,
    "kkpi_other": 2 * C.M_K0 + C.M_PI0, "kkpi0": 2 * C.M_K + C.M_PI0,
    "pipipi0pi0": 2 * C.M_PI + 2 * C.M_PI0, "omegaomega": 2 * C.M_OMEGA,
    "phiphi": 4 * C.M_K,
}
MASSES = np.array([0.1, 0.25, 0.45, 0.7, 0.9, 1.0, 1.2, 1.5, 2.0, 2.8])


def test_widths_scale_as_the_coupling_squared():
    a, b = ag.partial_widths(MASSES, 1e-5), ag.partial_widths(MASSES, 3e-5)
    for k in ag.STATES:
        np.testing.assert_allclose(b[k], 9.0 * a[k], rtol=1e-12)
    assert ag.total_width(0.7, 0.0) == 0.0


@pytest.mark.parametrize("state", sorted(THRESHOLDS))
def test_each_width_vanishes_below_and_opens_continuously_at_threshold(state):
    thr = THRESHOLDS[state]
    below = np.linspace(ag.MASS_RANGE_GEV[0], thr - 1e-4, 50)
    assert np.all(np.asarray(ag.partial_widths(below, 1e-3)[state]) == 0.0)
    # phase-space limit: the width rises from 0 at threshold (no step)
    near = ag.partial_widths(thr + 1e-3, 1e-3)[state]
    far = ag.partial_widths(min(thr + 0.15, 2.9), 1e-3)[state]
    assert far > 0.0
    assert near < 0.1 * far


def test_other_vanishes_below_four_pions():
    below = np.linspace(ag.MASS_RANGE_GEV[0], 4 * C.M_PI - 1e-4, 50)
    assert np.all(ag.partial_widths(below, 1e-3)["other"] == 0.0)


def test_isospin_shares():
    pw = ag.partial_widths(np.array([1.3, 1.6, 2.2]), 1e-4)
    np.testing.assert_allclose(pw["pipieta"], 2.0 * pw["pi0pi0eta"], rtol=1e-12)
    np.testing.assert_allclose(pw["kkpi_other"], 5.0 * pw["kkpi0"], rtol=1e-12)
    np.testing.assert_allclose(pw["pipipi0pi0"], 2.0 * pw["pipipipi"], rtol=1e-12)


def test_below_four_pions_only_gammagamma_pipigamma_and_3pi():
    for m in (0.1, 0.3, 0.45, 0.5, 0.53):
        br = ag.branching_ratios(m)
        assert br["gammagamma"] + br["pipigamma"] + br["pipipi0"] + br["3pi0"] \
            == pytest.approx(1.0, abs=1e-12)


def test_gammagamma_is_the_only_decay_below_two_pions():
    br = ag.branching_ratios(0.2)
    assert br["gammagamma"] == 1.0


def test_brs_sum_to_one_and_ctau_is_hbar_c_over_width():
    br = ag.branching_ratios(MASSES)
    np.testing.assert_allclose(sum(br.values()), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ag.ctau_m(MASSES, 2e-5),
                               HBAR_C_GEV_M / ag.total_width(MASSES, 2e-5), rtol=1e-12)


def test_hadronic_width_is_near_asw_total_above_one_gev():
    """The sum of the partials equals the tabulated total wherever that exceeds the exclusive
    channels (above 4 m_pi the rest is 'other')."""
    m = np.linspace(1.0, 2.9, 40)
    tot = ag._table_width_ev("total", m) * 1e-9 * (1e-4 / ag.TABLE_CGG_INV_GEV) ** 2
    np.testing.assert_allclose(ag.total_width(m, 1e-4), np.maximum(tot, ag.total_width(m, 1e-4)))
    assert ag.branching_ratios(2.8)["other"] > 0.5  # inclusive gluon decays dominate high up


def test_bad_input():
    with pytest.raises(InputError, match="validity range"):
        ag.partial_widths(3.5)
    with pytest.raises(InputError, match="cgg"):
        ag.total_width(0.7, -1.0)
    with pytest.raises(InputError, match="eta mass"):
        ag.rate_per_pot(C.M_ETA + 0.001, "eta", 1e-4)
    with pytest.raises(InputError, match="mixing meson"):
        ag.mixing_angle(0.7, "omega")


# ------------------------------------------------------------------------------------------------
# mixing
# ------------------------------------------------------------------------------------------------
def test_pion_mixing_limits():
    """theta_api: goes as M^2 / (M^2 - m_pi^2) (0 as M -> 0), linear in cgg, and far above the
    pole (M < 1.4 GeV) tends to -f_pi / 2 K_api cgg, K_api = -(c_u - c_d) / 2 (isospin terms
    small)."""
    lo = np.array([0.0708, 0.08])
    th = ag.mixing_angle(lo, "pi0", 1e-3)
    shape = lo**2 / (lo**2 - C.M_PI0**2)
    assert th[1] / th[0] == pytest.approx(shape[1] / shape[0], rel=0.02)
    assert ag.mixing_angle(1.2, "pi0", 2e-3) == pytest.approx(2 * ag.mixing_angle(1.2, "pi0", 1e-3))
    mq = np.array([ag.QUARK_MASSES_GEV[q] for q in "uds"])
    kappa = (1 / mq) / np.sum(1 / mq)
    k_pi = -0.5 * 64 * np.pi**2 * (kappa[0] - kappa[1])
    asym = -ag.F_PI / 2 * k_pi * 1e-3
    assert ag.mixing_angle(1.3, "pi0", 1e-3) == pytest.approx(asym, rel=0.05)


def test_vmd_suppression_is_continuous():
    assert ag.vmd_suppression(1.4) == pytest.approx(1.0, abs=1e-3)
    assert ag.vmd_suppression(2.0) == pytest.approx((1.4 / 2.0) ** 4, abs=1e-3)
    assert ag.vmd_suppression(2.5) == pytest.approx((1.4 / 2.5) ** 4)


def test_mixing_changes_sign_across_each_pole():
    for meson, mp in (("pi0", C.M_PI0), ("eta", C.M_ETA), ("etaprime", C.M_ETAP)):
        a, b = ag.mixing_angle(mp - 0.01, meson, 1e-4), ag.mixing_angle(mp + 0.01, meson, 1e-4)
        assert a * b < 0, meson


def test_production_is_multiplicity_times_theta_squared():
    for p in ag.MIXING_MESONS:
        assert ag.rate_per_pot(0.8, p, 1e-5) == pytest.approx(
            mesons.multiplicity(p) * ag.mixing_angle(0.8, p, 1e-5) ** 2)
    assert sum(ag.mixing_fractions(0.8).values()) == pytest.approx(1.0)


def test_sampler_is_the_meson_spectrum_with_a_fixed_seed():
    a = ag.sample(0.7, 500, np.random.default_rng(7), meson="eta")
    b = mesons.sample_meson("eta", 500, np.random.default_rng(7))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_mixed_sampler_follows_the_mixing_fractions():
    m, n = 1.0, 40_000
    frac = ag.mixing_fractions(m)
    px, py, pz = ag.sample(m, n, np.random.default_rng(3))
    again = ag.sample(m, n, np.random.default_rng(3))
    np.testing.assert_array_equal(pz, again[2])
    # the mean momentum is the fraction-weighted mean of the three spectra
    means = {p: np.mean(mesons.sample_meson(p, n, np.random.default_rng(5))[2])
             for p in ag.MIXING_MESONS}
    expect = sum(frac[p] * means[p] for p in ag.MIXING_MESONS)
    assert np.mean(pz) == pytest.approx(expect, rel=0.05)


def test_mixing_angles_and_production_agree_with_alpinist():
    # ALPINIST's angles include the RG-induced quark couplings we leave out: they move the pi0
    # angle by < 1 %, the eta and eta' ones by < 0.1 %
    rows = ag.production_check()
    assert [r["mass_gev"] for r in rows] == list(ag.ALPINIST_MIXING)
    for r in rows:
        assert r["ours"] / r["reference"] == pytest.approx(1.0, abs=0.01), r
        assert r["angle_ratio"]["pi0"] == pytest.approx(1.0, abs=0.01), r
        for p in ("eta", "etaprime"):
            assert r["angle_ratio"][p] == pytest.approx(1.0, abs=1e-3), r


def test_b_decay_production_is_alpinists_and_negligible():
    # ALPINIST (commit 53441e5, run outside): g_bs = |_cbs_G| / Lambda = 5.26122e-10 GeV^-1 and
    # BR(B -> K a) = 5.23829e-8 (B+, B0 mean) at c_GG = 1, Lambda = 1 TeV, M = 1 GeV
    from na62dump.physics import alp_fermion

    assert abs(ag.g_bs(1e-3)) == pytest.approx(5.26122e-10, rel=1e-4)
    assert alp_fermion.br_b_to_kx_gbs(1.0, abs(ag.g_bs(1e-3)), "K") == pytest.approx(
        5.23829e-8, rel=0.01)  # the B lifetimes: PDG 2024 here
    # quadratic in the coupling, and below 1e-8 of the mixing yield over the BC11 masses
    assert ag.b_production_per_pot(0.7, 2e-6) == pytest.approx(
        4 * ag.b_production_per_pot(0.7, 1e-6), rel=1e-12)
    ratios = ag.b_production_check()
    assert set(ratios) == set(ag.B_CHECK_MASSES_GEV)
    assert all(0 < r < 1e-8 for r in ratios.values())
