"""Tests of na62dump.validation: the row verdicts, contour edges, and the physics rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from na62dump import validation as V
from na62dump.cli import main


def test_row_verdicts():
    assert V.Row("g", "q", 1.04, 1.0, "s", 0.05).passed is True
    assert V.Row("g", "q", 1.06, 1.0, "s", 0.05).passed is False
    assert V.Row("g", "q", 2.4, 2.49, "s", (2.30, 2.55)).passed is True
    assert V.Row("g", "q", 2.6, 2.49, "s", (2.30, 2.55)).passed is False
    assert V.Row("g", "q", None, 1.0, "s", 0.05).passed is None
    assert V.Row("g", "q", 3.0, 1.0, "s").passed is None
    assert V.Row("g", "q", 3.0, 1.0, "s").ratio == 3.0


def _limits(lines):
    return {"cl": 0.9, "contours": {"observed": lines, "expected": {"0": lines}}}


def test_lower_edge_and_ends_from_contour_lines():
    # a closed contour: lower edge eps = 1e-7 at M 0.1, rising log-linearly to 1e-6 at M 0.3
    lower = [[0.1, 1e-7], [0.3, 1e-6]]
    upper = [[0.3, 1e-6], [0.2, 1e-4], [0.1, 1e-3]]
    lim = _limits([lower + upper[1:]])
    assert V.lower_edge(lim, 0.2) == pytest.approx(np.sqrt(1e-7 * 1e-6), rel=1e-9)
    assert V.lower_edge(lim, 0.1) == pytest.approx(1e-7)
    assert V.lower_edge(lim, 0.35) is None
    pts = V.contour_points(lim)
    assert pts[:, 0].max() == pytest.approx(0.3) and pts[:, 0].min() == pytest.approx(0.1)
    assert V.lower_edge(lim, 0.2, kind="0") == V.lower_edge(lim, 0.2)


def test_dark_photon_rows_within_darkcast_and_brems_references():
    rows = V.dark_photon_rows()
    judged = [r for r in rows if r.passed is not None]
    assert judged and all(r.passed for r in judged), [r.cells() for r in judged if not r.passed]


def test_alp_gluon_rows_against_the_asw_tables():
    rows = V.alp_gluon_rows()
    judged = [r for r in rows if r.tolerance is not None]
    assert {r.quantity.split(" at ")[-1] for r in judged} >= {"0.7 GeV", "1.0 GeV", "1.5 GeV"}
    # where the digitised exclusive channels add up to the digitised total: within 10%
    assert all(r.passed for r in judged if not r.quantity.endswith("at 0.5 GeV"))
    # production by mixing against ALPINIST's mixing angles at the four masses: judged
    prod = [r for r in judged if r.quantity.startswith("ALPs per POT by mixing")]
    assert len(prod) == 4 and all(r.passed and r.ours > 0 for r in prod)


def test_markdown_lists_every_row_with_its_verdict():
    rows = [V.Row("a", "x", 1.0, 1.0, "src", 0.1), V.Row("b", "y", 2.0, 1.0, "src2", 0.1)]
    text = V.markdown(rows, results=None, command="na62dump validate")
    assert "1 of 2 judged rows within tolerance" in text and "**no**" in text
    assert text.count("| x |") == 1 and "## b" in text


def test_results_rows_read_a_results_directory(tmp_path):
    lim = {"cl": 0.9, "mass_gev": [0.1, 0.2, 0.3], "s_up_observed": [2.40, 2.40, 2.41],
           "mode_shares": [{"ee": {"brems": 1.0}}, {"ee": {"brems": 0.97, "mesons": 0.03}},
                           {"ee": {"brems": 0.5, "mesons": 0.5}}],
           "contours": {"observed": [[[0.1, 4e-7], [0.3, 6e-7], [0.2, 1e-5], [0.1, 1e-5]]],
                        "expected": {}}}
    (tmp_path / "limits_published").mkdir(parents=True)
    (tmp_path / "limits_published" / "dark_photon_ee.json").write_text(json.dumps(lim))
    rows = {r.quantity: r for r in V.results_rows(tmp_path)}
    assert rows["90% CL signal limit at n = 0, e+e-, brems-dominated masses (min; 2 masses)"
                ].passed is True
    assert rows["... largest change between neighbouring masses (relative)"].ours == 0.0
    edge = rows["ee lower edge at 0.2 GeV (eps)"]
    assert edge.ours == pytest.approx(np.sqrt(4e-7 * 6e-7), rel=1e-9) and edge.passed is True
    assert rows["ee contour upper mass end (GeV)"].ours == pytest.approx(0.3)
    assert rows["mumu lower edge at 0.4 GeV (eps)"].ours is None  # no file: not computed
    with pytest.raises(Exception, match="no such results directory"):
        V.results_rows(tmp_path / "missing")


def test_validate_command_writes_the_document(tmp_path, capsys):
    out = tmp_path / "validation.md"
    assert main(["validate", "--out", str(out)]) == 0
    text = out.read_text()
    assert "# Validation" in text and "DarkCast" in text
    assert main(["validate", "--results", str(tmp_path / "nope")]) == 2
    assert "no such results directory" in capsys.readouterr().err


def test_background_rows_sum_the_parts_of_a_component(tmp_path):
    bkg = {"pipi": {"SR": {"median": 0.03, "components": {
        "prompt": {"value": 0.001}, "upstream_ks": {"value": 0.004},
        "upstream_k3pi": {"value": 0.002}}}},
        "ee": {"SR": {"median": 0.0094, "components": {}}}}
    (tmp_path / "background").mkdir()
    (tmp_path / "background" / "background.json").write_text(json.dumps(bkg))
    rows = {r.quantity: r for r in V.background_rows(tmp_path)}
    assert rows["pipi SR upstream"].ours == pytest.approx(0.006)
    assert rows["ee SR total"].ratio == pytest.approx(1.0)
    assert rows["pipigamma SR upstream"].ours is None  # absent: not computed
