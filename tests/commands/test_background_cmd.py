"""``na62dump background``: published fall-backs (fast) and the full chain on a tiny campaign."""

from __future__ import annotations

import json

import numpy as np
import pytest
from coffea.util import save

from na62dump import backgrounds as B
from na62dump import cli, geometry

DATA_ONLY_YAML = """
data_dir: {data}
datasets:
  - name: data
    kind: pseudo_data
    channels: all
    metadata: {{pot: 1.4e17}}
"""


def _data_output():
    return {"kind": "pseudo_data", "unblinded": False, "regions": {"CR": None, "SR": None},
            "candidates": [], "hists": {},
            "cutflow": {"names": ["all"], "unweighted": [5], "weighted": [5.0]}}


def test_published_fallbacks_without_background_samples(tmp_path, capsys):
    """No prompt, Q1 or upstream sample: e+e- prompt from the published MC counts, mu+mu-
    combinatorial from the published value, both flagged as published."""
    (tmp_path / "datasets.yaml").write_text(DATA_ONLY_YAML.format(data=tmp_path / "data"))
    results = tmp_path / "results"
    (results / "run").mkdir(parents=True)
    for channel in ("ee", "mumu"):
        save({"data": _data_output()}, str(results / "run" / f"{channel}.coffea"))
    status = cli.main(["background", "--results", str(results), "--config",
                       str(tmp_path / "datasets.yaml"), "--preset", "tiny",
                       "--pseudo-experiments", "100000", "--seed", "3"])
    assert status == 0
    text = capsys.readouterr().out
    assert "published" in text and "written" in text
    bkg = B.read_background(results)
    assert set(bkg) == {"ee", "mumu", "_meta", "_provenance"}
    assert bkg["_provenance"]["stage"] == "background"
    assert bkg["_provenance"]["seeds"] == {"background": 3}  # --seed 3
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
    (tmp_path / "datasets.yaml").write_text(DATA_ONLY_YAML.format(data=tmp_path / "data"))
    status = cli.main(["background", "--results", str(tmp_path / "nothing"), "--config",
                       str(tmp_path / "datasets.yaml"), "--preset", "tiny",
                       "--pseudo-experiments", "1000"])
    assert status == 2
    assert "na62dump run" in capsys.readouterr().err


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
"""


@pytest.mark.slow
def test_chain_on_a_tiny_simulated_campaign(tmp_path):
    """simulate (generators + writer) -> run (ee, mumu) -> background: every component is
    estimated from our samples (prompt re-run without vetoes, Q1 pseudo-events)."""
    from na62dump import runner
    from na62dump.simulation import generators
    from na62dump.simulation.campaign import load_campaign
    from na62dump.simulation.writer import write_ntuple

    (tmp_path / "datasets.yaml").write_text(CHAIN_YAML.format(data=tmp_path / "data"))
    campaign = load_campaign(tmp_path / "datasets.yaml", preset="tiny")
    for d in campaign.datasets:
        for i, (path, size) in enumerate(zip(d.output_paths(), d.recipe.file_sizes,
                                             strict=True)):
            rng = np.random.default_rng(d.seed_sequence(campaign.seed, i))
            write_ntuple(path, generators.generate(d.recipe.generator, d.recipe.params, size,
                                                   rng))
    results = tmp_path / "results"
    runner.run(campaign, ["ee", "mumu"], executor="iterative", out_dir=results)
    status = cli.main(["background", "--results", str(results), "--config",
                       str(tmp_path / "datasets.yaml"), "--preset", "tiny",
                       "--pseudo-experiments", "20000", "--max-pairs", "20000"])
    assert status == 0
    bkg = json.loads((results / "background" / "background.json").read_text())
    assert bkg["_meta"]["n_pot"] == pytest.approx(1.4e15)
    for state in ("ee", "mumu"):
        for region in B.REGIONS:
            e = bkg[state][region]
            assert set(e) >= {"median", "k", "mean", "interval68", "interval90", "components"}
            assert e["k"] >= 1 and e["median"] >= 0
            comps = e["components"]
            assert comps["prompt"]["source"] == "MC dataset prompt"
            assert comps["combinatorial"]["source"] == "Q1 pseudo-events"
            assert comps["combinatorial"]["pseudo_events"] > 0
    # deterministic for a given seed
    first = (results / "background" / "background.json").read_text()
    cli.main(["background", "--results", str(results), "--config",
              str(tmp_path / "datasets.yaml"), "--preset", "tiny",
              "--pseudo-experiments", "20000", "--max-pairs", "20000"])
    assert (results / "background" / "background.json").read_text() == first
