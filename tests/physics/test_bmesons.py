"""B-meson spectrum and B -> K(*) X kinematics against their analytic distributions."""

import numpy as np
import pytest
from scipy import stats

from na62dump.errors import InputError
from na62dump.physics import bmesons, sampling


def _to_cm_frame(px, py, pz, e):
    """Lab four-momenta -> the pN centre-of-mass frame (boost by -beta_cm along Z)."""
    return sampling.boost(px, py, pz, e, 0.0 * px, 0.0 * px, np.full_like(px, -sampling.BETA_CM))


def test_b_per_pot_derivation():
    # ALPINIST exotic_constants.py: sigma_bb = 2.63e3 pb, sigma_pp = 39.85e9 pb at 400 GeV,
    # A(NA62) = 63.546; about 2.6e-7 pairs and 4.2-4.3e-7 B+/B0 (and antiparticles) per POT.
    pairs = 63.546 ** (1 / 3) * 2.63e3 / 39.85e9
    assert bmesons.BB_PAIRS_PER_POT == pytest.approx(pairs, rel=1e-12)
    assert bmesons.BB_PAIRS_PER_POT == pytest.approx(2.63e-7, rel=0.01)
    assert bmesons.B_PER_POT == pytest.approx(2 * 2 * 0.408 * pairs, rel=1e-12)
    assert 4.1e-7 < bmesons.B_PER_POT < 4.4e-7
    # the uncertainty is dominated by sigma(b bbar): 0.76 / 2.63
    assert 0.76 / 2.63 < bmesons.B_PER_POT_REL_UNC < 0.30


def test_kaon_table():
    assert {"K+", "K0", "K*+", "K*0", "K1(1270)+", "K2*(1430)0"} <= set(bmesons.KAONS)
    for name, (m_k, parent, m_b) in bmesons.KAONS.items():
        assert parent == ("B+" if name.endswith("+") else "B0")
        assert 0.49 < m_k < 1.8 and m_b > 5.27
    with pytest.raises(InputError):
        bmesons.draw_kaons({"K+": -1.0, "K0": 2.0}, 10, np.random.default_rng(0))
    with pytest.raises(InputError, match="unknown kaon"):
        bmesons.draw_kaons({"K9": 1.0}, 10, np.random.default_rng(0))


# The B spectrum as an invariant cross-section (x_F and p_T against quadrature):
# tests/physics/test_mesons.py::test_b_spectrum_is_the_invariant_cross_section.


@pytest.mark.parametrize("kaon", ["K+", "K*0"])
def test_b_to_kx_is_isotropic_with_the_two_body_momentum(kaon):
    n, seed, m_x = 50_000, 31, 1.2
    m_k, parent, m_b = bmesons.KAONS[kaon]
    # the sampler draws the parents first, so the same seed reproduces them
    bx, by, bz = bmesons.sample_b(n, np.random.default_rng(seed), parent)
    xx, xy, xz = bmesons.sample_b_to_kx(m_x, n, np.random.default_rng(seed), kaon=kaon)
    eb = np.sqrt(bx**2 + by**2 + bz**2 + m_b**2)
    ex = np.sqrt(xx**2 + xy**2 + xz**2 + m_x**2)
    qx, qy, qz, _ = sampling.boost(xx, xy, xz, ex, -bx / eb, -by / eb, -bz / eb)
    q = np.sqrt(qx**2 + qy**2 + qz**2)
    np.testing.assert_allclose(q, sampling.two_body_momentum(m_b, m_x, m_k), rtol=1e-6)
    cos_t = qz / q
    assert stats.kstest(cos_t, stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_thresholds_and_errors():
    assert bmesons.kx_threshold("K*0") < bmesons.kx_threshold("K+")
    with pytest.raises(InputError, match="outside"):
        bmesons.sample_b_to_kx(4.9, 10, np.random.default_rng(0), kaon="K+")
    with pytest.raises(InputError, match="unknown kaon"):
        bmesons.sample_b_to_kx(1.0, 10, np.random.default_rng(0), kaon="pi+")
    with pytest.raises(InputError):
        bmesons.sample_b_to_kx("abc", 10, np.random.default_rng(0))
