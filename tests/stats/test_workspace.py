"""pyhf workspace builders: schema, log-normal interpolation, combination, floors, errors."""

import json

import numpy as np
import pyhf
import pytest
from scipy import stats

from na62dump.errors import InputError
from na62dump.stats.workspace import (
    BACKGROUND_FLOOR,
    CHANNELS,
    background_pdf_fractions,
    build_channel_workspace,
    combine_workspaces,
    make_model,
    mass_bin_edges,
    save_workspace,
)

EE_BKG = {"median": 0.0094, "k": 4.0}
MUMU_BKG = {"median": 0.016, "k": 1.125}


def _ee(mass=0.3, y=1.0, observed=(), **kw):
    return build_channel_workspace(mass, y, 0.01 * mass, EE_BKG, list(observed), "ee", **kw)


def _mumu(mass=0.3, y=1.0, observed=(), **kw):
    return build_channel_workspace(mass, y, 0.01 * mass, MUMU_BKG, list(observed), "mumu",
                                   **kw)


def test_workspace_is_valid_under_pyhf_schema():
    ws = pyhf.Workspace(_ee())
    assert ws.channels == ["ee"]
    assert ws.get_measurement()["config"]["poi"] == "mu"


def test_signal_and_background_totals():
    model, _ = make_model(_ee(y=2.5))
    by_sample = model.main_model.expected_data(model.config.suggested_init(),
                                                return_by_sample=True)
    totals = dict(zip(model.config.samples, np.sum(by_sample, axis=1), strict=True))
    assert totals["signal_brems"] == pytest.approx(2.5, rel=1e-9)
    assert totals["background"] == pytest.approx(0.0094, rel=1e-9)


def test_normsys_is_log_normal_code1_on_both_sides():
    model, _ = make_model(_ee())
    init = np.array(model.config.suggested_init())
    for alpha in (-2.0, -0.5, 1.5):
        pars = init.copy()
        pars[model.config.par_slice("n_pot")] = alpha
        sig = model.main_model.expected_data(pars, return_by_sample=True)
        i = model.config.samples.index("signal_brems")
        assert np.sum(sig[i]) == pytest.approx(1.2**alpha, rel=1e-12)
    assert model.main_model.modifiers_appliers["normsys"].interpcode == "code1"
    # pyhf's default is code4 (a polynomial for |alpha| < 1), not the log-normal: the
    # setting, which the JSON cannot carry, matters (at 1e-10 here for symmetric hi/lo).
    default = pyhf.Workspace(_ee()).model()
    assert default.main_model.modifiers_appliers["normsys"].interpcode == "code4"
    pars = init.copy()
    pars[default.config.par_slice("n_pot")] = -0.5
    i = default.config.samples.index("signal_brems")
    by_sample = default.main_model.expected_data(pars, return_by_sample=True)
    assert abs(np.sum(by_sample[i]) / 1.2**-0.5 - 1) > 1e-12


def test_production_modes_get_their_own_uncertainty():
    spec = _ee(y={"brems": 1.0, "mesons": 0.5})
    model, _ = make_model(spec)
    assert {"prod_brems", "prod_mesons"} <= set(model.config.parameters)
    mesons = next(s for s in spec["channels"][0]["samples"] if s["name"] == "signal_mesons")
    prod = next(m for m in mesons["modifiers"] if m["name"] == "prod_mesons")
    assert prod["data"]["hi"] == pytest.approx(1.2)


def test_combination_shares_n_pot_once():
    combined = combine_workspaces([_ee(), _mumu(y=0.5)])
    model, data = make_model(combined)
    assert model.config.par_order.count("n_pot") == 1
    assert model.config.auxdata_order.count("n_pot") == 1
    assert {"eff_ee", "eff_mumu", "bkg_ee", "bkg_mumu"} <= set(model.config.parameters)
    assert len(data) == model.config.nmaindata + model.config.nauxdata
    with pytest.raises(InputError, match="appears in two"):
        combine_workspaces([_ee(), _ee()])


def test_observed_masses_fill_their_bin():
    spec = _mumu(mass=0.41, observed=[0.411])
    data = np.array(spec["observations"][0]["data"])
    edges = mass_bin_edges(0.41, 0.0041, CHANNELS["mumu"].mass_range_gev)
    assert data.sum() == 1
    assert edges[np.argmax(data)] <= 0.411 < edges[np.argmax(data) + 1]


def test_observed_far_from_mass_goes_to_a_sideband():
    spec = _mumu(mass=0.25, observed=[0.411])
    data = spec["observations"][0]["data"]
    assert data[-1] == 1 and sum(data) == 1


def test_counting_binning_is_one_bin():
    spec = build_channel_workspace(0.3, 1.0, 0.003, EE_BKG, 2, "ee", binning="counting")
    assert spec["observations"][0]["data"] == [2.0]
    assert len(spec["channels"][0]["samples"][0]["data"]) == 1


def test_tiny_background_is_floored():
    spec = build_channel_workspace(0.3, 1.0, 0.003, {"median": 0.0, "k": 2.0}, [], "ee")
    bkg = next(s for s in spec["channels"][0]["samples"] if s["name"] == "background")
    assert sum(bkg["data"]) == pytest.approx(BACKGROUND_FLOOR, rel=1e-6)
    assert min(bkg["data"]) > 0


def test_landau_shape_matches_scipy_and_mumu_shape_falls():
    lo, hi = CHANNELS["ee"].mass_range_gev
    edges = np.array([lo, 0.0149, 0.05, hi])
    frac = background_pdf_fractions(edges, CHANNELS["ee"].background_shape, (lo, hi))
    d = stats.landau(loc=0.01486, scale=0.00348)
    expect = np.diff(d.cdf(edges)) / (d.cdf(hi) - d.cdf(lo))
    assert np.allclose(frac, expect)
    lo, hi = CHANNELS["mumu"].mass_range_gev
    edges = np.linspace(lo, hi, 9)
    frac = background_pdf_fractions(edges, CHANNELS["mumu"].background_shape, (lo, hi))
    assert frac.sum() == pytest.approx(1.0)
    assert np.all(np.diff(frac) < 0)


def test_save_workspace_round_trip(tmp_path):
    spec = combine_workspaces([_ee(), _mumu()])
    path = save_workspace(spec, tmp_path / "ws" / "dark_photon_combined_m300.0.json")
    loaded = json.loads(path.read_text())
    assert pyhf.Workspace(loaded).model(
        modifier_settings={"normsys": {"interpcode": "code1"}}).config.npars == 7
    assert list((tmp_path / "ws").iterdir()) == [path]


def test_invalid_spec_is_not_saved(tmp_path):
    spec = _ee()
    spec["channels"][0]["samples"][0]["modifiers"][0]["type"] = "nonsense"
    with pytest.raises(InputError):
        save_workspace(spec, tmp_path / "bad.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"channel": "tautau"}, "unknown channel"),
        ({"mass_gev": float("nan")}, "mass_gev"),
        ({"mass_gev": 0.1, "channel": "mumu"}, "outside the channel range"),
        ({"signal_yield": -1.0}, "signal yield"),
        ({"signal_yield": 0.0}, "zero"),
        ({"sigma_m_gev": 0.0}, "sigma_m_gev"),
        ({"observed": [float("nan")]}, "NaN"),
        ({"observed": 2}, "no masses"),
        ({"background": {"median": 0.01, "k": 0.5}}, "k of ee"),
        ({"binning": "fancy"}, "binning"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"mass_gev": 0.3, "signal_yield": 1.0, "sigma_m_gev": 0.003,
            "background": EE_BKG, "observed": [], "channel": "ee"}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        build_channel_workspace(**args)


def test_hadronic_channel_has_a_flat_background():
    spec = build_channel_workspace(0.5, 1.0, 0.005, {"median": 0.007, "k": 2.0}, [], "pipi")
    model, _ = make_model(spec)
    assert "bkg_pipi" in model.config.parameters
    edges = mass_bin_edges(0.5, 0.005, CHANNELS["pipi"].mass_range_gev)
    bkg = np.array(spec["channels"][0]["samples"][-1]["data"])
    lo, hi = CHANNELS["pipi"].mass_range_gev
    assert np.allclose(bkg, 0.007 * np.diff(edges) / (hi - lo))


def test_every_normsys_is_a_symmetric_log_normal_with_lo_above_zero():
    spec = combine_workspaces([_ee(y={"brems": 1.0, "mesons": 0.3}), _mumu()])
    mods = [m for ch in spec["channels"] for s in ch["samples"] for m in s["modifiers"]
            if m["type"] == "normsys"]
    assert len(mods) == 11
    for m in mods:
        assert m["data"]["lo"] > 0
        assert m["data"]["hi"] * m["data"]["lo"] == pytest.approx(1.0)
    with pytest.raises(InputError, match="k of ee"):
        build_channel_workspace(0.3, 1.0, 0.003, {"median": 0.01, "k": float("inf")}, [],
                                "ee")
