"""The runner: input checks, deterministic merge, identical results with every executor,
blinding end to end, atomic outputs. Real tiny ROOT files, real coffea executors."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from na62dump import runner
from na62dump.errors import InputError
from na62dump.schema import REQUIRED_BRANCHES, TRUTH_BRANCHES
from na62dump.simulation.campaign import load_campaign
from na62dump.simulation.generators import generate
from na62dump.simulation.writer import COLLECTIONS, empty_branches, write_ntuple
from tests.processors.builders import write_tree

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
    return write_tree(path, data)


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


def test_inspect_files_on_workers_agrees_with_in_process(tmp_path):
    items = {
        (write_good(tmp_path / "a.root"), "events"),
        (write_garbage(tmp_path / "garbage.root"), "events"),
        (str(tmp_path / "nope.root"), "events"),
        (write_good(tmp_path / "b.root", seed=4), "other"),
    }
    local = runner.inspect_files(items)
    with runner.open_executor("futures", workers=2) as exe:
        remote = runner.inspect_files(items, exe)
    assert remote == local
    good = local[(str(tmp_path / "a.root"), "events")]
    assert good.problem is None and good.entries == 50 and len(good.uuid) == 16
    assert set(REQUIRED_BRANCHES) <= good.branches
    assert "no tree 'other'" in local[(str(tmp_path / "b.root"), "other")].problem


def test_futures_workers_are_not_restarted_for_the_memory_a_chunk_leaves():
    # loky's leak guard would restart a worker 300 MB above its memory after its first task;
    # a worker of the run keeps what the allocator kept of a big chunk, and a restarted worker
    # is no longer deaf to Ctrl-C (test_ctrl_c_during_run): the pool keeps its workers
    with runner.open_executor("futures", workers=1) as exe:
        first = exe.pool.submit(os.getpid).result()
        exe.pool.submit(exec, "import sys; sys.na62dump_kept = b'x' * 400_000_000").result()
        time.sleep(1.2)  # loky looks at a worker's memory at most once a second
        later = [exe.pool.submit(os.getpid).result() for _ in range(3)]
    assert later == [first] * 3


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
    with pytest.raises(InputError, match=r"--scheduler tcp://127\.0\.0\.1:9: connection refused"):
        with runner.open_executor("dask", scheduler="tcp://127.0.0.1:9", scheduler_timeout=2):
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
    assert not (tmp_path / "run").exists()
    assert os.listdir(tmp_path) == []  # no temporary left behind
    paths = runner.write_outputs(tmp_path, {"ee": {"d": {"x": 1}}}, {"channels": {}})
    assert runner.load_output(tmp_path, "ee") == {"d": {"x": 1}}
    assert json.loads(paths["summary"].read_text()) == {"channels": {}}


# --------------------------------------------------------------------------------------------
# deterministic merge
# --------------------------------------------------------------------------------------------


def test_chunk_sum_adds_in_chunk_order_whatever_the_arrival_order():
    import itertools

    # float addition is not associative: these values give different sums in different orders
    values = [np.array([1e16]), np.array([1.0]), np.array([-1e16]), np.array([3.0])]
    keys = tuple((f"f{i}.root", 0) for i in range(len(values)))
    order = {"d": keys, "e": (("g.root", 0),)}
    left_fold = ((values[0] + values[1]) + values[2]) + values[3]
    sums_seen = set()
    for perm in itertools.permutations(range(len(values))):
        parts = [runner.ChunkSum({"d": keys}, {("d", keys[i]): values[i].copy()}) for i in perm]
        parts.append(runner.ChunkSum({"e": order["e"]}, {("e", ("g.root", 0)): np.array([7.0])}))
        total = parts[0] + parts[1]  # coffea's first merge: +, then +=
        for part in parts[2:]:
            total += part
        assert not total.pending  # nothing left waiting once every chunk arrived
        result = total.result()
        assert list(result) == ["d", "e"] and result["e"][0] == 7.0
        assert result["d"][0] == left_fold[0]
        sums_seen.add(float(sum(values[i] for i in perm)[0]))
    assert len(sums_seen) > 1  # the naive sum does depend on the order


def test_chunk_sum_refuses_a_chunk_twice_and_reports_missing_ones():
    keys = (("a.root", 0), ("a.root", 10))
    one = runner.ChunkSum({"d": keys}, {("d", keys[1]): np.array([1.0])})
    with pytest.raises(ValueError, match="processed twice"):
        one += runner.ChunkSum({"d": keys}, {("d", keys[1]): np.array([1.0])})
    with pytest.raises(RuntimeError, match="1 of 2 chunks|missing"):
        runner.ChunkSum({"d": keys}, {("d", keys[0]): np.array([1.0])}).result()


# --------------------------------------------------------------------------------------------
# a tiny campaign on disk (datasets.yaml + files), read through the real campaign loader
# --------------------------------------------------------------------------------------------
#: Events per chunk in these tests: several chunks per file, so that merge order matters.
CHUNK = 200
SIGNAL_EE = {"model": "dark_photon", "production": "brems", "channel": "ee", "mass_gev": 0.1}
SIGNAL_MUMU = {"model": "dark_photon", "production": "brems", "channel": "mumu", "mass_gev": 0.4}

CAMPAIGN_YAML = """\
data_dir: {root}
seed: 1
datasets:
  - name: data
    kind: pseudo_data
    channels: [ee, mumu]
    files: data/*.root
  - name: prompt
    kind: prompt
    channels: [ee, mumu]
    files: prompt/*.root
    metadata: {{pot: 1.4e16}}
  - name: sig_ee
    kind: signal
    channels: [ee]
    files: sig_ee/*.root
    metadata: {{model: dark_photon, production: brems, channel: ee, mass_gev: 0.1,
                n_generated: 300}}
  - name: sig_mumu
    kind: signal
    channels: [mumu]
    files: sig_mumu/*.root
    metadata: {{model: dark_photon, production: brems, channel: mumu, mass_gev: 0.4,
                n_generated: 150}}
"""


def make_campaign(root: Path) -> Path:
    """Write a tiny campaign under ``root`` and return its datasets.yaml.

    The pseudo-data hold, besides a background-only file, a file of e+e- signal events
    without their truth branches: a signal in the data, so that the SR of the ee channel is
    populated and blinding has something to hide.
    """
    rng = np.random.default_rng(2021)
    write_ntuple(root / "data" / "data_000.root", generate("pseudo_data", {}, 1.4e15, rng))
    injected = generate("signal", SIGNAL_EE, 300, rng)  # two chunks
    injected = {k: v for k, v in injected.items() if not k.startswith("Truth_")}
    write_ntuple(root / "data" / "data_001.root", injected)
    write_ntuple(root / "prompt" / "prompt_000.root", generate("prompt", {}, 1.4e16, rng))
    for i in range(2):
        write_ntuple(root / "sig_ee" / f"sig_ee_{i:03d}.root",
                     generate("signal", SIGNAL_EE, 150, rng))  # fmt: skip
    write_ntuple(root / "sig_mumu" / "sig_mumu_000.root",
                 generate("signal", SIGNAL_MUMU, 150, rng))  # fmt: skip
    config = root / "datasets.yaml"
    config.write_text(textwrap.dedent(CAMPAIGN_YAML.format(root=root)))
    return config


@pytest.fixture(scope="module")
def campaign_config(tmp_path_factory):
    return make_campaign(tmp_path_factory.mktemp("campaign"))


@pytest.fixture(scope="module")
def campaign(campaign_config):
    return load_campaign(campaign_config, preset="tiny")


@pytest.fixture(scope="module")
def reference(campaign, tmp_path_factory):
    """The iterative run of ee and mumu, blinded: the reference of every comparison."""
    out = tmp_path_factory.mktemp("ref")
    result = runner.run(campaign, ["ee", "mumu"], executor="iterative", chunksize=CHUNK,
                        out_dir=out)  # fmt: skip
    return out, result


def _hists(output):
    """Every histogram of an output, flattened to ``{(dataset, group, name): hist}``."""
    import hist

    found = {}
    for dataset, acc in output.items():
        for group in ("hists", "signal"):
            for name, h in acc.get(group, {}).items():
                if isinstance(h, hist.Hist):
                    found[(dataset, group, name)] = h
    return found


def assert_identical_outputs(a, b):
    assert sorted(a) == sorted(b)
    ha, hb = _hists(a), _hists(b)
    assert sorted(ha) == sorted(hb) and ha
    for key in ha:
        assert ha[key].axes == hb[key].axes, key
        # exact equality: sums of weights and of squared weights, bit for bit
        assert np.array_equal(ha[key].values(flow=True), hb[key].values(flow=True)), key
        assert np.array_equal(ha[key].variances(flow=True), hb[key].variances(flow=True)), key
    for dataset in a:
        for group, content in a[dataset].items():
            if group in ("hists", "signal"):  # the non-histogram entries, exactly
                rest = {k: v for k, v in content.items() if (dataset, group, k) not in ha}
                assert rest == {
                    k: v for k, v in b[dataset][group].items() if (dataset, group, k) not in hb
                }, (dataset, group)
            else:
                assert content == b[dataset][group], (dataset, group)


def test_reference_run_writes_the_documented_artefacts(reference, campaign):
    out, result = reference
    assert sorted(p.name for p in (out / "run").iterdir()) == [
        "ee.coffea", "mumu.coffea", "provenance.json", "summary.json"]
    ee = runner.load_output(out, "ee")
    assert sorted(ee) == ["data", "prompt", "sig_ee"]
    assert_identical_outputs(ee, result.channels["ee"].output)
    assert sorted(runner.load_output(out, "mumu")) == ["data", "prompt", "sig_mumu"]
    summary = json.loads((out / "run" / "summary.json").read_text())
    assert summary["executor"] == "iterative" and summary["chunksize"] == CHUNK
    assert summary["unblinded"] is False and summary["skipped_files"] == []
    sig = summary["channels"]["ee"]["sig_ee"]
    assert sig["cutflow"]["names"][0] == "all"
    assert sig["cutflow"]["unweighted"][0] == 300  # every generated event is counted
    assert sig["CR"] is None and sig["SR"] is None  # simulated samples carry no region counts
    assert ee["sig_ee"]["signal"]["generated"].sum().value == pytest.approx(300)
    assert result.channels["ee"].events == sum(
        uproot.open(f)["events"].num_entries
        for e in campaign.fileset(["ee"]).values()
        for f in e["files"]
    )


@pytest.mark.parametrize(
    "executor", ["futures", pytest.param("dask", marks=pytest.mark.slow)]
)
def test_every_executor_gives_identical_results(reference, campaign, executor, tmp_path):
    ref_dir, ref = reference
    result = runner.run(campaign, ["ee", "mumu"], executor=executor, workers=2,
                        chunksize=CHUNK, out_dir=tmp_path)  # fmt: skip
    for channel in ("ee", "mumu"):
        assert_identical_outputs(result.channels[channel].output, ref.channels[channel].output)
        assert_identical_outputs(
            runner.load_output(tmp_path, channel), runner.load_output(ref_dir, channel)
        )
    text = (tmp_path / "run" / "summary.json").read_bytes()
    ref_text = (ref_dir / "run" / "summary.json").read_bytes()
    # byte-identical but for the one entry that says which executor ran
    assert text.replace(f'"executor": "{executor}"'.encode(), b'"executor": "iterative"') == (
        ref_text
    )


def test_blinding_holds_end_to_end(reference, campaign, tmp_path):
    ref_dir, ref = reference
    blinded = json.loads((ref_dir / "run" / "summary.json").read_text())
    data = blinded["channels"]["ee"]["data"]
    assert data["CR"] is None and data["SR"] is None
    assert "SR" not in data["cutflow"]["names"] and "CR" not in data["cutflow"]["names"]
    assert ref.channels["ee"].output["data"]["unblinded"] is False

    result = runner.run(campaign, ["ee"], executor="iterative", chunksize=CHUNK,
                        unblind=True, out_dir=tmp_path)  # fmt: skip
    opened = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert opened["unblinded"] is True
    data_u = opened["channels"]["ee"]["data"]
    out_u = runner.load_output(tmp_path, "ee")["data"]
    assert out_u["unblinded"] is True
    # the injected signal sits in the SR: hidden while blinded, counted once unblinded
    assert isinstance(data_u["SR"], int) and data_u["SR"] > 0
    assert data_u["SR"] == out_u["regions"]["SR"] and data_u["CR"] == out_u["regions"]["CR"]
    n_hidden = data_u["SR"] + data_u["CR"]
    # blind, the steps before the last count every event, the last leaves the regions out
    names, blind_n = data["cutflow"]["names"], data["cutflow"]["unweighted"]
    open_n = dict(zip(data_u["cutflow"]["names"], data_u["cutflow"]["unweighted"], strict=True))
    assert [open_n[k] for k in names[:-1]] == blind_n[:-1]
    assert open_n[names[-1]] == blind_n[-1] + n_hidden
    h_blind = ref.channels["ee"].output["data"]["hists"]["pointing"]
    h_open = result.channels["ee"].output["data"]["hists"]["pointing"]
    assert h_open.sum(flow=True).value == h_blind.sum(flow=True).value + n_hidden
    # Monte Carlo is never blinded: identical either way
    assert_identical_outputs(
        {"sig_ee": result.channels["ee"].output["sig_ee"]},
        {"sig_ee": ref.channels["ee"].output["sig_ee"]},
    )


def copy_campaign(config: Path, tmp_path: Path) -> Path:
    """A copy of the campaign (files and datasets.yaml) under ``tmp_path``; its config."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(config.parent, root)
    text = config.read_text().replace(str(config.parent), str(root))
    (root / "datasets.yaml").write_text(text)
    return root / "datasets.yaml"


def _campaign_with(config: Path, tmp_path: Path, dataset: str, extra: str, write) -> Path:
    """A copy of the campaign whose ``dataset`` also has the file ``extra`` (made by ``write``)."""
    copy = copy_campaign(config, tmp_path)
    write(copy.parent / dataset / extra)
    return copy


def test_corrupt_file_stops_the_run_or_is_skipped(campaign_config, reference, tmp_path):
    config = _campaign_with(campaign_config, tmp_path, "sig_ee", "sig_ee_009.root",
                            write_garbage)  # fmt: skip
    bad = str(config.parent / "sig_ee" / "sig_ee_009.root")
    camp = load_campaign(config, preset="tiny")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=rf"{bad}.*cannot be read as a ROOT file"):
        runner.run(camp, ["ee"], executor="iterative", chunksize=CHUNK, out_dir=out)
    assert not out.exists()  # nothing written on error

    result = runner.run(camp, ["ee"], executor="iterative", chunksize=CHUNK,
                        skip_bad_files=True, out_dir=out)  # fmt: skip
    summary = json.loads((out / "run" / "summary.json").read_text())
    assert [(s["dataset"], s["file"]) for s in summary["skipped_files"]] == [("sig_ee", bad)]
    assert "cannot be read" in summary["skipped_files"][0]["reason"]
    assert [s.file for s in result.skipped_files] == [bad]
    record = summary["datasets"]["sig_ee"]
    assert record["skipped"] == [bad] and bad not in record["files"]
    # a signal dataset is normalised by the events processed: the entries of the good files
    assert record["normalisation"]["processed"] == record["metadata"]["n_generated"] == 300
    # the bad file contributed nothing: the results are the reference's
    assert_identical_outputs(result.channels["ee"].output, reference[1].channels["ee"].output)


def test_a_file_of_a_dataset_normalised_as_a_whole_cannot_be_skipped(campaign_config, tmp_path):
    """A user dataset's ``pot`` is for all its files: leaving one out would change the
    normalisation by an unknown amount, so --skip-bad-files refuses it, naming the file."""
    config = _campaign_with(campaign_config, tmp_path, "prompt", "prompt_001.root",
                            write_garbage)  # fmt: skip
    bad = str(config.parent / "prompt" / "prompt_001.root")
    camp = load_campaign(config, preset="tiny")
    with pytest.raises(InputError, match=rf"^{bad} \(dataset 'prompt'\): cannot be read.*"
                                         r"cannot be left out: the dataset's POT"):
        runner.run(camp, ["ee"], executor="iterative", skip_bad_files=True,
                   out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_branch_stops_the_run(campaign_config, tmp_path):
    config = _campaign_with(campaign_config, tmp_path, "data", "data_002.root",
                            lambda p: write_without(p, "Track_chodTime"))  # fmt: skip
    camp = load_campaign(config, preset="tiny")
    out = tmp_path / "out"
    for skip in (False, True):
        with pytest.raises(InputError, match=r"data_002\.root.*Track_chodTime"):
            runner.run(camp, ["ee"], executor="iterative", skip_bad_files=skip, out_dir=out)
    assert not out.exists()


def test_campaign_dataset_without_files_suggests_simulate(campaign_config, tmp_path):
    config = copy_campaign(campaign_config, tmp_path)
    for f in (config.parent / "sig_mumu").glob("*.root"):
        f.unlink()
    camp = load_campaign(config, preset="tiny")
    with pytest.raises(InputError, match=r"'sig_mumu'.*na62dump simulate"):
        runner.run(camp, ["mumu"], executor="iterative", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_channel_and_bad_chunksize(campaign, tmp_path):
    with pytest.raises(InputError, match=r"unknown channel\(s\) tautau"):
        runner.run(campaign, ["ee", "tautau"], out_dir=tmp_path)
    with pytest.raises(InputError, match=r"--chunksize 0"):
        runner.run(campaign, ["ee"], chunksize=0, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
