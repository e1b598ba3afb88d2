"""Dark photon widths, branching ratios and lifetime against analytic values and DarkCast."""

from __future__ import annotations

import numpy as np
import pytest

from na62dump.codes import Channel
from na62dump.errors import InputError
from na62dump.physics import constants as C
from na62dump.physics import dark_photon as dp
from na62dump.physics import vmd
from na62dump.physics._checks import check_mass
from na62dump.physics.decay import HBAR_C_GEV_M

# DarkCast reference values quoted in ANALYSIS.md (eps = 1e-6):
# mass (GeV), c tau (m), BR(ee), BR(mumu), BR(hadrons)
DARKCAST = [
    (0.100, 0.811, 1.0, 0.0, 0.0),
    (0.300, 0.1421, 0.526, 0.466, 0.009),
    (0.500, 0.0651, 0.401, 0.396, 0.203),
]


@pytest.mark.parametrize(("mass", "ctau", "br_ee", "br_mumu", "br_had"), DARKCAST)
def test_darkcast_reference_values(mass, ctau, br_ee, br_mumu, br_had):
    assert dp.ctau_m(mass, 1e-6) == pytest.approx(ctau, rel=0.02)
    br = dp.branching_ratios(mass)
    assert br["ee"] == pytest.approx(br_ee, rel=0.03)
    assert br["mumu"] == pytest.approx(br_mumu, rel=0.03, abs=1e-12)
    assert br["hadrons"] == pytest.approx(br_had, rel=0.15, abs=1e-12)


def test_lepton_width_analytic_point():
    # Gamma(A' -> mu mu) at M = 0.4 GeV, eps = 1e-3, by hand from the formula.
    mass, eps = 0.4, 1e-3
    x = (C.M_MU / mass) ** 2
    expected = C.ALPHA_EM * eps**2 * mass / 3.0 * (1 + 2 * x) * np.sqrt(1 - 4 * x)
    widths = dp.partial_widths(mass, eps)
    assert widths["mumu"] == pytest.approx(expected, rel=1e-12)
    # numerically: alpha/3 * 1e-6 * 0.4 = 9.7298e-10, times 1.13955 * 0.84910
    assert widths["mumu"] == pytest.approx(9.4140e-10, rel=1e-4)


def test_lepton_threshold_behaviour():
    m_thr = 2 * C.M_MU
    below = dp.partial_widths(m_thr * (1 - 1e-6), 1.0)["mumu"]
    just_above = dp.partial_widths(m_thr * (1 + 1e-6), 1.0)["mumu"]
    assert below == 0.0
    # near threshold Gamma ~ (3/2) beta: tiny but positive
    beta = np.sqrt(1 - 1 / (1 + 1e-6) ** 2)
    pref = C.ALPHA_EM * m_thr / 3.0
    assert just_above == pytest.approx(pref * 1.5 * beta, rel=1e-3)
    # far above threshold the width tends to alpha M / 3 (massless leptons)
    assert dp.partial_widths(2.0, 1.0)["ee"] == pytest.approx(C.ALPHA_EM * 2.0 / 3.0, rel=1e-6)


def test_below_dimuon_threshold_only_ee():
    masses = np.array([0.0011, 0.01, 0.1, 0.13])
    br = dp.branching_ratios(masses)
    np.testing.assert_allclose(br["ee"], 1.0, rtol=0, atol=1e-15)
    for key in dp.STATES[1:]:
        np.testing.assert_array_equal(br[key], 0.0)
    # between m_pi0 and 2 m_mu, A' -> pi0 gamma is open but tiny (VMD tail of the omega)
    br = dp.branching_ratios(np.linspace(C.M_PI0 + 1e-4, 2 * C.M_MU, 50, endpoint=False))
    np.testing.assert_allclose(br["ee"], 1.0, rtol=0, atol=1e-4)
    assert np.all(br["pi0gamma"] > 0)
    np.testing.assert_allclose(br["ee"] + br["pi0gamma"], 1.0, rtol=1e-12)


def test_widths_scale_as_eps_squared():
    masses = np.linspace(0.01, 2.4, 37)
    w1 = dp.partial_widths(masses, 1e-5)
    w2 = dp.partial_widths(masses, 3e-4)
    for key in (*dp.STATES, "hadrons"):
        np.testing.assert_allclose(w2[key], w1[key] * 900.0, rtol=1e-12)
    np.testing.assert_allclose(dp.total_width(masses, 3e-4), 900 * dp.total_width(masses, 1e-5))


def test_branching_ratios_sum_to_one_and_hadrons_is_the_hadronic_sum():
    masses = np.linspace(0.0011, 2.5, 400)
    br = dp.branching_ratios(masses)
    total = sum(br[k] for k in dp.STATES)
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    hadronic = sum(br[k] for k in dp.STATES if k not in ("ee", "mumu"))
    np.testing.assert_allclose(br["hadrons"], hadronic, rtol=1e-12)
    for key in br:
        assert np.all(br[key] >= 0), key
        assert np.all(np.isfinite(br[key])), key


def test_keys_cover_the_simulation_channels():
    br = dp.branching_ratios(0.9)
    for channel in Channel:
        if channel is Channel.MUPI:  # background vertices only
            continue
        assert channel.key in br
    expected = {
        "ee", "mumu", "hadrons", "pipi", "pipipi0", "pipipi0pi0", "pipipipi", "kk", "k0k0",
        "kkpi", "kkpi0", "pi0gamma", "etagamma", "pipieta", "pipigamma", "other_hadrons",
    }  # fmt: skip
    assert set(br) == expected


def test_exclusive_thresholds():
    br = dp.branching_ratios(np.array([0.27, 0.40, 0.95]))
    # pi+ pi- opens at 2 m_pi = 0.279 GeV, 3 pi at 0.414, K K at 0.987
    assert br["pipi"][0] == 0 and br["pipi"][1] > 0
    assert br["pipipi0"][1] == 0 and br["pipipi0"][2] > 0
    assert br["kk"][2] == 0 and br["k0k0"][2] == 0
    assert br["pi0gamma"][0] > 0  # opens at m_pi0
    assert br["mumu"][0] > 0


def test_grid_broadcasting_and_lifetime_consistency():
    mass = np.array([0.05, 0.3, 0.77, 1.5])
    eps = np.array([1e-7, 1e-6, 1e-5])
    ctau = dp.ctau_m(mass[:, None], eps[None, :])
    assert ctau.shape == (4, 3)
    for i, m in enumerate(mass):
        for j, e in enumerate(eps):
            assert ctau[i, j] == pytest.approx(float(dp.ctau_m(m, e)), rel=1e-12)
    tau = dp.lifetime_s(mass[:, None], eps[None, :])
    np.testing.assert_allclose(tau * 299_792_458.0, ctau, rtol=1e-8)
    width = dp.total_width(0.3, 1e-6)
    assert dp.ctau_m(0.3, 1e-6) == pytest.approx(HBAR_C_GEV_M / width)


def test_zero_coupling_is_infinitely_long_lived():
    assert np.isinf(dp.ctau_m(0.3, 0.0))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"mass": 3.5, "eps": 1e-6}, "mass"),
        ({"mass": 0.0, "eps": 1e-6}, "mass"),
        ({"mass": float("nan"), "eps": 1e-6}, "mass"),
        ({"mass": 0.3, "eps": -1e-6}, "eps"),
        ({"mass": 0.3, "eps": float("nan")}, "eps"),
        ({"mass": [0.3, 2 * 0.000510998], "eps": 1e-6}, "mass"),
    ],
)
def test_bad_input_raises_input_error_naming_the_argument(kwargs, word):
    with pytest.raises(InputError, match=word):
        dp.partial_widths(**kwargs)
    with pytest.raises(InputError, match=word):
        dp.ctau_m(**kwargs)


def test_branching_ratios_and_r_check_the_mass():
    for func in (dp.branching_ratios, dp.r_ratio, dp.r_exclusive):
        with pytest.raises(InputError, match="mass"):
            func(np.array([0.5, 5.0]))


def test_check_mass_helper_names_the_argument():
    with pytest.raises(InputError, match="m_alp"):
        check_mass([0.1, -1.0], (0.0, 1.0), "m_alp")
    with pytest.raises(InputError, match="m_alp"):
        check_mass("abc", (0.0, 1.0), "m_alp")
    np.testing.assert_array_equal(check_mass([0.0, 1.0], (0.0, 1.0), "m"), [0.0, 1.0])


def test_mass_range():
    lo, hi = dp.MASS_RANGE_GEV
    assert lo == pytest.approx(2 * C.M_E, rel=1e-6) and lo > 2 * C.M_E
    assert hi >= 2.0
    dp.branching_ratios(np.array([lo, hi]))  # both ends are valid


def test_hadronic_width_is_alpha_eps2_m_over_3_times_r():
    masses = np.linspace(0.3, 2.5, 45)
    eps = 2e-5
    pref = C.ALPHA_EM * eps**2 * masses / 3.0
    widths = dp.partial_widths(masses, eps)
    np.testing.assert_allclose(widths["hadrons"], pref * dp.r_ratio(masses), rtol=1e-12)
    r_excl = dp.r_exclusive(masses)
    for key, r in r_excl.items():
        np.testing.assert_allclose(widths[key], pref * r, rtol=1e-12, err_msg=key)
    # above 1.8 GeV the hadronic width follows the perturbative R (u, d, s)
    high = masses > vmd.E_PQCD
    np.testing.assert_allclose(
        widths["hadrons"][high], pref[high] * vmd.r_pqcd(masses[high]), rtol=0.02
    )
