"""``na62dump limits`` on a small hand-made results directory (documented formats).

The stage-2 outputs are the processors' real histogram templates
(:func:`processors.base.build_templates`) filled from synthetic truth, saved with coffea; the
signal datasets are described by summary.json's ``datasets`` record (no datasets.yaml);
background.json and summary.json are written by hand.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from coffea.util import save

from na62dump import cli, geometry
from processors.base import build_templates

MASSES = (0.05, 0.1, 0.2)


def _record(kind, **meta):
    """A dataset's entry in the ``datasets`` record of summary.json (as `na62dump run` writes
    it: the limits stage reads the signal datasets' description from here)."""
    return {"kind": kind, "channels": ["ee"], "metadata": {"kind": kind, **meta},
            "files": [], "skipped": [], "normalisation": {}}


def signal_record(model, production, mass, channel="ee", n=4000):
    return _record("signal", model=model, production=production, channel=channel,
                   mass_gev=mass, n_generated=n, z_range_m=list(geometry.FORCED_DECAY_Z))


def write_summary(results, unblinded, datasets, n_candidates=0):
    (results / "run" / "summary.json").write_text(json.dumps({
        "unblinded": unblinded, "executor": "iterative", "datasets": datasets,
        "channels": {"ee": {"data": {"cutflow": {"names": ["all"], "unweighted": [10],
                                                 "weighted": [10.0]},
                                     "CR": 0 if unblinded else None,
                                     "SR": n_candidates if unblinded else None}}}}))


def _signal_output(mass, rng, n=4000):
    _, signal = build_templates(["ee"])
    pz = 400.0 * rng.beta(1.5, 3.0, n)  # a falling brems-like spectrum
    z_prod = 24.0
    dz = rng.uniform(*geometry.FORCED_DECAY_Z, n) - z_prod
    acc = (pz > 10.0) & (rng.uniform(size=n) < 0.3)
    signal["generated"].fill(pz=pz, dz=dz)
    signal["accepted"].fill(state="ee", pz=pz[acc], dz=dz[acc])
    signal["resolution"].fill(state="ee", pz=pz[acc], dz=dz[acc],
                              mrel=rng.normal(0, 0.01, int(acc.sum())))
    return {"kind": "signal", "cutflow": {"names": ["all"], "unweighted": [n],
                                          "weighted": [float(n)]},
            "hists": {}, "signal": signal, "unblinded": False}


def _data_output(unblinded, candidates):
    return {"kind": "pseudo_data", "cutflow": {"names": ["all"], "unweighted": [10],
                                               "weighted": [10.0]},
            "hists": {}, "unblinded": unblinded,
            "regions": {"CR": 0, "SR": len(candidates)} if unblinded else
            {"CR": None, "SR": None},
            "candidates": [{"run": 202101, "burst": 1, "event": i, "state": "ee",
                            "region": "SR", "mass": m, "z_tax": 23.0, "cda_tax": 0.01,
                            "dt": 0.1} for i, m in enumerate(candidates)]}


def make_results(tmp_path, *, unblinded, candidates=()):
    rng = np.random.default_rng(5)
    names = {f"dp_brems_ee_m{round(1000 * m):04d}": m for m in MASSES}
    out = {name: _signal_output(m, rng) for name, m in names.items()}
    out["data"] = _data_output(unblinded, list(candidates))
    results = tmp_path / "results"
    (results / "run").mkdir(parents=True)
    save(out, str(results / "run" / "ee.coffea"))
    datasets = {name: signal_record("dark_photon", "brems", m) for name, m in names.items()}
    datasets["data"] = _record("pseudo_data", pot=geometry.N_POT)
    write_summary(results, unblinded, datasets, len(candidates))
    entry = {"median": 0.0094, "k": 4.0, "mean": 0.02, "interval68": [0.002, 0.03],
             "interval90": [0.0004, 0.06], "components": {}}
    (results / "background").mkdir()
    (results / "background" / "background.json").write_text(json.dumps({
        "ee": {"CR": entry, "SR": entry}, "_meta": {"n_pot": geometry.N_POT}}))
    return results


def _run(results, *extra):
    return cli.main(["limits", "--results", str(results),
                     "--masses", "3", "--couplings", "6", "--models", "dark_photon",
                     "--channels", "ee", *extra])


def test_blinded_writes_expected_only(tmp_path, capsys):
    results = make_results(tmp_path, unblinded=False)
    assert _run(results, "--toys", "100") == 0
    assert "blinded" in capsys.readouterr().out
    lim = json.loads((results / "limits" / "dark_photon_ee.json").read_text())
    for key in ("mass_gev", "eps", "cl", "method", "cls_observed", "cls_expected", "contours"):
        assert key in lim
    assert lim["cls_observed"] is None and lim["blinded"] is True
    assert lim["method"] == "toys" and lim["cl"] == 0.9
    assert len(lim["mass_gev"]) == 3 and len(lim["eps"]) == 6
    assert sorted(lim["cls_expected"]) == ["-1", "-2", "0", "1", "2"]
    for band in lim["cls_expected"].values():
        assert np.shape(band) == (3, 6)
        assert np.all((np.asarray(band) >= 0) & (np.asarray(band) <= 1))
    assert lim["contours"]["observed"] is None
    # yields and workspaces are saved next to the limits
    y = json.loads((results / "limits" / "yields" / "dark_photon_ee.json").read_text())
    assert np.shape(y["n_exp"]["brems"]) == (3, 6)
    ws = sorted((results / "limits" / "workspaces").glob("dark_photon_ee_m*.json"))
    assert ws
    import pyhf

    pyhf.Workspace(json.loads(ws[0].read_text()))  # valid under pyhf's schema
    # blinded: no observation a reader could take for data (a 0 there would look like a real
    # zero): the background-only Asimov data, and the measurement says so
    for path in [*ws, results / "limits" / "workspaces" / "dark_photon_ee_bkgonly.json"]:
        spec = json.loads(path.read_text())
        bkg = [sum(x) for x in zip(*(s["data"] for s in spec["channels"][0]["samples"]
                                     if s["name"] == "background"), strict=True)]
        assert spec["observations"][0]["data"] == pytest.approx(bkg), path.name
        assert all(0 < x < 1 for x in spec["observations"][0]["data"]), path.name
        assert spec["measurements"][0]["name"].endswith("_BLINDED_asimov"), path.name
    ps = json.loads(
        (results / "limits" / "workspaces" / "dark_photon_ee_patchset.json").read_text())
    assert ps["metadata"]["blinded"] is True
    obs = [op["value"]["data"] for p in ps["patches"] for op in p["patch"]
           if op["path"].startswith("/observations/")]
    assert obs and all(0 < x < 1 for d in obs for x in d)


def test_unblinded_observed_and_candidate(tmp_path):
    results = make_results(tmp_path, unblinded=True, candidates=[0.1])
    assert _run(results, "--asymptotic") == 0
    ws = sorted((results / "limits" / "workspaces").glob("dark_photon_ee_m*.json"))
    spec = json.loads(ws[0].read_text())
    # data: the candidate counts; the measurement named after the file (unique)
    assert spec["measurements"][0]["name"] == "NA62_" + ws[0].stem.replace(".", "p")
    assert all(float(x).is_integer() for x in spec["observations"][0]["data"])
    lim = json.loads((results / "limits" / "dark_photon_ee.json").read_text())
    assert lim["method"] == "asymptotic" and lim["blinded"] is False
    assert np.shape(lim["cls_observed"]) == (3, 6)
    assert lim["observed_sr_masses_gev"] == {"ee": [0.1]}
    assert isinstance(lim["contours"]["observed"], list)


def test_missing_inputs_are_reported(tmp_path, capsys):
    results = make_results(tmp_path, unblinded=False)
    (results / "background" / "background.json").unlink()
    assert _run(results) == 2
    assert "background.json" in capsys.readouterr().err
    (results / "run" / "summary.json").write_text("{}")
    assert _run(results) == 2
    assert "unblinded" in capsys.readouterr().err


def test_unknown_channel(tmp_path, capsys):
    results = make_results(tmp_path, unblinded=False)
    assert _run(results, "--channels", "ee,eee") == 2
    assert "eee" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--toys", "5"], ["--masses", "0"]])
def test_bad_arguments(tmp_path, bad):
    with pytest.raises(SystemExit) as err:
        cli.main(["limits", "--results", str(tmp_path), *bad])
    assert err.value.code == 2


def _b_meson_ee_results(tmp_path, samples):
    """A results directory whose ee run holds ``samples`` (name -> (model, mass)) of B-meson
    production and the pseudo-data, blinded."""
    results = make_results(tmp_path, unblinded=False)
    rng = np.random.default_rng(9)
    out = {name: _signal_output(m, rng) for name, (_, m) in samples.items()}
    out["data"] = _data_output(False, [])
    save(out, str(results / "run" / "ee.coffea"))
    datasets = {name: signal_record(model, "b_meson", m) for name, (model, m) in samples.items()}
    datasets["data"] = _record("pseudo_data", pot=geometry.N_POT)
    write_summary(results, False, datasets)
    return results


def test_alp_and_dark_scalar(tmp_path):
    results = _b_meson_ee_results(tmp_path, {
        "alp_b_ee_m0300": ("alp", 0.3), "alp_b_ee_m0700": ("alp", 0.7),
        "ds_b_ee_m0100": ("dark_scalar", 0.1), "ds_b_ee_m0300": ("dark_scalar", 0.3)})
    status = cli.main(["limits", "--results", str(results), "--asymptotic",
                       "--masses", "2", "--couplings", "5", "--models", "alp,dark_scalar"])
    assert status == 0
    alp = json.loads((results / "limits" / "alp_ee.json").read_text())
    assert alp["mass_gev"] == [0.3, 0.7]
    assert len(alp["tau_s"]) == 5 and len(alp["br_x_br"]) == 5
    assert np.shape(alp["cls_expected"]["0"]) == (2, 5, 5)
    assert alp["cls_observed"] is None
    assert [r["mass_gev"] for r in alp["masses"]] == [0.3, 0.7]
    assert np.shape(alp["masses"][0]["cls_expected"]["2"]) == (5, 5)
    # the yield is linear in BR x BR: more BR x BR, smaller CLs
    c = np.asarray(alp["cls_expected"]["0"])
    assert np.all(np.diff(c, axis=2) <= 1e-9)
    ds = json.loads((results / "limits" / "dark_scalar_ee.json").read_text())
    assert len(ds["sin2theta"]) == 5 and np.shape(ds["cls_expected"]["0"]) == (2, 5)
    y = json.loads((results / "limits" / "yields" / "alp_ee.json").read_text())
    assert y["coupling"] == "ctau_m" and np.shape(y["n_exp"]["b_meson"]) == (2, 5)


def test_alp_fermion_reads_the_alp_samples(tmp_path):
    """BC10 has no samples of its own: its (M, c_ff / Lambda) scan takes the model-independent
    ALP samples (finalstates.READS_SAMPLES_OF), and none of another model's."""
    results = _b_meson_ee_results(tmp_path, {"alp_b_ee_m0100": ("alp", 0.1),
                                             "alp_b_ee_m0200": ("alp", 0.2)})
    status = cli.main(["limits", "--results", str(results), "--asymptotic",
                       "--masses", "2", "--couplings", "5", "--models", "alp_fermion"])
    assert status == 0
    d = json.loads((results / "limits" / "alp_fermion_ee.json").read_text())
    assert d["model"] == "alp_fermion" and d["mass_gev"] == [0.1, 0.2]
    from na62dump.commands.limits import CFF_RANGE

    assert len(d["cff"]) == 5 and d["cff"][0] == pytest.approx(CFF_RANGE[0])
    y = json.loads((results / "limits" / "yields" / "alp_fermion_ee.json").read_text())
    assert list(y["n_exp"]) == ["b_meson"] and np.shape(y["n_exp"]["b_meson"]) == (2, 5)
    assert not (results / "limits" / "alp_ee.json").exists()


def test_published_observations_are_written_beside_the_pseudo_data_limits(tmp_path, capsys):
    results = make_results(tmp_path, unblinded=False)
    assert _run(results, "--toys", "100") == 0
    ours = results / "limits" / "dark_photon_ee.json"
    before = ours.read_bytes()
    capsys.readouterr()
    # no unblinding and no background.json needed: no pseudo-data count enters
    (results / "background" / "background.json").unlink()
    assert _run(results, "--toys", "100", "--observed", "published") == 0
    out = capsys.readouterr().out
    assert "published (arXiv 2312.12055)" in out and "limits_published" in out
    assert ours.read_bytes() == before  # never over the pseudo-data limits
    lim = json.loads((results / "limits_published" / "dark_photon_ee.json").read_text())
    assert lim["observed_source"] == "published (arXiv 2312.12055)"
    assert json.loads(before)["observed_source"] == "pseudo-data"
    assert lim["blinded"] is False and np.shape(lim["cls_observed"]) == (3, 6)
    assert lim["observed_sr_masses_gev"] == {"ee": []}
    assert lim["background_source"]["ee"].startswith("NA62, arXiv 2312.12055")
    assert lim["n_pot"] == geometry.N_POT
    # 0 observed events: the observed limit is the exact one, 2.49 events at every mass
    assert np.allclose(lim["s_up_observed"], 2.49, atol=0.01)
    assert sorted((results / "limits_published" / "workspaces").glob("dark_photon_ee_m*.json"))
    assert "open_at" in lim["contours"]


def test_both_sources_in_one_call_equal_the_separate_calls(tmp_path):
    """``--observed pseudo-data,published`` computes the yields once and writes both sets,
    the same as two separate calls; an unknown source is a one-line error."""
    results = make_results(tmp_path, unblinded=True)
    assert _run(results, "--toys", "100") == 0
    assert _run(results, "--toys", "100", "--observed", "published") == 0
    files = {p: p.read_bytes() for sub in ("limits", "limits_published")
             for p in sorted((results / sub).glob("*.json"))}
    for p in files:
        p.unlink()
    assert _run(results, "--toys", "100", "--observed", "pseudo-data,published") == 0
    assert {p: p.read_bytes() for p in files} == files
    assert _run(results, "--observed", "pseudo-data,hearsay") == 2


def test_open_contours_name_the_grid_edge(tmp_path, capsys):
    results = make_results(tmp_path, unblinded=True)
    assert _run(results, "--toys", "100") == 0
    lim = json.loads((results / "limits" / "dark_photon_ee.json").read_text())
    cls = np.asarray(lim["cls_observed"])
    open_at = lim["contours"]["open_at"]["observed"]
    # the tiny grid (3 masses from 50 MeV) is excluded at its first mass: open there
    assert (cls[0] < 0.1).any() and "mass min" in open_at
    assert ((cls[:, -1] < 0.1).any()) == ("coupling max" in open_at)
    assert set(open_at) <= {"mass min", "mass max", "coupling min", "coupling max"}
    out = capsys.readouterr().out
    for edge in open_at:
        assert edge in out


def test_model_states_leave_out_final_states_without_a_branching_ratio():
    from na62dump.commands import limits

    # a scalar does not decay to pi+pi-gamma (C), an ALP not to pi+pi- (parity)
    assert "pipigamma" not in limits.model_states("dark_scalar")
    assert "pipi" not in limits.model_states("alp_gluon")
    # BC4 is combined over all its final states, pi+pi-pi0pi0 among them
    assert limits.combinations("dark_scalar")["combined"] == (
        "ee", "mumu", "pipi", "pipipi0pi0", "kk")
    assert {"pipigamma", "pipipi0pi0", "kkpi0"} <= set(limits.model_states("alp_gluon"))
    assert {"ee", "mumu", "pipi"} <= set(limits.model_states("dark_photon"))


def test_projection_is_expected_only_and_written_apart(tmp_path, capsys):
    """``--projection --pot 1e18``: yields x (1e18 / N_POT), backgrounds x the same ratio,
    expected only, in its own set DIR/limits_projection/ (the 2021 limits and yields
    untouched)."""
    results = make_results(tmp_path, unblinded=True)
    assert _run(results, "--toys", "100") == 0
    ours = {p: p.read_bytes() for sub in ("limits", "limits/yields")
            for p in (results / sub).glob("*.json")}
    capsys.readouterr()
    assert _run(results, "--toys", "100", "--projection", "--pot", "1e18") == 0
    assert "projection to 1e+18 POT" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in ours} == ours
    proj = json.loads((results / "limits_projection" / "dark_photon_ee.json").read_text())
    base = json.loads((results / "limits" / "dark_photon_ee.json").read_text())
    assert proj["observed_source"] == "projection" and proj["blinded"] is True
    assert proj["cls_observed"] is None and proj["n_pot"] == 1e18
    factor = 1e18 / geometry.N_POT
    assert proj["background_source"]["ee"].endswith(f"x {factor:.4g}")
    assert sorted((results / "limits_projection" / "workspaces").glob("dark_photon_ee_m*.json"))
    # more protons: the expected median excludes at least what the 2021 exposure does
    exp_p = np.asarray(proj["cls_expected"]["0"]) < 0.1
    exp_b = np.asarray(base["cls_expected"]["0"]) < 0.1
    assert exp_p.sum() >= exp_b.sum() > 0 and not (exp_b & ~exp_p).any()
    cls_p, cls_b = (np.asarray(d["cls_expected"]["0"]) for d in (proj, base))
    assert np.all(cls_p <= cls_b + 1e-9) and np.any(cls_p < 0.5 * cls_b)
    # --pot alone, or a bad --pot, is a one-line error
    assert _run(results, "--pot", "1e18") == 2
    assert _run(results, "--projection") == 2
    assert _run(results, "--projection", "--pot", "-1") == 2


def test_workers_do_not_change_the_results(tmp_path, capsys):
    """``--workers 2`` runs the scans in two processes: the same files, byte for byte, and the
    reports in the order of the sequential run."""
    outputs = {}
    for workers in ("1", "2"):
        results = make_results(tmp_path / workers, unblinded=True)
        assert cli.main(["limits", "--results", str(results), "--masses", "3",
                         "--couplings", "6", "--models", "dark_photon", "--toys", "100",
                         "--observed", "pseudo-data,published", "--workers", workers]) == 0
        printed = capsys.readouterr().out
        files = {p.relative_to(results).as_posix(): p.read_bytes()
                 for sub in ("limits", "limits_published") for p in (results / sub).rglob("*.json")
                 if p.name != "provenance.json"}
        outputs[workers] = (files, printed.replace(str(results), "RESULTS"))
    assert len(outputs["1"][0]) > 4
    assert outputs["2"][0] == outputs["1"][0]
    assert outputs["2"][1] == outputs["1"][1]
