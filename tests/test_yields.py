"""Tests of na62dump.yields: reweighting, efficiency, resolution, mass interpolation, tables."""

from __future__ import annotations

import hist
import numpy as np
import pytest

from na62dump import yields as Y
from na62dump.errors import InputError
from na62dump.physics.decay import prob_decay_in_range

Z_RANGE = (102.4, 181.0)
Z_PROD = 24.0


def _sample_from_events(mass, pz, dz, accepted_mask, mrel=None, state="ee"):
    """Real hist.Hist objects filled from event arrays, as a processor would."""
    pz_ax = hist.axis.Regular(80, 0.0, 400.0, name="pz")
    dz_ax = hist.axis.Regular(100, Z_RANGE[0] - Z_PROD, Z_RANGE[1] - Z_PROD, name="dz")
    st = hist.axis.StrCategory([state], name="state", growth=True)
    gen = hist.Hist(pz_ax, dz_ax).fill(pz=pz, dz=dz)
    acc = hist.Hist(st, pz_ax, dz_ax).fill(state=state, pz=pz[accepted_mask], dz=dz[accepted_mask])
    signal = {"generated": gen, "accepted": acc}
    if mrel is not None:
        res = hist.Hist(
            st,
            hist.axis.Regular(8, 0.0, 400.0, name="pz"),
            hist.axis.Regular(10, Z_RANGE[0] - Z_PROD, Z_RANGE[1] - Z_PROD, name="dz"),
            hist.axis.Regular(200, -0.1, 0.1, name="mrel"),
        )
        res.fill(state=state, pz=pz[accepted_mask], dz=dz[accepted_mask], mrel=mrel)
        signal["resolution"] = res
    return Y.SignalSample.from_output(
        {"signal": signal}, mass_gev=mass, production="brems", channel="ee", state=state,
        z_range=Z_RANGE, name=f"m{mass}",
    )


@pytest.fixture(scope="module")
def events():
    rng = np.random.default_rng(42)
    n = 400_000
    pz = rng.uniform(20.0, 300.0, n)
    z = rng.uniform(*Z_RANGE, n)
    return pz, z - Z_PROD, rng


@pytest.mark.parametrize("ctau", [0.05, 0.3, 3.0, 100.0])
def test_reweighting_reproduces_analytic_decay_probability(events, ctau):
    pz, dz, _ = events
    mass = 0.2
    s = _sample_from_events(mass, pz, dz, np.ones(pz.size, bool))
    # analytic: average over the (uniform) pz spectrum of P(decay in range)
    grid = np.linspace(20.0, 300.0, 20001)
    exact = np.mean(prob_decay_in_range(*Z_RANGE, Z_PROD, grid / mass * ctau))
    assert s.decay_probability([ctau])[0] == pytest.approx(exact, rel=0.02)
    assert s.acceptance([ctau])[0] == pytest.approx(s.decay_probability([ctau])[0], rel=1e-12)
    assert s.efficiency([ctau])[0] == pytest.approx(1.0, rel=1e-12)


def test_efficiency_and_resolution_from_hists(events):
    pz, dz, rng = events
    mass = 0.3
    # accept 40% of the events with pz > 100 GeV
    acc = (pz > 100.0) & (rng.uniform(size=pz.size) < 0.4)
    mrel = rng.normal(0.0, 0.01, int(acc.sum()))
    s = _sample_from_events(mass, pz, dz, acc, mrel=mrel)
    # long-lived: the decay weight is ~ M / (pz ctau), so the efficiency is the 1/pz-weighted
    # fraction accepted: 0.4 ln(300/100) / ln(300/20)
    long_lived = 1e6
    assert s.efficiency([long_lived])[0] == pytest.approx(0.4 * np.log(3) / np.log(15), rel=0.01)
    assert s.relative_resolution([long_lived, 1.0])[0] == pytest.approx(0.01, rel=0.03)
    # short lifetimes: only fast particles reach the FV, and those are accepted at 40%
    assert s.efficiency([0.05])[0] == pytest.approx(0.4, rel=0.05)


def test_generated_outside_the_histogram_range_counts_in_the_denominator(events):
    """Soft or backward particles fall in the p_z underflow: they were generated all the same."""
    pz, dz, _ = events
    mass, ctau = 0.2, 3.0
    inside = _sample_from_events(mass, pz, dz, np.ones(pz.size, bool))
    # the same events plus as many again below the p_z axis (never reaching the FV)
    slow = np.concatenate([pz, np.full(pz.size, -1.0)])
    both = _sample_from_events(mass, slow, np.concatenate([dz, dz]),
                               np.r_[np.ones(pz.size, bool), np.zeros(pz.size, bool)])
    assert both.n_generated == pytest.approx(2 * inside.n_generated)
    assert both.acceptance([ctau])[0] == pytest.approx(0.5 * inside.acceptance([ctau])[0])


def test_from_output_errors():
    with pytest.raises(InputError, match="signal"):
        Y.SignalSample.from_output({}, mass_gev=0.1, production="brems", channel="ee")
    h = hist.Hist(hist.axis.Regular(2, 0, 1, name="pz"))
    with pytest.raises(InputError, match="dz"):
        Y.SignalSample.from_output(
            {"signal": {"generated": h, "accepted": h}}, mass_gev=0.1, production="brems",
            channel="ee",
        )
    with pytest.raises(InputError, match="c tau"):
        Y.SignalSample.synthetic(mass_gev=0.1, pz_gev=10, z_range=(1, 2), n=10).acceptance([-1])


def _power_law_nodes(masses, pz=50.0, slope=0.5):
    """Every node at the same momentum, efficiency 0.3 (M / 0.1)^slope."""
    return [
        Y.SignalSample.synthetic(mass_gev=m, pz_gev=pz, z_range=Z_RANGE, z_prod=Z_PROD,
                                 n=1000, efficiency=0.3 * (m / 0.1) ** slope)
        for m in masses
    ]


def test_interpolation_exact_at_nodes_and_zero_outside():
    nodes = _power_law_nodes([0.05, 0.1, 0.3, 0.6])
    ct = np.array([0.01, 0.1, 1.0])
    for s in nodes:
        a, eff, _ = Y.interpolated_acceptance(nodes, s.mass_gev, ct)
        np.testing.assert_allclose(a, s.acceptance(ct), rtol=1e-12)
        np.testing.assert_allclose(eff, s.efficiency(ct), rtol=1e-12)
    a, eff, _ = Y.interpolated_acceptance(nodes, 0.8, ct)
    assert (a == 0).all() and np.isnan(eff).all()


def test_interpolation_follows_physics_between_nodes():
    """Same momentum everywhere: at fixed ctau/M the decay probability is the same at each
    node, so the interpolant must equal P_D(M, ctau) x eff(M) for a power-law efficiency."""
    nodes = _power_law_nodes([0.05, 0.1, 0.3, 0.6])
    ct = np.array([0.02, 0.2, 2.0, 20.0])
    for m in np.geomspace(0.05, 0.6, 23):
        a, eff, _ = Y.interpolated_acceptance(nodes, m, ct)
        exact_eff = 0.3 * (m / 0.1) ** 0.5
        ref = Y.SignalSample.synthetic(mass_gev=m, pz_gev=50.0, z_range=Z_RANGE,
                                       z_prod=Z_PROD, n=1000, efficiency=exact_eff)
        np.testing.assert_allclose(a, ref.acceptance(ct), rtol=1e-9)
        np.testing.assert_allclose(eff, exact_eff, rtol=1e-9)


def test_interpolation_is_smooth_and_monotone_between_nodes():
    nodes = _power_law_nodes([0.05, 0.1, 0.3, 0.6], slope=0.0)
    nodes[2] = Y.SignalSample.synthetic(mass_gev=0.3, pz_gev=50.0, z_range=Z_RANGE,
                                        z_prod=Z_PROD, n=1000, efficiency=0.6)
    m = np.geomspace(0.1, 0.3, 60)
    eff = np.array([Y.interpolated_acceptance(nodes, x, [1e4])[1][0] for x in m])
    assert np.all(np.diff(eff) >= -1e-12)  # monotone (PCHIP: no overshoot)
    assert eff.min() >= 0.3 - 1e-12 and eff.max() <= 0.6 + 1e-12
    assert np.max(np.abs(np.diff(eff, 2))) < 0.01  # no kinks


def test_node_without_accepted_events_does_not_drag_its_neighbours():
    """A simulated mass that accepted nothing is left out, not entered as log A = -700: the
    yield between two usable nodes is untouched, and it is 0 (not bridged) around the empty one
    (the defect: 1e-10 to 1e-300 of the yield between it and its neighbour)."""
    ct = np.array([0.02, 2.0])
    good = _power_law_nodes([0.05, 0.1, 0.3, 0.6])
    empty = Y.SignalSample.synthetic(mass_gev=0.8, pz_gev=50.0, z_range=Z_RANGE, z_prod=Z_PROD,
                                     n=1000, efficiency=0.0)
    with_empty = [*good, empty]
    for m in (0.07, 0.2, 0.45, 0.6):
        np.testing.assert_array_equal(Y.interpolated_acceptance(with_empty, m, ct)[0],
                                      Y.interpolated_acceptance(good, m, ct)[0])
    assert (Y.interpolated_acceptance(with_empty, 0.7, ct)[0] == 0).all()
    # an empty node inside the grid: a gap around it, the runs either side unchanged
    inner = _power_law_nodes([0.05, 0.1, 0.3, 0.6])
    inner[2] = Y.SignalSample.synthetic(mass_gev=0.3, pz_gev=50.0, z_range=Z_RANGE,
                                        z_prod=Z_PROD, n=1000, efficiency=0.0)
    assert (Y.interpolated_acceptance(inner, 0.2, ct)[0] == 0).all()
    # (a power law in log-log: the two-node run interpolates it as the four-node one does)
    np.testing.assert_allclose(Y.interpolated_acceptance(inner, 0.07, ct)[0],
                               Y.interpolated_acceptance(good, 0.07, ct)[0], rtol=1e-9)
    cov = Y.coverage(inner)
    assert cov["ranges_gev"] == [[0.05, 0.1], [0.6, 0.6]]
    assert cov["empty_nodes_gev"] == [0.3] and "300.0 MeV" in cov["note"]


def test_yield_table_records_coverage_and_form_factor():
    import dataclasses

    from na62dump.physics import brems

    nodes = [dataclasses.replace(s, production="brems")
             for s in _power_law_nodes([0.05, 0.1, 0.3])]
    nodes.append(dataclasses.replace(
        Y.SignalSample.synthetic(mass_gev=0.6, pz_gev=50.0, z_range=Z_RANGE, z_prod=Z_PROD,
                                 n=1000, efficiency=0.0), production="brems"))
    tables = {ff: Y.dark_photon_table(nodes, "ee", [0.1, 0.2], [1e-6, 1e-5], 1.4e17,
                                      form_factor=ff) for ff in ("none", "vmd")}
    for ff, t in tables.items():
        back = Y.YieldTable.from_json(t.to_json())
        assert back.options == {"brems_form_factor": ff}
        assert back.coverage["brems"]["ranges_gev"] == [[0.05, 0.3]]
        assert back.coverage["brems"]["empty_nodes_gev"] == [0.6]
    ratio = tables["vmd"].n_exp["brems"] / tables["none"].n_exp["brems"]
    np.testing.assert_allclose(ratio, brems.form_factor_sq(np.array([0.1, 0.2]) ** 2)[:, None]
                               * np.ones((1, 2)), rtol=1e-12)


def _dp_table(nodes, n_pot, masses, eps):
    return Y.dark_photon_yields(
        nodes, masses, eps,
        production_rate=lambda mode, m: np.full(np.shape(m), 1e-2),
        branching_ratio=lambda m: np.full(np.shape(m), 0.5),
        ctau_m=lambda m, e: 1e-13 / (m * np.asarray(e) ** 2),
        n_pot=n_pot, channel="ee",
    )


def test_dark_photon_yields_formula_and_pot_scaling():
    nodes = _power_law_nodes([0.05, 0.1, 0.3])
    masses, eps = np.array([0.1, 0.2]), np.geomspace(1e-7, 1e-5, 5)
    t1 = _dp_table(nodes, 1.4e17, masses, eps)
    t2 = _dp_table(nodes, 1.0e18, masses, eps)
    np.testing.assert_allclose(t2.total, t1.total * 1e18 / 1.4e17, rtol=1e-12)
    a = nodes[1].acceptance(1e-13 / (0.1 * eps**2))
    np.testing.assert_allclose(t1.n_exp["synthetic"][0], 1.4e17 * 1e-2 * eps**2 * 0.5 * a,
                               rtol=1e-12)
    assert t1.n_exp["synthetic"].shape == (2, 5)
    back = Y.YieldTable.from_json(t1.to_json())
    np.testing.assert_allclose(back.total, t1.total)
    assert back.coupling_name == "eps"
    with pytest.raises(InputError, match="N_POT"):
        _dp_table(nodes, 0.0, masses, eps)
    with pytest.raises(InputError, match="malformed"):
        Y.YieldTable.from_json({"model": "x"})


def test_lifetime_yields_linear_in_parents():
    nodes = _power_law_nodes([0.3, 1.0])
    ct = np.geomspace(0.1, 100.0, 7)
    t = Y.lifetime_yields(nodes, ct, parents_per_pot=2e-7, model="alp", channel="ee")
    t2 = Y.lifetime_yields(nodes, ct, parents_per_pot=4e-7, model="alp", channel="ee")
    np.testing.assert_allclose(t2.total, 2 * t.total)
    np.testing.assert_allclose(t.total[1], 1.4e17 * 2e-7 * nodes[1].acceptance(ct))
    assert t.to_json()["ctau_m"] == pytest.approx(list(ct))


def test_resolution_falls_back_to_unweighted_with_few_events(events):
    pz, dz, rng = events
    acc = np.zeros(pz.size, bool)
    acc[:5] = True  # five accepted events: never 10 effective ones
    mrel = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])
    s = _sample_from_events(0.3, pz, dz, acc, mrel=mrel)
    r = s.relative_resolution([0.01, 1.0, 1e4])
    assert r[0] == r[1] == r[2]  # the same, lifetime-independent value
    assert r[0] == pytest.approx(mrel.std(), rel=0.02)  # up to the 1e-3 mrel binning


def test_efficiency_is_undefined_where_a_few_events_carry_the_weight(events):
    """At very short lifetimes only the fastest generated events reach the FV: NaN, not noise."""
    pz, dz, rng = events
    mass = 0.3
    acc = rng.uniform(size=pz.size) < 0.2
    s = _sample_from_events(mass, pz, dz, acc)
    ctau = np.array([1e-4, 1.0, 1e3])
    n_eff = s.effective_generated(ctau)
    assert n_eff[0] < Y.SignalSample.MIN_EFFECTIVE_EVENTS < min(n_eff[1:])
    eff = s.efficiency(ctau)
    assert np.isnan(eff[0])
    assert eff[1:] == pytest.approx(0.2, rel=0.05)
    assert s.acceptance(ctau)[0] >= 0.0  # the yield itself stays defined (tiny)


def test_dark_scalar_table_is_linear_in_sin2theta():
    # rate_power=1: N_exp = N_POT x B_PER_POT BR(B -> K_X S)/sin^2 x sin^2 x BR(ee) x A(ctau)
    from na62dump.physics import scalar

    nodes = _power_law_nodes([0.05, 0.1, 0.15])
    masses, s2 = np.array([0.1]), np.geomspace(1e-7, 1e-5, 4)
    t = Y.dark_scalar_table(nodes, "ee", masses, s2, 1.4e17)
    assert t.coupling_name == "sin2theta" and "sin2theta^1" in t.notes
    a = nodes[1].acceptance(scalar.ctau_m(0.1, s2))
    ref = 1.4e17 * scalar.n_produced_per_pot(0.1, 1.0) * s2 * scalar.branching_ratios(0.1)["ee"]
    np.testing.assert_allclose(t.n_exp["synthetic"][0], ref * a, rtol=1e-12)
    # the generic parameter: the dark photon keeps coupling**2
    eps = np.geomspace(1e-7, 1e-5, 3)
    sq = _dp_table(nodes, 1.4e17, masses, eps).n_exp["synthetic"]
    lin = Y.dark_photon_yields(
        nodes, masses, eps, production_rate=lambda mode, m: np.full(np.shape(m), 1e-2),
        branching_ratio=lambda m: np.full(np.shape(m), 0.5),
        ctau_m=lambda m, e: 1e-13 / (m * np.asarray(e) ** 2), channel="ee", rate_power=1,
    ).n_exp["synthetic"]
    np.testing.assert_allclose(sq, lin * eps, rtol=1e-12)


def test_local_pchip_window_equals_the_pchip_over_all_nodes():
    """interpolated_acceptance reweights only the nodes k-1 .. k+2 around the target: the
    same as PCHIP through every node (efficiencies that wiggle, so slopes matter)."""
    from scipy.interpolate import PchipInterpolator

    rng = np.random.default_rng(5)
    masses = np.geomspace(0.02, 1.5, 9)
    effs = rng.uniform(0.05, 0.5, masses.size)
    nodes = [Y.SignalSample.synthetic(mass_gev=m, pz_gev=60.0, z_range=Z_RANGE, z_prod=Z_PROD,
                                      n=1000, efficiency=e) for m, e in zip(masses, effs,
                                                                            strict=True)]
    ct = np.array([0.05, 5.0])
    for m in np.geomspace(0.021, 1.49, 17):
        la = np.array([np.log(s.acceptance(ct / m * s.mass_gev)) for s in nodes])
        ref = np.exp(PchipInterpolator(np.log(masses), la, axis=0)(np.log(m)))
        np.testing.assert_allclose(Y.interpolated_acceptance(nodes, m, ct)[0], ref, rtol=1e-12)


def test_alp_gluon_table_is_quadratic_in_cgg_and_skips_the_poles():
    import dataclasses

    from na62dump.physics import alp_gluon

    nodes = [dataclasses.replace(s, channel="pipigamma")
             for s in _power_law_nodes([0.45, 0.7, 0.9])]
    masses, cgg = np.array([0.5, 0.548, 0.7]), np.geomspace(1e-8, 1e-6, 4)
    t = Y.alp_gluon_table(nodes, "pipigamma", masses, cgg, 1.4e17)
    assert t.coupling_name == "cgg" and "cgg^2" in t.notes
    np.testing.assert_array_equal(t.mass_gev, [0.5, 0.7])  # 0.548: inside the eta window
    a = Y.interpolated_acceptance(nodes, 0.7, alp_gluon.ctau_m(0.7, cgg))[0]
    ref = (1.4e17 * alp_gluon.n_produced_per_pot(0.7, 1.0) * cgg**2
           * alp_gluon.branching_ratios(0.7)["pipigamma"])
    np.testing.assert_allclose(t.n_exp["synthetic"][1], ref * a, rtol=1e-12)


def test_alp_fermion_table_is_quadratic_in_cff():
    from na62dump.physics import alp_fermion

    nodes = _power_law_nodes([0.1, 0.3, 0.7])
    masses, cff = np.array([0.2, 0.5]), np.geomspace(1e-7, 1e-5, 4)
    t = Y.alp_fermion_table(nodes, nodes[0].channel, masses, cff, 1.4e17)
    assert t.model == "alp_fermion" and t.coupling_name == "cff" and "cff^2" in t.notes
    a = Y.interpolated_acceptance(nodes, 0.5, alp_fermion.ctau_m(0.5, cff))[0]
    ref = (1.4e17 * alp_fermion.n_produced_per_pot(0.5, 1.0) * cff**2
           * alp_fermion.branching_ratios(0.5)[nodes[0].channel])
    np.testing.assert_allclose(t.n_exp["synthetic"][1], ref * a, rtol=1e-12)
