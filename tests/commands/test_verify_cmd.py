"""``na62dump verify`` and the patchsets of ``na62dump limits`` on the tiny limits fixture."""

from __future__ import annotations

import json

import numpy as np
import pyhf
import pytest

from na62dump import cli
from na62dump.commands.verify import point_cls
from na62dump.stats import patchset
from tests.commands.test_limits_cmd import _run, make_results


@pytest.fixture(scope="module")
def unblinded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verify")
    results = make_results(tmp, unblinded=True, candidates=[0.1])
    assert _run(results, "--toys", "300") == 0
    return results


def _point(results):
    """A grid point with N_exp of a few events (where the contour lies)."""
    lim = json.loads((results / "limits" / "dark_photon_ee.json").read_text())
    y = json.loads((results / "limits" / "yields" / "dark_photon_ee.json").read_text())
    tot = np.array(y["n_exp_total"], dtype=float)
    dist = np.where(tot > 0, np.abs(np.log(np.where(tot > 0, tot, 1.0) / 2.0)), np.inf)
    i, j = np.unravel_index(np.argmin(dist), tot.shape)
    return lim["mass_gev"][i], lim["eps"][j], tot[i, j]


def test_patchset_is_valid_and_mu1_is_the_hypothesis(unblinded):
    ws_dir = unblinded / "limits" / "workspaces"
    bkg = json.loads((ws_dir / "dark_photon_ee_bkgonly.json").read_text())
    ps = json.loads((ws_dir / "dark_photon_ee_patchset.json").read_text())
    assert bkg["measurements"][0]["name"] == "NA62_dark_photon_ee"
    # schema-valid with a record id, digest matching the background-only workspace
    ps["metadata"]["references"] = {"hepdata": "ins1234567"}
    pset = patchset.validate_patchset(bkg, ps)
    m, eps, n = _point(unblinded)
    spec, meta = patchset.apply_patch(bkg, ps, m, eps)
    assert meta["n_exp_total"] == pytest.approx(n, rel=1e-9)
    # pyhf's own PatchSet.apply gives the same workspace
    assert dict(pset.apply(pyhf.Workspace(bkg), meta["name"])) == spec
    ws = pyhf.Workspace(spec)
    model = ws.model()
    sig = model.expected_actualdata(model.config.suggested_init())
    bkg_only = model.expected_actualdata(
        np.where(np.arange(len(model.config.suggested_init())) == model.config.poi_index,
                 0.0, model.config.suggested_init()))
    assert float(np.sum(sig) - np.sum(bkg_only)) == pytest.approx(n, rel=1e-6)
    (lo, hi), = ws.get_measurement()["config"]["parameters"][0]["bounds"]
    assert lo == 0 and hi * n >= 200.0  # every yield the scan tests is inside
    assert all(p["metadata"]["n_exp_total"] >= patchset.PATCH_MIN_YIELD for p in ps["patches"])


def test_default_interpolation_gives_the_projects_cls(unblinded):
    """pyhf's default normsys code (code4) and the project's code1 give the same CLs."""
    from na62dump.stats.workspace import make_model

    ws_dir = unblinded / "limits" / "workspaces"
    bkg = json.loads((ws_dir / "dark_photon_ee_bkgonly.json").read_text())
    ps = json.loads((ws_dir / "dark_photon_ee_patchset.json").read_text())
    for p in ps["patches"]:
        spec, _ = patchset.apply_patch(bkg, ps, *p["metadata"]["values"])
        ours, data = make_model(spec)
        ws = pyhf.Workspace(spec)
        plain = ws.model()
        a = pyhf.infer.hypotest(1.0, data, ours, test_stat="qtilde")
        b = pyhf.infer.hypotest(1.0, ws.data(plain), plain, test_stat="qtilde")
        assert float(a) == pytest.approx(float(b), abs=1e-6)


def test_verify_prints_each_treatment(unblinded, capsys):
    m, eps, _ = _point(unblinded)
    assert cli.main(["verify", "--results", str(unblinded), "--model", "dark_photon",
                     "--channel", "ee", "--mass", str(m), "--coupling", str(eps),
                     "--toys", "100"]) == 0
    out = capsys.readouterr().out
    for label in ("scan", "project, per point", "pyhf asymptotic", "pyhf toys"):
        assert label in out
    r = point_cls(unblinded, "dark_photon", "ee", m, eps, n_toys=100)
    assert r["blinded"] is False
    # scan and per-point calculation use the same treatment: they agree within toy precision
    assert r["per_point"] == pytest.approx(r["scan"], abs=0.05)
    assert 0 <= r["pyhf_asymptotic"] <= 1 and 0 <= r["pyhf_toys"] <= 1


@pytest.mark.parametrize("extra, msg", [
    (["--mass", "0.1234"], "not a grid point"),
    (["--mass", "-1"], "must be finite"),
])
def test_verify_bad_input(unblinded, capsys, extra, msg):
    m, eps, _ = _point(unblinded)
    args = {"--mass": str(m), "--coupling": str(eps)}
    args.update(dict(zip(extra[::2], extra[1::2], strict=True)))
    assert cli.main(["verify", "--results", str(unblinded), "--model", "dark_photon",
                     "--channel", "ee", *[x for kv in args.items() for x in kv]]) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1


def test_verify_missing_limits(tmp_path, capsys):
    assert cli.main(["verify", "--results", str(tmp_path), "--model", "dark_photon",
                     "--channel", "ee", "--mass", "0.1", "--coupling", "1e-7"]) == 2
    assert "missing" in capsys.readouterr().err


@pytest.fixture(scope="module")
def alp_results(tmp_path_factory):
    """Unblinded results with ALP samples at 0.3 and 0.7 GeV in e+e- (no candidate)."""
    from coffea.util import save

    from na62dump import geometry
    from tests.commands.test_limits_cmd import (
        _data_output,
        _record,
        _signal_output,
        signal_record,
        write_summary,
    )

    results = make_results(tmp_path_factory.mktemp("verify_alp"), unblinded=True)
    rng = np.random.default_rng(9)
    masses = {"alp_b_ee_m0300": 0.3, "alp_b_ee_m0700": 0.7}
    out = {name: _signal_output(m, rng) for name, m in masses.items()}
    out["data"] = _data_output(True, [])
    save(out, str(results / "run" / "ee.coffea"))
    datasets = {name: signal_record("alp", "b_meson", m) for name, m in masses.items()}
    datasets["data"] = _record("pseudo_data", pot=geometry.N_POT)
    write_summary(results, True, datasets)
    assert cli.main(["limits", "--results", str(results), "--toys", "300", "--couplings", "8",
                     "--models", "alp"]) == 0
    return results


def test_verify_alp_point_needs_the_lifetime(alp_results, capsys):
    from na62dump.physics.decay import C_M_PER_S

    ps = json.loads((alp_results / "limits" / "workspaces" / "alp_ee_patchset.json").read_text())
    p = min(ps["patches"], key=lambda p: abs(np.log(p["metadata"]["n_exp_total"] / 2.0)))
    m, tau, br = p["metadata"]["values"]
    r = point_cls(alp_results, "alp", "ee", m, br, tau_s=tau, n_toys=300)
    assert (r["tau_s"], r["coupling"]) == pytest.approx((tau, br), rel=1e-9)
    assert r["n_exp"] == pytest.approx(p["metadata"]["n_exp_total"], rel=1e-12)
    assert r["per_point"] == pytest.approx(r["scan"], abs=0.05)  # the same treatment
    base = ["verify", "--results", str(alp_results), "--channel", "ee", "--mass", str(m),
            "--coupling", repr(br), "--toys", "100"]
    assert cli.main([*base, "--model", "alp", "--ctau", repr(tau * C_M_PER_S)]) == 0
    assert f"tau_a = {tau:.4g} s" in capsys.readouterr().out
    for extra, msg in ((["--model", "alp"], "needs the lifetime"),
                       (["--model", "alp", "--tau", "-1"], "--tau must be finite"),
                       (["--model", "alp", "--tau", "1e-20"], "not a grid point"),
                       (["--model", "dark_photon", "--tau", repr(tau)], "only with --model alp")):
        assert cli.main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1, err


def test_verify_offers_every_scanned_model():
    from na62dump.commands import limits, verify

    assert set(verify.COUPLING_KEYS) == set(limits.MODELS) >= {"dark_photon", "alp",
                                                              "dark_scalar", "alp_gluon"}
    assert verify.COUPLING_KEYS["alp_gluon"] == "cgg"
    assert verify.COUPLING_KEYS["alp"] == "br_x_br"
