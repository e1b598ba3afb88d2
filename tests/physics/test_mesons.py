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


def _cm_xf_pt(px, py, pz, mass):
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    _, _, pl, _ = sampling.boost(px, py, pz, e, 0.0 * px, 0.0 * px,
                                 np.full_like(px, -sampling.BETA_CM))
    return 2.0 * pl / sampling.SQRT_S_GEV, np.hypot(px, py)


def _invariant_density(xf, pt, mass, spec):
    """dN/dx_F dp_T (unnormalised) of E d3sigma/dp3 = (1 - |x_F|)^n exp(-b m_T)."""
    mt = np.hypot(pt, mass)
    estar = np.hypot(0.5 * xf * sampling.SQRT_S_GEV, mt)
    return (1.0 - np.abs(xf)) ** spec.n * np.exp(-spec.b_per_gev * mt) / estar * 2.0 * pt


def test_b_spectrum_is_the_invariant_cross_section():
    """<|x_F|>, <p_T> and the |x_F| distribution of sample_hadron against quadrature.

    The B spectrum (bmesons.B_SPECTRUM) parametrises E d3sigma/dp3, so dN/dx_F dp_T^2 carries
    1/E*; the old sampler drew x_F from (1 - |x_F|)^n itself (too hard by the E* factor).
    """
    from scipy import integrate

    from na62dump.physics import bmesons

    spec, m = bmesons.B_SPECTRUM, bmesons.M_B_CHARGED
    n = 100_000
    xf, pt = _cm_xf_pt(*sampling.sample_hadron(m, spec, n, np.random.default_rng(99)), m)
    def f(p, x):
        return _invariant_density(x, p, m, spec)
    norm = integrate.dblquad(f, 0.0, 1.0, 0.0, 10.0)[0]
    mean_x = integrate.dblquad(lambda p, x: x * f(p, x), 0.0, 1.0, 0.0, 10.0)[0] / norm
    mean_pt = integrate.dblquad(lambda p, x: p * f(p, x), 0.0, 1.0, 0.0, 10.0)[0] / norm
    ax = np.abs(xf)
    assert ax.mean() == pytest.approx(mean_x, abs=4 * ax.std() / np.sqrt(n))
    assert pt.mean() == pytest.approx(mean_pt, abs=4 * pt.std() / np.sqrt(n))
    # the factorised (1 - |x|)^n would give <|x_F|> = 1 / (n + 2), clearly above
    assert mean_x < 0.95 / (spec.n + 2.0)
    grid = np.linspace(0.0, 1.0, 401)
    marg = np.array([integrate.quad(lambda p, x=x: f(p, x), 0.0, 10.0)[0] for x in grid])
    cdf = np.concatenate(([0.0], np.cumsum(0.5 * (marg[1:] + marg[:-1]) * np.diff(grid))))
    cdf /= cdf[-1]
    assert stats.kstest(ax, lambda x: np.interp(x, grid, cdf)).pvalue > 1e-3
    assert np.mean(xf > 0) == pytest.approx(0.5, abs=4 * 0.5 / np.sqrt(n))


def test_lab_boost_of_the_hadron_spectrum():
    # x_F is symmetric in the CM frame, so is the CM rapidity; rapidities add under the boost
    # along Z, hence the lab rapidity is symmetric about the CM rapidity atanh(beta_cm) = 3.37.
    from na62dump.physics import bmesons

    rng = np.random.default_rng(5)
    m = bmesons.M_B_CHARGED
    px, py, pz = sampling.sample_hadron(m, bmesons.B_SPECTRUM, 100_000, rng)
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


def _read_table_totals():
    """Species totals and the normalisation, read from the shipped file by the test itself."""
    totals, meta, cells = {}, {}, {}
    for line in mesons.MESON_TABLE_FILE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        f = line.split()
        if f[0] == "species":
            totals[f[1]] = int(f[3])
        elif f[0].startswith("n_"):
            meta[f[0]] = int(f[1])
        elif f[0].startswith("log10_"):
            continue
        else:
            cells[f[0]] = cells.get(f[0], 0) + int(f[3])
    return totals, meta, cells


def test_multiplicities_are_the_pythia_table_counts_per_inelastic_event():
    totals, meta, cells = _read_table_totals()
    assert set(totals) == set(mesons.MESONS)
    assert meta["n_generated"] == meta["n_elastic"] + meta["n_inelastic"]
    for name in mesons.MESONS:
        assert cells[name] == totals[name]
        assert mesons.multiplicity(name) == pytest.approx(totals[name] / meta["n_inelastic"])
    # mass ordering of light-meson production (pi0 > eta > omega ~ rho > eta' > phi)
    mult = {name: mesons.multiplicity(name) for name in mesons.MESONS}
    assert mult["pi0"] > 5 * mult["eta"] > 0
    assert mult["eta"] > mult["etaprime"] > mult["phi"]


def test_photons_at_all_angles_against_alpinist_pythia_8_2():
    """Photons per POT above 1 GeV at any angle (the multiplicities), against ALPINIST.

    Tolerance 15 %: measured 1.12 (seed 1). The two Pythia runs differ in version (8.2 / 8.3)
    and ALPINIST's photon table quotes slightly different settings in its header; its table
    holds the photons of every light-meson decay, ours only the two-photon modes of pi0 and eta
    (omega -> pi0 gamma, eta -> pi pi gamma, Dalitz decays add about 2 %).
    """
    res = mesons.photon_check(np.random.default_rng(1), n=50_000, theta_max=np.pi,
                              e_min_gev=1.0)
    assert res["ratio"] == pytest.approx(1.0, abs=0.15)


def test_photons_reaching_the_decay_volume_against_pythia():
    """Photons from pi0, eta -> gamma gamma with theta < 6 mrad and E > 20 GeV per POT.

    Ours: mesons drawn from the shipped spectra and decayed with the project's two-body decay;
    reference: ALPINIST's Pythia 8.2 photon table in the same cuts. Tolerance 15 %: Pythia
    8.2 against 8.3 and the photons of other decays (see the test above), plus the sampling
    within the cells of both tables (0.05 decade cells here, 0.06 x 0.085 decade nodes there)
    at the cut edges; the statistical error of 2 x 100k mesons is below 1 %. Measured: 0.383
    against 0.386 (ratio 0.99, seed 10). The old parametrisation gave 2.16 per POT: x 5.6.
    """
    res = mesons.photon_check(np.random.default_rng(10), n=100_000)
    assert res["total"] == pytest.approx(res["pi0"] + res["eta"])
    assert res["ratio"] == pytest.approx(1.0, abs=0.15)
    assert res["pi0"] > res["eta"] > 0


def test_mesons_carry_less_than_the_beam_energy():
    total = 0.0
    rng = np.random.default_rng(4)
    for name in mesons.MESONS:
        src = mesons.source(name)
        px, py, pz = mesons.sample_meson(name, 50_000, rng)
        e = np.sqrt(px**2 + py**2 + pz**2 + src.mass**2)
        # sampling within the cells reproduces the table's mean energy
        assert e.mean() == pytest.approx(src.table.mean_energy, rel=0.03)
        total += src.multiplicity * e.mean()
    assert total < 400.0
    # pi0 (string and decay pi0 together) carry a fraction, not the half, of the beam energy
    pi0 = mesons.source("pi0")
    assert pi0.multiplicity * pi0.table.mean_energy < 0.25 * 400.0


def test_meson_sample_is_forward_and_seeded():
    px, py, pz = mesons.sample_meson("pi0", 20_000, np.random.default_rng(7))
    again = mesons.sample_meson("pi0", 20_000, np.random.default_rng(7))
    np.testing.assert_array_equal(pz, again[2])
    assert np.mean(pz > 0) > 0.99
    # symmetric p p collision: the mean CM rapidity of the pi0 is close to 0
    m = mesons.source("pi0").mass
    e = np.sqrt(px**2 + py**2 + pz**2 + m * m)
    y = 0.5 * np.log((e + pz) / (e - pz)) - np.arctanh(sampling.BETA_CM)
    assert abs(np.mean(y)) < 0.1
