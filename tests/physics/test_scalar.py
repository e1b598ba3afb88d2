"""Dark scalar (BC4): widths (Winkler + multi-meson), branching ratios, B -> K_X S, sampler."""

import numpy as np
import pytest
from scipy import stats

from na62dump.errors import InputError
from na62dump.physics import bmesons, sampling, scalar
from na62dump.physics import constants as C
from na62dump.physics.decay import HBAR_C_GEV_M

# Reference values (ctau in m at sin^2 theta = 1e-6, BRs): Winkler, PRD 99 (2019) 015018, as
# realised by github JLTastet/scalar_portal (commit e123e80, Boiarska et al. 1904.10447): its
# decay/winkler_pi.txt and winkler_K.txt with linear interpolation, leptons with v = 246 GeV,
# and its multi-meson width C M^3 beta_4pi with C from the 2 GeV value 5.9851e-8 GeV of its
# test/test_decay.py. Computed outside the project from those files.
WINKLER = {
    0.4: {"ctau_m": 0.01522, "mumu": 0.1387, "pipi": 0.5742, "pi0pi0": 0.2871},
    0.6: {"ctau_m": 0.005116, "mumu": 0.0936, "pipi": 0.5936, "pi0pi0": 0.2968, "4pi": 0.01598},
    0.8: {"ctau_m": 0.002183, "mumu": 0.05827, "pipi": 0.6067, "pi0pi0": 0.3034, "4pi": 0.0316},
    1.5: {"ctau_m": 0.001611, "mumu": 0.08721, "pipi": 0.01879, "kk": 0.3427, "k0k0": 0.3427,
          "4pi": 0.1992},
}


def test_lepton_width_formula():
    m, s2 = 0.5, 1e-6
    beta = np.sqrt(1 - 4 * C.M_MU**2 / m**2)
    expected = scalar.G_F * C.M_MU**2 * m * beta**3 / (4 * np.sqrt(2) * np.pi) * s2
    assert scalar.partial_widths(m, s2)["mumu"] == pytest.approx(expected, rel=1e-12)


def test_isospin_ratios_and_thresholds():
    w = scalar.partial_widths(1.2, 1.0)
    assert w["pipi"] == pytest.approx(2 * w["pi0pi0"])
    assert w["kk"] == pytest.approx(w["k0k0"])
    below = scalar.partial_widths(0.27, 1.0)
    assert below["pipi"] == 0.0 and below["kk"] == 0.0 and below["pipipi0pi0"] == 0.0
    assert scalar.partial_widths(0.2, 1.0)["mumu"] == 0.0
    assert scalar.multimeson_width(4 * C.M_PI * 0.999, 1.0) == 0.0
    assert scalar.partial_widths(0.9, 1.0)["kk"] == 0.0


def test_pipi_and_kk_follow_the_shipped_tables():
    # the widths at the table nodes are the table values (pi pi: 2/3 charged + 1/3 neutral)
    for path, keys in (("scalar_winkler_pipi.txt", ("pipi", "pi0pi0")),
                       ("scalar_winkler_kk.txt", ("kk", "k0k0"))):
        table = np.loadtxt(scalar._DATA / path)
        inside = table[table[:, 0] < 2.0]
        w = scalar.partial_widths(inside[:, 0], 1.0)
        np.testing.assert_allclose(w[keys[0]] + w[keys[1]], inside[:, 1], rtol=1e-12)
    # and they are far from leading-order chiral perturbation theory at 1 GeV (f0(980))
    w = scalar.partial_widths(0.98, 1.0)
    lo = 3 * scalar.G_F * 0.98**3 * (2 / 9 + 11 / 9 * C.M_PI**2 / 0.98**2) ** 2 / (
        16 * np.sqrt(2) * np.pi)
    assert (w["pipi"] + w["pi0pi0"]) / lo > 5


def test_multimeson_width_matches_perturbative_qcd_at_2_gev():
    w = scalar.partial_widths(2.0, 1.0)
    hadrons = w["pipi"] + w["pi0pi0"] + w["kk"] + w["k0k0"] + scalar.multimeson_width(2.0, 1.0)
    assert hadrons == pytest.approx(scalar.GAMMA_PERT_2GEV, rel=1e-12)
    # M^3 beta growth
    m1, m2 = 1.2, 1.6
    r = scalar.multimeson_width(m2, 1.0) / scalar.multimeson_width(m1, 1.0)
    b = lambda m: np.sqrt(1 - (4 * C.M_PI / m) ** 2)  # noqa: E731
    assert r == pytest.approx((m2 / m1) ** 3 * b(m2) / b(m1), rel=1e-12)


def test_pipipi0pi0_is_two_thirds_of_the_multimeson_width():
    # rho+rho- : rho0rho0 = 2 : 1 in I = 0 (ALPINIST's split); above and below 4 m_pi
    for m in (0.7, 1.2, 1.9):
        w = scalar.partial_widths(m, 1.0)
        assert w["pipipi0pi0"] == pytest.approx(2 * w["pipipipi"], rel=1e-12)
        assert w["pipipi0pi0"] + w["pipipipi"] == pytest.approx(
            scalar.C_4PI * m**3 * np.sqrt(1 - (4 * C.M_PI / m) ** 2), rel=1e-12)
    assert scalar.branching_ratios(1.5)["pipipi0pi0"] == pytest.approx(2 / 3 * 0.1992, rel=0.01)


@pytest.mark.parametrize("mass", [0.01, 0.3, 0.7, 1.1, 1.9])
def test_branching_ratios_sum_to_one_and_ctau(mass):
    br = scalar.branching_ratios(mass)
    assert set(br) == set(scalar.STATES)
    assert sum(br.values()) == pytest.approx(1.0, rel=1e-12)
    assert scalar.ctau_m(mass, 1e-6) == pytest.approx(
        HBAR_C_GEV_M / scalar.total_width(mass, 1e-6), rel=1e-12
    )
    assert scalar.ctau_m(mass, 2e-6) == pytest.approx(scalar.ctau_m(mass, 1e-6) / 2)


@pytest.mark.parametrize("mass", sorted(WINKLER))
def test_ctau_and_brs_within_ten_percent_of_winkler(mass):
    assert scalar.WINKLER_REFERENCE[mass] == WINKLER[mass]
    rows = [r for r in scalar.winkler_check() if r["mass_gev"] == mass]
    assert {r["quantity"] for r in rows} == set(WINKLER[mass])
    for r in rows:
        assert r["ratio"] == pytest.approx(1.0, abs=0.10), r


def test_b_to_k_s_matches_the_single_kaon_formula():
    # K mode: Gamma = (xi m_b / v)^2 / 4 ((m_B^2 - m_K^2) / (m_b - m_s))^2 f0^2 sqrt(lambda)
    # / (16 pi m_B^3), f0 = 0.330 / (1 - q^2 / 37.46) (Ball-Zwicky), written independently.
    m = 0.7
    m_k, _, m_b = bmesons.KAONS["K+"]
    coup = scalar.XI_BS * scalar.M_B_QUARK / scalar.V_HIGGS
    f0 = 0.330 / (1 - m**2 / 37.46)
    lam = sampling.kallen(m_b**2, m_k**2, m**2)
    ref = coup**2 / 4 * ((m_b**2 - m_k**2) / (scalar.M_B_QUARK - scalar.M_S_QUARK)) ** 2 \
        * f0**2 * np.sqrt(lam) / (16 * np.pi * m_b**3)
    assert scalar.width_b_to_kx(m, 1.0, "K+") == pytest.approx(ref, rel=1e-12)


# scalar_portal test/test_production.py (commit e123e80): Gamma(B -> S K_X) / theta^2 at
# M = 1 GeV, B+ parent, with m_s = 0 and m_t = 174 GeV; we use m_s = 93.5 MeV (the factors
# r_-+ = m_b / (m_b -+ m_s)) and m_t = 172.57 GeV, and PDG 2024 kaon masses.
SCALAR_PORTAL_1GEV = {
    "K0*(700)+": (3.5531025129903633e-13, "+"), "K0*(1430)+": (4.711607522540698e-14, "+"),
    "K*+": (2.249565572911129e-13, "+"), "K*(1410)+": (9.185209948881761e-14, "+"),
    "K*(1680)+": (5.722507299151126e-14, "+"), "K1(1270)+": (3.898188329844353e-13, "-"),
    "K1(1400)+": (5.405930157795572e-15, "-"), "K2*(1430)+": (1.3542292574122081e-13, "+"),
}


@pytest.mark.parametrize("kaon", sorted(SCALAR_PORTAL_1GEV))
def test_excited_kaon_widths_match_scalar_portal(kaon):
    ref, sign = SCALAR_PORTAL_1GEV[kaon]
    mb, ms = scalar.M_B_QUARK, scalar.M_S_QUARK
    r2 = (mb / (mb + ms)) ** 2 if sign == "+" else (mb / (mb - ms)) ** 2
    ratio = scalar.width_b_to_kx(1.0, 1.0, kaon) / ref / r2
    # 1 % from xi (m_t, V_ts); K1(1270): PDG mass 1.256 GeV (2024) vs 1.272 GeV (2018), 1/m_K1^2
    assert ratio == pytest.approx(1.01, abs=0.035)


def test_b_to_kx_sum_is_3p45_at_100_mev():
    chk = scalar.production_check()
    assert chk["reference"] == 3.45 and chk["mass_gev"] == 0.1
    assert chk["ours"] == pytest.approx(3.45, rel=0.10)
    assert 0.4 < chk["k_mode"] < 0.55
    assert 6.0 < chk["ours"] / chk["k_mode"] < 9.0
    assert sum(chk["per_family"].values()) == pytest.approx(chk["ours"], rel=1e-12)
    assert scalar.br_b_to_sx(0.1, 1e-6) == pytest.approx(chk["ours"] * 1e-6)
    assert scalar.n_produced_per_pot(0.5, 1e-6) == pytest.approx(
        bmesons.B_PER_POT * scalar.br_b_to_sx(0.5, 1e-6)
    )


def test_end_points_and_weights():
    assert scalar.width_b_to_kx(4.9, 1.0, "K+") == 0.0
    assert scalar.width_b_to_kx(3.9, 1.0, "K2*(1430)0") == 0.0
    w = scalar.kaon_weights(1.0)
    assert sum(w.values()) == pytest.approx(1.0)
    assert set(w) == {k for _, kp, k0 in scalar.KAON_FAMILIES.values() for k in (kp, k0)}


@pytest.mark.parametrize(
    "call",
    [lambda: scalar.total_width(2.5, 1e-6), lambda: scalar.total_width(0.5, -1e-6),
     lambda: scalar.total_width(float("nan"), 1e-6), lambda: scalar.total_width(0.5, 1.5),
     lambda: scalar.br_b_to_kx(0.5, 1.0, "K3"), lambda: scalar.width_b_to_kx(0.5, 1.0, "pi+")],
)
def test_bad_input(call):
    with pytest.raises(InputError):
        call()


def test_kaon_states_are_drawn_with_their_brs():
    weights = scalar.kaon_weights(0.9)
    names, idx = bmesons.draw_kaons(weights, 200_000, np.random.default_rng(5))
    counts = np.bincount(idx, minlength=len(names))
    expected = 200_000 * np.array([weights[k] for k in names])
    assert stats.chisquare(counts, expected).pvalue > 1e-3


def test_scalar_sampler_mixes_the_kaon_kinematics():
    # near the end point the S momentum depends on the kaon: K+ (p* = 1.19 GeV) vs K2*(1430)
    # (0.27 GeV) at M = 3.8 GeV. The mixture mean is the weighted mean of the single states.
    m, w = 3.8, {"K+": 0.25, "K2*(1430)0": 0.75}
    mix = bmesons.sample_b_to_kx(m, 100_000, np.random.default_rng(8), kaon=w)[2].mean()
    single = {k: bmesons.sample_b_to_kx(m, 100_000, np.random.default_rng(9), kaon=k)[2].mean()
              for k in w}
    assert mix == pytest.approx(sum(w[k] * single[k] for k in w), rel=0.006)
    assert abs(single["K+"] / single["K2*(1430)0"] - 1) > 0.025
    sz = scalar.sample(0.9, 1000, np.random.default_rng(2))[2]
    assert np.all(np.isfinite(sz)) and np.all(sz > 0)


def test_mixture_sampler_is_two_body_per_state():
    # one state with weight 1 in the mapping reproduces the single-kaon sampler exactly
    m, n = 0.9, 5000
    a = bmesons.sample_b_to_kx(m, n, np.random.default_rng(3), kaon="K1(1270)0")
    b = bmesons.sample_b_to_kx(m, n, np.random.default_rng(3), kaon={"K1(1270)0": 1.0})
    np.testing.assert_array_equal(a[2], b[2])
    bx, by, bz = bmesons.sample_b(n, np.random.default_rng(3), "B0")
    m_b = bmesons.M_B0
    eb = np.sqrt(bx**2 + by**2 + bz**2 + m_b**2)
    es = np.sqrt(a[0] ** 2 + a[1] ** 2 + a[2] ** 2 + m**2)
    qx, qy, qz, _ = sampling.boost(a[0], a[1], a[2], es, -bx / eb, -by / eb, -bz / eb)
    q = np.sqrt(qx**2 + qy**2 + qz**2)
    np.testing.assert_allclose(
        q, sampling.two_body_momentum(m_b, m, bmesons.KAONS["K1(1270)0"][0]), rtol=1e-6
    )
    assert stats.kstest(qz / q, stats.uniform(-1, 2).cdf).pvalue > 1e-3
