"""``na62dump hepdata`` on the tiny limits fixture, validated by hepdata-validator (offline)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from hepdata_validator.full_submission_validator import FullSubmissionValidator

from na62dump import cli
from tests.commands.test_limits_cmd import _run, make_results


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hepdata")
    res = make_results(tmp, unblinded=True, candidates=[0.1])
    # the run stage records every dataset's cutflow in summary.json (signal samples too)
    summary = json.loads((res / "run" / "summary.json").read_text())
    flow = summary["channels"]["ee"]["data"]["cutflow"]
    summary["channels"]["ee"]["dp_brems_ee_m0050"] = {
        "cutflow": {"names": flow["names"], "unweighted": [4000], "weighted": [4000.0]}}
    (res / "run" / "summary.json").write_text(json.dumps(summary))
    assert _run(res, "--toys", "100", "--observed", "pseudo-data,published") == 0
    return res


def test_submission_is_valid_and_complete(results, tmp_path, capsys):
    out = tmp_path / "hd"
    assert cli.main(["hepdata", "--results", str(results), "--out", str(out),
                     "--inspire", "ins1234567"]) == 0
    assert "validated" in capsys.readouterr().out
    # the archive (what one uploads) and the directory without it, validated offline
    v = FullSubmissionValidator(autoload_remote_schemas=False)
    assert v.validate(archive=str(out / "submission.tar.gz")), v.get_messages()
    plain = tmp_path / "plain"
    shutil.copytree(out, plain, ignore=shutil.ignore_patterns("*.tar.gz"))
    v = FullSubmissionValidator(autoload_remote_schemas=False)
    assert v.validate(directory=str(plain)), v.get_messages()
    docs = list(yaml.safe_load_all((out / "submission.yaml").read_text()))
    names = [d["name"] for d in docs if "name" in d]
    for want in ("dark_photon ee observed contour", "dark_photon ee exp. median contour",
                 "dark_photon ee signal upper limit", "dark_photon ee N_exp",
                 "dark_photon ee efficiency", "cutflow ee", "background",
                 "dark_photon ee (published obs.) observed contour"):
        assert want in names, names
    res = docs[0]["additional_resources"]
    files = {r["location"] for r in res}
    assert {"dark_photon_ee_bkgonly.json", "dark_photon_ee_patchset.json",
            "published_dark_photon_ee_patchset.json"} <= files
    ps = json.loads((out / "dark_photon_ee_patchset.json").read_text())
    assert ps["metadata"]["references"] == {"hepdata": "ins1234567"}
    # the provenance of the sets the tables come from travels with the submission
    assert "provenance.json" in files
    records = json.loads((out / "provenance.json").read_text())
    assert records["limits"] == ps["metadata"]["provenance"]
    assert records["limits_published"]["options"]["source"] == "published"
    assert records["limits"]["code"][:16] in docs[0]["comment"]
    # the cutflow table has data and signal columns
    cut = next(d for d in docs if d.get("name") == "cutflow ee")
    table = yaml.safe_load((out / cut["data_file"]).read_text())
    cols = [d["header"]["name"] for d in table["dependent_variables"]]
    assert cols[0] == "data" and any(c.startswith("dp_brems") for c in cols)


def test_bad_input_writes_nothing(results, tmp_path, capsys):
    out = tmp_path / "hd"
    assert cli.main(["hepdata", "--results", str(results), "--out", str(out),
                     "--inspire", "1234"]) == 2
    assert "--inspire" in capsys.readouterr().err and not out.exists()
    assert cli.main(["hepdata", "--results", str(tmp_path / "none"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no limit files" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".hd*"))


@pytest.mark.slow
def test_tiny_chain_combinations_and_alp(tmp_path_factory, tiny_campaign, tmp_path, capsys):
    """On the tiny chain's results: the combinations (dark photon ``combined``, ``hadronic``)
    get contour and upper-limit tables and their patchsets as resources, exactly like single
    channels; the ALP gets its BR x BR limit vs tau per mass (= s_up / N at BR x BR = 1) and
    its patchset; verify takes the combination and the ALP (with --tau) points."""
    import numpy as np

    from tests.tiny_results import tiny_results_dir

    results = tiny_results_dir(tmp_path_factory, tiny_campaign.data_dir)[0]
    out = tmp_path / "hd"
    assert cli.main(["hepdata", "--results", str(results), "--out", str(out),
                     "--inspire", "ins1234567"]) == 0
    docs = list(yaml.safe_load_all((out / "submission.yaml").read_text()))
    names = {d["name"]: d for d in docs if "name" in d}
    for combo in ("combined", "hadronic"):
        assert f"dark_photon {combo} signal upper limit" in names
        assert f"combination '{combo}'" in names[f"dark_photon {combo} signal upper limit"][
            "description"]
    assert "dark_photon combined exp. median contour" in names
    files = {r["location"] for r in docs[0]["additional_resources"]}
    assert {"dark_photon_combined_patchset.json", "dark_photon_hadronic_patchset.json",
            "alp_mumu_patchset.json", "alp_mumu_bkgonly.json"} <= files
    lim = json.loads((results / "limits" / "alp_mumu.json").read_text())
    table = yaml.safe_load((out / names["alp mumu M 300.0 MeV BR x BR upper limit"]
                            ["data_file"]).read_text())
    median = next(d for d in table["dependent_variables"]
                  if d["header"]["name"] == "exp. median")["values"]
    unit = np.asarray(lim["n_exp_br1"][0], dtype=float)
    k = int(np.argmax(unit))
    assert median[k]["value"] == pytest.approx(lim["s_up_expected"]["0"][0] / unit[k], rel=1e-4)
    ps = json.loads((out / "alp_mumu_patchset.json").read_text())
    assert ps["metadata"]["labels"] == ["mass_gev", "tau_s", "br_x_br"]
    # verify at the ALP point with N_exp nearest 2 events, and at a combined point
    p = min(ps["patches"], key=lambda p: abs(np.log(p["metadata"]["n_exp_total"] / 2.0)))
    m, tau, br = p["metadata"]["values"]
    capsys.readouterr()
    assert cli.main(["verify", "--results", str(results), "--model", "alp", "--channel",
                     "mumu", "--mass", str(m), "--tau", repr(tau), "--coupling", repr(br),
                     "--toys", "200"]) == 0
    text = capsys.readouterr().out
    assert "tau_a = " in text and p["metadata"]["name"] in text
    combo = json.loads((results / "limits" / "workspaces"
                        / "dark_photon_combined_patchset.json").read_text())
    m, eps = combo["patches"][0]["metadata"]["values"]
    assert cli.main(["verify", "--results", str(results), "--model", "dark_photon",
                     "--channel", "combined", "--mass", repr(m), "--coupling", repr(eps),
                     "--toys", "100"]) == 0
