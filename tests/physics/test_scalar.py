"""Dark scalar (BC4): widths, branching ratios, B -> K S and the sampler."""

import numpy as np
import pytest
from scipy import stats

from na62dump.errors import InputError
from na62dump.physics import bmesons, sampling, scalar
from na62dump.physics import constants as C
from na62dump.physics.decay import HBAR_C_GEV_M


def test_lepton_width_formula():
    m, th = 0.5, 1e-3
    beta = np.sqrt(1 - 4 * C.M_MU**2 / m**2)
    expected = scalar.G_F * C.M_MU**2 * m * beta**3 / (4 * np.sqrt(2) * np.pi) * th**2
    assert scalar.partial_widths(m, th)["mumu"] == pytest.approx(expected, rel=1e-12)


def test_isospin_ratios_and_thresholds():
    w = scalar.partial_widths(1.2, 1.0)
    assert w["pipi"] == pytest.approx(2 * w["pi0pi0"])
    assert w["kk"] == pytest.approx(w["k0k0"])
    below = scalar.partial_widths(0.27, 1.0)
    assert below["pipi"] == 0.0 and below["kk"] == 0.0
    assert scalar.partial_widths(0.2, 1.0)["mumu"] == 0.0


@pytest.mark.parametrize("mass", [0.01, 0.3, 0.7, 1.1, 1.9])
def test_branching_ratios_sum_to_one_and_ctau(mass):
    br = scalar.branching_ratios(mass)
    assert sum(br.values()) == pytest.approx(1.0, rel=1e-12)
    assert scalar.ctau_m(mass, 1e-4) == pytest.approx(
        HBAR_C_GEV_M / scalar.total_width(mass, 1e-4), rel=1e-12
    )
    assert scalar.ctau_m(mass, 2e-4) == pytest.approx(scalar.ctau_m(mass, 1e-4) / 4)


def test_chiral_amplitude_limit():
    # For M >> m_pi the pi pi width tends to 3 G_F M^3 (2/9)^2 / (16 sqrt2 pi).
    m = 1.9
    w = scalar.partial_widths(m, 1.0)
    lo = 3 * scalar.G_F * m**3 * (2 / 9) ** 2 / (16 * np.sqrt(2) * np.pi)
    assert (w["pipi"] + w["pi0pi0"]) / lo == pytest.approx(1.0, abs=0.1)


def test_b_to_k_s_branching_ratio():
    # Literature value for a light scalar: BR(B -> K S) ~ 0.4-0.5 theta^2 (Bezrukov-Gorbunov
    # 2010, Boiarska et al. 2019); here exclusive K with the Ball-Zwicky form factor.
    br = scalar.br_b_to_ks(0.1, 1.0)
    assert 0.35 < br < 0.6
    assert scalar.br_b_to_ks(0.1, 1e-3) == pytest.approx(br * 1e-6)
    assert scalar.width_b_to_ks(4.9) == 0.0
    assert scalar.n_produced_per_pot(0.5, 1e-4) == pytest.approx(
        bmesons.B_PER_POT * scalar.br_b_to_ks(0.5, 1e-4)
    )


@pytest.mark.parametrize("args", [(2.5, 1e-4), (0.5, -1e-4), (float("nan"), 1e-4)])
def test_bad_input(args):
    with pytest.raises(InputError):
        scalar.total_width(*args)


def test_sampler_is_b_to_k_two_body():
    n, seed, m = 40_000, 23, 0.9
    bx, by, bz = bmesons.sample_b(n, np.random.default_rng(seed), "B+")
    sx, sy, sz = scalar.sample(m, n, np.random.default_rng(seed))
    m_b = bmesons.M_B_CHARGED
    eb = np.sqrt(bx**2 + by**2 + bz**2 + m_b**2)
    es = np.sqrt(sx**2 + sy**2 + sz**2 + m**2)
    qx, qy, qz, _ = sampling.boost(sx, sy, sz, es, -bx / eb, -by / eb, -bz / eb)
    q = np.sqrt(qx**2 + qy**2 + qz**2)
    np.testing.assert_allclose(
        q, sampling.two_body_momentum(m_b, m, bmesons.KAONS["K+"][0]), rtol=1e-6
    )
    assert stats.kstest(qz / q, stats.uniform(-1, 2).cdf).pvalue > 1e-3
