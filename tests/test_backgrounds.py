"""Tests of na62dump.backgrounds: weighted counts, beta posteriors, prompt pseudo-experiments."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from na62dump import backgrounds as B
from na62dump.errors import InputError

N_PE = 400_000


def test_weighted_count_effective_events():
    c = B.WeightedCount.from_weights(np.full(80, 0.75))
    assert c.value == pytest.approx(60.0)
    assert c.n_eff == pytest.approx(80.0)
    assert B.WeightedCount(0.0, 0.0).n_eff == 0.0
    with pytest.raises(InputError, match="sum_w"):
        B.WeightedCount(float("nan"), 1.0)


def test_rejection_posterior_unweighted_is_binomial_beta():
    total = B.WeightedCount.from_weights(np.ones(50))
    passed = B.WeightedCount.from_weights(np.ones(3))
    assert B.rejection_posterior(passed, total) == pytest.approx((4.0, 48.0))
    assert B.rejection_posterior(passed, total, B.JEFFREYS_PRIOR) == pytest.approx((3.5, 47.5))
    with pytest.raises(InputError, match="exceeds"):
        B.rejection_posterior(total, passed)
    with pytest.raises(InputError, match="empty"):
        B.rejection_posterior(passed, B.WeightedCount(0.0, 0.0))


@pytest.mark.parametrize(
    ("passed", "mode", "lo", "hi"),
    [(0.72, 0.012, 0.004, 0.032), (0.47, 0.008, 0.002, 0.026)],
)
def test_published_rejection_factors_are_mode_and_shortest_interval(passed, mode, lo, hi):
    """Published 1 - eta: 0.012 (+0.020 -0.008) after vetoes, 0.008 (+0.018 -0.006) for SR."""
    a, b = B.rejection_posterior(
        B.WeightedCount.from_value_error(passed, passed), B.PUBLISHED_EE_PROMPT.in_fv
    )
    s = B.beta_summary(a, b)
    assert s["mode"] == pytest.approx(mode, abs=0.0005)
    assert s["interval68"][0] == pytest.approx(lo, abs=0.0015)
    assert s["interval68"][1] == pytest.approx(hi, abs=0.003)
    # the shortest interval is shorter than the central one and holds 68%
    central = stats.beta.ppf([0.16, 0.84], a, b)
    assert s["interval68"][1] - s["interval68"][0] < central[1] - central[0]
    assert stats.beta.cdf(s["interval68"][1], a, b) - stats.beta.cdf(
        s["interval68"][0], a, b
    ) == pytest.approx(0.68, abs=1e-3)


@pytest.mark.parametrize("model", B.NFV_MODELS)
def test_sample_count_mean_and_sd(model):
    c = B.WeightedCount.from_value_error(59.9, 6.7)
    x = B.sample_count(c, 200_000, np.random.default_rng(3), model)
    assert x.min() > 0
    assert x.mean() == pytest.approx(59.9, rel=0.005)
    assert x.std() == pytest.approx(6.7, rel=0.02)


def test_sample_count_truncated_gauss_is_positive():
    x = B.sample_count(B.WeightedCount.from_value_error(1.0, 2.0), 10_000, np.random.default_rng(0),
                       "gauss")
    assert (x > 0).all()
    with pytest.raises(InputError, match="model"):
        B.sample_count(B.WeightedCount(1.0, 1.0), 10, np.random.default_rng(0), "flat")


def test_prompt_pseudo_experiments_are_seeded_and_match_analytic_mean():
    inputs = B.PUBLISHED_EE_PROMPT
    x1 = B.prompt_pseudo_experiments(inputs, "SR", 1000, np.random.default_rng(7))
    x2 = B.prompt_pseudo_experiments(inputs, "SR", 1000, np.random.default_rng(7))
    np.testing.assert_array_equal(x1, x2)
    x = B.prompt_pseudo_experiments(inputs, "SR", N_PE, np.random.default_rng(8))
    a1, b1 = B.rejection_posterior(inputs.after_vetoes, inputs.in_fv)
    a2, b2 = B.rejection_posterior(inputs.regions["SR"], inputs.in_fv)
    expected = 59.9 * a1 / (a1 + b1) * a2 / (a2 + b2)  # independent factors
    assert x.mean() == pytest.approx(expected, rel=0.01)
    with pytest.raises(InputError, match="region"):
        B.prompt_pseudo_experiments(inputs, "XR", 10, np.random.default_rng(0))


def _published_vs_ours(region, prior):
    x = B.prompt_pseudo_experiments(
        B.PUBLISHED_EE_PROMPT, region, N_PE, np.random.default_rng(2024), prior=prior
    )
    return B.summarise_samples(x)


@pytest.mark.parametrize("region", B.REGIONS)
def test_published_prompt_background_reproduced_within_factor_two(region):
    """Published N_bkg: SR 9.4e-3 (+20.6e-3 -7.2e-3), CR 9.7e-3 (+21.3e-3 -7.3e-3).

    The uniform prior gives a median 1.85x higher, the Jeffreys prior 0.8x (module docstring):
    the published figures lie between the two.
    """
    central, minus, plus = B.PUBLISHED_EE_PROMPT_RESULT[region]
    uni = _published_vs_ours(region, B.UNIFORM_PRIOR)
    jef = _published_vs_ours(region, B.JEFFREYS_PRIOR)
    assert jef["median"] < central < uni["median"]
    assert uni["median"] / central == pytest.approx(1.86, abs=0.08)
    assert jef["median"] / central == pytest.approx(0.80, abs=0.05)
    # Jeffreys: 68% interval edges within 35%, the log-normal k near the published 4.0
    assert jef["interval68"][0] == pytest.approx(central - minus, rel=0.35)
    assert jef["interval68"][1] == pytest.approx(central + plus, rel=0.12)
    assert jef["k"] == pytest.approx(4.0, rel=0.12)


def test_summarise_samples_lognormal_recovers_parameters():
    rng = np.random.default_rng(5)
    x = 0.016 * np.exp(np.log(1.125) * rng.standard_normal(200_000))
    s = B.summarise_samples(x)
    assert s["median"] == pytest.approx(0.016, rel=0.002)
    assert s["k"] == pytest.approx(1.125, rel=0.003)
    assert s["interval68"][0] < s["median"] < s["interval68"][1]
    zero = B.summarise_samples(np.zeros(10))
    assert zero["median"] == 0 and zero["k"] == 1.0
    with pytest.raises(InputError):
        B.summarise_samples(np.array([1.0, np.nan]))


def test_components_add_per_pseudo_experiment():
    rng = np.random.default_rng(11)
    a = B.count_component("comb", 0.016, 0.002, 100_000, rng, source="published")
    b = B.lognormal_component("prompt", 0.001, 2.0, 100_000, rng)
    tot = B.total_summary([a, b])
    assert tot["mean"] == pytest.approx(0.016 + 0.001 * np.exp(0.5 * np.log(2.0) ** 2), rel=0.01)
    assert set(tot["components"]) == {"comb", "prompt"}
    assert tot["components"]["comb"]["source"] == "published"


def test_scale_to_pot_and_combinatorial_weight():
    c = B.scale_to_pot(B.WeightedCount(2.0, 2.0), 1.4e16)
    assert c.value == pytest.approx(20.0)
    assert c.error == pytest.approx(10 * np.sqrt(2.0))
    assert c.n_eff == pytest.approx(2.0)
    # 7000 Q1 events at 1.4e17 POT: N^2/2 pairs x weight = rate^2 POT window / live
    w = B.combinatorial_pair_weight(1.4e17, 4.0e-19)
    assert 7000**2 / 2 * w == pytest.approx(1e-24 * 1.4e17 * 10e-9 / 4.0e-19)
    with pytest.raises(InputError, match="POT"):
        B.scale_to_pot(c, 0.0)
    with pytest.raises(InputError, match="live time"):
        B.combinatorial_pair_weight(1.4e17, 0.0)


def test_write_and_read_background_json(tmp_path):
    payload = {"ee": {r: {"median": 0.01, "k": 4.0} for r in B.REGIONS}}
    path = B.write_background(tmp_path, payload)
    assert path == tmp_path / "background" / B.BACKGROUND_NAME
    assert B.read_background(tmp_path) == payload
    assert [p.name for p in path.parent.iterdir()] == [B.BACKGROUND_NAME]
    path.unlink()
    path.write_text(json.dumps({"ee": {"SR": {"median": -1, "k": 1}}}))
    with pytest.raises(InputError, match="CR"):
        B.read_background(tmp_path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="JSON"):
        B.read_background(tmp_path)
    with pytest.raises(InputError, match="missing"):
        B.read_background(tmp_path / "nowhere")


def _cutflow(names, unweighted, weight):
    return {"cutflow": {"names": names, "unweighted": unweighted,
                        "weighted": [n * weight for n in unweighted]}}


def test_cutflow_count_uniform_weights():
    out = _cutflow(["all", "pid", "veto", "CR", "SR"], [100, 80, 1, 0, 0], 0.75)
    c = B.cutflow_count(out, "pid", "prompt")
    assert c.value == pytest.approx(60.0)
    assert c.n_eff == pytest.approx(80.0)
    assert B.cutflow_count(out, "SR", "prompt").value == 0.0
    with pytest.raises(InputError, match="no step 'XR'"):
        B.cutflow_count(out, "XR", "prompt")
    with pytest.raises(InputError, match="no cutflow"):
        B.cutflow_count({}, "pid", "prompt")


def test_prompt_inputs_from_two_runs():
    names = ["all", "trigger", "two_tracks", "vertex", "fv", "pid", "veto", "CR", "SR"]
    nominal = _cutflow(names, [900, 500, 300, 200, 100, 80, 1, 0, 0], 0.75)
    no_veto = _cutflow(names, [900, 500, 300, 200, 100, 80, 80, 1, 1], 0.75)
    inp = B.prompt_inputs_from_outputs(nominal, no_veto, "ee")
    assert inp.in_fv.value == pytest.approx(60.0)
    assert inp.after_vetoes.value == pytest.approx(0.75)
    assert inp.regions["SR"].value == pytest.approx(0.75)
    # multi-state (hadronic) names and the neutrals step as the last before the regions
    hn = ["all", "fv", "kk:pid", "kk:veto", "kk:neutrals", "kk:CR", "kk:SR"]
    nom = _cutflow(hn, [10, 8, 6, 2, 1, 0, 0], 1.0)
    nov = _cutflow(hn, [10, 8, 6, 6, 3, 1, 0], 1.0)
    inp = B.prompt_inputs_from_outputs(nom, nov, "kk", multi_state=True)
    assert (inp.in_fv.value, inp.after_vetoes.value, inp.regions["CR"].value) == (3, 1, 1)


def test_mc_count_component_posterior():
    rng = np.random.default_rng(3)
    c = B.mc_count_component("up", B.WeightedCount(4 * 0.5, 4 * 0.25), 200_000, rng)
    assert c.samples.mean() == pytest.approx(0.5 * 5, rel=0.01)  # Gamma(k + 1) x w
    empty = B.mc_count_component("up", B.WeightedCount(0, 0), 200_000, rng, weight=0.1)
    assert empty.samples.mean() == pytest.approx(0.1, rel=0.01)
    assert empty.summary()["mc_weight"] == 0.1


def _singles(n, rng):
    """n single-track Q1 events in the ntuple layout (one track, a few hits each)."""
    import awkward as ak

    from na62dump.simulation.writer import COLLECTIONS

    out = {"run": np.full(n, 1, np.int32), "burst": np.arange(n, dtype=np.int32),
           "event": np.arange(n, dtype=np.int64), "trig_H2": np.zeros(n, bool),
           "trig_Q1": np.ones(n, bool), "trig_control": np.zeros(n, bool),
           "trigger_time": rng.uniform(-1, 1, n).astype(np.float32)}
    counts = {"Track": np.ones(n, int), "Cluster": rng.integers(0, 3, n),
              "MUV3": rng.integers(0, 2, n), "LAV": rng.integers(0, 2, n),
              "ANTI0": rng.integers(0, 2, n)}
    for coll, fields in COLLECTIONS.items():
        k = counts[coll]
        for f in fields:
            flat = rng.uniform(-1, 1, k.sum())
            if f.startswith("has"):
                flat = np.ones(k.sum(), bool)
            if coll == "Track" and f == "charge":
                flat = np.where(np.arange(n) % 2 == 0, 1, -1)  # +, -, +, ...
            out[f"{coll}_{f}"] = ak.unflatten(flat, k)
    out["nTrack"] = np.ones(n, np.int32)
    return out


def test_combinatorial_pseudo_events_pairs_and_times():
    import awkward as ak

    rng = np.random.default_rng(1)
    singles = _singles(6, rng)
    ev, per_pair = B.combinatorial_pseudo_events(singles, rng, max_pairs=100, window_ns=10.0)
    assert per_pair == 1.0 and len(ev["run"]) == 9  # all 3 x 3 opposite-charge pairs
    assert ak.all(ak.num(ev["Track_px"]) == 2)
    assert ak.all(ak.sum(ev["Track_charge"], axis=1) == 0)
    t = ev["Track_na48chodTime"]
    assert np.all(np.abs(ak.to_numpy(t[:, 1] - t[:, 0])) <= 10.0)
    # the second event's hits move with its track
    i, j = (a.ravel() for a in np.meshgrid([0, 2, 4], [1, 3, 5], indexing="ij"))
    shift = ak.to_numpy(t[:, 1]) - ak.to_numpy(singles["Track_na48chodTime"][j][:, 0])
    n_i = ak.to_numpy(ak.num(singles["Cluster_time"][i]))
    moved = ev["Cluster_time"][ak.local_index(ev["Cluster_time"]) >= n_i]
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(moved - singles["Cluster_time"][j])),
                               np.repeat(shift, ak.to_numpy(ak.num(moved))), atol=1e-5)
    # sampling when there are more pairs than allowed
    ev, per_pair = B.combinatorial_pseudo_events(singles, rng, max_pairs=3)
    assert len(ev["run"]) == 3 and per_pair == pytest.approx(3.0)
    with pytest.raises(InputError, match="at least 2"):
        B.combinatorial_pseudo_events({k: v[:1] for k, v in singles.items()}, rng)


@pytest.mark.slow
def test_q1_pairs_reproduce_genuine_overlaps(tmp_path):
    """The combinatorial estimate (Q1 single-track pairs, weighted) against the truth: halo
    muons simulated overlapping within the window, both through the mu+mu- processor.

    At 1.4e17 POT the two agree on the vertices in the FV with muon PID (about 26 events,
    the published mu+mu- count outside the CR) within the statistical precision.
    """
    from na62dump.simulation import background_gen as bg
    from na62dump.simulation import generators
    from na62dump.simulation.campaign import load_campaign
    from na62dump.simulation.writer import write_ntuple
    from processors import PROCESSORS

    pot = 1.4e17
    (tmp_path / "c.yaml").write_text(
        f"data_dir: {tmp_path}\ndatasets:\n  - name: q1_control\n    kind: q1_control\n"
        "    channels: [mumu]\n    recipe: {size: 1.4e17, per_file: 1.4e17}\n")
    q1 = load_campaign(tmp_path / "c.yaml", preset="tiny").get("q1_control")
    write_ntuple(q1.output_paths()[0],
                 generators.generate("q1_control", {}, pot, np.random.default_rng(21)))
    comb, info = B.combinatorial_output(q1, "mumu", tmp_path, np.random.default_rng(22),
                                        n_pot=pot, max_pairs=100_000)
    assert info["q1_single_tracks"] > 1000

    # genuine overlaps: n events, each standing for expected_overlaps / n
    rng = np.random.default_rng(23)
    n = 60_000
    ov = bg._respond(bg.halo_overlaps(n, rng), rng, truth=False, keep_triggered=True)
    k = len(ov["trig_H2"])
    ov = {"run": np.full(k, 1, np.int32), "burst": np.zeros(k, np.int32),
          "event": np.arange(k, dtype=np.int64), **ov}
    path = write_ntuple(tmp_path / "overlaps.root", ov)
    fs = {"ov": {"files": {str(path): "events"}, "metadata": {
        "dataset": "ov", "kind": "combinatorial", "weight": bg.expected_overlaps(pot) / n}}}
    truth = B._run(PROCESSORS["mumu"](), fs, "iterative", 200_000)["ov"]

    est = B.cutflow_count(comb, "pid", "pairs")
    ref = B.cutflow_count(truth, "pid", "overlaps")
    assert ref.n_eff > 300  # ~4% statistical precision of the reference
    assert est.value == pytest.approx(ref.value, rel=0.2)
    assert 15 < ref.value < 40  # the calibration: ~26 selected mu+mu- vertices
