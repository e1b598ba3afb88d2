"""``na62dump run --fileset FILE.json`` and ``--dump-fileset FILE`` (issue 13): a coffea
fileset with the analysis metadata stands in for the campaign.

The round trip (the campaign's dumped fileset runs to the same cutflows and histograms as the
campaign), per-file POT for ``--skip-bad-files``, a one-line exit 2 for each malformed
fileset, and a fileset written by hand on files the test makes, run through background to
limits. Real files, real iterative runs of the ee processor.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from na62dump import backgrounds, cli, runner
from na62dump.commands.simulate import simulate_campaign
from na62dump.fileset import load_fileset
from na62dump.simulation.campaign import load_campaign
from na62dump.simulation.generators import generate
from na62dump.simulation.writer import write_ntuple
from tests.test_declared_inputs import CAMPAIGN, SIGNAL
from tests.test_runner import assert_identical_outputs, write_garbage


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(datasets.yaml, data directory) of the small campaign of test_declared_inputs
    (two files per dataset, with manifests), simulated once (read-only)."""
    root = tmp_path_factory.mktemp("fileset")
    config = root / "datasets.yaml"
    config.write_text(CAMPAIGN.format(data=root / "data"))
    simulate_campaign(load_campaign(config, preset="tiny"))
    return config, root / "data"


def run_cli(out, *source) -> int:
    return cli.main(["run", *source, "--channels", "ee", "--executor", "iterative",
                     "--out", str(out)])


@pytest.fixture(scope="module")
def dumped(made, tmp_path_factory):
    config, _ = made
    path = tmp_path_factory.mktemp("dump") / "tiny.json"
    assert cli.main(["run", "--config", str(config), "--preset", "tiny",
                     "--dump-fileset", str(path)]) == 0
    return path


def summary(out):
    return json.loads((out / "run" / "summary.json").read_text())


def test_dump_writes_the_declared_files_and_their_metadata(made, dumped):
    config, data = made
    fs = json.loads(dumped.read_text())
    assert sorted(fs) == ["data", SIGNAL, "prompt"]
    prompt = fs["prompt"]
    files = [str(data / "prompt" / f"prompt_{i:03d}.root") for i in range(2)]
    assert prompt["files"] == {f: "events" for f in files}
    meta = prompt["metadata"]
    assert meta["kind"] == "prompt" and meta["channels"] == ["ee"] and "dataset" not in meta
    assert meta["pot"] == 2.0e16 and meta["file_pot"] == {f: 1.0e16 for f in files}
    manifest = json.loads((data / "prompt" / "manifest.json").read_text())
    assert meta["file_entries"] == {str(data / "prompt" / f["name"]): f["entries"]
                                    for f in manifest["files"]}
    sig = fs[SIGNAL]["metadata"]
    assert (sig["model"], sig["production"], sig["channel"], sig["mass_gev"]) == (
        "dark_photon", "brems", "ee", 0.1)
    assert sig["n_generated"] == 200 and sorted(sig["file_events"].values()) == [100, 100]
    assert "file_pot" not in sig


def test_round_trip_gives_the_outputs_of_the_campaign(made, dumped, tmp_path):
    config, _ = made
    ref, mine = tmp_path / "campaign", tmp_path / "fileset"
    assert run_cli(ref, "--config", str(config), "--preset", "tiny") == 0
    assert run_cli(mine, "--fileset", str(dumped)) == 0
    assert_identical_outputs(runner.load_output(ref, "ee"), runner.load_output(mine, "ee"))
    a, b = summary(ref), summary(mine)
    assert a["channels"] == b["channels"]
    for name, rec in a["datasets"].items():
        other = b["datasets"][name]
        assert other["metadata"] == rec["metadata"] and other["files"] == rec["files"]
        assert other["normalisation"]["source"] == "fileset"
        assert other["normalisation"]["manifest"] == str(dumped)
        for key in ("unit", "declared", "processed", "files_declared", "files_processed"):
            assert other["normalisation"][key] == rec["normalisation"][key], (name, key)


def test_skip_bad_files_renormalises_by_the_per_file_pot(made, dumped, tmp_path, capsys):
    """A fileset's ``file_pot`` lets ``--skip-bad-files`` drop a file, like a manifest."""
    _, data = made
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    fs = json.loads(dumped.read_text().replace(str(data), str(copy)))
    bad = write_garbage(copy / "prompt" / "prompt_001.root")
    path = tmp_path / "fs.json"
    path.write_text(json.dumps(fs))
    assert run_cli(tmp_path / "stop", "--fileset", str(path)) == 2
    assert capsys.readouterr().err.startswith(f"na62dump run: error: {bad} (dataset 'prompt')")
    out = tmp_path / "out"
    assert run_cli(out, "--fileset", str(path), "--skip-bad-files") == 0
    rec = summary(out)["datasets"]["prompt"]
    assert rec["skipped"] == [bad] and rec["metadata"]["pot"] == 1.0e16
    assert rec["normalisation"]["declared"] == 2.0e16
    # without per-file POT, the share of the bad file is unknown: refused, naming it
    del fs["prompt"]["metadata"]["file_pot"]
    path.write_text(json.dumps(fs))
    assert run_cli(tmp_path / "refused", "--fileset", str(path), "--skip-bad-files") == 2
    err = capsys.readouterr().err
    assert f"{bad} (dataset 'prompt')" in err and "cannot be left out" in err
    assert "Traceback" not in err


def test_file_entries_are_checked(made, dumped, tmp_path, capsys):
    fs = json.loads(dumped.read_text())
    first = next(iter(fs["prompt"]["metadata"]["file_entries"]))
    fs["prompt"]["metadata"]["file_entries"][first] += 1
    path = tmp_path / "fs.json"
    path.write_text(json.dumps(fs))
    assert run_cli(tmp_path / "out", "--fileset", str(path)) == 2
    err = capsys.readouterr().err
    assert f"{first} (dataset 'prompt'): holds" in err and f"the fileset {path} declares" in err


SIGNAL_META = {"kind": "signal", "model": "dark_photon", "production": "brems",
               "channel": "ee", "mass_gev": 0.1, "n_generated": 100}


def _edit(fs, name, **changes):
    fs = json.loads(json.dumps(fs))
    meta = fs[name]["metadata"]
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return fs


@pytest.mark.parametrize("edit, message", [
    (lambda fs: "{not json", "JSON syntax error at line 1, column 2"),
    (lambda fs: json.dumps({}), "expected a JSON object"),
    (lambda fs: json.dumps({"../x": fs["prompt"]}), "dataset '../x': a dataset name is"),
    (lambda fs: json.dumps({**fs, "prompt": 3}), "dataset 'prompt': expected a JSON object"),
    (lambda fs: json.dumps({**fs, "prompt": {**fs["prompt"], "metadata": []}}),
     "dataset 'prompt': field 'metadata': expected a JSON object"),
    (lambda fs: json.dumps(_edit(fs, "prompt", kind=None)),
     "dataset 'prompt': field 'metadata.kind': missing"),
    (lambda fs: json.dumps(_edit(fs, "prompt", kind="cosmics")),
     "dataset 'prompt': field 'metadata.kind': Input should be 'signal'"),
    (lambda fs: json.dumps(_edit(fs, "prompt", pot=None, file_pot=None)),
     "dataset 'prompt': field 'metadata.pot': missing"),
    (lambda fs: json.dumps(_edit(fs, "prompt", pot=-1.0)),
     "dataset 'prompt': field 'metadata.pot': Input should be greater than 0"),
    (lambda fs: json.dumps(_edit(fs, "prompt", pot=3.0e16)),
     "dataset 'prompt': field 'metadata.file_pot': sums to 2e+16, not to the dataset's 3e+16"),
    (lambda fs: json.dumps(_edit(fs, "prompt", weight=2.0)),
     "dataset 'prompt': field 'metadata.weight': give either 'pot'"),
    (lambda fs: json.dumps(_edit(fs, "data", pot=None, file_pot=None)),
     "dataset 'data': field 'metadata.pot': missing: the pseudo-data need their exposure"),
    (lambda fs: json.dumps(_edit(fs, SIGNAL, mass_gev=None)),
     f"dataset '{SIGNAL}': field 'metadata.mass_gev': missing"),
    (lambda fs: json.dumps(_edit(fs, SIGNAL, mass_gev=0.001)),
     f"dataset '{SIGNAL}': field 'metadata.mass_gev': 0.001 GeV is outside the reach"),
    (lambda fs: json.dumps(_edit(fs, SIGNAL, n_generated=None, file_events=None)),
     f"dataset '{SIGNAL}': field 'metadata.n_generated': missing"),
    (lambda fs: json.dumps(_edit(fs, SIGNAL, channels=["ee", "tautau"])),
     f"dataset '{SIGNAL}': field 'metadata.channels': unknown analysis channel(s) ['tautau']"),
    (lambda fs: json.dumps(_edit(fs, "prompt", file_pot={"/elsewhere.root": 2.0e16})),
     "dataset 'prompt': field 'metadata.file_pot': no value for"),
    (lambda fs: json.dumps({**fs, "prompt": {**fs["prompt"], "file": []}}),
     "dataset 'prompt': field 'file': unknown key"),
    (lambda fs: json.dumps({**fs, "prompt": {**fs["prompt"], "files": "a.root"}}),
     "dataset 'prompt': field 'files': a mapping {path: treename} or a list of paths"),
    (lambda fs: json.dumps(_edit(fs, "prompt", filename="x")),
     "dataset 'prompt': field 'metadata.filename': reserved by coffea"),
    (lambda fs: json.dumps(fs).replace("2e+16", "NaN", 1),
     "NaN is not a number in strict JSON"),
])
def test_a_bad_fileset_is_a_one_line_error(dumped, tmp_path, capsys, edit, message):
    fs = json.loads(dumped.read_text())
    path = tmp_path / "bad.json"
    path.write_text(edit(fs))
    out = tmp_path / "out"
    assert run_cli(out, "--fileset", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"na62dump run: error: {path}: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_a_missing_file_of_a_fileset_is_named(dumped, tmp_path, capsys):
    fs = json.loads(dumped.read_text())
    gone = str(tmp_path / "gone.root")
    fs["prompt"]["files"] = {gone: "events"}
    for key in ("file_pot", "file_entries"):
        del fs["prompt"]["metadata"][key]
    path = tmp_path / "fs.json"
    path.write_text(json.dumps(fs))
    assert run_cli(tmp_path / "out", "--fileset", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"na62dump run: error: {gone} (dataset 'prompt'): file does not exist"
                          f"; fix its path in {path}")
    assert err.count("\n") == 1


@pytest.mark.parametrize("other", [["--preset", "tiny"], ["--config", "datasets.yaml"],
                                   ["--data-dir", "data"], ["--dump-fileset", "x.json"]])
def test_fileset_replaces_the_campaign(dumped, tmp_path, capsys, other):
    assert run_cli(tmp_path / "out", "--fileset", str(dumped), *other) == 2
    err = capsys.readouterr().err
    assert f"--fileset {dumped}: replaces the campaign, so not with {other[0]}" in err


def test_dump_without_manifests_says_to_simulate(tmp_path, capsys):
    config = tmp_path / "datasets.yaml"
    config.write_text(CAMPAIGN.format(data=tmp_path / "data"))
    assert cli.main(["run", "--config", str(config), "--preset", "tiny", "--dump-fileset",
                     str(tmp_path / "fs.json")]) == 2
    assert "manifest.json: missing" in capsys.readouterr().err
    assert not (tmp_path / "fs.json").exists()


def test_a_hand_written_fileset_runs_through_background_to_limits(tmp_path, capsys):
    """Files made here (not by ``simulate``, no manifest), relative paths, a list and a
    mapping, signal normalised by ``n_generated``: run, background from its datasets, limits."""
    rng = np.random.default_rng(7)
    mine = tmp_path / "mine"
    write_ntuple(mine / "data.root", generate("pseudo_data", {}, 1.0e15, rng))
    write_ntuple(mine / "prompt_a.root", generate("prompt", {}, 1.0e16, rng))
    write_ntuple(mine / "prompt_b.root", generate("prompt", {}, 1.0e16, rng))
    sig = {k: SIGNAL_META[k] for k in ("model", "production", "channel", "mass_gev")}
    write_ntuple(mine / "sig.root", generate("signal", sig, 300, rng))
    fs = {
        "my_data": {"files": ["mine/data.root"],
                    "metadata": {"kind": "pseudo_data", "channels": ["ee"], "pot": 1.0e15}},
        "my_prompt": {"files": {"mine/prompt_a.root": "events", "mine/prompt_b.root": "events"},
                      "metadata": {"kind": "prompt", "channels": "all",
                                   "file_pot": {"mine/prompt_a.root": 1.0e16,
                                                "mine/prompt_b.root": 1.0e16}}},
        "my_signal": {"files": ["mine/sig.root"], "treename": "events",
                      "metadata": {**SIGNAL_META, "n_generated": 300}},
    }
    path = tmp_path / "fileset.json"
    path.write_text(json.dumps(fs, indent=1))
    campaign = load_fileset(path)
    assert campaign.get("my_signal").channels == ("ee",)  # the final state's analysis channel
    assert campaign.get("my_prompt").metadata["pot"] == 2.0e16
    out = tmp_path / "results"
    assert run_cli(out, "--fileset", str(path)) == 0
    rec = summary(out)["datasets"]
    assert rec["my_prompt"]["files"] == [str(mine / "prompt_a.root"), str(mine / "prompt_b.root")]
    assert rec["my_signal"]["metadata"]["n_generated"] == 300
    # background from the run's artefacts: the prompt MC of the fileset, and (no combinatorial
    # dataset in this fileset) the published combinatorial value, as asked
    assert cli.main(["background", "--results", str(out), "--published-background",
                     "--pseudo-experiments", "2000", "--seed", "1"]) == 0
    result = backgrounds.read_background(out)
    assert result["_meta"]["n_pot"] == 1.0e15
    assert result["ee"]["SR"]["components"]["prompt"]["source"] == "MC dataset my_prompt"
    capsys.readouterr()
    assert cli.main(["limits", "--results", str(out), "--asymptotic", "--masses", "3",
                     "--couplings", "6", "--models", "dark_photon", "--channels", "ee"]) == 0
    lim = json.loads((out / "limits" / "dark_photon_ee.json").read_text())
    assert lim["blinded"] is True and lim["n_pot"] == 1.0e15  # the exposure of my_data
    assert lim["mass_gev"] == [0.1] and len(lim["eps"]) == 6  # the one signal mass
    (node,) = lim["yield_coverage"]["ee"]["brems"]["nodes"]
    assert node["generated_events"] == 300 and node["accepted_events"] > 0  # my_signal


def test_dump_of_a_glob_that_matches_nothing_is_refused(tmp_path, capsys):
    config = tmp_path / "datasets.yaml"
    config.write_text(f"data_dir: {tmp_path}\ndatasets:\n  - name: mine\n    kind: prompt\n"
                      "    channels: all\n    files: nowhere/*.root\n    metadata: {pot: 1.0e16}\n")
    assert cli.main(["run", "--config", str(config), "--preset", "tiny", "--dump-fileset",
                     str(tmp_path / "fs.json")]) == 2
    err = capsys.readouterr().err
    assert f"{config}: dataset 'mine' declares no file" in err and err.count("\n") == 1


@pytest.mark.slow
def test_round_trip_of_the_tiny_preset_every_channel(tiny_campaign, tmp_path):
    """The packaged campaign's tiny preset (made by the session fixture): its dumped fileset
    runs to the outputs of the campaign in all four channels."""
    data = str(tiny_campaign.data_dir)
    path = tmp_path / "tiny.json"
    assert cli.main(["run", "--preset", "tiny", "--data-dir", data, "--dump-fileset",
                     str(path)]) == 0
    assert sorted(json.loads(path.read_text())) == sorted(tiny_campaign.names)
    ref, mine = tmp_path / "campaign", tmp_path / "fileset"
    common = ["--executor", "iterative", "--unblind"]
    assert cli.main(["run", "--preset", "tiny", "--data-dir", data, *common,
                     "--out", str(ref)]) == 0
    assert cli.main(["run", "--fileset", str(path), *common, "--out", str(mine)]) == 0
    for channel in ("ee", "mumu", "pipi", "hadronic"):
        assert_identical_outputs(runner.load_output(ref, channel),
                                 runner.load_output(mine, channel))
    a, b = summary(ref), summary(mine)
    assert a["channels"] == b["channels"]
    assert {n: r["metadata"] for n, r in a["datasets"].items()} == {
        n: r["metadata"] for n, r in b["datasets"].items()}
