"""Fast (M, eps) and ALP scans on synthetic but physical yields (real pyhf models and toys)."""

import json

import numpy as np
import pytest

from na62dump import geometry
from na62dump.errors import InputError
from na62dump.physics import dark_photon
from na62dump.physics.decay import decay_length_z
from na62dump.stats.contours import contours, is_closed_or_on_boundary
from na62dump.stats.scan import scan_alp, scan_dark_photon
from na62dump.stats.synthetic import Z_PRODUCTION, synthetic_dark_photon_yields
from na62dump.stats.toys import FastModel, published_cls
from na62dump.stats.workspace import build_channel_workspace, combine_workspaces

MASSES = np.array([0.25, 0.32, 0.41, 0.48])
EPS = np.geomspace(1e-8, 1e-3, 46)
MOMENTUM = 100.0  # GeV, the synthetic yields' fixed momentum
BACKGROUNDS = {"ee": {"median": 0.0094, "k": 4.0}, "mumu": {"median": 0.016, "k": 1.125}}


def _inputs(n_pot=1.4e17, observed_mumu=(0.411,)):
    n_exp = {c: synthetic_dark_photon_yields(MASSES, EPS, c, n_pot=n_pot) for c in BACKGROUNDS}
    kw = {"sigma_m_gev": {c: 0.01 * MASSES for c in BACKGROUNDS}, "backgrounds": BACKGROUNDS,
          "observed": {"ee": [], "mumu": list(observed_mumu)}}
    return n_exp, kw


@pytest.fixture(scope="module")
def scan():
    n_exp, kw = _inputs()
    return n_exp, scan_dark_photon(n_exp, MASSES, EPS, n_toys=400,
                                   rng=np.random.default_rng(1), **kw)


def _crossings(x, y, level):
    """x where y crosses level (linear in log x), for each sign change."""
    out = []
    for j in np.flatnonzero(np.diff(np.sign(y - level)) != 0):
        lx = np.log(x[j : j + 2])
        out.append(float(np.exp(np.interp(level, *(
            (y[j : j + 2], lx) if y[j] < y[j + 1] else (y[j : j + 2][::-1], lx[::-1]))))))
    return out


def test_exclusion_is_where_n_exp_exceeds_the_upper_limit(scan):
    n_exp, res = scan
    total = n_exp["ee"] + n_exp["mumu"]
    for i in range(len(MASSES)):
        excluded = res.excluded()[i]
        assert excluded.any()
        assert np.array_equal(excluded, total[i] > res.s_up_observed[i])


def test_lower_edge_at_long_lifetimes_and_upper_edge_decays_before_fv(scan):
    n_exp, res = scan
    total = n_exp["ee"] + n_exp["mumu"]
    distance = geometry.FV_Z_START - Z_PRODUCTION
    for i, m in enumerate(MASSES):
        lo_cls, hi_cls = _crossings(EPS, np.log(res.cls_observed[i]), np.log(0.1))
        lo_n, hi_n = _crossings(EPS, np.log(np.maximum(total[i], 1e-300)),
                                np.log(res.s_up_observed[i]))
        # Both interpolated within one grid step (a factor 1.29 in eps).
        assert lo_cls == pytest.approx(lo_n, rel=0.1)
        assert hi_cls == pytest.approx(hi_n, rel=0.1)
        lam_lo = decay_length_z(MOMENTUM, m, dark_photon.ctau_m(m, lo_cls))
        lam_hi = decay_length_z(MOMENTUM, m, dark_photon.ctau_m(m, hi_cls))
        assert lam_lo > distance  # long-lived ...
        k = int(np.searchsorted(EPS, lo_cls))
        slope = np.diff(np.log(total[i, k - 1 : k + 1])) / np.diff(np.log(EPS[k - 1 : k + 1]))
        # ... where P_D still grows with eps (N grows faster than the production, eps^2;
        # N ~ eps^4 in the limit lambda >> FV length).
        assert slope[0] > 2.0
        assert np.exp(-distance / lam_hi) < 0.1  # < 10% survive to the FV start
        k = int(np.searchsorted(EPS, hi_cls))
        slope = np.diff(np.log(total[i, k - 1 : k + 1])) / np.diff(np.log(EPS[k - 1 : k + 1]))
        assert slope[0] < -2.0  # N falls although the production grows as eps^2


def test_contours_close_or_end_on_the_boundary(scan):
    _, res = scan
    for cls in (res.cls_observed, *res.cls_expected.values()):
        lines = contours(MASSES, EPS, cls, 0.1)
        assert lines
        assert all(is_closed_or_on_boundary(line, MASSES, EPS) for line in lines)


def test_more_pot_excludes_more(scan):
    _, res = scan
    n_exp, kw = _inputs(n_pot=1e18)
    more = scan_dark_photon(n_exp, MASSES, EPS, n_toys=400, rng=np.random.default_rng(1),
                            **kw)
    assert np.all(more.excluded() >= res.excluded())
    assert more.excluded().sum() > res.excluded().sum()


def test_scan_matches_a_per_point_toy_calculation(scan):
    n_exp, res = scan
    i = 2  # M = 410 MeV, at the mu+mu- candidate (411 MeV)
    j = int(np.argmin(np.abs(res.cls_observed[i] - 0.15)))
    specs = [build_channel_workspace(MASSES[i], n_exp[c][i, j], 0.01 * MASSES[i],
                                     BACKGROUNDS[c], obs, c)
             for c, obs in (("ee", []), ("mumu", [0.411]))]
    direct = published_cls(FastModel.from_spec(combine_workspaces(specs)), [1.0], 3000,
                           np.random.default_rng(5))
    assert direct["cls"][0] == pytest.approx(res.cls_observed[i, j], abs=0.04)


def test_candidate_at_the_mass_weakens_the_limit():
    s_up = []
    for obs in ((0.411,), ()):
        n_exp, kw = _inputs(observed_mumu=obs)
        n_exp = {c: v[2:3] for c, v in n_exp.items()}
        kw["sigma_m_gev"] = {c: 0.01 * MASSES[2:3] for c in n_exp}
        res = scan_dark_photon(n_exp, MASSES[2:3], EPS, n_toys=1000,
                               rng=np.random.default_rng(1), **kw)
        s_up.append(res.s_up_observed[0])
    assert s_up[0] > s_up[1] + 0.3


def test_asymptotic_method_and_json(tmp_path):
    n_exp, kw = _inputs()
    n_exp = {c: v[:2] for c, v in n_exp.items()}
    kw["sigma_m_gev"] = {c: 0.01 * MASSES[:2] for c in n_exp}
    res = scan_dark_photon(n_exp, MASSES[:2], EPS, method="asymptotic", **kw,
                           workspace_dir=tmp_path / "ws")
    assert np.all(res.s_up_observed < 2.0)  # asymptotics are too strong here (documented)
    path = res.save(tmp_path / "limits" / "dark_photon_combined.json")
    data = json.loads(path.read_text())
    assert set(data["cls_expected"]) == {"-2", "-1", "0", "1", "2"}
    assert np.shape(data["cls_observed"]) == (2, len(EPS))
    assert len(list((tmp_path / "ws").glob("scan_m*.json"))) == 2


def test_alp_scan_is_linear_in_br():
    masses = np.array([0.3, 0.5])
    tau = np.geomspace(1e-12, 1e-8, 5)
    n_unit = {"ee": np.outer([1e9, 5e8], np.ones(5)) * np.array([0.2, 1.0, 0.6, 0.1, 0.01])}
    br = np.geomspace(1e-12, 1e-6, 13)
    res = scan_alp(n_unit, masses, tau, br, sigma_m_gev={"ee": 0.01 * masses},
                   backgrounds={"ee": BACKGROUNDS["ee"]}, observed={"ee": []}, n_toys=300,
                   rng=np.random.default_rng(2))
    assert res.cls_observed.shape == (2, 5, 13)
    excl = res.excluded()
    assert np.all(np.diff(excl.astype(int), axis=2) >= 0)  # more BR x BR: more excluded
    for i in range(2):
        n = n_unit["ee"][i][:, None] * br[None, :]
        assert np.array_equal(excl[i], n > res.s_up_observed[i])


@pytest.mark.parametrize(
    "change, match",
    [
        ({"n_exp": {"ee": np.ones((3, 3))}}, "shape"),
        ({"n_exp": {"tautau": np.ones((4, 46))}}, "unknown channel"),
        ({"observed": {}}, "observed has no entry"),
        ({"method": "magic"}, "method"),
        ({"n_exp": {"ee": np.full((4, 46), np.nan)}}, "NaN"),
    ],
)
def test_bad_input(change, match):
    args = {"n_exp": {"ee": np.ones((4, 46))}, "sigma_m_gev": {"ee": 0.01 * MASSES},
            "backgrounds": BACKGROUNDS, "observed": {"ee": []},
            "rng": np.random.default_rng(0), "n_toys": 10}
    args.update(change)
    n_exp = args.pop("n_exp")
    with pytest.raises(InputError, match=match):
        scan_dark_photon(n_exp, MASSES, EPS, **args)


def test_pyhf_toys_option_runs_on_a_curve():
    from na62dump.stats.scan import cls_curve
    from na62dump.stats.workspace import build_channel_workspace as build

    spec = build(0.3, 1.0, 0.003, BACKGROUNDS["ee"], 0, "ee", binning="counting")
    curve = cls_curve(spec, method="pyhf-toys", n_toys=12, rng=np.random.default_rng(3),
                      s_grid=(2.0, 3.0, 6.0))
    assert curve["mu"].tolist() == [2.0, 6.0]
    assert curve["cls_expected"].shape == (5, 2)
    assert np.all((curve["cls"] >= 0) & (curve["cls"] <= 1))
    assert curve["cls"][-1] <= curve["cls"][0] and curve["cls"][-1] < 0.1
    with pytest.raises(InputError, match="rng"):
        cls_curve(spec, method="pyhf-toys", n_toys=20)


# -- n_obs = 0 and common random numbers ----------------------------------------------------
def test_zero_observed_limit_is_the_same_at_every_mass_and_resolution():
    """The e+e- published nuisances (N_POT k 1.2, selection 2.9%, brems 1%, mesons 20%)."""
    from na62dump.stats.counting import combined_log_normal_k, counting_upper_limit

    masses = np.geomspace(0.01, 0.48, 14)
    eps = np.geomspace(1e-8, 1e-4, 12)
    n_ee = synthetic_dark_photon_yields(masses, eps, "ee")
    rel = np.geomspace(0.003, 0.05, len(masses))[::-1]  # resolutions from 5% to 0.3% of M
    res = scan_dark_photon({"ee": {"brems": n_ee}}, masses, eps,
                           sigma_m_gev={"ee": rel * masses},
                           backgrounds={"ee": BACKGROUNDS["ee"]}, observed={"ee": []},
                           n_toys=100, rng=np.random.default_rng(3))
    s_up = res.s_up_observed
    exact = counting_upper_limit(0, 0.0094, background_k=4.0, toys="exact",
                                 signal_rel_unc=combined_log_normal_k([1.2, 1.029, 1.01]) - 1)
    assert np.all((s_up >= 2.30) & (s_up <= 2.55))
    assert np.allclose(s_up, exact, rtol=2e-3)  # the s grid's log-linear interpolation
    assert np.max(np.abs(np.diff(s_up)) / s_up[:-1]) < 0.01
    # a meson admixture (20% production uncertainty) weakens it a little, smoothly
    mixed = scan_dark_photon({"ee": {"brems": 0.8 * n_ee, "mesons": 0.2 * n_ee}}, masses,
                             eps, sigma_m_gev={"ee": rel * masses},
                             backgrounds={"ee": BACKGROUNDS["ee"]}, observed={"ee": []},
                             n_toys=100, rng=np.random.default_rng(4)).s_up_observed
    assert np.all((mixed > s_up) & (mixed <= 2.55))
    assert np.max(np.abs(np.diff(mixed)) / mixed[:-1]) < 0.01


def test_observed_event_limits_use_common_random_numbers_across_masses():
    """mu+mu- with the published SR event: neighbouring masses with equal inputs agree.

    With the event in the signal core, independent toys (300) scatter the limit by ~15%
    from one seed to the next; the same seed at every mass makes neighbours agree.
    """
    masses = np.array([0.4100, 0.4102, 0.4104, 0.4106])
    eps = np.geomspace(1e-8, 1e-4, 8)
    n = np.repeat(synthetic_dark_photon_yields(masses[:1], eps, "mumu"), len(masses), axis=0)
    res = scan_dark_photon({"mumu": n}, masses, eps, sigma_m_gev={"mumu": np.full(4, 0.004)},
                           backgrounds={"mumu": BACKGROUNDS["mumu"]},
                           observed={"mumu": [0.411]}, n_toys=300,
                           rng=np.random.default_rng(5))
    s_up = res.s_up_observed
    assert np.all(s_up > 3.0)  # the event weakens the limit (2.4 without it)
    assert np.max(np.abs(np.diff(s_up)) / s_up[:-1]) < 0.01
    for band in res.s_up_expected.values():
        assert np.max(np.abs(np.diff(band)) / band[:-1]) < 0.01


def test_a_combination_reduces_to_its_single_channel_when_the_others_carry_no_signal():
    """Hadronic final states as channels of their own (stats.workspace.channel_config): with no
    signal in them, the combination of e+e- with two of them gives e+e-'s CLs; with signal in
    one of them it excludes more."""
    n_ee = synthetic_dark_photon_yields(MASSES[:2], EPS, "ee")
    base = {"sigma_m_gev": {"ee": 0.01 * MASSES[:2]}, "backgrounds": {"ee": BACKGROUNDS["ee"]},
            "observed": {"ee": []}}
    one = scan_dark_photon({"ee": n_ee}, MASSES[:2], EPS, n_toys=400,
                           rng=np.random.default_rng(5), **base)
    others = ("pipigamma", "kkpi0")
    kw = {k: {**v, **{c: v["ee"] for c in others}} for k, v in base.items()}
    zero = {"ee": n_ee, **{c: np.zeros_like(n_ee) for c in others}}
    combo = scan_dark_photon(zero, MASSES[:2], EPS, n_toys=400, rng=np.random.default_rng(5),
                             **kw)
    assert np.allclose(combo.cls_observed, one.cls_observed, rtol=1e-6, atol=1e-9)
    more = scan_dark_photon({**zero, "pipigamma": n_ee}, MASSES[:2], EPS, n_toys=400,
                            rng=np.random.default_rng(5), **kw)
    assert more.excluded().sum() > one.excluded().sum()
    with pytest.raises(InputError, match="unknown channel 'pipipi'"):
        scan_dark_photon({"pipipi": n_ee}, MASSES[:2], EPS, **base)


def test_saved_workspaces_have_unique_measurements_that_pyhf_combines(tmp_path):
    """Each saved per-mass workspace names its measurement NA62_<prefix>_m<MeV>, so pyhf's
    combine of two (here e+e- and mu+mu- at one mass) keeps both measurements."""
    import pyhf

    eps = np.array([1e-7, 1e-6])
    for c, bkg in (("ee", {"median": 0.0094, "k": 4.0}), ("mumu", {"median": 0.016, "k": 1.125})):
        scan_dark_photon({c: np.array([[0.5, 5.0]])}, np.array([0.3]), eps, method="asymptotic",
                         sigma_m_gev={c: np.array([0.003])}, backgrounds={c: bkg},
                         observed={c: 0}, workspace_dir=tmp_path, workspace_prefix=f"dp_{c}")
    ee, mm = (pyhf.Workspace(json.loads((tmp_path / f"dp_{c}_m300.0.json").read_text()))
              for c in ("ee", "mumu"))
    assert ee.measurement_names == ["NA62_dp_ee_m300p0"]
    both = pyhf.Workspace.combine(ee, mm)
    assert sorted(both.measurement_names) == ["NA62_dp_ee_m300p0", "NA62_dp_mumu_m300p0"]
    assert sorted(both.channels) == ["ee", "mumu"]
    model = both.model(measurement_name="NA62_dp_ee_m300p0")
    assert model.config.poi_name == "mu" and model.config.channels == ["ee", "mumu"]
