"""Checked JSON reads and atomic writes of artefacts."""

from __future__ import annotations

import pytest

from na62dump import atomic
from na62dump.errors import InputError


def test_round_trip_leaves_no_temporary(tmp_path):
    path = atomic.write_json(tmp_path / "sub" / "a.json", {"x": [1, 2]})
    assert atomic.read_json(path) == {"x": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_nan_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError):
        atomic.write_json(tmp_path / "n.json", {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.json: missing \(run it\)"):
        atomic.read_json(tmp_path / "nowhere.json", "run it")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.json: unreadable JSON"):
        atomic.read_json(bad)
