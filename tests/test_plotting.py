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
    fig = plotting.plot_mass({"prompt MC": mass * 0.01}, {"signal 200 MeV": mass},
                             data=mass * 0.001)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"prompt MC", "signal 200 MeV", "data"} <= set(labels)
    _assert_image(_save(fig, tmp_path, "mass")[0])
    cutflow = {"names": ["all", "trigger"], "unweighted": [10, 4], "weighted": [1.0, 0.4]}
    md = plotting.cutflow_table(cutflow)
    assert "| trigger | 4 | 0.4 |" in md
    assert plotting.cutflow_table(cutflow, "csv").splitlines()[1] == "all,10,1"


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
    (tmp_path / "limits" / "published").mkdir(parents=True)
    (tmp_path / "limits" / "dark_photon_ee.json").write_text(json.dumps(ours))
    (tmp_path / "limits" / "published" / "dark_photon_ee.json").write_text(json.dumps(pub))
    made, _ = plotting.plot_all(tmp_path, formats=("png",))
    names = [p.name for p in made]
    assert "exclusion_dark_photon_ee.png" in names
    assert not any("published" in n for n in names)  # an overlay, not a figure of its own
    _assert_image(tmp_path / "figures" / "exclusion_dark_photon_ee.png")
