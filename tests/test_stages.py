"""Stage sets, the atomic-write helper and provenance (issue 12: all or nothing, provenance).

Each test starts from the reproduction of a defect: a SIGTERM during ``limits`` that deleted
the earlier limits, ``run --channels ee`` leaving the other channels' outputs, a new mass
grid leaving the old grid's workspaces, files at mode 0600, ``all`` reusing results after a
change of the cuts or of an option, and artefacts that did not describe themselves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from na62dump import artefacts, atomic, cli, provenance
from tests.commands.test_limits_cmd import _run as run_limits
from tests.commands.test_limits_cmd import make_results

REPO = Path(__file__).resolve().parents[1]


def _tree(root: Path) -> dict[str, bytes]:
    """``{relative path: bytes}`` of every file under ``root``, following the set links."""
    out = {}
    for dirpath, _, files in os.walk(root, followlinks=True):
        for f in files:
            p = Path(dirpath) / f
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def _leftovers(results: Path) -> list[str]:
    """Temporary files and versions of a results directory that no set link points to."""
    current = {os.readlink(p) for p in results.iterdir() if p.is_symlink()}
    left = [p.name for p in results.iterdir() if p.name.startswith(".")
            and p.name not in current]
    left += [str(p) for p in results.rglob("*.tmp")]
    return left


# --------------------------------------------------------------------------------------------
# One atomic-write helper
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        a = atomic.write_json(tmp_path / "a.json", {"x": 1})
        b = atomic.write_via(tmp_path / "b.bin", lambda tmp: tmp.write_bytes(b"1"))
        c = atomic.write_text(tmp_path / "c.txt", "c")
    finally:
        os.umask(old)
    assert {p.stat().st_mode & 0o777 for p in (a, b, c)} == {mode}


def test_json_nan_names_the_file_and_key_and_writes_nothing(tmp_path):
    path = tmp_path / "lim.json"
    with pytest.raises(ValueError, match=r"lim\.json: not finite at cls\.expected\[1\] \(nan\)"):
        atomic.write_json(path, {"cls": {"expected": [0.5, float("nan")]}})
    assert list(tmp_path.iterdir()) == []


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic.write_text(tmp_path / "x.txt", "old")

    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.write_via(path, fail)
    assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]


def test_the_other_atomic_writers_are_gone():
    # runner, plotting and the ntuple writer use na62dump.atomic (issue 12: four helpers)
    runner = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "na62dump/runner").glob("*.py"))
    assert "na62dump/runner/__init__.py" in runner
    for rel in (*runner, "na62dump/plotting/figures.py",
                "na62dump/plotting/driver.py", "na62dump/simulation/writer.py"):
        text = (REPO / rel).read_text()
        assert "mkstemp(" not in text and "mkdtemp(prefix" not in text, rel
        assert "os.replace(" not in text, rel


# --------------------------------------------------------------------------------------------
# Stage sets
# --------------------------------------------------------------------------------------------
def test_a_failed_stage_leaves_the_previous_set(tmp_path):
    link = tmp_path / "limits"
    with artefacts.StageSet(link) as d:
        (d / "a.json").write_text("1")
    with pytest.raises(RuntimeError), artefacts.StageSet(link) as d:
        (d / "b.json").write_text("2")
        raise RuntimeError("scan failed")
    assert sorted(p.name for p in link.iterdir()) == ["a.json"]
    assert _leftovers(tmp_path) == []


def test_stale_versions_of_dead_processes_are_removed_at_the_next_start(tmp_path):
    link = tmp_path / "run"
    with artefacts.StageSet(link) as d:
        (d / "ee.coffea").write_text("1")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".run-20260101T000000.000000000-{pid}"
    stale.mkdir()
    (stale / ".ee.coffea.x.tmp").write_text("half")
    (tmp_path / f".run-link-{pid}.tmp").symlink_to(stale.name)
    other = tmp_path / ".run-not-a-version"  # not ours: kept
    other.mkdir()
    assert _leftovers(tmp_path) != []
    with artefacts.StageSet(link) as d:
        (d / "mumu.coffea").write_text("2")
    assert sorted(p.name for p in link.iterdir()) == ["mumu.coffea"]
    assert _leftovers(tmp_path) == [other.name]


def test_a_real_directory_of_an_older_version_is_migrated(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "pipi.coffea").write_text("old")
    (tmp_path / "summary.json").write_text("{}")  # where older versions wrote it
    with artefacts.StageSet(tmp_path / "run") as d:
        (d / "ee.coffea").write_text("new")
    assert (tmp_path / "run").is_symlink()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["ee.coffea"]
    assert not (tmp_path / "summary.json").exists() and _leftovers(tmp_path) == []


def test_run_channels_ee_after_a_full_run_leaves_exactly_the_ee_set(tiny_campaign, tmp_path):
    from na62dump import runner

    runner.run(tiny_campaign, ["ee", "mumu"], executor="iterative", out_dir=tmp_path)
    assert artefacts.output_path(tmp_path, "mumu").is_file()
    runner.run(tiny_campaign, ["ee"], executor="iterative", out_dir=tmp_path)
    run = artefacts.run_dir(tmp_path)
    assert sorted(p.name for p in run.iterdir()) == ["ee.coffea", "provenance.json",
                                                     "summary.json"]
    summary = json.loads(artefacts.summary_path(tmp_path).read_text())
    assert list(summary["channels"]) == ["ee"]
    assert summary["provenance"]["options"]["channels"] == ["ee"]
    assert list(summary["provenance"]["cuts"]) == ["ee"]
    assert summary["provenance"] == provenance.read_record(run)
    assert summary["provenance"]["campaign"]["preset"] == "tiny"
    assert summary["provenance"]["campaign"]["data_dir"] == str(tiny_campaign.data_dir.resolve())
    assert _leftovers(tmp_path) == []


def test_a_new_mass_grid_leaves_no_workspace_of_the_old_one(tmp_path):
    results = make_results(tmp_path, unblinded=False)
    assert run_limits(results, "--toys", "100") == 0  # 3 masses
    old = {p.name for p in artefacts.workspaces_dir(results).glob("*_m*.json")}
    assert run_limits(results, "--toys", "100", "--masses", "2") == 0
    lim = json.loads((artefacts.limits_dir(results) / "dark_photon_ee.json").read_text())
    new = {p.name for p in artefacts.workspaces_dir(results).glob("*_m*.json")}
    assert new and old - new  # the old grid's workspaces are gone
    # only the new grid's masses (dark_photon_ee_m<MeV with one decimal>.json)
    assert {n.removeprefix("dark_photon_ee_m").removesuffix(".json") for n in new} <= {
        f"{1000 * m:.1f}" for m in lim["mass_gev"]}
    assert len(lim["mass_gev"]) == 2 and _leftovers(results) == []
    # every artefact of the set carries the same record
    rec = provenance.read_record(artefacts.limits_dir(results))
    assert lim["provenance"] == rec and rec["options"]["masses"] == 2
    table = json.loads((artefacts.yields_dir(results) / "dark_photon_ee.json").read_text())
    assert table["provenance"] == rec
    ps = json.loads((artefacts.workspaces_dir(results) / "dark_photon_ee_patchset.json")
                    .read_text())
    assert ps["metadata"]["provenance"] == rec


def _limits_proc(results: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "na62dump.cli", "limits", "--results", str(results),
            "--masses", "3", "--couplings", "40", "--models", "dark_photon",
            "--channels", "ee", "--toys", "3000"]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_staging(results: Path, proc: subprocess.Popen, timeout: float = 600) -> Path:
    """The staging directory of ``proc`` once it holds a first workspace (mid-way)."""
    end = time.monotonic() + timeout
    pattern = f".limits-*-{proc.pid}"
    while time.monotonic() < end:
        for d in results.glob(pattern):
            if any((d / "workspaces").glob("*.json")):
                return d
        if proc.poll() is not None:
            pytest.fail(f"limits ended before it was interrupted: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("limits wrote no workspace in time")


@pytest.mark.slow
def test_sigterm_during_limits_keeps_the_previous_set_and_no_temporary(tmp_path):
    results = make_results(tmp_path, unblinded=False)
    assert run_limits(results, "--toys", "100") == 0
    before = _tree(artefacts.limits_dir(results))
    assert len(before) > 4
    proc = _limits_proc(results)
    staging = _wait_for_staging(results, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    assert _tree(artefacts.limits_dir(results)) == before
    assert not staging.exists() and _leftovers(results) == []
    # a SIGKILL allows no clean-up: the next run removes what it left
    proc = _limits_proc(results)
    staging = _wait_for_staging(results, proc)
    proc.kill()
    proc.wait(timeout=60)
    assert staging.exists() and _tree(artefacts.limits_dir(results)) == before
    assert run_limits(results, "--toys", "100", "--masses", "2") == 0
    assert not staging.exists() and _leftovers(results) == []
    lim = json.loads((artefacts.limits_dir(results) / "dark_photon_ee.json").read_text())
    assert len(lim["mass_gev"]) == 2


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------
def test_version_prints_version_commit_and_stack(capsys):
    import na62dump

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"na62dump {na62dump.__version__}\n")
    for name in provenance.STACK:
        assert f"\n{name} " in out
    assert f"code sha256 {provenance.code_hash()}" in out
    if provenance.git_info() is not None:
        assert f"git {provenance.git_info()['commit']}" in out


def test_the_record_names_what_it_must():
    rec = provenance.record("plot", options={"formats": ["png"]})
    assert set(rec) >= {"na62dump", "git", "code", "stack", "campaign", "cuts", "options",
                        "seeds", "blinding", "inputs"}
    assert set(rec["stack"]) == set(provenance.STACK)
    assert rec["stack"]["numpy"] == np.__version__
    assert len(rec["code"]) == 64


def _tiny_ctx(out: Path, *extra: str):
    import argparse

    from na62dump.commands import all as all_cmd

    parser = argparse.ArgumentParser()
    all_cmd.register(parser.add_subparsers(dest="command"))
    return all_cmd._Context(parser.parse_args(["all", "--preset", "tiny", "--out", str(out),
                                               *extra]))


def _commit(expected: dict) -> None:
    for set_dir, rec in expected.items():
        with artefacts.StageSet(set_dir) as d:
            provenance.write_record(d, rec)
            if set_dir.name == artefacts.RUN:
                atomic.write_json(d / artefacts.SUMMARY_NAME, {"unblinded": True})


def test_a_cut_change_reruns_run_and_everything_that_read_it(tmp_path):
    """The cuts have no command-line interface: two real cut objects, through the records
    ``all`` compares (the run record, and the digests the later stages name)."""
    from na62dump import runner
    from na62dump.commands import all as all_cmd
    from na62dump.selection.config import EECuts
    from na62dump.settings import DEFAULT_CHUNKSIZE
    from processors import PROCESSORS

    ctx = _tiny_ctx(tmp_path)
    stages = (all_cmd._run_expected, all_cmd._background_expected, all_cmd._limits_expected,
              all_cmd._plot_expected)
    for expected in stages:  # as `all` does: each stage at its turn
        assert all_cmd.stale_reason(expected(ctx)).startswith("no ")
        _commit(expected(ctx))
    assert [all_cmd.stale_reason(e(ctx)) for e in stages] == [None] * 4
    # the same run with a tighter e+e- cut: what a changed default would record
    cuts = {c: p(cuts=None).cuts for c, p in PROCESSORS.items()}
    cuts["ee"] = EECuts(electron_eop_min=cuts["ee"].electron_eop_min + 0.01)
    changed = runner.run_record(ctx.campaign, cuts, channels=list(PROCESSORS),
                                executor=ctx.executor, chunksize=DEFAULT_CHUNKSIZE,
                                skip_bad_files=False, unblind=True)
    assert provenance.differences(all_cmd._run_expected(ctx)[artefacts.run_dir(tmp_path)],
                                  changed) == ["cuts of ee changed"]
    _commit({artefacts.run_dir(tmp_path): changed})  # the run as it was made then
    assert all_cmd.stale_reason(all_cmd._run_expected(ctx)) == "cuts of ee changed"
    for expected in stages[1:]:
        assert all_cmd.stale_reason(expected(ctx)) == "input run changed"


def test_a_limits_option_change_reruns_limits_and_plot_only(tmp_path):
    from na62dump.commands import all as all_cmd

    ctx = _tiny_ctx(tmp_path)
    stages = (all_cmd._run_expected, all_cmd._background_expected, all_cmd._limits_expected,
              all_cmd._plot_expected)
    for expected in stages:
        _commit(expected(ctx))
    more_toys = _tiny_ctx(tmp_path, "--toys", "400")
    assert [all_cmd.stale_reason(e(more_toys)) for e in stages[:3]] == [
        None, None, "options changed (toys)"]
    _commit(all_cmd._limits_expected(more_toys))  # limits reran
    assert all_cmd.stale_reason(all_cmd._plot_expected(more_toys)) == "input limits changed"
    ff = _tiny_ctx(tmp_path, "--toys", "400", "--form-factor", "vmd")
    assert all_cmd.stale_reason(all_cmd._limits_expected(ff)) == \
        "options changed (form_factor)"


def test_a_code_change_is_seen(tmp_path):
    old = provenance.record("background", options={"pseudo_experiments": 20_000})
    new = {**old, "code": "0" * 64}
    assert provenance.differences(old, new) == ["code changed"]
    assert provenance.digest(old) != provenance.digest(new)
    assert provenance.digest(old) == provenance.digest({**old, "git": {"commit": "x"}})


@pytest.mark.slow
def test_all_after_a_limits_option_change_reruns_limits_and_plot(tmp_path_factory,
                                                                 tiny_campaign, tmp_path):
    import shutil

    from tests.tiny_results import tiny_results_dir

    shared, data, _ = tiny_results_dir(tmp_path_factory, tiny_campaign.data_dir)
    out = tmp_path / "results"
    shutil.copytree(shared, out, symlinks=True)  # the set links are relative
    run_before = _tree(artefacts.run_dir(out))
    argv = ["all", "--preset", "tiny", "--out", str(out), "--data-dir", str(data),
            "--executor", "iterative", "--format", "png", "--toys", "150"]
    proc = subprocess.run([sys.executable, "-m", "na62dump.cli", *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for stage in ("simulate", "run", "background"):
        assert any(f"{stage}: up to date" in line for line in lines), stage
    assert any("limits: running (options changed (toys))" in line for line in lines)
    assert any("plot: running (input limits changed)" in line for line in lines)
    assert _tree(artefacts.run_dir(out)) == run_before
    lim = json.loads((artefacts.limits_dir(out) / "dark_photon_ee.json").read_text())
    assert lim["provenance"]["options"]["toys"] == 150
    # the figures carry the plot record, which names the new limits record
    from PIL import Image

    png = Image.open(artefacts.figures_dir(out) / "exclusion_dark_photon_ee.png")
    rec = json.loads(png.text["Provenance"])
    assert rec == provenance.read_record(artefacts.figures_dir(out))
    assert rec["inputs"]["limits"] == provenance.input_digest(artefacts.limits_dir(out))
    assert _leftovers(out) == []
