"""``na62dump model``: JSON contract, consistency with the physics modules, errors, script."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate

from na62dump import geometry
from na62dump.cli import main
from na62dump.physics import (
    alp,
    alp_fermion,
    alp_gluon,
    bmesons,
    brems,
    dark_photon,
    mesons,
    scalar,
)

SAMPLES = ["--samples", "20000"]


def run_json(capsys, *args):
    assert main(["model", *args, "--json", *SAMPLES]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # exactly one JSON document, nothing else on stdout


def test_dark_photon_json_contract(capsys):
    d = run_json(capsys, "dark-photon", "--mass", "0.3", "--eps", "1e-6")
    for key in ("mass_gev", "eps", "width_gev", "ctau_m", "br", "production_per_pot",
                "n_decay_in_fv"):
        assert key in d
    assert d["mass_gev"] == 0.3 and d["eps"] == 1e-6
    assert {"ee", "mumu", "hadrons", "pipi", "pipipi0", "kk", "kkpi0"} <= set(d["br"])
    assert d["br"]["ee"] == pytest.approx(0.526, abs=0.005)  # DarkCast reference, ANALYSIS.md
    assert d["ctau_m"] == pytest.approx(float(dark_photon.ctau_m(0.3, 1e-6)))
    prod = d["production_per_pot"]
    assert prod["brems"] == pytest.approx(brems.rate_per_pot(0.3, 1e-6))
    assert prod["meson"] == pytest.approx(sum(prod[m] for m in mesons.MESONS))
    assert prod["pi0"] == 0.0  # closed at 300 MeV
    assert prod["eta"] == pytest.approx(mesons.rate_per_pot(0.3, "eta", 1e-6))
    expected = geometry.N_POT * sum(
        prod[mode] * p for mode, p in d["decay_probability_fv"].items()
    )
    assert d["n_decay_in_fv"] == pytest.approx(expected)
    assert d["n_decay_in_fv"] > 0.0
    assert d["fv_z_m"] == [geometry.FV_Z_START, geometry.FV_Z_END]


def test_output_is_deterministic(capsys):
    a = run_json(capsys, "dark-photon", "--mass", "0.1", "--eps", "1e-5")
    b = run_json(capsys, "dark-photon", "--mass", "0.1", "--eps", "1e-5")
    assert a == b


def test_long_lifetime_decay_probability_matches_quadrature(capsys):
    """For c tau >> 100 m, P_decay ~ L M / (p_z c tau) exp(-(z_FV - z_prod)/lambda) ~ L M <1/p_z>
    / c tau: check the Monte Carlo mean against a quadrature of the brems spectrum."""
    m, eps = 0.1, 1e-9
    d = run_json(capsys, "dark-photon", "--mass", str(m), "--eps", str(eps))
    ctau = d["ctau_m"]
    assert ctau > 1e5
    inv_pz, _ = integrate.dblquad(
        lambda pt2, z: brems.differential_rate(z, pt2, m) / (400.0 * z), 0.1, 0.9, 0.0, 1.0,
        epsrel=1e-6,
    )
    inv_pz /= brems.rate_per_pot(m)
    length = geometry.FV_Z_END - geometry.FV_Z_START
    assert d["decay_probability_fv"]["brems"] == pytest.approx(length * m * inv_pz / ctau,
                                                                rel=0.02)


def test_alp_lifetime_and_br_product(capsys):
    a = run_json(capsys, "alp", "--mass", "0.5", "--ctau-m", "10", "--br-product", "1e-8")
    b = run_json(capsys, "alp", "--mass", "0.5", "--lifetime-s",
                 repr(10 / 299_792_458.0), "--br-product", "2e-8")
    assert a["lifetime_s"] == pytest.approx(b["lifetime_s"])
    assert a["production_per_pot"]["b_to_kx"] == pytest.approx(bmesons.B_PER_POT * 1e-8)
    assert b["n_decay_in_fv"] == pytest.approx(2 * a["n_decay_in_fv"])
    assert a["allowed_final_states"] == list(alp.allowed_final_states(0.5))


def test_dark_scalar(capsys):
    d = run_json(capsys, "dark-scalar", "--mass", "0.5", "--sin2theta", "1e-8")
    assert d["sin2theta"] == 1e-8
    assert d["ctau_m"] == pytest.approx(float(scalar.ctau_m(0.5, 1e-8)))
    assert sum(d["br"].values()) == pytest.approx(1.0)
    assert d["b_per_pot"] == bmesons.B_PER_POT
    assert d["production_per_pot"]["b_to_kx"] == pytest.approx(
        bmesons.B_PER_POT * scalar.br_b_to_sx(0.5, 1e-8)
    )
    assert d["br_b_to_kx"] == pytest.approx(sum(d["br_b_to_kx_by_kaon"].values()))
    assert d["br_b_to_kx"] > 5 * d["br_b_to_kx_by_kaon"]["K"]
    assert 0.0 < d["decay_probability_fv"]["b_to_kx"] < 1.0
    # the production and the width are both linear in sin^2 theta
    e = run_json(capsys, "dark-scalar", "--mass", "0.5", "--sin2theta", "2e-8")
    assert e["ctau_m"] == pytest.approx(d["ctau_m"] / 2)
    assert e["production_per_pot"]["b_to_kx"] == pytest.approx(
        2 * d["production_per_pot"]["b_to_kx"])


def test_alp_gluon(capsys):
    d = run_json(capsys, "alp-gluon", "--mass", "0.7", "--cgg", "1e-6")
    assert d["model"] == "alp_gluon" and d["cgg_inv_gev"] == 1e-6
    assert d["ctau_m"] == pytest.approx(float(alp_gluon.ctau_m(0.7, 1e-6)))
    assert sum(d["br"].values()) == pytest.approx(1.0)
    assert d["br"]["pipigamma"] == pytest.approx(alp_gluon.branching_ratios(0.7)["pipigamma"])
    prod = d["production_per_pot"]
    assert set(prod) == {"mixing", *alp_gluon.MIXING_MESONS, "b_to_kx"}
    assert prod["b_to_kx"] == pytest.approx(float(alp_gluon.b_production_per_pot(0.7, 1e-6)))
    assert prod["mixing"] == pytest.approx(sum(prod[m] for m in alp_gluon.MIXING_MESONS))
    assert prod["eta"] == pytest.approx(mesons.multiplicity("eta") * d["mixing_angle"]["eta"] ** 2)
    expected = geometry.N_POT * sum(prod[m] * p for m, p in d["decay_probability_fv"].items())
    assert d["n_decay_in_fv"] == pytest.approx(expected)
    assert d["n_decay_in_fv"] > 0.0  # c tau ~ 9 m: a fraction decays in the FV


def test_alp_fermion(capsys):
    d = run_json(capsys, "alp-fermion", "--mass", "0.3", "--cff", "1e-6")
    assert d["model"] == "alp_fermion" and d["cff_inv_gev"] == 1e-6
    assert d["ctau_m"] == pytest.approx(float(alp_fermion.ctau_m(0.3, 1e-6)))
    assert sum(d["br"].values()) == pytest.approx(1.0)
    assert d["br_b_to_kx"] == pytest.approx(sum(d["br_b_to_kx_by_kaon"].values()))
    prod = d["production_per_pot"]["b_to_kx"]
    assert prod == pytest.approx(bmesons.B_PER_POT * d["br_b_to_kx"])
    assert d["n_decay_in_fv"] == pytest.approx(
        geometry.N_POT * prod * d["decay_probability_fv"]["b_to_kx"])
    assert d["n_decay_in_fv"] > 0.0  # c tau ~ 2 m: a fraction decays in the FV


def test_short_lifetime_gives_no_decays(capsys):
    d = run_json(capsys, "dark-photon", "--mass", "0.5", "--eps", "1e-3")
    assert d["n_decay_in_fv"] == 0.0


def test_table_output(capsys):
    assert main(["model", "dark-photon", "--mass", "0.3", "--eps", "1e-6", *SAMPLES]) == 0
    out = capsys.readouterr().out
    assert "ctau_m" in out and "br[ee]" in out and "n_decay_in_fv" in out


@pytest.mark.parametrize(
    "args",
    [
        ["dark-photon", "--mass", "3.0", "--eps", "1e-6"],
        ["dark-photon", "--mass", "0.3", "--eps", "-1e-6"],
        ["dark-photon", "--mass", "0.3", "--eps", "0"],
        ["dark-photon", "--mass", "nan", "--eps", "1e-6"],
        ["dark-photon", "--mass", "abc", "--eps", "1e-6"],
        ["alp", "--mass", "6", "--ctau-m", "1"],
        ["alp", "--mass", "0.5", "--ctau-m", "1", "--br-product", "1.5"],
        ["alp", "--mass", "0.5", "--lifetime-s", "-1e-9"],
        ["alp", "--mass", "0.5"],
        ["dark-scalar", "--mass", "0.5", "--sin2theta", "-1e-8"],
        ["dark-scalar", "--mass", "0.5", "--sin2theta", "1.5"],
        ["dark-scalar", "--mass", "2.5", "--sin2theta", "1e-8"],
        ["dark-scalar", "--mass", "0.5", "--theta", "1e-4"],
        ["alp-gluon", "--mass", "0.7", "--cgg", "-1e-6"],
        ["alp-gluon", "--mass", "0.548", "--cgg", "1e-6"],
        ["alp-gluon", "--mass", "3.5", "--cgg", "1e-6"],
        ["alp-gluon", "--mass", "0.7"],
        ["alp-fermion", "--mass", "0.3", "--cff", "-1e-6"],
        ["alp-fermion", "--mass", "3.5", "--cff", "1e-6"],
        ["alp-fermion", "--mass", "0.3", "--cff", "10"],
    ],
)
def test_bad_input_exits_2_with_one_line(args, capsys):
    try:
        status = main(["model", *args, "--json"])
    except SystemExit as exc:  # argparse usage errors
        status = exc.code
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert lines[-1].startswith("na62dump")
    if status == 2 and "validity range" in lines[-1]:
        assert len(lines) == 1


def test_console_script():
    """The installed entry point runs the command (once: the CLI start-up is the cost)."""
    exe = Path(sys.executable).with_name("na62dump")
    proc = subprocess.run(
        [str(exe), "model", "dark-photon", "--mass", "0.3", "--eps", "1e-6", "--json",
         "--samples", "2000"],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert np.isfinite(d["n_decay_in_fv"])
    assert d["production_per_pot"]["brems"] == pytest.approx(brems.rate_per_pot(0.3, 1e-6))
