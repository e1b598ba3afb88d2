"""Published toy treatment on pyhf models, the fast fitter against pyhf, pyhf's own toys."""

import math

import numpy as np
import pyhf
import pytest

from na62dump.errors import InputError
from na62dump.stats.counting import combined_log_normal_k, counting_cls, counting_upper_limit
from na62dump.stats.toys import (
    FastModel,
    PublishedToys,
    _poisson_from_uniform,
    _qtilde_rows,
    check_pyhf_toy_bands,
    published_cls,
    pyhf_toy_hypotest,
    upper_limit_from_curve,
)
from na62dump.stats.workspace import build_channel_workspace, combine_workspaces, make_model

NO_SYST = {"n_pot_k": 1.0, "efficiency_rel": 0.0, "production_rel": 0.0}
EE_BKG = {"median": 0.0094, "k": 4.0}
MUMU_BKG = {"median": 0.016, "k": 1.125}


def _combined(observed_mumu=(0.411,)):
    ee = build_channel_workspace(0.4, 0.6, 0.004, EE_BKG, [], "ee")
    mumu = build_channel_workspace(0.4, 0.4, 0.004, MUMU_BKG, list(observed_mumu), "mumu")
    return combine_workspaces([ee, mumu])


def test_fast_fits_match_pyhf_fits():
    spec = _combined()
    fm = FastModel.from_spec(spec)
    model, _ = make_model(spec)
    rng = np.random.default_rng(2)
    rows = np.zeros((4, fm.nmain))
    rows[1, 5] = 1
    rows[2] = rng.poisson(fm.expected(fm.init[None] * 3)[0] + 0.1)
    rows[3, [4, 5, 17]] = [2, 1, 3]
    for row in rows:
        data = np.concatenate([row, fm.aux_nominal])
        for mu in (0.5, 3.0):
            x, _ = fm.fit(row[None], mu_fixed=mu)
            _, twice_nll = pyhf.infer.mle.fixed_poi_fit(mu, data, model,
                                                        return_fitted_val=True)
            ours = -fm.logpdf(x, row[None])[0]
            assert ours <= float(twice_nll) / 2 + 1e-7
            assert ours == pytest.approx(float(twice_nll) / 2, abs=1e-5)
        x, _ = fm.fit(row[None])
        _, twice_nll = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
        ours = -fm.logpdf(x, row[None])[0]
        assert ours <= float(twice_nll) / 2 + 1e-7
        assert ours == pytest.approx(float(twice_nll) / 2, abs=1e-5)


def test_batched_logpdf_is_pyhf_logpdf():
    spec = _combined()
    fm = FastModel.from_spec(spec)
    model, _ = make_model(spec)
    rng = np.random.default_rng(4)
    pars = np.clip(fm.init + rng.normal(0, 0.5, (700, fm.npars)), 0.01, None)
    rows = rng.poisson(1.0, (700, fm.nmain)).astype(float)
    ours = fm.logpdf(pars, rows)
    for k in (0, 511, 512, 699):  # across the batch boundary
        ref = model.logpdf(pars[k], np.concatenate([rows[k], fm.aux_nominal]))[0]
        assert ours[k] == pytest.approx(float(ref), rel=1e-12)


def test_zero_observed_no_background_gives_2p30():
    spec = build_channel_workspace(0.3, 1.0, 0.003, {"median": 1e-6, "k": 1.0}, 0, "ee",
                                   NO_SYST, binning="counting")
    res = published_cls(FastModel.from_spec(spec), np.linspace(2.0, 2.6, 7), 20000,
                        np.random.default_rng(11), expected=False)
    assert np.allclose(res["cls"], np.exp(-res["mu"]), atol=0.008)
    assert upper_limit_from_curve(res["mu"], res["cls"]) == pytest.approx(math.log(10),
                                                                          rel=0.01)


def test_binned_window_model_gives_the_same_2p30():
    spec = build_channel_workspace(0.3, 1.0, 0.003, {"median": 1e-6, "k": 1.0}, [], "ee",
                                   NO_SYST)
    res = published_cls(FastModel.from_spec(spec), [1.5, 2.3, 3.0], 4000,
                        np.random.default_rng(3))
    assert np.allclose(res["cls"], np.exp(-res["mu"]), atol=0.02)
    # Expected = observed when every background-only toy is empty.
    assert np.allclose(res["cls_expected"], res["cls"][None, :])


def test_published_ee_nuisances_match_the_independent_calculation():
    spec = build_channel_workspace(0.3, 1.0, 0.003, EE_BKG, [], "ee")
    mus = np.linspace(2.2, 2.8, 7)
    res = published_cls(FastModel.from_spec(spec), mus, 8000, np.random.default_rng(5))
    s_up = upper_limit_from_curve(mus, res["cls"])
    k = combined_log_normal_k([1.2, 1.029, 1.01])
    exact = counting_upper_limit(0, 0.0094, signal_rel_unc=k - 1, background_k=4.0,
                                 toys="exact")
    assert 2.4 < s_up < 2.6
    assert s_up == pytest.approx(exact, rel=0.03)


def test_observed_event_at_the_mass_weakens_the_combined_limit():
    # The event in the signal core (0.1 sigma from M). One in the tail (0.411 GeV, 2.75
    # sigma) is less signal-like than most one-event s+b toys under q~ and may even
    # strengthen the limit slightly, which is the published treatment's ordering.
    mus = np.array([2.5, 3.5, 4.5, 6.0])
    rng = np.random.default_rng(8)
    with_event = published_cls(FastModel.from_spec(_combined((0.4004,))), mus, 1000, rng)
    without = published_cls(FastModel.from_spec(_combined(())), mus, 1000, rng)
    assert np.all(with_event["cls"] > without["cls"])


def test_cls_at_mu_zero_is_refused():
    spec = build_channel_workspace(0.3, 1.0, 0.003, EE_BKG, [], "ee")
    with pytest.raises(InputError, match="> 0"):
        published_cls(FastModel.from_spec(spec), [0.0], 10, np.random.default_rng(1))
    with pytest.raises(InputError, match="Generator"):
        published_cls(FastModel.from_spec(spec), [1.0], 10, 42)


def test_unsupported_modifiers_are_refused():
    spec = build_channel_workspace(0.3, 1.0, 0.003, EE_BKG, [], "ee")
    bkg = spec["channels"][0]["samples"][-1]
    bkg["modifiers"].append({"name": "stat", "type": "staterror",
                             "data": [1e-4] * len(bkg["data"])})
    with pytest.raises(InputError, match="not supported"):
        FastModel.from_spec(spec)


def test_numpy_guard_for_pyhf_toy_bands():
    assert check_pyhf_toy_bands()  # the pinned numpy 2.3.5
    assert check_pyhf_toy_bands("2.3.5")
    assert not check_pyhf_toy_bands("2.4.0")
    assert not check_pyhf_toy_bands("3.0.1")


def test_pyhf_toy_expected_band_works_with_pinned_numpy_and_the_fallback_agrees():
    spec = build_channel_workspace(0.3, 1.0, 0.003, EE_BKG, 0, "ee", binning="counting")
    direct = pyhf_toy_hypotest(spec, 2.3, 40, np.random.default_rng(9), use_pyhf_bands=True)
    fallback = pyhf_toy_hypotest(spec, 2.3, 40, np.random.default_rng(9),
                                 use_pyhf_bands=False)
    assert direct["cls_expected"].shape == (5,)
    assert np.all(np.isfinite(direct["cls_expected"]))
    assert np.all(np.diff(direct["cls_expected"]) >= 0)
    assert fallback["cls"] == pytest.approx(direct["cls"])
    assert np.allclose(fallback["cls_expected"], direct["cls_expected"])


# -- n_obs = 0: the observed CLs is exact ---------------------------------------------------
EE_K = combined_log_normal_k([1.2, 1.029, 1.01])  # N_POT, selection, brems production


@pytest.mark.parametrize("sigma", [0.0005, 0.003, 0.02])
def test_zero_observed_cls_is_the_exact_one_bin_cls_of_the_totals(sigma):
    spec = build_channel_workspace(0.3, 1.0, sigma, EE_BKG, [], "ee")
    fm = FastModel.from_spec(spec)
    for s in (1.0, 2.5, 4.0):
        exact = counting_cls(s, 0, 0.0094, signal_rel_unc=EE_K - 1, background_k=4.0,
                             method="exact")["cls"]
        # any seed, any number of toys: the same value (no toy noise at n_obs = 0)
        for n_toys, seed in ((100, 1), (3000, 2)):
            res = PublishedToys(fm, n_toys, np.random.default_rng(seed)).evaluate(s)
            assert res["cls"] == pytest.approx(exact, rel=1e-6)
        # and CLs = exp(-u(s)) does not depend on the background
        other = counting_cls(s, 0, 0.5, signal_rel_unc=EE_K - 1, background_k=1.5,
                             method="exact")["cls"]
        assert other == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("combined", [False, True])
def test_plain_toys_agree_with_the_exact_zero_observed_cls(combined):
    """The toy path at n = 0: no toy with events reaches q(0), the empty fraction is p0."""
    ee = build_channel_workspace(0.3, 0.6 if combined else 1.0, 0.003, EE_BKG, [], "ee")
    spec = ee if not combined else combine_workspaces(
        [ee, build_channel_workspace(0.3, 0.4, 0.002, MUMU_BKG, [], "mumu")])
    fm = FastModel.from_spec(spec)
    n_toys, s = 20000, 2.5
    toys = PublishedToys(fm, n_toys, np.random.default_rng(7))
    exact = toys.evaluate(s)
    x_mu, _ = fm.fit(toys.obs, mu_fixed=s)
    lam = fm.expected(x_mu)[0]
    n_sb = _poisson_from_uniform(toys.u_sb, lam)
    rows, inv = np.unique(n_sb, axis=0, return_inverse=True)
    q = _qtilde_rows(fm, rows, s)[inv.ravel()]
    empty = n_sb.sum(axis=1) == 0
    assert np.all(q[empty] == pytest.approx(exact["q_obs"], rel=1e-9))
    assert np.all(q[~empty] < exact["q_obs"] * (1 - 1e-6))
    plain_clsb = float(np.mean(q >= exact["q_obs"] * (1 - 1e-9)))
    p0 = math.exp(-lam.sum())
    assert exact["clsb"] == pytest.approx(p0, rel=1e-12)
    assert plain_clsb == pytest.approx(p0, abs=3 * math.sqrt(p0 * (1 - p0) / n_toys))


def test_empty_only_regime_needs_no_toy_and_agrees_with_the_toy_path():
    """n_obs = 0 and P_b(n > 0) below the +2 sigma tail: every band is the empty data set, so
    the result is exact without fitting a toy; just above that background the toys run, and
    the observed CLs (exact in both) is the same."""
    s = 2.5
    small = FastModel.from_spec(build_channel_workspace(0.3, 1.0, 0.003,
                                                        {"median": 0.015, "k": 1.0}, [], "ee"))
    large = FastModel.from_spec(build_channel_workspace(0.3, 1.0, 0.003,
                                                        {"median": 0.05, "k": 1.0}, [], "ee"))
    t_small = PublishedToys(small, 500, np.random.default_rng(3))
    t_large = PublishedToys(large, 500, np.random.default_rng(3))
    assert t_small.empty_only and not t_large.empty_only
    r_small, r_large = t_small.evaluate(s), t_large.evaluate(s)
    assert r_small["cls"] == pytest.approx(r_large["cls"], rel=1e-6)
    np.testing.assert_allclose(r_small["cls_expected"], r_small["cls"], rtol=0)
    assert r_small["clb"] == pytest.approx(math.exp(-0.015), rel=1e-9)
    # the median band of the toy path is the empty set as well (P_b(n > 0) = 5% < 50%)
    assert r_large["cls_expected"][2] == pytest.approx(r_large["cls"], rel=1e-6)
