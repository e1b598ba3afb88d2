"""Four key figures compared with reference images (pytest-mpl).

The figures are drawn from fixed synthetic inputs (no campaign needed): the dark-photon
exclusion with the earlier experiments' limits, the ALP exclusion, the control mass plot with
its ratio panel, and the mass-resolution panels. ``pytest`` (``--mpl`` is in the project's
``addopts``) compares each with ``tests/baseline/<test name>.png`` to an RMS tolerance and
fails on a difference, writing the images (result, baseline, difference) under
``--mpl-results-path`` (default: a temporary directory, named in the failure).

Regenerate the baselines only for a wanted change of a figure, deliberately::

    make baseline    # = pytest tests/test_figures_mpl.py --mpl-generate-path=tests/baseline

then look at the new images and commit them with the change that explains them.
"""

from __future__ import annotations

import numpy as np
import pytest

from na62dump import plotting
from na62dump.yields import YieldTable
from processors.base import build_templates

#: Low resolution: small baselines; any change of a line, fill or label still shows.
COMPARE = dict(tolerance=3, savefig_kwargs={"dpi": 40})


@pytest.mark.mpl_image_compare(**COMPARE)
def test_exclusion_with_earlier_limits():
    lim = plotting.example_limits()
    lim["n_pot"] = 1.4e17
    return plotting.plot_exclusion(lim, title=plotting.CHANNEL_LABELS["ee"],
                                   earlier=plotting.earlier_dark_photon_limits(), pot=1.4e17)


@pytest.mark.mpl_image_compare(**COMPARE)
def test_alp_exclusion():
    tau = np.geomspace(1e-13, 1e-6, 24)
    brbr = np.geomspace(1e-12, 1e-3, 30)
    tt, bb = np.meshgrid(tau, brbr, indexing="ij")
    masses = []
    for i, m in enumerate((0.011, 0.1, 0.2, 0.4, 0.7, 1.6)):
        ns = 3e7 * bb * np.exp(-0.5 * ((np.log10(tt) + 10.5 - 0.3 * i) / 0.8) ** 2)
        masses.append({"mass_gev": m, "tau_s": tau.tolist(), "br_x_br": brbr.tolist(),
                       "cls_observed": np.exp(-ns).tolist(),
                       "cls_expected": {k: np.exp(-ns * f).tolist() for k, f in
                                        zip("-2 -1 0 1 2".split(), (1.3, 1.1, 1.0, 0.9, 0.8),
                                            strict=True)}})
    return plotting.plot_alp({"cl": 0.9, "masses": masses},
                             title=plotting.state_label("a", "ee"), pot=1.4e17)


@pytest.mark.mpl_image_compare(**COMPARE)
def test_control_mass_plot():
    rng = np.random.default_rng(7)
    h, _ = build_templates(["mumu"])
    templates = {}
    for name, (mu, sd, n) in {"prompt": (0.25, 0.03, 4000), "comb": (0.4, 0.15, 4000),
                              "sig": (0.3, 0.003, 2000), "data": (0.33, 0.12, 60)}.items():
        t = h["mass"].copy()
        t.reset()
        t.fill(state="mumu", mass=rng.normal(mu, sd, n))
        templates[name] = t[{"state": sum}]
    background = {plotting.BACKGROUND_LABELS["prompt"]: templates["prompt"] * 0.004,
                  plotting.BACKGROUND_LABELS["combinatorial"]: templates["comb"] * 0.01}
    return plotting.plot_mass(background, {plotting.signal_label("dp_brems_mumu_m0300"):
                                           templates["sig"]},
                              data=templates["data"], title=plotting.CHANNEL_LABELS["mumu"],
                              pot=1.4e17)


@pytest.mark.mpl_image_compare(**COMPARE)
def test_mass_resolution_panels():
    mass = np.geomspace(0.011, 1.8, 20)
    eps = np.geomspace(1e-8, 1e-3, 18)
    mm, ee = np.meshgrid(mass, eps, indexing="ij")
    sigma = {"brems": 0.0015 + 0.006 * mm, "eta": np.where(mm < 0.54, 0.0014 + 0.004 * mm, 0)}
    table = YieldTable(model="dark_photon", channel="ee", mass_gev=mass, coupling_name="eps",
                       coupling=eps, n_exp={k: 1e12 * ee**2 for k in sigma},
                       efficiency={k: 0.1 + 0 * mm for k in sigma}, sigma_m_gev=sigma,
                       n_pot=1.4e17)
    return plotting.plot_yield_panels(table, quantity="sigma_m_gev")
