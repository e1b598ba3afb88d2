"""``na62dump inspect``: per file tree, entries, missing branches per channel, dtypes against the
format, NaN/inf counts; exit 0 when all good, 2 naming file and problem; --json; URLs."""

from __future__ import annotations

import json
import shutil

import awkward as ak
import numpy as np
import pytest

from na62dump import cli
from na62dump.simulation.generators import generate
from na62dump.simulation.writer import COLLECTIONS, validate_branches, write_ntuple
from tests.processors.builders import write_tree
from tests.test_runner import write_garbage, write_without

SIGNAL = {"model": "dark_photon", "production": "brems", "channel": "ee", "mass_gev": 0.1}


@pytest.fixture(scope="module")
def signal_branches():
    return generate("signal", SIGNAL, 120, np.random.default_rng(5))


@pytest.fixture(scope="module")
def good(tmp_path_factory, signal_branches):
    return str(write_ntuple(tmp_path_factory.mktemp("inspect") / "sig.root", signal_branches))


def write_raw(path, branches, change=None):
    """``branches`` (the writer's input) as a tree written by plain uproot, bypassing the
    writer's checks, after ``change(data)`` edits the cast arrays (``{event branch: array,
    collection: zipped record array}``): how a foreign ntuple could look."""
    data = dict(validate_branches(branches, where=str(path)))
    if change is not None:
        change(data)
    return write_tree(path, data)


def set_field(data, coll, field, values):
    """Replace the field ``field`` of the zipped collection ``coll`` by flat ``values``."""
    arr = data[coll]
    counts = ak.num(arr, axis=1)
    fields = {f: arr[f] for f in COLLECTIONS[coll]}
    fields[field] = ak.unflatten(values, counts)
    data[coll] = ak.zip(fields, depth_limit=2)


def inspect(*argv):
    return cli.main(["inspect", *map(str, argv)])


def test_good_file_is_reported_and_exits_0(good, capsys):
    assert inspect(good) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"{good}\n  tree 'events': 120 entries, 61 branches; kind signal "
                          "(guessed; --kind to say)\n")  # fmt: skip
    assert "branches `na62dump run` requires: all present" in out
    for channel in ("ee", "mumu", "pipi", "hadronic"):
        assert f"channel {channel}: reads all it needs" in out
    assert "dtypes: as docs/ntuple.md" in out
    assert "finite: no NaN or inf in 41 float branches" in out and out.endswith("  OK\n")


def test_json_report_is_strict_json(good, tmp_path, capsys):
    missing = tmp_path / "absent.root"
    assert inspect("--json", good, missing) == 2
    out, err = capsys.readouterr()
    reports = json.loads(out)
    assert [r["file"] for r in reports] == [good, str(missing)]
    ok, bad = reports
    assert ok["ok"] is True and ok["problems"] == [] and ok["entries"] == 120
    assert ok["branches"]["Track_px"] == "float32" and ok["branches"]["nTrack"] == "int32"
    assert ok["missing"] == {"run": [], "ee": [], "mumu": [], "pipi": [], "hadronic": []}
    assert ok["nonfinite"]["Truth_weight"] == {"nan": 0, "inf": 0}
    assert len(ok["nonfinite"]) == 41 and ok["dtype_mismatches"] == {}
    assert bad["ok"] is False and bad["problems"] == ["file does not exist"]
    assert err == f"na62dump inspect: error: {missing}: file does not exist\n"


def test_int32_momentum_is_a_dtype_problem(signal_branches, tmp_path, capsys):
    """The issue's row: Track_px stored as int32 was accepted silently."""
    def to_int(data):
        px = ak.flatten(data["Track"]["px"])
        set_field(data, "Track", "px", ak.values_astype(np.round(px), np.int32))

    path = write_raw(tmp_path / "int_px.root", signal_branches, to_int)
    assert inspect(path) == 2
    out, err = capsys.readouterr()
    assert "dtype: Track_px is int32, the format says float32" in out
    assert err == (f"na62dump inspect: error: {path}: branch 'Track_px' is int32, the format "
                   "says float32 (docs/ntuple.md)\n")  # fmt: skip


def test_nan_and_inf_are_counted_per_float_branch(signal_branches, tmp_path, capsys):
    def poison(data):
        px = ak.to_numpy(ak.flatten(data["Track"]["px"])).copy()
        px[[0, 3]] = np.nan
        px[5] = np.inf
        set_field(data, "Track", "px", px)
        weight = data["Truth_weight"].copy()
        weight[7] = np.nan
        data["Truth_weight"] = weight

    path = write_raw(tmp_path / "nan.root", signal_branches, poison)
    assert inspect("--json", path) == 2
    report = json.loads(capsys.readouterr().out)[0]
    assert report["nonfinite"]["Track_px"] == {"nan": 2, "inf": 1}
    assert report["nonfinite"]["Truth_weight"] == {"nan": 1, "inf": 0}
    assert report["nonfinite"]["Track_py"] == {"nan": 0, "inf": 0}
    assert report["problems"] == [
        "branch 'Track_px' holds 2 NaN and 1 infinite value(s); the format forbids them",
        "branch 'Truth_weight' holds 1 NaN and 0 infinite value(s); the format forbids them",
    ]


def test_missing_branches_are_listed_per_channel(tmp_path, capsys):
    path = write_without(tmp_path / "old.root", "Track_richRadius")
    assert inspect(path) == 2
    out, err = capsys.readouterr()
    assert "kind pseudo_data (guessed; --kind to say)" in out  # no Truth_*: data
    assert "branches `na62dump run` requires: MISSING Track_richRadius" in out
    # which processors read it (they read only what their selection needs)
    from processors import PROCESSORS

    for channel, cls in PROCESSORS.items():
        reads = "Track_richRadius" in cls().branches({"kind": "pseudo_data"})
        line = f"channel {channel}: " + ("missing Track_richRadius" if reads
                                         else "reads all it needs")  # fmt: skip
        assert line in out
    assert err == (f"na62dump inspect: error: {path}: tree 'events' lacks branch(es) "
                   "Track_richRadius that `na62dump run` requires for a pseudo_data dataset "
                   "(docs/ntuple.md)\n")  # fmt: skip


def test_kind_decides_the_required_truth(tmp_path, capsys):
    data_file = write_without(tmp_path / "data.root", "none")  # a complete data-like file
    assert inspect(data_file) == 0
    capsys.readouterr()
    assert inspect("--kind", "signal", data_file) == 2  # a signal sample needs the truth
    out = capsys.readouterr().out
    assert "kind signal\n" in out and "MISSING Truth_model" in out


def test_unreadable_files_and_bad_options(tmp_path, capsys):
    garbage = write_garbage(tmp_path / "garbage.root")
    assert inspect(garbage, "--tree", "events") == 2
    out, err = capsys.readouterr()
    assert f"{garbage}\n  PROBLEM: cannot be read as a ROOT file" in out
    assert err.startswith(f"na62dump inspect: error: {garbage}: cannot be read as a ROOT file")
    with pytest.raises(SystemExit) as exc:
        inspect("--kind", "nonsense", garbage)
    assert exc.value.code == 2


def test_other_tree_name(good, capsys):
    assert inspect("--tree", "nosuch", good) == 2
    assert "has no tree 'nosuch'" in capsys.readouterr().err


def test_inspect_works_on_urls(good, http_server, capsys):
    www, base, _ = http_server
    shutil.copy(good, www / "sig.root")
    assert inspect(base + "sig.root") == 0
    assert capsys.readouterr().out.startswith(f"{base}sig.root\n  tree 'events': 120 entries")
    assert inspect(base + "*.root", base + "absent.root") == 2  # a URL glob, a missing file
    out, err = capsys.readouterr()
    assert f"{base}sig.root\n" in out
    assert err.startswith(f"na62dump inspect: error: {base}absent.root: cannot be opened")
