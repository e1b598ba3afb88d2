"""Declared inputs (issue 12): ``run`` processes the files a dataset's manifest declares, a
missing or rewritten file is an error naming it, ``--skip-bad-files`` renormalises to the
POT of the files processed, and the later stages describe the datasets from ``summary.json``.

Real files made by ``simulate`` from a small campaign whose prompt sample and pseudo-data
have two files each; real iterative runs of the ee processor.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from na62dump import cli, geometry, runner, yields
from na62dump.commands.simulate import simulate_campaign
from na62dump.errors import InputError
from na62dump.simulation.campaign import load_campaign
from na62dump.simulation.generators import generate
from na62dump.simulation.writer import write_ntuple

CAMPAIGN = """\
data_dir: {data}
seed: 3
datasets:
  - name: data
    kind: pseudo_data
    channels: [ee]
    recipe: {{size: 2.0e15, per_file: 1.0e15}}
  - name: prompt
    kind: prompt
    channels: [ee]
    recipe: {{size: 2.0e16, per_file: 1.0e16}}
grids:
  - prefix: dp_brems
    model: dark_photon
    production: brems
    channels: [ee]
    mass_range_gev: [0.01, 1.0]
    masses: {{tiny: {{values: [0.1]}}, default: [], full: []}}
    size: 200
    per_file: 100
"""
SIGNAL = "dp_brems_ee_m0100"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(datasets.yaml, data directory) of the small campaign, simulated once (read-only)."""
    root = tmp_path_factory.mktemp("declared")
    config = root / "datasets.yaml"
    config.write_text(CAMPAIGN.format(data=root / "data"))
    simulate_campaign(load_campaign(config, preset="tiny"))
    return config, root / "data"


@pytest.fixture(scope="module")
def full_run(made, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    runner.run(load_campaign(made[0], preset="tiny"), ["ee"], executor="iterative",
               out_dir=out)
    return out


def copy(made, tmp_path) -> tuple[Path, Path]:
    """A private copy of the campaign (config and files) to damage."""
    config, data = made
    new_data = tmp_path / "data"
    shutil.copytree(data, new_data)
    new_config = tmp_path / "datasets.yaml"
    new_config.write_text(config.read_text().replace(str(data), str(new_data)))
    return new_config, new_data


def summary(out: Path) -> dict:
    return json.loads((out / "run" / "summary.json").read_text())


def run_cli(config, out, *extra) -> int:
    return cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels", "ee",
                     "--executor", "iterative", "--out", str(out), *extra])


def test_summary_records_every_dataset_as_processed(made, full_run):
    config, data = made
    rec = summary(full_run)["datasets"]
    assert sorted(rec) == ["data", SIGNAL, "prompt"]
    prompt = rec["prompt"]
    assert prompt["kind"] == "prompt" and prompt["channels"] == ["ee"]
    assert prompt["files"] == [str(data / "prompt" / f"prompt_{i:03d}.root") for i in (0, 1)]
    assert prompt["skipped"] == [] and prompt["metadata"]["pot"] == 2.0e16
    assert prompt["normalisation"] == {
        "source": "manifest", "manifest": str(data / "prompt" / "manifest.json"),
        "unit": "pot", "declared": 2.0e16, "processed": 2.0e16, "files_declared": 2,
        "files_processed": 2}
    sig = rec[SIGNAL]["metadata"]
    assert (sig["model"], sig["production"], sig["channel"], sig["mass_gev"],
            sig["n_generated"]) == ("dark_photon", "brems", "ee", 0.1, 200)
    assert rec["data"]["metadata"]["pot"] == 2.0e15


def test_a_missing_declared_file_is_an_error_naming_it(made, tmp_path, capsys):
    config, data = copy(made, tmp_path)
    gone = data / "prompt" / "prompt_001.root"
    gone.unlink()  # the reproduction: before, exit 0 and half the prompt weight
    assert run_cli(config, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"na62dump run: error: {gone} (dataset 'prompt'): file does not exist")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_skip_bad_files_renormalises_to_the_pot_processed(made, full_run, tmp_path, capsys):
    config, data = copy(made, tmp_path)
    gone = data / "prompt" / "prompt_001.root"
    gone.unlink()
    out = tmp_path / "out"
    assert run_cli(config, out, "--skip-bad-files") == 0
    assert f"skipped {gone} (dataset prompt): file does not exist" in capsys.readouterr().err
    rec = summary(out)["datasets"]["prompt"]
    assert rec["skipped"] == [str(gone)] and rec["files"] == [str(data / "prompt" /
                                                                    "prompt_000.root")]
    assert rec["metadata"]["pot"] == 1.0e16
    assert rec["normalisation"]["declared"] == 2.0e16
    assert rec["normalisation"]["processed"] == 1.0e16
    assert rec["normalisation"]["files_processed"] == 1

    # the same as a campaign that declares only the file that is left, with its POT
    only = tmp_path / "only.yaml"
    only.write_text(textwrap.dedent(f"""\
        data_dir: {data}
        datasets:
          - name: prompt
            kind: prompt
            channels: [ee]
            files: [prompt/prompt_000.root]
            metadata: {{pot: 1.0e16}}
        """))
    ref = tmp_path / "ref"
    assert run_cli(only, ref) == 0
    skipped = summary(out)["channels"]["ee"]["prompt"]["cutflow"]
    assert skipped == summary(ref)["channels"]["ee"]["prompt"]["cutflow"]
    # each event weighs N_POT / 1e16, not N_POT / 2e16 (the defect: the weight halved)
    n0 = skipped["unweighted"][0]
    assert skipped["weighted"][0] == pytest.approx(n0 * geometry.N_POT / 1.0e16)
    full = summary(full_run)["channels"]["ee"]["prompt"]["cutflow"]
    assert full["weighted"][0] == pytest.approx(full["unweighted"][0] * geometry.N_POT / 2e16)


def test_a_rewritten_file_differs_from_its_manifest(made, tmp_path, capsys):
    config, data = copy(made, tmp_path)
    path = data / SIGNAL / f"{SIGNAL}_001.root"
    params = {"model": "dark_photon", "production": "brems", "channel": "ee", "mass_gev": 0.1}
    write_ntuple(path, generate("signal", params, 60, np.random.default_rng(1)))
    assert run_cli(config, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"na62dump run: error: {path} (dataset '{SIGNAL}'): holds 60 "
                          "entries where its manifest")
    assert "declares 100" in err and len(err.strip().splitlines()) == 1
    assert run_cli(config, tmp_path / "out", "--skip-bad-files") == 0
    rec = summary(tmp_path / "out")["datasets"][SIGNAL]
    assert rec["skipped"] == [str(path)]
    assert rec["metadata"]["n_generated"] == rec["normalisation"]["processed"] == 100


def test_a_simulated_dataset_without_manifest_says_to_simulate(made, tmp_path, capsys):
    config, data = copy(made, tmp_path)
    (data / "prompt" / "manifest.json").unlink()
    assert run_cli(config, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{data / 'prompt' / 'manifest.json'}: missing" in err
    assert "run `na62dump simulate --preset tiny`" in err and "Traceback" not in err


def test_later_stages_describe_the_datasets_from_the_run(made, tmp_path):
    """The run's record, not datasets.yaml: the signal samples are found and described with
    the campaign file gone, or changed to say something else."""
    config, data = copy(made, tmp_path)
    out = tmp_path / "out"
    assert run_cli(config, out) == 0
    def described():
        return [(s.name, s.mass_gev, s.production, s.channel, s.n_generated)
                for s in yields.signal_samples_from_results(out, "dark_photon")]

    assert described() == [(SIGNAL, 0.1, "brems", "ee", 200)]
    config.write_text(config.read_text().replace("values: [0.1]", "values: [0.2]"))
    assert described() == [(SIGNAL, 0.1, "brems", "ee", 200)]
    config.unlink()
    assert described() == [(SIGNAL, 0.1, "brems", "ee", 200)]
    assert yields.signal_samples_from_results(out, "alp") == []
    # a summary without the record (an older na62dump) is refused, not guessed from elsewhere
    old = summary(out)
    del old["datasets"]
    (out / "run" / "summary.json").write_text(json.dumps(old))
    with pytest.raises(InputError, match=r"summary\.json: no 'datasets' record.*na62dump run"):
        described()
