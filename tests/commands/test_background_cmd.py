"""``na62dump background``: from the run's artefacts only; a missing sample is an error, the
published values only when asked; the full chain on a tiny campaign."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from coffea.util import save

from na62dump import backgrounds as B
from na62dump import cli, geometry


def _data_output():
    return {"kind": "pseudo_data", "unblinded": False, "regions": {"CR": None, "SR": None},
            "candidates": [], "hists": {},
            "cutflow": {"names": ["all"], "unweighted": [5], "weighted": [5.0]}}


@pytest.fixture
def data_only(tmp_path):
    """A run of pseudo-data alone (ee, mumu): no prompt, combinatorial or upstream sample."""
    results = tmp_path / "results"
    (results / "run").mkdir(parents=True)
    for channel in ("ee", "mumu"):
        save({"data": _data_output()}, str(results / "run" / f"{channel}.coffea"))
    (results / "run" / "summary.json").write_text(json.dumps({
        "unblinded": False, "skipped_files": [],
        "datasets": {"data": {"kind": "pseudo_data", "metadata": {"pot": 1.4e17}}},
        "channels": {"ee": {}, "mumu": {}}}))
    return results


def test_missing_prompt_mc_is_an_error_saying_what_to_do(data_only, capsys):
    status = cli.main(["background", "--results", str(data_only), "--pseudo-experiments",
                       "1000"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no prompt MC output for channel 'ee'" in err and "summary.json" in err
    assert "--published-background" in err and "na62dump run" in err
    assert not (data_only / "background").exists()


def test_published_values_only_when_asked(data_only, capsys):
    """--published-background: e+e- prompt from the published MC counts, mu+mu-
    combinatorial from the published value, both flagged as published."""
    status = cli.main(["background", "--results", str(data_only), "--published-background",
                       "--pseudo-experiments", "100000", "--seed", "3"])
    assert status == 0
    text = capsys.readouterr().out
    assert "published" in text and "written" in text
    bkg = B.read_background(data_only)
    assert set(bkg) == {"ee", "mumu", "_meta", "_provenance"}
    assert bkg["_provenance"]["stage"] == "background"
    assert bkg["_meta"]["published_background"] is True
    ee = bkg["ee"]["SR"]
    assert ee["components"]["prompt"]["source"] == "published"
    # the published e+e- inputs: median 1.7e-2 with the uniform prior (module docstring)
    assert ee["median"] == pytest.approx(0.0174, rel=0.05)
    assert ee["interval68"][0] < ee["median"] < ee["interval68"][1]
    mumu = bkg["mumu"]
    assert mumu["SR"]["components"]["combinatorial"]["source"] == "published"
    assert mumu["SR"]["mean"] == pytest.approx(0.016, rel=0.02)
    assert mumu["CR"]["mean"] == pytest.approx(0.17, rel=0.02)
    assert mumu["SR"]["k"] == pytest.approx(1.13, abs=0.03)
    assert bkg["_meta"]["n_pot"] == geometry.N_POT
    check = bkg["_meta"]["published_inputs_ee_prompt"]["SR"]
    assert check["published"]["central"] == 0.0094


def test_no_stage2_output_is_an_input_error(tmp_path, capsys):
    status = cli.main(["background", "--results", str(tmp_path / "nothing"),
                       "--pseudo-experiments", "1000"])
    assert status == 2
    assert "na62dump run" in capsys.readouterr().err


def test_summary_without_datasets_record_is_an_input_error(data_only, capsys):
    summary = json.loads((data_only / "run" / "summary.json").read_text())
    del summary["datasets"]
    (data_only / "run" / "summary.json").write_text(json.dumps(summary))
    assert cli.main(["background", "--results", str(data_only), "--published-background",
                     "--pseudo-experiments", "1000"]) == 2
    assert "'datasets'" in capsys.readouterr().err


def test_too_few_pseudo_experiments_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["background", "--pseudo-experiments", "10"])


CHAIN_YAML = """
data_dir: {data}
seed: 7
datasets:
  - name: data
    kind: pseudo_data
    channels: [ee, mumu]
    recipe: {{size: 1.4e15, per_file: 1.4e15}}
  - name: prompt
    kind: prompt
    channels: [ee, mumu]
    recipe: {{size: 1.4e17, per_file: 1.4e17}}
  - name: q1_control
    kind: q1_control
    channels: [ee, mumu]
    recipe: {{size: 1.4e16, per_file: 1.4e16}}
  - name: combinatorial
    kind: combinatorial
    channels: [ee, mumu]
    recipe:
      params: {{source: q1_control, max_pairs: 20000}}
"""


@pytest.mark.slow
def test_chain_on_a_tiny_simulated_campaign(tmp_path, monkeypatch):
    """simulate -> run (ee, mumu; futures executor) -> background: every component from our
    samples (prompt N-1 counts, the combinatorial dataset), from the artefacts alone: the same
    result with the data directory deleted and from another working directory."""
    config = tmp_path / "datasets.yaml"
    config.write_text(CHAIN_YAML.format(data=tmp_path / "data"))
    results = tmp_path / "results"
    assert cli.main(["simulate", "--config", str(config), "--preset", "tiny"]) == 0
    assert cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels",
                     "ee,mumu", "--executor", "futures", "--workers", "2", "--out",
                     str(results)]) == 0
    summary = json.loads((results / "run" / "summary.json").read_text())
    assert summary["executor"] == "futures"
    comb = summary["datasets"]["combinatorial"]
    assert comb["kind"] == "combinatorial" and comb["metadata"]["pot"] == 1.4e16
    for channel in ("ee", "mumu"):  # processed like any dataset, by the chosen executor
        assert summary["channels"][channel]["combinatorial"]["cutflow"]["unweighted"][0] > 0
    argv = ["background", "--results", str(results), "--pseudo-experiments", "20000"]
    assert cli.main(argv) == 0
    bkg = json.loads((results / "background" / "background.json").read_text())
    assert bkg["_meta"]["n_pot"] == pytest.approx(1.4e15)
    assert bkg["_meta"]["published_background"] is False
    for state in ("ee", "mumu"):
        for region in B.REGIONS:
            e = bkg[state][region]
            assert set(e) >= {"median", "k", "mean", "interval68", "interval90", "components"}
            assert e["k"] >= 1 and e["median"] >= 0
            comps = e["components"]
            assert comps["prompt"]["source"] == "MC dataset prompt"
            assert comps["combinatorial"]["source"] == "Q1 pseudo-events, dataset combinatorial"
            assert 5000 < comps["combinatorial"]["pseudo_events"] < 20000  # those firing H2
            assert "published" not in json.dumps(comps)
    edges = bkg["_mass_hists"]["mumu"]["combinatorial"]["edges"]
    assert len(edges) == 401
    # deterministic for a given seed, and read from the artefacts alone: no data directory,
    # another working directory
    first = (results / "background" / "background.json").read_text()
    shutil.rmtree(tmp_path / "data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(argv) == 0
    assert (results / "background" / "background.json").read_text() == first


def test_prompt_component_matches_a_run_without_vetoes(tiny_campaign):
    """The prompt inputs from the N-1 counts equal the counts of the former second pass over
    the prompt MC with the LAV and ANTI0 vetoes switched off."""
    from na62dump import runner
    from processors import PROCESSORS

    fileset = {k: v for k, v in tiny_campaign.fileset(["mumu"]).items() if k == "prompt"}
    cuts = PROCESSORS["mumu"].cuts_class().model_copy(
        update={"veto_lav": False, "veto_anti0": False})
    with runner.open_executor("iterative") as exe:
        out, _ = runner.run_processor(fileset, PROCESSORS["mumu"](), exe)
        off, _ = runner.run_processor(fileset, PROCESSORS["mumu"](cuts=cuts), exe)
    inputs = B.prompt_inputs_from_outputs(out["prompt"], "mumu")
    assert inputs.in_fv == B.cutflow_count(off["prompt"], "veto", "no vetoes")
    assert inputs.after_vetoes == B.cutflow_count(out["prompt"], "veto", "nominal")
    for r in B.REGIONS:
        assert inputs.regions[r] == B.cutflow_count(off["prompt"], r, "no vetoes")
    assert inputs.in_fv.sum_w > inputs.after_vetoes.sum_w
    assert np.isfinite(inputs.in_fv.n_eff)
