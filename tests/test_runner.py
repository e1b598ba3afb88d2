"""The runner: input checks, deterministic merge, identical results with every executor,
blinding end to end, atomic outputs. Real tiny ROOT files, real coffea executors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from na62dump import runner
from na62dump.errors import InputError
from na62dump.schema import REQUIRED_BRANCHES, TRUTH_BRANCHES
from na62dump.simulation.writer import COLLECTIONS, empty_branches, write_ntuple

# --------------------------------------------------------------------------------------------
# tiny files
# --------------------------------------------------------------------------------------------


def _branches(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    b = empty_branches(n, truth=False)
    b["trig_H2"] = rng.random(n) < 0.5
    counts = rng.integers(0, 3, n)
    for field, dtype in COLLECTIONS["Track"].items():
        flat = rng.normal(size=int(counts.sum()))
        b[f"Track_{field}"] = ak.values_astype(ak.unflatten(flat, counts), dtype)
    return b


def write_good(path: Path, n: int = 50, seed: int = 1) -> str:
    return str(write_ntuple(path, _branches(n, seed)))


def write_without(path: Path, drop: str, n: int = 20) -> str:
    """A file in the ntuple format but lacking the branch ``drop`` (an old or foreign ntuple)."""
    b = _branches(n, seed=2)
    event = {k: v for k, v in b.items() if "_" not in k or k.startswith("trig")}
    collections = {}
    for coll, fields in COLLECTIONS.items():
        zipped = {f: b[f"{coll}_{f}"] for f in fields if f"{coll}_{f}" != drop}
        collections[coll] = ak.zip(zipped)
    data = {**{k: v for k, v in event.items() if k != drop}, **collections}
    with uproot.recreate(path) as f:
        t = f.mktree(
            "events",
            {k: v.dtype if isinstance(v, np.ndarray) else v.type.content for k, v in data.items()},
            counter_name=lambda c: f"n{c}",
            field_name=lambda c, field: f"{c}_{field}",
        )
        t.extend(data)
    return str(path)


def write_garbage(path: Path) -> str:
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return str(path)


def fileset(**datasets: list[str]) -> dict:
    return {
        name: {"files": {f: "events" for f in files}, "metadata": {"kind": "background"}}
        for name, files in datasets.items()
    }


# --------------------------------------------------------------------------------------------
# input checks (before any processing)
# --------------------------------------------------------------------------------------------


def test_check_fileset_accepts_good_files(tmp_path):
    a, b = write_good(tmp_path / "a.root"), write_good(tmp_path / "b.root", seed=2)
    good, skipped = runner.check_fileset(fileset(d=[a, b]), REQUIRED_BRANCHES)
    assert list(good["d"]["files"]) == [a, b]
    assert good["d"]["metadata"] == {"kind": "background"}
    assert skipped == []


def test_missing_file_is_named(tmp_path):
    a = write_good(tmp_path / "a.root")
    missing = str(tmp_path / "nope.root")
    with pytest.raises(InputError, match=r"nope\.root.*does not exist.*--skip-bad-files"):
        runner.check_fileset(fileset(d=[a, missing]), REQUIRED_BRANCHES)


def test_corrupt_file_is_named(tmp_path):
    a = write_good(tmp_path / "a.root")
    bad = write_garbage(tmp_path / "garbage.root")
    with pytest.raises(InputError, match=r"garbage\.root.*cannot be read as a ROOT file"):
        runner.check_fileset(fileset(d=[a, bad]), REQUIRED_BRANCHES)


def test_bad_files_are_skipped_and_reported(tmp_path):
    a = write_good(tmp_path / "a.root")
    bad = write_garbage(tmp_path / "garbage.root")
    missing = str(tmp_path / "nope.root")
    good, skipped = runner.check_fileset(
        fileset(d=[a, bad], e=[missing, a]), REQUIRED_BRANCHES, skip_bad_files=True
    )
    assert list(good["d"]["files"]) == [a] and list(good["e"]["files"]) == [a]
    assert [(s.dataset, s.file) for s in skipped] == [("d", bad), ("e", missing)]
    assert "cannot be read" in skipped[0].reason and "does not exist" in skipped[1].reason


def test_missing_branch_is_named_and_never_skipped(tmp_path):
    f = write_without(tmp_path / "old.root", "Track_chodTime")
    for skip in (False, True):
        with pytest.raises(InputError, match=r"old\.root.*Track_chodTime"):
            runner.check_fileset(fileset(d=[f]), REQUIRED_BRANCHES, skip_bad_files=skip)


def test_missing_tree_is_named(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as f:
        f.mktree("other", {"x": np.float32}).extend({"x": np.zeros(3, np.float32)})
    with pytest.raises(InputError, match=r"other\.root.*no tree 'events'"):
        runner.check_fileset(fileset(d=[str(path)]), REQUIRED_BRANCHES)


def test_signal_samples_need_truth_branches(tmp_path):
    a = write_good(tmp_path / "a.root")  # no Truth_* branches, like pseudo-data
    assert set(TRUTH_BRANCHES) <= set(runner.required_branches({"kind": "signal"}))
    assert not set(TRUTH_BRANCHES) & set(runner.required_branches({"kind": "data"}))
    fs = fileset(sig=[a])
    with pytest.raises(InputError, match=r"a\.root.*Truth_"):
        runner.check_fileset(fs, {"sig": runner.required_branches({"kind": "signal"})})


def test_dataset_without_files_suggests_simulate(tmp_path):
    with pytest.raises(InputError, match=r"'d'.*na62dump simulate"):
        runner.check_fileset(fileset(d=[]), REQUIRED_BRANCHES)
    bad = write_garbage(tmp_path / "garbage.root")
    with pytest.raises(InputError, match=r"'d' has no readable file.*na62dump simulate"):
        runner.check_fileset(fileset(d=[bad]), REQUIRED_BRANCHES, skip_bad_files=True)


@pytest.mark.parametrize(
    ("name", "workers", "scheduler", "match"),
    [
        ("spark", 1, None, "--executor 'spark'"),
        ("futures", 0, None, "--workers 0"),
        ("futures", 2, "tcp://127.0.0.1:8786", "only meaningful with --executor dask"),
    ],
)
def test_bad_executor_arguments(name, workers, scheduler, match):
    with pytest.raises(InputError, match=match):
        runner.validate_executor_args(name, workers, scheduler)


def test_unreachable_scheduler_is_an_input_error():
    # a port nothing listens on (the connection is refused at once)
    with pytest.raises(InputError, match=r"--scheduler tcp://127\.0\.0\.1:9.*cannot connect"):
        with runner.open_executor("dask", scheduler="tcp://127.0.0.1:9", connect_timeout="2s"):
            pass


def test_load_output_of_a_channel_never_run(tmp_path):
    with pytest.raises(InputError, match=r"no output for channel 'ee'.*na62dump run"):
        runner.load_output(tmp_path, "ee")


def test_write_outputs_is_all_or_nothing(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    outputs = {"ee": {"d": {"x": 1}}, "mumu": {"d": {"x": Unpicklable()}}}
    with pytest.raises(TypeError):
        runner.write_outputs(tmp_path, outputs, {"channels": {}})
    assert not (tmp_path / "summary.json").exists()
    assert not (tmp_path / "run" / "ee.coffea").exists()
    assert os.listdir(tmp_path / "run") == []  # no temporary left behind
    paths = runner.write_outputs(tmp_path, {"ee": {"d": {"x": 1}}}, {"channels": {}})
    assert runner.load_output(tmp_path, "ee") == {"d": {"x": 1}}
    assert json.loads(paths["summary"].read_text()) == {"channels": {}}
