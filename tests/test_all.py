"""``na62dump all``: the whole chain on the tiny campaign, make-like reuse, bad input."""

from __future__ import annotations

import json

import pytest

from na62dump import cli
from na62dump.commands import all as all_cmd
from tests.tiny_results import tiny_results_dir

CHANNELS = ("ee", "mumu", "pipi", "hadronic")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_campaign):
    return tiny_results_dir(tmp_path_factory, tiny_campaign.data_dir)


@pytest.mark.slow
def test_all_tiny_end_to_end(tiny):
    out, data, _ = tiny
    assert list(data.rglob("*.root"))
    assert (out / "background" / "background.json").is_file()
    limits = sorted(p.name for p in (out / "limits").glob("*.json"))
    assert {"dark_photon_ee.json", "dark_photon_mumu.json", "dark_photon_combined.json"} <= set(
        limits)
    combined = json.loads((out / "limits" / "dark_photon_combined.json").read_text())
    assert combined["cls_observed"] is not None  # `all` unblinds by default, and says so
    record = json.loads((out / "all.json").read_text())
    assert record["unblinded"] is True and "unblind" in record["blinding_note"]
    assert json.loads((out / "run" / "summary.json").read_text())["unblinded"] is True
    figures = {p.name for p in (out / "figures").glob("*.png")}
    for name in ("exclusion_dark_photon_combined.png", "pointing_ee_data.png",
                 "vertex_ee_data.png", "mass_ee.png", "efficiency_dark_photon_ee.png"):
        assert name in figures
    assert all(p.stat().st_size > 5_000 for p in (out / "figures").glob("*.png"))
    text = (out / "summary.txt").read_text()
    for channel in CHANNELS:
        assert f" {channel} " in text
    assert "UNBLINDED" in text and "combined" in text and "figures" in text


@pytest.mark.slow
def test_all_second_run_reuses_everything(tiny, capsys):
    out, data, first_seconds = tiny
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()
              and p.name not in ("summary.txt", "all.json")}
    status = cli.main(["all", "--preset", "tiny", "--out", str(out), "--data-dir", str(data),
                       "--executor", "iterative", "--format", "png"])
    assert status == 0
    printed = capsys.readouterr().out
    assert printed.count("up to date") == len(all_cmd.STAGES)
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before  # nothing rewritten
    record = json.loads((out / "all.json").read_text())
    assert sum(record["seconds"].values()) == 0.0
    assert record["wall_seconds"] < max(0.25 * first_seconds, 20.0)


def test_excluded_ranges_expected_when_blinded():
    lim = {"mass_gev": [0.1, 0.2], "eps": [1e-7, 1e-6, 1e-5], "cl": 0.9, "cls_observed": None,
           "cls_expected": {"0": [[0.5, 0.05, 0.5], [0.5, 0.5, 0.5]]}}
    r = all_cmd.excluded_ranges(lim)
    assert r == {"kind": "expected", "mass_gev": [0.1, 0.1], "coupling": [1e-6, 1e-6]}
    lim["cls_expected"]["0"] = [[1, 1, 1], [1, 1, 1]]
    assert all_cmd.excluded_ranges(lim) is None


@pytest.mark.parametrize(
    ("extra", "problem"),
    [(["--preset", "huge"], "unknown preset"),
     (["--format", "gif"], "--format"),
     (["--reference", "/nonexistent/ref.txt"], "not found")],
)
def test_bad_arguments_one_line_exit_2(tmp_path, capsys, extra, problem):
    status = cli.main(["all", "--preset", "tiny", "--out", str(tmp_path / "r"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith("na62dump all: error:") and problem in err[0]
    assert not (tmp_path / "r").exists()


def test_corrupt_config_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "datasets.yaml"
    bad.write_text("datasets:\n  - name: data\n    kind: [unclosed\n")
    status = cli.main(["all", "--preset", "tiny", "--config", str(bad),
                       "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and "datasets.yaml" in err[0]
    assert not (tmp_path / "r").exists()


def _args(*extra):
    import argparse

    parser = argparse.ArgumentParser()
    all_cmd.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["all", "--preset", "tiny", *extra])


def test_observed_choice_is_part_of_the_limits_record(tmp_path):
    from na62dump import artefacts, provenance

    ctx = all_cmd._Context(_args("--out", str(tmp_path)))
    assert ctx.observed == "pseudo-data"
    expected = all_cmd._limits_expected(ctx)
    assert list(expected) == [artefacts.limits_dir(tmp_path)]
    record = expected[artefacts.limits_dir(tmp_path)]
    # a limits set with that record is up to date
    with artefacts.StageSet(artefacts.limits_dir(tmp_path)) as d:
        provenance.write_record(d, record)
    assert all_cmd.stale_reason(expected) is None
    published = all_cmd._limits_expected(all_cmd._Context(_args(
        "--out", str(tmp_path), "--observed", "published")))
    assert all_cmd.stale_reason(published) == f"no {artefacts.limits_dir(tmp_path, 'published')}"
    # the plot stage reruns when the published limits change: their digest is an input
    before = all_cmd._plot_expected(ctx)[artefacts.figures_dir(tmp_path)]
    with artefacts.StageSet(artefacts.limits_dir(tmp_path, "published")) as d:
        provenance.write_record(d, published[artefacts.limits_dir(tmp_path, "published")])
    after = all_cmd._plot_expected(ctx)[artefacts.figures_dir(tmp_path)]
    assert provenance.differences(before, after) == ["input limits_published changed"]
    # and, not asked for, a published set makes the limits stage rerun (it removes it)
    assert "not asked" in str(all_cmd._limits_expected(ctx))


def test_summary_prints_published_extents_and_open_edges(tmp_path):
    lim = {"mass_gev": [0.1, 0.2, 0.3], "eps": [1e-7, 1e-6, 1e-5], "cl": 0.9,
           "cls_observed": [[0.01, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]],
           "cls_expected": {"0": [[1] * 3] * 3},
           "contours": {"observed": [[[0.1, 1.5e-7], [0.15, 1e-7]]],
                        "open_at": {"observed": ["mass min", "coupling min"],
                                    "expected": {"0": []}}}}
    (tmp_path / "limits_published").mkdir(parents=True)
    (tmp_path / "limits").mkdir(exist_ok=True)
    (tmp_path / "limits" / "dark_photon_ee.json").write_text(json.dumps(lim))
    pub = {**lim, "observed_source": "published (arXiv 2312.12055)"}
    pub["contours"] = {**lim["contours"],
                       "observed": [[[0.12, 2e-7], [0.48, 7e-7], [0.2, 4.6e-7]]]}
    (tmp_path / "limits_published" / "dark_photon_ee.json").write_text(json.dumps(pub))
    text = all_cmd.summary_text(tmp_path)
    ours = next(line for line in text.splitlines() if line.startswith("  A'     ee"))
    assert "open at mass min, coupling min" in ours
    assert "published (arXiv 2312.12055)" in text
    line = [row for row in text.splitlines() if row.startswith("  A'     ee")][1]
    assert "M 120-480 MeV, eps 2e-07-7e-07" in line and "open at mass min" in line


def test_summary_reads_a_gluon_alp_limit_file_over_mass_and_cgg(tmp_path):
    # alp_gluon_<state>.json is an (M, cgg) scan, not the model-independent alp_<state>.json
    lim = {"mass_gev": [0.6, 0.7], "cgg": [1e-8, 1e-7, 1e-6], "cl": 0.9,
           "cls_observed": [[0.5, 0.01, 0.5], [0.5, 0.01, 0.5]],
           "cls_expected": {"0": [[1] * 3] * 2},
           "contours": {"observed": [], "open_at": {"observed": [], "expected": {"0": []}}}}
    (tmp_path / "limits").mkdir()
    (tmp_path / "limits" / "alp_gluon_pipigamma.json").write_text(json.dumps(lim))
    text = all_cmd.summary_text(tmp_path)
    line = next(row for row in text.splitlines() if row.startswith("  ALP-g  pipigamma"))
    assert "cgg 1e-07-1e-07" in line and "M 600-700 MeV" in line


def test_demo_scans_enough_masses_for_smooth_contours():
    # issue 10: at least 60 masses per leptonic channel in the demo (the yields interpolate)
    assert all_cmd.STATS_BY_PRESET["default"]["masses"] >= 60
    assert all_cmd.STATS_BY_PRESET["full"]["masses"] >= all_cmd.STATS_BY_PRESET["default"][
        "masses"]
