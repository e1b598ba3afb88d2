"""Background-only workspaces and PatchSets (na62dump.stats.patchset): real pyhf on tiny grids."""

from __future__ import annotations

import numpy as np
import pyhf
import pytest

from na62dump.errors import InputError
from na62dump.stats import patchset
from na62dump.stats.toys import FastModel, PublishedToys

MASSES = np.array([0.25, 0.3])
EPS = np.array([1e-7, 3e-7, 1e-6])
BKG = {"ee": {"median": 0.0094, "k": 4.0}, "mumu": {"median": 0.016, "k": 1.125}}


def _build(channels, observed=None, **kw):
    n = {"ee": {"brems": np.array([[0.5, 2.0, 6.0], [0.3, 1.5, 4.0]]),
                "mesons": np.array([[0.1, 0.4, 1.0], [0.0, 0.2, 0.5]])},
         "mumu": {"brems": np.array([[0.2, 1.0, 3.0], [0.4, 1.0, 2.0]])}}
    return patchset.build_patchset(
        {c: n[c] for c in channels}, {c: np.full((2, 3), 0.003) for c in channels},
        {c: BKG[c] for c in channels}, observed or {c: 0 for c in channels}, MASSES, EPS,
        coupling_name="eps", measurement="NA62_dark_photon_" + "_".join(channels), **kw)


def test_combination_mu1_is_the_total_and_npot_enters_once():
    bkg, ps = _build(["ee", "mumu"], hepdata_record="ins1234567")
    spec, meta = patchset.apply_patch(bkg, ps, 0.3, 3e-7)
    assert meta["n_exp_total"] == pytest.approx(1.5 + 0.2 + 1.0)
    ws = pyhf.Workspace(spec)
    model = ws.model()
    assert [p for p in model.config.par_order if p == "n_pot"] == ["n_pot"]
    init = np.array(model.config.suggested_init())
    b_only = init.copy()
    b_only[model.config.poi_index] = 0.0
    s = model.expected_actualdata(init).sum() - model.expected_actualdata(b_only).sum()
    assert s == pytest.approx(2.7, rel=1e-9)
    # the published treatment on the patched workspace: at n_obs = 0 exactly exp(-u), with
    # u < N the signal total profiled against its log-normal nuisances (toys module)
    cls = PublishedToys(FastModel.from_spec(spec), 200, np.random.default_rng(1)).evaluate(1.0)
    assert np.exp(-2.7) < cls["cls"] < 1.5 * np.exp(-2.7)
    again = PublishedToys(FastModel.from_spec(spec), 200, np.random.default_rng(2)).evaluate(1.0)
    assert again["cls"] == pytest.approx(cls["cls"], rel=1e-9)  # exact: no toy noise


def test_pyhf_combine_of_two_channels_works():
    ee, ps_ee = _build(["ee"])
    mm, _ = _build(["mumu"])
    combined = pyhf.Workspace.combine(pyhf.Workspace(ee), pyhf.Workspace(mm))
    assert sorted(combined.channels) == ["ee", "mumu"]
    assert sorted(combined.measurement_names) == ["NA62_dark_photon_ee",
                                                   "NA62_dark_photon_mumu"]
    # the patchset of one channel, validated and verified by pyhf (digest of bkg-only)
    ps_ee["metadata"]["references"] = {"hepdata": "ins1234567"}
    pset = patchset.validate_patchset(ee, ps_ee)
    assert pset.labels == ["mass_gev", "eps"] and len(pset.patches) == 6


def test_observed_candidates_enter_their_mass_bin():
    bkg, ps = _build(["mumu"], observed={"mumu": [0.3005]})
    assert bkg["observations"][0]["data"] == [1.0]
    spec, _ = patchset.apply_patch(bkg, ps, 0.3, 1e-6)
    data = spec["observations"][0]["data"]
    assert sum(data) == 1.0 and len(data) > 1


def test_bad_inputs():
    with pytest.raises(InputError, match="no patch"):
        patchset.apply_patch(*_build(["ee"]), 0.123, 1e-7)
    with pytest.raises(InputError, match="measurement name"):
        patchset.build_patchset({"ee": {"brems": np.ones((2, 3))}}, {"ee": np.ones((2, 3))},
                                BKG, {"ee": 0}, MASSES, EPS, coupling_name="eps",
                                measurement="NA62 ee")
    with pytest.raises(InputError, match="shape"):
        patchset.build_patchset({"ee": {"brems": np.ones((3, 3))}}, {"ee": np.ones((2, 3))},
                                BKG, {"ee": 0}, MASSES, EPS, coupling_name="eps",
                                measurement="NA62_ee")


def test_no_patchset_without_a_hypothesis_carrying_signal():
    """Below PATCH_MIN_YIELD everywhere (a tiny sample), or signal only outside the channel's
    mass range: the background-only workspace, and no PatchSet."""
    tiny = {"ee": {"brems": np.full((2, 3), 0.5 * patchset.PATCH_MIN_YIELD)}}
    bkg, ps = patchset.build_patchset(tiny, {"ee": np.full((2, 3), 0.003)}, BKG, {"ee": 0},
                                      MASSES, EPS, coupling_name="eps", measurement="NA62_ee")
    assert ps is None and bkg["measurements"][0]["name"] == "NA62_ee"
    below = {"mumu": {"brems": np.ones((2, 3))}}  # mu+mu- opens at 0.2114 GeV
    _, ps = patchset.build_patchset(below, {"mumu": np.full((2, 3), 0.003)}, BKG,
                                    {"mumu": 0}, np.array([0.05, 0.1]), EPS,
                                    coupling_name="eps", measurement="NA62_mumu")
    assert ps is None


def test_alp_patches_are_mass_lifetime_and_br():
    """Two coupling axes (the ALP's tau_a and BR x BR): one patch per (mass, tau, BR x BR)
    with >= PATCH_MIN_YIELD events, mu = 1 the hypothesis' yield BR x BR x N(BR x BR = 1)."""
    tau, br = np.array([1e-11, 1e-10]), np.array([1e-9, 1e-8, 1e-7])
    unit = np.array([[2e7, 5e7], [1e7, 0.0]])  # (mass, tau) at BR x BR = 1
    n = {"ee": {"b_meson": unit[..., None] * br}}
    bkg, ps = patchset.build_patchset(n, {"ee": np.array([0.003, 0.004])}, BKG, {"ee": 0},
                                      MASSES, (tau, br), coupling_name=("tau_s", "br_x_br"),
                                      measurement="NA62_alp_ee", hepdata_record="ins1234567",
                                      systematics={"production_rel": {"b_meson": 0.29}})
    assert ps["metadata"]["labels"] == ["mass_gev", "tau_s", "br_x_br"]
    values = [p["metadata"]["values"] for p in ps["patches"]]
    # (0.3 GeV, 1e-10 s) has no signal; every other point has >= 0.01 events
    assert len(values) == 2 * 2 * 3 - 3 and [0.3, 1e-10, 1e-9] not in values
    spec, meta = patchset.apply_patch(bkg, ps, 0.25, (1e-10, 1e-8))
    assert meta["name"] == "m250p00_c01_01" and meta["n_exp_total"] == pytest.approx(0.5)
    model = pyhf.Workspace(spec).model()
    init = np.array(model.config.suggested_init())
    b_only = init.copy()
    b_only[model.config.poi_index] = 0.0
    s = model.expected_actualdata(init).sum() - model.expected_actualdata(b_only).sum()
    assert s == pytest.approx(0.5, rel=1e-9)
    assert pyhf.PatchSet(ps)[(0.25, 1e-10, 1e-8)].name == "m250p00_c01_01"  # pyhf finds it
    with pytest.raises(InputError, match="no patch"):
        patchset.apply_patch(bkg, ps, 0.25, 1e-8)  # the lifetime is part of the hypothesis
    with pytest.raises(InputError, match="coupling names"):
        patchset.build_patchset(n, {"ee": np.array([0.003, 0.004])}, BKG, {"ee": 0}, MASSES,
                                (tau, br), coupling_name=("br_x_br",), measurement="NA62_alp")
