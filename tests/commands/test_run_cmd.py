"""``na62dump run``: outputs, quiet output, --unblind, --skip-bad-files, bad input -> exit 2."""

from __future__ import annotations

import json

import pytest

from na62dump import cli
from na62dump.runner import load_output
from tests.test_runner import CHUNK, copy_campaign, make_campaign, write_garbage, write_without


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return make_campaign(tmp_path_factory.mktemp("campaign"))


def run_cli(config, out, *extra):
    return cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels", "ee",
                     "--executor", "iterative", "--chunksize", str(CHUNK), "--out", str(out),
                     *extra])  # fmt: skip


def test_run_writes_outputs_and_keeps_stderr_quiet(config, tmp_path, capsys):
    out = tmp_path / "results"
    assert run_cli(config, out) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "ee: 3 datasets" in captured.out and "summary.json" in captured.out
    summary = json.loads((out / "run" / "summary.json").read_text())
    assert summary["executor"] == "iterative" and summary["unblinded"] is False
    assert summary["channels"]["ee"]["data"]["SR"] is None
    assert sorted(load_output(out, "ee")) == ["data", "prompt", "sig_ee"]


def test_unblind_and_skip_bad_files_are_reported_and_recorded(config, tmp_path, capsys):
    copy = copy_campaign(config, tmp_path)
    bad = write_garbage(copy.parent / "sig_ee" / "sig_ee_009.root")
    out = tmp_path / "results"
    assert run_cli(copy, out, "--unblind", "--skip-bad-files") == 0
    err = capsys.readouterr().err
    assert "WARNING: --unblind" in err
    assert f"skipped {bad} (dataset sig_ee): cannot be read as a ROOT file" in err
    summary = json.loads((out / "run" / "summary.json").read_text())
    assert summary["unblinded"] is True
    assert [s["file"] for s in summary["skipped_files"]] == [bad]
    assert isinstance(summary["channels"]["ee"]["data"]["SR"], int)
    assert load_output(out, "ee")["data"]["unblinded"] is True


def test_corrupt_file_exits_2_naming_it_and_writes_nothing(config, tmp_path, capsys):
    copy = copy_campaign(config, tmp_path)
    bad = write_garbage(copy.parent / "sig_ee" / "sig_ee_009.root")
    out = tmp_path / "results"
    assert run_cli(copy, out) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"na62dump run: error: {bad} (dataset 'sig_ee'): cannot be read")
    assert "--skip-bad-files" in err and "Traceback" not in err
    assert not out.exists()


def test_missing_branch_exits_2_naming_it(config, tmp_path, capsys):
    copy = copy_campaign(config, tmp_path)
    write_without(copy.parent / "data" / "data_009.root", "Track_chodTime")
    assert run_cli(copy, tmp_path / "results", "--skip-bad-files") == 2
    err = capsys.readouterr().err
    assert "data_009.root" in err and "Track_chodTime" in err
    assert not (tmp_path / "results").exists()


def test_scheduler_needs_the_dask_executor(config, tmp_path, capsys):
    assert run_cli(config, tmp_path / "r", "--scheduler", "tcp://127.0.0.1:8786") == 2
    assert "--scheduler tcp://127.0.0.1:8786: only meaningful with --executor dask" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "argv",
    [["--workers", "0"], ["--chunksize", "-5"], ["--executor", "spark"], ["--channels", ","]],
)
def test_bad_arguments_are_usage_errors(config, tmp_path, argv):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(config, tmp_path / "r", *argv)
    assert exit_info.value.code == 2
    assert not (tmp_path / "r").exists()


def test_unknown_channel_exits_2(config, tmp_path, capsys):
    status = cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels",
                       "ee,tautau", "--out", str(tmp_path / "r")])  # fmt: skip
    assert status == 2
    assert "tautau" in capsys.readouterr().err


@pytest.mark.slow
def test_dask_local_cluster_keeps_stderr_quiet(config, tmp_path, capsys):
    out = tmp_path / "results"
    status = cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels", "ee",
                       "--executor", "dask", "--workers", "2", "--chunksize", str(CHUNK),
                       "--out", str(out)])  # fmt: skip
    assert status == 0
    assert capsys.readouterr().err == ""  # no distributed start-up/shutdown chatter
    assert json.loads((out / "run" / "summary.json").read_text())["executor"] == "dask"
