"""Every figure function draws a non-empty image from small saved results.

Figures are saved at a low resolution (``DPI``): the rendering dominates the run time, and a
blank or broken figure is as visible at 50 dpi as at 100.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from na62dump import plotting
from na62dump.errors import InputError
from na62dump.selection.config import EECuts, MuMuCuts
from na62dump.yields import YieldTable
from processors.base import build_templates

DPI = 50


def _save(fig, tmp_path, name, formats=("png",)):
    return plotting.save(fig, tmp_path, name, formats, dpi=DPI)


def _assert_image(path):
    assert path.is_file() and path.stat().st_size > 2_000
    img = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert img.shape[0] > 200 and img.shape[1] > 200
    assert img.std() > 5.0  # not a blank canvas


def _filled_templates(rng, n=2000):
    h, _ = build_templates(["ee"])
    z = rng.normal(23.0, 10.0, n)
    cda = np.abs(rng.normal(0.0, 0.05, n))
    h["pointing"].fill(state="ee", z_tax=z, cda_tax=cda)
    h["vertex"].fill(state="ee", z_vtx=rng.uniform(105, 180, n), rho_vtx=rng.uniform(0, 0.5, n),
                     pid=rng.random(n) < 0.5)
    h["mass"].fill(state="ee", mass=rng.normal(0.2, 0.002, n))
    return h


def test_exclusion_png_and_pdf(tmp_path):
    fig = plotting.plot_exclusion(plotting.example_limits(), title="test")
    paths = _save(fig, tmp_path, "excl", ("png", "pdf"))
    _assert_image(paths[0])
    assert paths[1].read_bytes()[:4] == b"%PDF"
    assert not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary left behind


def test_exclusion_blinded_has_no_observed_contour(tmp_path):
    lim = plotting.example_limits()
    lim["cls_observed"] = None
    fig = plotting.plot_exclusion(lim)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Observed: blinded" in labels
    _assert_image(_save(fig, tmp_path, "blind")[0])


def test_reference_curves(tmp_path):
    two = tmp_path / "e137.txt"
    two.write_text("# label: E137\n0.01 1e-7\n0.3 1e-7\n0.3 1e-6\n0.01 1e-5\n0.01 1e-7\n")
    three = tmp_path / "band.txt"
    three.write_text("0.02, 2e-7, 1e-5\n0.1, 3e-7, 2e-6\n")
    refs = [plotting.load_reference_curve(two), plotting.load_reference_curve(three)]
    assert refs[0]["label"] == "E137" and refs[1]["coupling"].shape == (2, 2)
    fig = plotting.plot_exclusion(plotting.example_limits(), references=refs)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "E137" in labels and "band" in labels
    _assert_image(_save(fig, tmp_path, "refs")[0])


@pytest.mark.parametrize(
    ("text", "problem"),
    [("0.1 1e-6 2e-6 3\n0.2 1e-6\n", "2 or 3 columns"), ("0.1 abc\n0.2 1\n", "not numbers"),
     ("0.1 1e-6\n", "at least two"), ("0.1 -1\n0.2 1\n", "positive")],
)
def test_reference_curve_errors_name_file(tmp_path, text, problem):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as err:
        plotting.load_reference_curve(path)
    assert "bad.txt" in str(err.value)


def test_alp(tmp_path):
    tau = np.geomspace(1e-12, 1e-6, 20)
    brbr = np.geomspace(1e-12, 1e-6, 25)
    tt, bb = np.meshgrid(tau, brbr, indexing="ij")
    masses = []
    for m in (0.1, 0.2, 0.4, 0.8):
        ns = 1e9 * bb * np.exp(-((np.log10(tt) + 10 - m) ** 2))
        masses.append({"mass_gev": m, "tau_s": tau.tolist(), "br_x_br": brbr.tolist(),
                       "cls_observed": np.exp(-ns).tolist(),
                       "cls_expected": {k: np.exp(-ns * f).tolist()
                                        for k, f in zip("-2 -1 0 1 2".split(),
                                                        (2, 1.5, 1, 0.7, 0.5), strict=True)}})
    fig = plotting.plot_alp({"cl": 0.9, "masses": masses})
    _assert_image(_save(fig, tmp_path, "alp")[0])
    # the array layout of alp_<channel>.json (mass x tau x BR) gives the same records
    arrays = {"cl": 0.9, "mass_gev": [m["mass_gev"] for m in masses], "tau_s": tau.tolist(),
              "br_x_br": brbr.tolist(),
              "cls_observed": [m["cls_observed"] for m in masses],
              "cls_expected": {k: [m["cls_expected"][k] for m in masses]
                               for k in masses[0]["cls_expected"]}}
    records = plotting.alp_records(arrays)
    assert len(records) == 4 and records[2]["mass_gev"] == 0.4
    np.testing.assert_allclose(records[1]["cls_observed"], masses[1]["cls_observed"])


def test_single_mass_draws_cls_against_coupling(tmp_path):
    lim = plotting.example_limits(n_mass=1)
    fig = plotting.plot_exclusion(lim, title="one mass")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "CLs" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Observed" in labels and "CLs = 0.1" in labels
    _assert_image(_save(fig, tmp_path, "scan")[0])


def test_maps_and_yield_panels(tmp_path):
    mass = np.geomspace(0.02, 0.5, 12)
    eps = np.geomspace(1e-7, 1e-4, 15)
    mm, ee = np.meshgrid(mass, eps, indexing="ij")
    eff = 0.1 + 0.02 * np.log(mm / 0.02)
    table = YieldTable(model="dark_photon", channel="ee", mass_gev=mass, coupling_name="eps",
                       coupling=eps, n_exp={"brems": 1e12 * ee**2, "meson": 1e11 * ee**2},
                       efficiency={"brems": eff, "meson": eff * 0.8},
                       sigma_m_gev={"brems": 0.01 * mm, "meson": 0.012 * mm}, n_pot=1.4e17)
    for quantity in ("efficiency", "sigma_m_gev", "n_exp"):
        fig = plotting.plot_yield_panels(table, quantity=quantity)
        assert len(fig.axes) == 4  # two panels and their colour bars
        _assert_image(_save(fig, tmp_path, quantity)[0])
    with pytest.raises(InputError, match="no finite"):
        plotting.plot_map(mass, eps, np.zeros_like(mm), zlabel="zeros")


@pytest.mark.parametrize(("blinded", "cuts"), [(True, EECuts()), (False, MuMuCuts())],
                         ids=["ee-blinded", "mumu-unblinded"])
def test_pointing_and_vertex_planes(tmp_path, blinded, cuts):
    h = _filled_templates(np.random.default_rng(3))
    fig = plotting.plot_pointing(h["pointing"][{"state": sum}], cuts, blinded=blinded)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert ("SR (masked)" in labels) is blinded
    _assert_image(_save(fig, tmp_path, "pointing")[0])
    fig = plotting.plot_vertex(h["vertex"][{"state": sum}], cuts)
    _assert_image(_save(fig, tmp_path, "vertex")[0])


def test_mass_and_cutflow(tmp_path):
    h = _filled_templates(np.random.default_rng(4))
    mass = h["mass"][{"state": sum}]
    data = mass.copy()
    data.view().value = np.round(mass.values() * 0.002)  # integer counts
    data.view().variance = data.values()
    fig = plotting.plot_mass({"prompt MC": mass * 0.01, "combinatorial": mass * 0.002},
                             {"signal 200 MeV": mass}, data=data)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"prompt MC", "combinatorial", "signal 200 MeV", "pseudo-data (Garwood 68%)"} <= set(
        labels)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "data / bkg."  # ratio panel
    assert "[MeV]" in fig.axes[1].get_xlabel() and 150 < fig.axes[0].get_xlim()[0] < 200
    # Garwood intervals: asymmetric, e.g. n = 1 -> [0.173, 3.300]
    from hist.intervals import poisson_interval

    lo, hi = poisson_interval(np.array([1.0]), np.array([1.0]))
    assert abs(lo[0] - 0.173) < 1e-3 and abs(hi[0] - 3.300) < 1e-3
    _assert_image(_save(fig, tmp_path, "mass")[0])
    # without data: one panel
    assert len(plotting.plot_mass({"prompt MC": mass}, {}).axes) == 1
    cutflow = {"names": ["all", "trigger"], "unweighted": [10, 4], "weighted": [1.0, 0.4]}
    md = plotting.cutflow_table(cutflow)
    assert "| trigger | 4 | 0.4 | 40% | 40% |" in md
    assert plotting.cutflow_table(cutflow, "csv").splitlines()[1] == "all,10,1,,1"
    # a blinded pseudo-data table says so, above its rows, in either format
    assert plotting.cutflow_table(cutflow, blinded=True).startswith("**BLINDED pseudo-data")
    csv = plotting.cutflow_table(cutflow, "csv", blinded=True).splitlines()
    assert csv[0].startswith("# BLINDED") and csv[2] == "all,10,1,,1"
    assert "BLINDED" not in md
    signal = [(f"dp_brems_ee_m{m:04d}", {"cutflow": {
        "names": ["all", "trigger", "veto", "CR", "SR"], "unweighted": [1000, 100, 50, 5, 40],
        "weighted": [1000.0, 100.0, 50.0, 5.0, 40.0]}}) for m in (20, 50, 100, 300, 600)]
    picks = plotting.signal_benchmarks(signal)
    assert [n for n, _ in picks["dp_brems_ee"]] == [
        "dp_brems_ee_m0020", "dp_brems_ee_m0100", "dp_brems_ee_m0600"]
    table = plotting.signal_cutflow_table(picks["dp_brems_ee"])
    assert "A'$ (brems.) 100 MeV" in table.splitlines()[0]
    assert "| SR | 40 (80%) |" in table  # the SR over the last selection step (veto)


def test_plot_all_on_limits_only(tmp_path):
    (tmp_path / "limits").mkdir()
    (tmp_path / "limits" / "dark_photon_ee.json").write_text(
        json.dumps(plotting.example_limits()))
    (tmp_path / "limits" / "dark_photon_broken.json").write_text(json.dumps({"mass_gev": [1]}))
    made, skipped = plotting.plot_all(tmp_path, formats=("png",))
    assert [p.name for p in made] == ["exclusion_dark_photon_ee.png"]
    assert ("exclusion_dark_photon_broken", "KeyError: 'eps'") in skipped
    made2, skipped2 = plotting.plot_all(tmp_path, tmp_path / "par", ("png",), workers=2)
    assert [p.name for p in made2] == [p.name for p in made] and skipped2 == skipped
    reasons = " ".join(why for _, why in skipped)
    assert "run" in reasons and "yields" in reasons
    with pytest.raises(InputError, match="not found"):
        plotting.plot_all(tmp_path / "nowhere")


def test_published_observed_contour_beside_ours(tmp_path):
    ours = plotting.example_limits()
    pub = plotting.example_limits(seed=2)
    # a distinct published exclusion: a smaller signal everywhere (a weaker contour)
    pub["cls_observed"] = np.sqrt(np.asarray(pub["cls_observed"])).tolist()
    fig = plotting.plot_exclusion(ours, published=pub)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert plotting.PUBLISHED_LABEL in labels
    colours = {tuple(np.round(c.get_edgecolor()[0][:3], 3)) for c in fig.axes[0].collections
               if hasattr(c, "get_edgecolor") and len(c.get_edgecolor())}
    from matplotlib.colors import to_rgb

    assert tuple(np.round(to_rgb(plotting.PUBLISHED_COLOR), 3)) in colours
    plain = plotting.plot_exclusion(ours)
    assert plotting.PUBLISHED_LABEL not in [t.get_text() for t in
                                            plain.axes[0].get_legend().get_texts()]
    # plot_all finds DIR/limits/published/<name>.json next to DIR/limits/<name>.json
    (tmp_path / "limits_published").mkdir(parents=True)
    (tmp_path / "limits").mkdir(exist_ok=True)
    (tmp_path / "limits" / "dark_photon_ee.json").write_text(json.dumps(ours))
    (tmp_path / "limits_published" / "dark_photon_ee.json").write_text(json.dumps(pub))
    made, _ = plotting.plot_all(tmp_path, formats=("png",))
    names = [p.name for p in made]
    assert "exclusion_dark_photon_ee.png" in names
    assert not any("published" in n for n in names)  # an overlay, not a figure of its own
    _assert_image(tmp_path / "figures" / "exclusion_dark_photon_ee.png")


def _legend_texts(fig):
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_earlier_limits_shipped_cited_and_named_in_the_plot(tmp_path):
    refs = plotting.earlier_dark_photon_limits()
    labels = {r["label"] for r in refs}
    assert {"E137", "CHARM", "NuCal", "NA48/2", "BaBar", "LHCb"} <= labels
    for path in sorted(plotting.EARLIER_DIR.glob("*.txt")):
        header = path.read_text()[:1500]
        assert "commit " in header and "GPL" in header and "arXiv:1801.04847" in header
        assert path.stat().st_size < 200_000
    for ref in refs:  # bands in (GeV, eps): low <= high, masses increasing
        assert np.all(ref["coupling"][:, 0] <= ref["coupling"][:, 1])
        assert np.all(np.diff(ref["mass_gev"]) >= 0) and ref["mass_gev"].max() <= 2.0
    e137 = next(r for r in refs if r["label"] == "E137")
    # DarkCast's E137 band at 100 MeV (interpolated from the shipped table): about 5e-8 to 3e-6
    low = np.interp(0.1, e137["mass_gev"], e137["coupling"][:, 0])
    high = np.interp(0.1, e137["mass_gev"], e137["coupling"][:, 1])
    assert 4e-8 < low < 6e-8 and 2e-6 < high < 4e-6
    fig = plotting.plot_exclusion(plotting.example_limits(), earlier=refs)
    assert plotting.EARLIER_LABEL in _legend_texts(fig)
    names = {t.get_text() for t in fig.axes[0].texts}
    assert {"E137", "CHARM"} <= names  # named inside their bands
    _assert_image(_save(fig, tmp_path, "earlier")[0])
    # on by default in plot_all for dark-photon plots, off with earlier=False
    (tmp_path / "limits").mkdir()
    (tmp_path / "limits" / "dark_photon_ee.json").write_text(
        json.dumps(plotting.example_limits()))
    plotting.plot_all(tmp_path, tmp_path / "on", formats=("png",))
    plotting.plot_all(tmp_path, tmp_path / "off", formats=("png",), earlier=False)
    on = np.asarray(Image.open(tmp_path / "on" / "exclusion_dark_photon_ee.png").convert("L"))
    off = np.asarray(Image.open(tmp_path / "off" / "exclusion_dark_photon_ee.png").convert("L"))
    assert on.shape == off.shape and np.mean(on != off) > 0.02


def test_collapsed_bands_said_in_the_legend():
    lim = plotting.example_limits()
    spread = plotting.plot_exclusion(lim)
    assert r"Expected $\pm1\sigma$" in _legend_texts(spread)
    # b << 1: every quantile of the expected CLs is the median's
    median = lim["cls_expected"]["0"]
    lim["cls_expected"] = {k: median for k in lim["cls_expected"]}
    texts = _legend_texts(plotting.plot_exclusion(lim))
    assert r"Expected $\pm1\sigma$" not in texts
    assert any("on the median" in t for t in texts)


def test_nothing_excluded_says_so():
    lim = plotting.example_limits()
    ones = np.ones_like(np.asarray(lim["cls_observed"])).tolist()
    lim["cls_observed"] = ones
    lim["cls_expected"] = {k: ones for k in lim["cls_expected"]}
    fig = plotting.plot_exclusion(lim, earlier=plotting.earlier_dark_photon_limits())
    assert "Nothing excluded" in [t.get_text() for t in fig.axes[0].texts]
    assert _legend_texts(fig) == [plotting.EARLIER_LABEL]  # no legend of empty contours


def test_log_mass_axis_has_three_labelled_ticks():
    lim = plotting.example_limits()
    lim["mass_gev"] = np.geomspace(0.221, 1.8, len(lim["mass_gev"])).tolist()  # mumu's grid
    fig = plotting.plot_exclusion(lim)
    ax = fig.axes[0]
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ax.get_xscale() == "log" and len(ticks) >= 3


def test_alp_distinct_colours_and_y_range():
    tau = np.geomspace(1e-12, 1e-6, 20)
    brbr = np.geomspace(1e-12, 1e-3, 28)
    tt, bb = np.meshgrid(tau, brbr, indexing="ij")
    masses = []
    for m in (0.1, 0.2):
        ns = 1e8 * bb * np.exp(-((np.log10(tt) + 10 - m) ** 2))
        masses.append({"mass_gev": m, "tau_s": tau.tolist(), "br_x_br": brbr.tolist(),
                       "cls_observed": np.exp(-ns).tolist(),
                       "cls_expected": {k: np.exp(-ns).tolist() for k in "-2 -1 0 1 2".split()}})
    fig = plotting.plot_alp({"cl": 0.9, "masses": masses})
    ax = fig.axes[0]
    # excluded from BR x BR ~ 2.3e-8: the axis starts a decade below, not at the grid's 1e-12
    assert 1e-10 < ax.get_ylim()[0] < 1e-8
    handles = ax.get_legend().legend_handles[:2]
    assert handles[0].get_color() != handles[1].get_color()


def test_projection_figure_beside_the_2021_result(tmp_path):
    ours = plotting.example_limits()
    ours["n_pot"] = 1.4e17
    proj = plotting.example_limits(seed=3)
    proj["n_pot"] = 1e18
    # 7x the protons: N_s x 7, CLs = exp(-N_s) -> CLs^7
    proj["cls_expected"] = {k: (np.asarray(v) ** 7).tolist()
                            for k, v in proj["cls_expected"].items()}
    proj["cls_observed"] = None
    fig = plotting.plot_projection(ours, proj, earlier=plotting.earlier_dark_photon_limits())
    texts = _legend_texts(fig)
    assert "projection, expected (1e+18 POT)" in texts and "2021 observed (1.4e+17 POT)" in texts
    _assert_image(_save(fig, tmp_path, "projection")[0])
    (tmp_path / "limits_projection").mkdir(parents=True)
    (tmp_path / "limits").mkdir(exist_ok=True)
    (tmp_path / "limits" / "dark_photon_ee.json").write_text(json.dumps(ours))
    (tmp_path / "limits_projection" / "dark_photon_ee.json").write_text(json.dumps(proj))
    made, _ = plotting.plot_all(tmp_path, formats=("png",))
    assert sorted(p.name for p in made) == ["exclusion_dark_photon_ee.png",
                                            "projection_dark_photon_ee.png"]


def test_channel_overlay():
    a = plotting.example_limits()
    b = plotting.example_limits(seed=4)
    none = plotting.example_limits()
    ones = np.ones_like(np.asarray(none["cls_observed"])).tolist()
    none["cls_observed"] = ones
    none["cls_expected"] = {k: ones for k in none["cls_expected"]}
    fig = plotting.plot_overlay({"ee": a, "mumu": b, "pipi": none})
    texts = _legend_texts(fig)
    assert plotting.CHANNEL_LABELS["ee"] in texts
    assert plotting.CHANNEL_LABELS["pipi"] + ": nothing excluded" in texts
