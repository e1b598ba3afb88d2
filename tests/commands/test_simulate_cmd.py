"""``na62dump simulate``: files made once, skipped, forced, remade on a recipe change, and
byte-identical for the same seed (real generators, real writer)."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import numpy as np
import pytest
import uproot

from na62dump.cli import main
from na62dump.commands.simulate import BURST_STRIDE, simulate_campaign
from na62dump.ntuple import branch_names
from na62dump.simulation.campaign import load_campaign

CONFIG = """\
data_dir: {data}
seed: 5
datasets:
  - name: data
    kind: pseudo_data
    channels: all
    recipe:
      size: 1.0e15
      per_file: 5.0e14
  - name: handmade
    kind: prompt
    channels: [ee]
    files: handmade/*.root
grids:
  - prefix: dp_brems
    model: dark_photon
    production: brems
    channels: [ee, mumu]
    mass_range_gev: [0.01, 1.0]
    masses: {{tiny: {{values: [0.3]}}, default: {{values: [0.2, 0.3]}}, full: 10}}
    size: 150
    per_file: 100
"""
SIGNAL = "dp_brems_ee_m0300"


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "datasets.yaml"
    path.write_text(textwrap.dedent(CONFIG.format(data=tmp_path / "data")))
    return path


def simulate(config, *extra) -> int:
    return main(["simulate", "--config", str(config), "--preset", "tiny", *extra])


def digests(data_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(data_dir)): sha(p) for p in sorted(data_dir.rglob("*.root"))}


def test_simulate_makes_every_file_and_skips_existing(config, tmp_path, capsys):
    assert simulate(config) == 0
    out = capsys.readouterr().out
    assert "wrote 6 of 6 files" in out and "no recipe (files made elsewhere): handmade" in out
    data = tmp_path / "data"
    made = sorted(str(p.relative_to(data)) for p in data.rglob("*.root"))
    assert made == [
        "data/data_000.root", "data/data_001.root",
        "dp_brems_ee_m0300/dp_brems_ee_m0300_000.root",
        "dp_brems_ee_m0300/dp_brems_ee_m0300_001.root",
        "dp_brems_mumu_m0300/dp_brems_mumu_m0300_000.root",
        "dp_brems_mumu_m0300/dp_brems_mumu_m0300_001.root",
    ]
    assert not list(data.rglob("*.tmp-*"))  # no temporary debris
    # content: the contract's branches, the recipe's sizes, bursts unique across files
    c = load_campaign(config, preset="tiny")
    for d in (c.get(SIGNAL), c.get("data")):
        for i, path in enumerate(d.output_paths()):
            with uproot.open(path) as f:
                t = f["events"]
                assert t.keys() == branch_names(truth=d.metadata["has_truth"])
                burst = t["burst"].array(library="np")
                if d.kind == "signal":
                    assert t.num_entries == (100, 50)[i]
                if len(burst):
                    assert burst.min() >= i * BURST_STRIDE and burst.max() < (i + 1) * BURST_STRIDE
    fs = c.fileset(["ee"])
    assert len(fs[SIGNAL]["files"]) == 2 and fs["handmade"]["files"] == {}

    before = {p: p.stat().st_mtime_ns for p in data.rglob("*.root")}
    assert simulate(config) == 0
    assert "wrote 0 of 6 files" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*.root")} == before


def test_same_seed_byte_identical_any_workers_other_seed_differs(config, tmp_path):
    c = load_campaign(config, preset="tiny", data_dir=tmp_path / "one")
    simulate_campaign(c, workers=1)
    c2 = load_campaign(config, preset="tiny", data_dir=tmp_path / "two")
    simulate_campaign(c2, workers=2)
    one, two = digests(tmp_path / "one"), digests(tmp_path / "two")
    assert len(one) == 6 and one == two
    c3 = load_campaign(config, preset="tiny", data_dir=tmp_path / "three")
    simulate_campaign(c3, seed=6)
    three = digests(tmp_path / "three")
    assert all(three[k] != one[k] for k in one if k.startswith("dp_"))
    # files of one dataset are independent draws
    f0, f1 = (c.get(SIGNAL).output_paths()[i] for i in range(2))
    with uproot.open(f0) as a, uproot.open(f1) as b:
        pz0 = a["events"]["Truth_pz"].array(library="np")[:50]
        pz1 = b["events"]["Truth_pz"].array(library="np")[:50]
    assert not np.array_equal(pz0, pz1)


def test_force_remakes_identical_bytes_and_only_selects(config, tmp_path, capsys):
    assert simulate(config, "--only", SIGNAL) == 0
    data = tmp_path / "data"
    first = digests(data)
    assert list(first) == [f"{SIGNAL}/{SIGNAL}_000.root", f"{SIGNAL}/{SIGNAL}_001.root"]
    mtimes = {p: p.stat().st_mtime_ns for p in data.rglob("*.root")}
    capsys.readouterr()
    assert simulate(config, "--only", SIGNAL, "--force") == 0
    assert "wrote 2 of 2 files" in capsys.readouterr().out
    assert digests(data) == first
    assert all(p.stat().st_mtime_ns >= mtimes[p] for p in mtimes)
    assert simulate(config, "--only", SIGNAL, "--seed", "99", "--force") == 0
    assert all(digests(data)[k] != first[k] for k in first)


def test_unknown_only_name_lists_close_matches(config, tmp_path, capsys):
    assert simulate(config, "--only", "dp_brems_ee_m030") == 2
    err = capsys.readouterr().err
    assert "na62dump simulate: error:" in err
    assert "no dataset 'dp_brems_ee_m030'" in err and "dp_brems_ee_m0300" in err
    assert not (tmp_path / "data").exists()


def test_bad_config_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [\n")
    assert main(["simulate", "--config", str(bad)]) == 2
    assert "bad.yaml: YAML syntax error" in capsys.readouterr().err


def test_recipe_change_remakes_and_removes_stale_files(config, tmp_path, capsys):
    assert simulate(config, "--only", SIGNAL) == 0
    d = tmp_path / "data" / SIGNAL
    assert sorted(p.name for p in d.glob("*.root")) == [f"{SIGNAL}_000.root",
                                                        f"{SIGNAL}_001.root"]
    # one file of 150 events now: the old files are stale
    config.write_text(config.read_text().replace("per_file: 100", "per_file: 150"))
    capsys.readouterr()
    assert simulate(config, "--only", SIGNAL) == 0
    assert "1 stale removed" in capsys.readouterr().out
    assert sorted(p.name for p in d.glob("*.root")) == [f"{SIGNAL}_000.root"]
    with uproot.open(d / f"{SIGNAL}_000.root") as f:
        assert f["events"].num_entries == 150


@pytest.mark.parametrize("args", [["--workers", "0"], ["--seed", "-1"], ["--preset", "huge"]])
def test_bad_arguments(config, args, capsys):
    with pytest.raises(SystemExit) as info:
        simulate(config, *args) if "--preset" not in args else main(
            ["simulate", "--config", str(config), *args])
    assert info.value.code == 2


def test_tiny_campaign_fixture(tiny_campaign):
    """The shared fixture: every dataset of the tiny preset has its files, readable."""
    for d in tiny_campaign.datasets:
        paths = d.output_paths()
        assert paths and all(p.is_file() for p in paths), d.name
        with uproot.open(paths[0]) as f:
            assert f["events"].keys() == branch_names(truth=d.metadata["has_truth"])
    fs = tiny_campaign.fileset()
    assert all(entry["files"] for entry in fs.values())


def test_manifest_declares_every_file_its_entries_size_and_seed(config, tmp_path):
    import json

    import na62dump
    from na62dump.simulation.campaign import stable_hash

    assert simulate(config) == 0
    c = load_campaign(config, preset="tiny")
    for name, unit, sizes in ((SIGNAL, "events", [100, 50]), ("data", "pot", [5e14, 5e14])):
        d = c.get(name)
        m = json.loads(d.manifest_path.read_text())
        assert (m["dataset"], m["kind"], m["unit"], m["seed"]) == (name, d.kind, unit, 5)
        assert m["generator"] == d.recipe.generator and m["params"] == d.recipe.params
        assert m["na62dump_version"] == na62dump.__version__
        assert [f["name"] for f in m["files"]] == [p.name for p in d.output_paths()]
        assert [f[unit] for f in m["files"]] == sizes and m["total"][unit] == sum(sizes)
        for i, (f, path) in enumerate(zip(m["files"], d.output_paths(), strict=True)):
            with uproot.open(path) as handle:
                assert f["entries"] == handle["events"].num_entries
            assert f["seed"] == [5, stable_hash(name), 0, i]
        assert m["total"]["entries"] == sum(f["entries"] for f in m["files"])
    assert SIGNAL in {p.parent.name for p in (tmp_path / "data").rglob("manifest.json")}
    assert not (tmp_path / "data" / "handmade" / "manifest.json").exists()  # no recipe


def test_files_without_a_manifest_are_remade(config, tmp_path, capsys):
    assert simulate(config, "--only", SIGNAL) == 0
    d = load_campaign(config, preset="tiny").get(SIGNAL)
    first = d.manifest_path.read_bytes()
    before = {p: p.stat().st_mtime_ns for p in d.output_paths()}
    d.manifest_path.unlink()  # e.g. an interrupted simulate: origin of the files unknown
    capsys.readouterr()
    assert simulate(config, "--only", SIGNAL) == 0
    assert "wrote 2 of 2 files" in capsys.readouterr().out
    assert all(p.stat().st_mtime_ns != before[p] for p in d.output_paths())
    assert d.manifest_path.read_bytes() == first
    # one file missing: only it is made, the manifest rewritten with the kept file's entries
    d.output_paths()[0].unlink()
    assert simulate(config, "--only", SIGNAL) == 0
    assert "wrote 1 of 2 files" in capsys.readouterr().out
    assert d.manifest_path.read_bytes() == first
