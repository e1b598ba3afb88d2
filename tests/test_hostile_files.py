"""Hostile input files (issue 13): truncated files, NaN/inf in float branches, a NaN
generation weight, a branch stored with the wrong dtype, and bad input met inside a coffea
work item. Each gives one line naming the file and the problem, exit status 2, no traceback
and nothing written, with every executor; ``--skip-bad-files`` skips truncated files.

Each test reproduces a row of the issue on a copy of the tiny campaign of
``tests/test_runner.py`` (real ROOT files, real executors).
"""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from na62dump import cli, runner
from na62dump.errors import InputError
from na62dump.simulation.campaign import load_campaign
from tests.processors.builders import write_raw
from tests.test_runner import CHUNK, copy_campaign, make_campaign

EXECUTORS = ["iterative", "futures", pytest.param("dask", marks=pytest.mark.slow)]
#: The file of the campaign the tests spoil (prompt Monte Carlo: tracks, clusters, LAV hits
#: and truth weights, in two chunks of CHUNK events).
PROMPT = "prompt/prompt_000.root"


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return make_campaign(tmp_path_factory.mktemp("campaign"))


def truncate(path: Path, fraction: float) -> None:
    """Cut ``path`` to ``fraction`` of its bytes, like ``head -c``."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def rewrite(path: Path, branch: str, change) -> int:
    """Rewrite the ntuple ``path`` with ``branch`` replaced by ``change(values)`` (written
    without the writer's contract checks). For a value change, returns the entry changed."""
    with uproot.open(path) as f:
        tree = f["events"]
        arrays = {k: tree[k].array() for k in tree.keys()}
    arrays[branch], entry = change(arrays[branch])
    path.unlink()
    write_raw(path, arrays)
    return entry


def poison(value: float):
    """A ``change`` for :func:`rewrite`: ``value`` in place of the middle value of the branch
    (the first value of the middle entry that has one)."""

    def change(array):
        if array.ndim == 1:
            flat = ak.to_numpy(array).copy()
            entry = len(flat) // 2
            flat[entry] = value
            return flat, entry
        counts = ak.to_numpy(ak.num(array))
        flat = ak.to_numpy(ak.flatten(array)).copy()
        entry = int(np.flatnonzero(counts)[np.count_nonzero(counts) // 2])
        flat[int(np.sum(counts[:entry]))] = value
        return ak.unflatten(flat, counts), entry

    return change


def run(config: Path, out: Path, executor: str = "iterative", **kwargs):
    camp = load_campaign(config, preset="tiny")
    return runner.run(camp, ["ee"], executor=executor, workers=1, chunksize=CHUNK,
                      out_dir=out, **kwargs)  # fmt: skip


def run_cli(config: Path, out: Path, executor: str = "iterative", *extra) -> int:
    return cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels", "ee",
                     "--executor", executor, "--workers", "1", "--chunksize", str(CHUNK),
                     "--out", str(out), *extra])  # fmt: skip


# --------------------------------------------------------------------------------------------
# truncated files: unreadable in the input check, skipped with --skip-bad-files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.5, 0.8, 0.99])
def test_truncated_file_is_unreadable_in_the_input_check(config, tmp_path, fraction):
    copy = copy_campaign(config, tmp_path)
    path = copy.parent / PROMPT
    size = path.stat().st_size
    truncate(path, fraction)
    info = runner.inspect_file(str(path))
    assert info.problem == (
        f"truncated: {int(size * fraction)} bytes of the {size} its header declares"
    )
    with pytest.raises(InputError, match=rf"{path} \(dataset 'prompt'\): truncated.*"
                                          "--skip-bad-files"):  # fmt: skip
        run(copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("executor", EXECUTORS)
def test_truncated_file_is_skipped_and_reported(config, tmp_path, executor, capsys):
    copy = copy_campaign(config, tmp_path)
    bad = copy.parent / "sig_ee" / "sig_ee_001.root"
    truncate(bad, 0.7)
    out = tmp_path / "out"
    assert run_cli(copy, out, executor) == 2  # without --skip-bad-files: one line, exit 2
    err = capsys.readouterr().err
    assert err.startswith(f"na62dump run: error: {bad} (dataset 'sig_ee'): truncated: ")
    assert err.count("\n") == 1 and not out.exists()

    assert run_cli(copy, out, executor, "--skip-bad-files") == 0
    assert f"skipped {bad} (dataset sig_ee): truncated" in capsys.readouterr().err
    summary = json.loads((out / "run" / "summary.json").read_text())
    assert [(s["dataset"], s["file"]) for s in summary["skipped_files"]] == [
        ("sig_ee", str(bad))
    ]
    # the other file of the dataset was processed, the truncated one not at all
    assert summary["channels"]["ee"]["sig_ee"]["cutflow"]["unweighted"][0] == 150


# --------------------------------------------------------------------------------------------
# NaN / inf: found inside a work item, raised as the processor's one-line InputError
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
def test_nan_inside_a_work_item_is_one_line_exit_2_with_every_executor(
    config, tmp_path, executor, capsys
):
    copy = copy_campaign(config, tmp_path)
    path = copy.parent / PROMPT
    entry = rewrite(path, "Track_px", poison(np.nan))
    out = tmp_path / "out"
    assert run_cli(copy, out, executor) == 2
    err = capsys.readouterr().err
    assert err == (
        f"na62dump run: error: {path}: branch 'Track_px' holds NaN at entry {entry}; the "
        "ntuple format (docs/ntuple.md) allows finite values only\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("branch", "value", "what"),
    [("Cluster_energy", np.inf, "an infinity"), ("LAV_time", np.nan, "NaN"),
     ("Track_px", -np.inf, "an infinity")],
)  # fmt: skip
def test_non_finite_values_of_float_branches_are_named(config, tmp_path, branch, value, what):
    copy = copy_campaign(config, tmp_path)
    path = copy.parent / PROMPT
    entry = rewrite(path, branch, poison(value))
    with pytest.raises(InputError) as err:
        run(copy, tmp_path / "out")
    assert str(err.value).startswith(f"{path}: branch {branch!r} holds {what} at entry {entry};")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("executor", ["iterative", "futures"])  # dask: as the NaN test above
def test_nan_truth_weight_is_refused_and_no_summary_is_written(config, tmp_path, executor):
    copy = copy_campaign(config, tmp_path)
    path = copy.parent / PROMPT
    entry = rewrite(path, "Truth_weight", poison(np.nan))
    out = tmp_path / "out"
    with pytest.raises(InputError, match=rf"^{path}: branch 'Truth_weight' holds NaN at entry "
                                         rf"{entry};"):  # fmt: skip
        run(copy, out, executor)
    assert not out.exists()


def test_every_chunk_that_fails_is_counted_in_the_one_line(config, tmp_path):
    copy = copy_campaign(config, tmp_path)
    paths = [copy.parent / "sig_ee" / f"sig_ee_00{i}.root" for i in (0, 1)]
    for p in paths:
        rewrite(p, "Truth_weight", lambda w: (np.full(len(w), np.nan, np.float32), 0))
    with pytest.raises(InputError) as err:
        run(copy, tmp_path / "out")
    message = str(err.value)
    assert message.startswith(f"{paths[0]}: branch 'Truth_weight' holds NaN at entry 0 (150 ")
    assert message.endswith(f"(and 1 more chunk(s) failed, in {paths[1]})")
    assert "\n" not in message


# --------------------------------------------------------------------------------------------
# dtypes against the ntuple contract, before any processing
# --------------------------------------------------------------------------------------------


# futures: the FileInfo of a file inspected on a worker process carries the dtypes too
@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_branch_with_the_wrong_dtype_is_refused_in_the_input_check(config, tmp_path, executor):
    from na62dump.ntuple import BRANCHES

    copy = copy_campaign(config, tmp_path)
    path = copy.parent / PROMPT
    # a file of the writer has the contract's dtypes, every branch
    contract = {name: b.dtype.name for name, b in BRANCHES.items()}
    assert runner.inspect_file(str(path)).dtypes == contract
    rewrite(path, "Track_px", lambda a: (ak.values_astype(a, np.int32), None))
    info = runner.inspect_file(str(path))
    assert info.problem is None and info.dtypes["Track_px"] == "int32"
    assert info.dtypes["Track_py"] == "float32" and info.dtypes["nTrack"] == "int32"
    for skip in (False, True):  # a wrong ntuple format, not an unreadable file: never skipped
        with pytest.raises(InputError, match=rf"^{path}: tree 'events': branch 'Track_px' is "
                                             "int32, not float32 as the ntuple format"):
            run(copy, tmp_path / "out", executor, skip_bad_files=skip)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# a file that cannot be read any more once processing started
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_read_failure_inside_a_work_item_names_file_and_entries(config, tmp_path, executor):
    """A file spoilt after the input checks (rewritten by another job): uproot's OSError in
    the work item becomes one line naming the file and the chunk's entries."""
    copy = copy_campaign(config, tmp_path)
    path = str(copy.parent / PROMPT)
    fileset = {"prompt": {"files": {path: "events"}, "metadata": {"kind": "prompt"}}}
    checked, _ = runner.check_fileset(fileset, runner.required_branches({}),
                                      _cache=(cache := {}))  # fmt: skip
    truncate(Path(path), 0.6)
    from processors import PROCESSORS

    with runner.open_executor(executor, workers=1) as exe:
        with pytest.raises(InputError, match=rf"^{path} \(entries \d+-\d+\): cannot be read "
                                             r"\(OSError: "):  # fmt: skip
            runner.run_processor(checked, PROCESSORS["ee"](), exe, chunksize=CHUNK,
                                 file_info=cache)  # fmt: skip
