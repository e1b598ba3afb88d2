"""datasets.yaml: validation with errors naming entry and field, grid expansion, filesets."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from na62dump import geometry
from na62dump.errors import InputError
from na62dump.simulation import campaign as cmod
from na62dump.simulation.campaign import (
    DEFAULT_CONFIG,
    PRESETS,
    final_state_threshold_gev,
    load_campaign,
    production_limit_gev,
    stable_hash,
)

REPO_YAML = Path(__file__).resolve().parents[2] / "datasets.yaml"

SMALL = """\
data_dir: {data}
seed: 11
datasets:
  - name: data
    kind: pseudo_data
    channels: all
    recipe:
      size: {{tiny: 1.0e15, default: 1.4e17, full: 1.4e17}}
      per_file: {{tiny: 4.0e14, default: 3.5e16, full: 3.5e16}}
  - name: external
    kind: prompt
    channels: [ee]
    files: elsewhere/*.root
    metadata: {{pot: 1.0e17}}
grids:
  - prefix: dp_brems
    model: dark_photon
    production: brems
    channels: [ee, kk]
    mass_range_gev: [0.01, 1.5]
    masses: {{tiny: {{values: [0.05, 0.5, 1.2, 2.5]}}, default: 5, full: {{n: 3, spacing: linear}}}}
    size: {{tiny: 250, default: 1000, full: 1000}}
    per_file: {{tiny: 100, default: 1000, full: 500}}
"""


def write(tmp_path: Path, text: str, name: str = "datasets.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def small(tmp_path: Path, **edits: str) -> Path:
    text = SMALL.format(data=tmp_path / "data")
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    return write(tmp_path, text)


# --------------------------------------------------------------------------------------------
# The packaged campaign
# --------------------------------------------------------------------------------------------
def test_kinds_are_the_generator_kinds():
    from na62dump.simulation.generators import GENERATORS

    assert set(cmod.KINDS) == set(GENERATORS)


def test_packaged_campaign_is_the_repository_file():
    assert DEFAULT_CONFIG.read_bytes() == REPO_YAML.read_bytes()
    assert DEFAULT_CONFIG.parent.name == "na62dump"


@pytest.mark.parametrize("preset", PRESETS)
def test_packaged_campaign_loads(preset):
    c = load_campaign(preset=preset)
    kinds = {d.kind for d in c.datasets}
    assert kinds == set(cmod.KINDS)
    assert len(set(c.names)) == len(c.names)
    data = c.get("data")
    assert data.channels == ("ee", "mumu", "pipi", "hadronic")
    assert data.metadata["is_mc"] is False
    assert data.metadata["has_truth"] is False
    assert c.get("q1_control").metadata["has_truth"] is False  # stands for data
    assert c.get("prompt").metadata["has_truth"] is True
    assert data.metadata["pot"] == geometry.N_POT
    if preset != "tiny":
        assert c.get("prompt").metadata["pot"] >= 10 * geometry.N_POT
    for d in c.datasets:
        assert d.recipe is not None
        assert math.isclose(sum(d.recipe.file_sizes), d.recipe.size)
        assert d.tree == "events"
        if d.kind == "signal":
            m = d.metadata
            mev = round(m["mass_gev"] * 1000)
            assert d.name == f"{d.name.rsplit('_', 2)[0]}_{m['channel']}_m{mev:04d}"
            assert m["mass_gev"] > final_state_threshold_gev(m["channel"])
            assert m["mass_gev"] < production_limit_gev(m["production"])
            assert m["n_generated"] == d.recipe.size
            assert d.recipe.params["mass_gev"] == m["mass_gev"]
            assert m["z_range_m"] == list(geometry.FORCED_DECAY_Z)  # from the generator
        else:
            assert d.metadata["pot"] == d.recipe.size


@pytest.mark.parametrize("preset", ["default", "full"])
def test_signal_grids_span_each_channel(preset):
    c = load_campaign(preset=preset)
    masses: dict[str, list[float]] = {}
    for d in c.datasets:
        if d.kind == "signal":
            key = d.name.rsplit("_m", 1)[0]
            masses.setdefault(key, []).append(d.metadata["mass_gev"])
    for key in ("dp_brems_ee", "dp_brems_mumu"):  # the published searches
        assert 20 <= len(masses[key]) <= 40, key
    assert len(masses["dp_brems_pipi"]) >= 10
    assert min(masses["dp_brems_ee"]) <= 0.02 and max(masses["dp_brems_ee"]) >= 1.0
    assert min(masses["dp_brems_mumu"]) < 0.25  # just above the di-muon threshold
    for state in ("pipigamma", "pipipi0", "pipipi0pi0", "pipieta", "kk", "kkpi0"):
        assert masses[f"dp_brems_{state}"], state
    for meson in ("pi0", "eta", "etaprime", "omega"):
        assert masses[f"dp_{meson}_ee"]
    assert "dp_pi0_mumu" not in masses  # 2 m_mu > m_pi0
    assert {0.1, 0.2, 0.4, 0.7} <= set(masses["alp_b_ee"])
    for state in ("ee", "mumu", "pipi", "kk"):
        assert masses[f"ds_b_{state}"]


def test_default_preset_stays_demo_sized():
    c = load_campaign(preset="default")
    # 155 dataset-channel pairs were processed in 17.8 s and scanned by the limits stage in
    # 240 s (2026-12-01, two cores): keep the demo to ~180 pairs
    assert sum(len(d.channels) for d in c.datasets) <= 180
    # signal events: 4.4M were simulated in 13.5 s and processed in 13.8 s on two cores
    # (2026-12-01); 5M keep simulate + run within a minute or two of the demo's 10
    assert sum(d.recipe.size for d in c.datasets if d.kind == "signal") <= 5_000_000
    # ... and enough per mass that acceptances of 0.1% (B-produced X) give ~100 events
    assert min(d.recipe.size for d in c.datasets if d.name.startswith(("alp_b", "ds_b"))) \
        >= 100_000


# --------------------------------------------------------------------------------------------
# Grid expansion and filesets
# --------------------------------------------------------------------------------------------
def test_grid_expansion_explicit_values_respect_reach(tmp_path):
    c = load_campaign(small(tmp_path), preset="tiny")
    signal = [d.name for d in c.datasets if d.kind == "signal"]
    # 2.5 GeV is beyond the range, 0.05 and 0.5 are below the K+K- threshold
    assert signal == ["dp_brems_ee_m0050", "dp_brems_ee_m0500", "dp_brems_ee_m1200",
                      "dp_brems_kk_m1200"]
    ds = c.get("dp_brems_kk_m1200")
    assert ds.channels == ("hadronic",)
    assert ds.recipe.params == {"model": "dark_photon", "production": "brems", "channel": "kk",
                                "mass_gev": 1.2}
    assert ds.recipe.file_sizes == (100, 100, 50)
    assert [p.name for p in ds.output_paths()] == [f"dp_brems_kk_m1200_{i:03d}.root"
                                                  for i in range(3)]
    assert c.get("dp_brems_ee_m0050").channels == ("ee",)


def test_grid_expansion_log_and_linear(tmp_path):
    c = load_campaign(small(tmp_path), preset="default")
    ee = [d.metadata["mass_gev"] for d in c.datasets if d.name.startswith("dp_brems_ee")]
    assert len(ee) == 5
    ee_low = final_state_threshold_gev("ee") + cmod.THRESHOLD_MARGIN_GEV  # above 0.01
    np.testing.assert_allclose(ee, np.round(np.geomspace(ee_low, 1.5, 5), 3))
    kk_low = final_state_threshold_gev("kk") + cmod.THRESHOLD_MARGIN_GEV
    kk = [d.metadata["mass_gev"] for d in c.datasets if d.name.startswith("dp_brems_kk")]
    np.testing.assert_allclose(kk, np.round(np.geomspace(kk_low, 1.5, 5), 3))
    c = load_campaign(small(tmp_path), preset="full")
    ee = [d.metadata["mass_gev"] for d in c.datasets if d.name.startswith("dp_brems_ee")]
    np.testing.assert_allclose(ee, [0.011, 0.756, 1.5])


def test_pot_split_and_metadata(tmp_path):
    c = load_campaign(small(tmp_path), preset="tiny")
    data = c.get("data")
    np.testing.assert_allclose(data.recipe.file_sizes, [4e14, 4e14, 2e14])
    assert data.metadata["pot"] == 1.0e15  # the reduced exposure, not the nominal one
    ext = c.get("external")
    assert ext.recipe is None and ext.output_paths() == []
    assert ext.files == str(tmp_path / "data" / "elsewhere" / "*.root")
    assert ext.metadata == {"pot": 1.0e17, "kind": "prompt", "is_mc": True, "preset": "tiny"}


def _write_manifests(c, names=None):
    """The manifests `simulate` would write (files of 7 entries), without the ROOT files."""
    from na62dump.atomic import write_json
    from na62dump.commands.simulate import manifest

    for d in c.select(names):
        if d.recipe is not None:
            write_json(d.manifest_path, manifest(d, c.seed, [7] * d.recipe.n_files))


def test_fileset_lists_declared_files_per_channel(tmp_path):
    c = load_campaign(small(tmp_path), preset="tiny")
    # a dataset with a recipe declares the files of its manifest, whatever exists
    with pytest.raises(InputError, match=r"data/data/manifest\.json: missing, so dataset "
                                         r"'data' declares no file.*na62dump simulate"):
        c.fileset(["ee"])
    _write_manifests(c)
    (tmp_path / "data" / "data" / "data_007.root").write_bytes(b"")  # not declared: ignored
    (tmp_path / "data" / "elsewhere").mkdir()
    (tmp_path / "data" / "elsewhere" / "x.root").write_bytes(b"")
    fs = c.fileset(["ee"])
    assert set(fs) == {"data", "external", "dp_brems_ee_m0050", "dp_brems_ee_m0500",
                       "dp_brems_ee_m1200"}
    assert fs["data"]["files"] == {str(p): "events" for p in c.get("data").output_paths()}
    assert fs["data"]["metadata"]["pot"] == 1.0e15  # the manifest's total
    assert fs["external"]["files"] == {str(tmp_path / "data" / "elsewhere" / "x.root"): "events"}
    sig = fs["dp_brems_ee_m0050"]
    assert list(sig["files"]) == [str(p) for p in c.get("dp_brems_ee_m0050").output_paths()]
    assert sig["metadata"]["dataset"] == "dp_brems_ee_m0050"
    assert sig["metadata"]["mass_gev"] == 0.05 and sig["metadata"]["n_generated"] == 250
    inputs = c.get("dp_brems_ee_m0050").declared_inputs()
    assert inputs.source == "manifest" and inputs.unit == "events" and inputs.total == 250
    assert [(f.entries, f.size) for f in inputs.files] == [(7, 100), (7, 100), (7, 50)]
    assert inputs.processed([f.path for f in inputs.files[1:]]) == 150
    assert set(c.fileset(["hadronic"])) == {"data", "dp_brems_kk_m1200"}
    assert set(c.fileset()) == set(c.names)
    with pytest.raises(InputError, match="unknown analysis channel.*'eee'"):
        c.fileset(["eee"])


def test_manifest_of_another_recipe_is_refused(tmp_path):
    path = small(tmp_path)
    _write_manifests(load_campaign(path, preset="tiny"), ["data"])
    path.write_text(path.read_text().replace("tiny: 4.0e14", "tiny: 5.0e14"))
    with pytest.raises(InputError, match=r"manifest\.json: dataset 'data' was made by another "
                                         r"recipe.*na62dump simulate"):
        load_campaign(path, preset="tiny").get("data").declared_inputs()


def test_user_dataset_declares_a_list_or_a_glob(tmp_path):
    path = small(tmp_path, **{"files: elsewhere/*.root":
                              "files: [elsewhere/b.root, /abs/a.root]"})
    ext = load_campaign(path, preset="tiny").get("external")
    assert ext.files == (str(tmp_path / "data" / "elsewhere" / "b.root"), "/abs/a.root")
    inputs = ext.declared_inputs()
    # a list is a declaration: every listed file, there or not (the runner names a missing one)
    assert inputs.source == "list" and [f.path for f in inputs.files] == list(ext.files)
    assert inputs.total == 1.0e17 and not inputs.per_file
    assert inputs.processed(ext.files[:1]) is None  # the share of one file is unknown
    glob = load_campaign(small(tmp_path), preset="tiny").get("external").declared_inputs()
    assert glob.source == "glob" and glob.files == ()
    for bad, message in (("[]", "empty list"), ("[a.root, a.root]", "listed twice")):
        path = small(tmp_path, **{"files: elsewhere/*.root": f"files: {bad}"})
        with pytest.raises(InputError, match=rf"dataset 'external': field 'files'.*{message}"):
            load_campaign(path, preset="tiny")


def test_data_dir_override_and_preset_placeholder(tmp_path):
    path = small(tmp_path, **{f"data_dir: {tmp_path / 'data'}": "data_dir: stuff/{preset}"})
    c = load_campaign(path, preset="tiny")
    assert c.data_dir == Path.cwd() / "stuff" / "tiny"
    c = load_campaign(path, preset="tiny", data_dir=tmp_path / "other")
    assert c.data_dir == tmp_path / "other"
    assert c.get("data").files == str(tmp_path / "other" / "data" / "*.root")


def test_unknown_name_lists_close_matches(tmp_path):
    c = load_campaign(small(tmp_path), preset="tiny")
    with pytest.raises(InputError, match="no dataset 'dp_brems_ee_m050'.*close matches: .*"
                                         "dp_brems_ee_m0050"):
        c.get("dp_brems_ee_m050")
    with pytest.raises(InputError, match="'nothing'"):
        c.select(["data", "nothing"])
    assert [d.name for d in c.select(["dp_brems_kk_m1200", "data"])] == [
        "data", "dp_brems_kk_m1200"]


# --------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------
def test_seed_sequence_is_stable_and_distinct(tmp_path):
    # a fixed value: the hash must not change between processes, Python versions, releases
    assert stable_hash("dp_brems_ee_m0150") == 3201527180392098007
    code = ("from na62dump.simulation.campaign import stable_hash;"
            "print(stable_hash('dp_brems_ee_m0150'))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123"})
    assert int(other.stdout) == 3201527180392098007
    c = load_campaign(small(tmp_path), preset="tiny")
    d = c.get("dp_brems_ee_m0050")
    states = {
        tuple(d.seed_sequence(1, 0).generate_state(4)),
        tuple(d.seed_sequence(1, 1).generate_state(4)),
        tuple(d.seed_sequence(2, 0).generate_state(4)),
        tuple(c.get("dp_brems_ee_m0500").seed_sequence(1, 0).generate_state(4)),
    }
    assert len(states) == 4
    assert tuple(d.seed_sequence(1, 0).generate_state(4)) == tuple(
        d.seed_sequence(1, 0).generate_state(4))


# --------------------------------------------------------------------------------------------
# Validation errors
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    kind: pseudo_data\n", "", r"dataset 'data': field 'kind': missing"),
        ("    kind: pseudo_data\n", "    kind: pseudo-data\n", r"dataset 'data': field 'kind'"),
        ("size: {tiny: 1.0e15,", "size: {tiny: lots,", r"dataset 'data': field 'recipe\.size"
         r"\.tiny': .*number"),
        ("size: {tiny: 1.0e15,", "size: {tiny: -1.0,", r"dataset 'data': field 'recipe\.size"
         r"\.tiny': .*greater than 0"),
        ("    channels: all\n", "    channels: all\n    colour: red\n",
         r"dataset 'data': field 'colour': unknown key"),
        ("size: {tiny: 1.0e15, default: 1.4e17, full: 1.4e17}",
         "size: {tiny: 1.0e15, defualt: 1.4e17, full: 1.4e17}",
         r"dataset 'data': field 'recipe\.size\.(default|defualt)'"),
        ("    channels: [ee]\n", "    channels: [ee, tautau]\n",
         r"dataset 'external': field 'channels'.*tautau"),
        ("channels: [ee, kk]", "channels: [ee, gg]",
         r"grid 'dp_brems': field 'channels'.*'gg'"),
        ("production: brems", "production: charm", r"grid 'dp_brems': field 'production'"),
        ("mass_range_gev: [0.01, 1.5]", "mass_range_gev: [0.01]",
         r"grid 'dp_brems': field 'mass_range_gev\.1': missing"),
        ("    model: dark_photon\n", "    model: dark_photon\n    mass: 3\n",
         r"grid 'dp_brems': field 'mass': unknown key"),
        ("seed: 11", "seed: eleven", r"field 'seed'"),
        ("  - name: external\n", "  - name: ext ernal\n", r"field 'name'"),
        ("    files: elsewhere/*.root\n    metadata",
         "    files: elsewhere/*.root\n    recipe: {size: 1.0e15}\n    metadata",
         r"dataset 'external'.*files"),
    ],
)
def test_validation_errors_name_entry_and_field(tmp_path, old, new, message):
    path = small(tmp_path, **{old: new})
    with pytest.raises(InputError, match=message) as info:
        load_campaign(path, preset="tiny")
    assert str(path) in str(info.value)


def test_grid_beyond_production_limit(tmp_path):
    text = SMALL.format(data=tmp_path).replace("production: brems", "production: eta")
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=r"grid 'dp_brems': .*kinematic limit 0\.5479"):
        load_campaign(path, preset="tiny")


def test_signal_size_must_be_whole_events(tmp_path):
    text = SMALL.format(data=tmp_path).replace("size: {tiny: 250,", "size: {tiny: 2.5,")
    with pytest.raises(InputError, match=r"grid 'dp_brems': field 'size\.tiny'"):
        load_campaign(write(tmp_path, text), preset="tiny")


def test_duplicate_names(tmp_path):
    text = SMALL.format(data=tmp_path).replace("name: external", "name: data")
    with pytest.raises(InputError, match=r"duplicate dataset name\(s\) \['data'\]"):
        load_campaign(write(tmp_path, text), preset="tiny")


def test_yaml_floats_without_exponent_sign_are_numbers(tmp_path):
    """PyYAML (YAML 1.1) reads 1.4e17 as a string; the campaign loader reads a number."""
    c = load_campaign(small(tmp_path), preset="tiny")
    assert isinstance(c.get("external").metadata["pot"], float)
    assert cmod.yaml_load("a: 1.4e17\nb: 2e-3\nc: .5\nd: 1e17x\ne: 12") == {
        "a": 1.4e17, "b": 2e-3, "c": 0.5, "d": "1e17x", "e": 12}


def test_bad_yaml_missing_file_empty_and_unknown_preset(tmp_path):
    bad = write(tmp_path, "datasets:\n  - name: [unclosed\n", "bad.yaml")
    with pytest.raises(InputError, match=r"bad\.yaml: YAML syntax error at line \d+"):
        load_campaign(bad)
    with pytest.raises(InputError, match=r"nope\.yaml: campaign file not found"):
        load_campaign(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match=r"empty\.yaml: no 'datasets' and no 'grids'"):
        load_campaign(write(tmp_path, "seed: 3\n", "empty.yaml"))
    with pytest.raises(InputError, match=r"list\.yaml: expected a mapping"):
        load_campaign(write(tmp_path, "- 1\n- 2\n", "list.yaml"))
    with pytest.raises(InputError, match="unknown preset 'huge'"):
        load_campaign(preset="huge")


def test_generator_rejects_recipe_params(tmp_path):
    text = SMALL.format(data=tmp_path).replace(
        "    recipe:\n      size: {tiny: 1.0e15",
        "    recipe:\n      params: {colour: red}\n      size: {tiny: 1.0e15")
    with pytest.raises(InputError, match=r"dataset 'data':.*colour"):
        load_campaign(write(tmp_path, text), preset="tiny")
