"""``na62dump limits``: signal yields, pyhf workspaces and CLs limits (stage 4).

Reads the stage-2 outputs (``DIR/run/*.coffea``: signal truth histograms, SR candidates of the
pseudo-data), ``DIR/run/summary.json`` (blinded or not, and its ``datasets`` record: each
signal dataset's model, production, final state and mass, so that ``datasets.yaml`` is not read
again) and ``DIR/background/background.json`` (stage 3), and writes the limit set
``DIR/limits/`` (docs/artefacts.md; replaced whole, so no file of an earlier grid or channel
list survives; every file carries the provenance record, also in
``DIR/limits/provenance.json``):

- ``DIR/limits/yields/<model>_<channel>.json``: N_exp tables (:mod:`na62dump.yields`);
- ``DIR/limits/workspaces/<model>_<channel>_m<MeV>.json``: the pyhf workspace of each mass
  (measurement ``NA62_<model>_<channel>_m<MeV>``, unique), and
  ``<model>_<channel>_bkgonly.json`` with ``_patchset.json``: the background-only workspace
  and one patch per tested hypothesis, (M, coupling) or the ALP's (M, tau_a, BR x BR)
  (:mod:`na62dump.stats.patchset`);
- ``DIR/limits/dark_photon_<channel>.json`` over (M, eps), ``alp_<channel>.json`` over
  (tau_a, BR x BR) per ALP mass, ``dark_scalar_<channel>.json`` over (M, sin2theta),
  ``alp_gluon_<channel>.json`` over (M, cgg = c_GG / Lambda in GeV^-1, BC11),
  ``alp_fermion_<channel>.json`` over (M, cff = c_ff / Lambda in GeV^-1, BC10, from the ALP
  samples of B -> K a; e+e-, mu+mu- and their combination ``combined``): ``mass_gev``,
  the coupling grid(s), ``cl``, ``method``, ``cls_observed`` (``null`` while the pseudo-data
  are blinded: only expected limits are computed then), ``cls_expected`` (``"-2"`` .. ``"2"``)
  and ``contours`` (polylines of CLs = 1 - CL, and ``open_at``: the edges of the scanned grid
  where an excluded region reaches, e.g. ``"coupling max"``, where the contour is open);
- with ``--observed published`` (or ``pseudo-data,published``: both sets from the same
  yields, computed once): the same limit files and workspaces computed with NA62's
  published observations and background models (:mod:`na62dump.stats.published`) instead of
  the pseudo-data, in the set ``DIR/limits_published/`` (and its ``workspaces/``), beside the
  pseudo-data ones (never over them), with ``"observed_source": "published (arXiv
  2312.12055)"`` (``"pseudo-data"`` otherwise). This mode reads neither the pseudo-data nor
  ``background.json`` and needs no unblinding; it uses the published exposure
  (``geometry.N_POT``), and alone it writes no yield tables.

- with ``--projection --pot N`` (e.g. ``1e18``, a Run-2 exposure): expected limits only at
  ``N`` protons on target, written to the set ``DIR/limits_projection/`` (and its
  ``workspaces/``) apart from the 2021 results (``"observed_source":
  "projection"``, no yield tables written). The signal yields are proportional to N_POT;
  every background component is scaled by the POT ratio ``N / n_pot`` of background.json
  (prompt and upstream: protons on target at fixed selection; combinatorial: accidental pairs
  at fixed beam intensity, proportional to the live time, hence to N_POT), its log-normal
  width k kept (the relative uncertainty of the estimate, not reduced by more data). See
  :func:`projection_context`.

Channels: ``ee``, ``mumu``, ``pipi`` and the hadronic final states (``pipigamma``, ...), and
the combinations of :func:`combinations` (one likelihood product, N_POT shared): ``combined``
(dark photon and BC10: ee and mumu; dark scalar: ee, mumu, pipi, pipipi0pi0, kk) and
``hadronic``
(the hadronic final states of the dark photon and of the gluon-coupled ALP). The statistics
(workspaces, published toy CLs, scans) are :mod:`na62dump.stats`. Examples::

    na62dump limits                                  # every channel with signal samples
    na62dump limits --channels ee,combined --toys 2000
    na62dump limits --asymptotic --masses 10 --couplings 20
    na62dump limits --observed published             # NA62's observations, beside ours
    na62dump limits --projection --pot 1e18          # Run-2 sensitivity, expected only
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from na62dump import artefacts, atomic, geometry, provenance, settings
from na62dump.commands._args import check_writable_dir, comma_list, int_at_least
from na62dump.errors import InputError
from na62dump.finalstates import SCANNED_MODELS, SIGNAL_STATES, by_key
from na62dump.physics.bmesons import B_PER_POT_REL_UNC
from na62dump.physics.decay import C_M_PER_S

logger = logging.getLogger(__name__)

#: Coupling grids (log-spaced, inclusive): eps, ALP lifetime (s) and BR x BR, scalar sin^2 theta.
EPS_RANGE = (1.0e-8, 1.0e-3)
TAU_RANGE_S = (1.0e-13, 1.0e-6)
BR_RANGE = (1.0e-12, 1.0e-3)
#: Dark scalar sin^2 theta (PBC convention), from the estimate N_exp = N_POT B_PER_POT
#: BR(B -> K_X S) BR(S -> ee/mumu/pipi) P_decay(105-180 m, p = 50-100 GeV) x 0.2 > 2.3:
#: lower edge 5e-10 (0.8 GeV) to 3e-5 (10 MeV), upper edge 1.7e-8 (0.8 GeV) to 5e-5 (0.25 GeV),
#: plus a decade each side. Below 2 m_mu (e+e- only, c tau of centimetres at sin^2 theta = 1) the
#: upper edge reaches the physical end sin^2 theta = 1: those contours are open at the top edge.
SIN2THETA_RANGE = (1.0e-11, 1.0)
#: ALP-gluon coupling c_GG / Lambda (GeV^-1, BC11), from the estimate at 0.7 GeV (pi+pi-gamma):
#: 6.5e-8 ALPs per POT at 1e-5 GeV^-1 (na62dump model alp-gluon), c tau = 9.5 m at 1e-7, with
#: P_decay ~ 0.15 and an acceptance ~ 0.5% about 600 events at 1e-7, N ~ c^4 below: lower edge
#: ~ 3e-8, upper edge ~ 1e-6 (decays within the TAX region); plus two decades each side.
CGG_RANGE = (1.0e-10, 1.0e-3)
#: ALP-fermion coupling c_ff / Lambda (GeV^-1, BC10), from the estimate at 0.3 GeV (mu+mu-):
#: 500 decays in the FV at 1e-6 GeV^-1 (na62dump model alp-fermion; c tau = 1.9 m), N ~ c^4
#: below: lower edge ~ 5e-7 with an acceptance of tens of per cent; upper edge where the decays
#: move into the TAX, ~ 1e-5 at 0.3 GeV, higher at the e+e- masses (c tau ~ 1 / m_e^2): up to
#: 1e-3, where BR(B -> K_X a) = 0.19 (it would pass 1 at 2.3e-3 GeV^-1). Plus a decade below.
CFF_RANGE = (1.0e-8, 1.0e-3)
CL = 0.9


@dataclass(frozen=True)
class CouplingModel:
    """A model the limits stage scans over (M, coupling) (:func:`_coupling_scan`).

    ``coupling``: the key of its coupling grid in the limit file, the yield table and the
    patchset's labels; ``label``: the coupling for a reader (figure axis, HEPData column
    header, ``verify``); ``particle``: its symbol in titles and in the mass label;
    ``grid``: the inclusive range of the log-spaced coupling grid; ``table``: the
    :mod:`na62dump.yields` function of its N_exp table; ``combinations``: the combinations
    scanned, name -> which of the model's final states enter (``"leptonic"``,
    ``"hadronic"`` or ``"all"``; see :func:`combinations`); ``table_options``: options of the
    command passed on to the table (``--form-factor``).
    """

    coupling: str
    label: str
    particle: str
    grid: tuple[float, float]
    table: str
    combinations: Mapping[str, str]
    table_options: tuple[str, ...] = ()

    @property
    def mass_label(self) -> str:
        """The mass axis of its (M, coupling) plane."""
        return f"$M_{{{self.particle}}}$ [MeV]"


#: The one registry of the models the limits stage scans over (M, coupling): model ->
#: :class:`CouplingModel`. ``verify``, ``hepdata``, the figures of ``plot`` and ``--models``
#: derive their model lists, coupling keys and labels from it and :data:`ALP_AXES` (the
#: model-independent ALP, scanned apart per mass).
COUPLING_MODELS: dict[str, CouplingModel] = {
    "dark_photon": CouplingModel("eps", "$\\varepsilon$ (kinetic mixing)", "A'", EPS_RANGE,
                                 "dark_photon_table",
                                 {"combined": "leptonic", "hadronic": "hadronic"},
                                 ("form_factor",)),
    "dark_scalar": CouplingModel("sin2theta", "$\\sin^2\\theta$ (mixing)", "S",
                                 SIN2THETA_RANGE, "dark_scalar_table", {"combined": "all"}),
    "alp_gluon": CouplingModel("cgg", "$c_{GG}/\\Lambda$ [GeV$^{-1}$]", "a", CGG_RANGE,
                               "alp_gluon_table", {"hadronic": "hadronic"}),  # BC11
    "alp_fermion": CouplingModel("cff", "$c_{ff}/\\Lambda$ [GeV$^{-1}$]", "a", CFF_RANGE,
                                 "alp_fermion_table", {"combined": "leptonic"}),  # BC10
}
#: The model-independent ALP (``alp``, :func:`_alp_scan`): per mass over (lifetime tau_a in s,
#: BR(B -> K a) x BR(a -> f)): the keys of its two coupling axes in the limit file.
ALP_AXES = ("tau_s", "br_x_br")
#: Every model the limits stage scans (the default of ``--models``): the models of the
#: registry of final states (:data:`na62dump.finalstates.SCANNED_MODELS`), each scanned over
#: (M, coupling) (:data:`COUPLING_MODELS`) or, the model-independent ALP, per mass.
MODELS = SCANNED_MODELS
if set(MODELS) != {*COUPLING_MODELS, "alp"}:
    raise RuntimeError(f"limits: the scanned models {sorted(COUPLING_MODELS)} + alp are not "
                       f"the registry's {MODELS}")
#: Statistics channel (mass shape, background defaults) of each final state.
#: Published production uncertainties (PRL 133 (2024) 111802: brems 1%, mesons 20%) and ours
#: for B mesons: the relative uncertainty of the B yield per POT derived in
#: na62dump.physics.bmesons (0.29: sigma(b bbar) 2.63 +- 0.76 nb, A dependence, f_u).
PRODUCTION_REL = {"brems": 0.01, "mesons": 0.20, "b_meson": B_PER_POT_REL_UNC}

_NAMES = comma_list("name", "ee,mumu,combined")
#: Final states scanned at ``--masses`` points (the others at ``--hadronic-masses``).
LEPTONIC_STATES = tuple(s.key for s in SIGNAL_STATES if s.leptonic)
_OBSERVED = comma_list("source", "pseudo-data,published")
#: Choices of ``--observed``: the pseudo-data (default) or NA62's published observations.
OBSERVED_CHOICES = ("pseudo-data", "published")


def model_states(model: str) -> tuple[str, ...]:
    """Final states ``model`` decays to (the ``models`` of the registry of final states,
    :mod:`na62dump.finalstates`, each with a branching ratio in its physics module): a
    simulated state outside them is left out of the scan, with a warning."""
    from na62dump.finalstates import decays_of

    return decays_of(model)


def combinations(model: str) -> dict[str, tuple[str, ...]]:
    """The combinations scanned for ``model``: name -> final states, one likelihood product
    with N_POT and each production uncertainty entering once (each final state a channel of
    its own, with its own background and efficiency parameters). As NA62 shows them (seed 001,
    the hadronic talk): the dark photon over e+e- and mu+mu- (``combined``, the published
    combination) and over its hadronic final states (``hadronic``); BC4 over all its final
    states (e+e-, mu+mu-, pi+pi-, pi+pi-pi0pi0, K+K-); BC11 over its hadronic final states
    (BC11 decays to gamma gamma, which has no two-track vertex, is not among them); BC10 over
    e+e- and mu+mu-. A combination is scanned over the states that have samples.

    >>> combinations("dark_photon")["combined"]
    ('ee', 'mumu')
    """
    from na62dump.finalstates import by_key

    groups = {"all": lambda s: True, "leptonic": lambda s: s.leptonic,
              "hadronic": lambda s: not s.leptonic}
    if model not in COUPLING_MODELS:
        return {}
    states = [by_key(k) for k in model_states(model)]
    return {name: tuple(s.key for s in states if groups[group](s))
            for name, group in COUPLING_MODELS[model].combinations.items()}


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``limits`` to the ``na62dump`` subcommands."""
    p = subparsers.add_parser(
        "limits", help="signal yields, pyhf workspaces and CLs limits (stage 4)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--results", metavar="DIR", default="results",
                   help="results directory (default: %(default)s)")
    p.add_argument("--channels", type=_NAMES, metavar="LIST",
                   help="comma-separated: ee, mumu, pipi, hadronic final states, and the "
                        "combinations 'combined' and 'hadronic' (default: every channel with "
                        "signal samples and every combination)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--toys", type=int_at_least(100), default=1000, metavar="N",
                     help="pseudo-experiments per tested yield (default: %(default)s)")
    how.add_argument("--asymptotic", action="store_true",
                     help="asymptotic formulae instead of toys (not valid at zero background)")
    p.add_argument("--masses", type=int_at_least(1), default=64, metavar="N",
                   help="mass points of the dark-photon and scalar grids of the leptonic "
                        "final states (default: %(default)s)")
    p.add_argument("--hadronic-masses", type=int_at_least(1), default=24, metavar="N",
                   help="mass points of the grids of the hadronic final states, simulated at "
                        "fewer masses (default: %(default)s)")
    p.add_argument("--combination-masses", type=int_at_least(1), default=None, metavar="N",
                   help="mass points of the combinations that include a hadronic final state "
                        "(several channels fitted together per point: the costliest scans; "
                        "default: --hadronic-masses)")
    p.add_argument("--couplings", type=int_at_least(2), default=30, metavar="N",
                   help="points of each coupling grid (default: %(default)s)")
    p.add_argument("--models", type=_NAMES, default=list(MODELS), metavar="LIST",
                   help=f"models to scan, among {', '.join(MODELS)} (default: all with "
                        "signal samples)")
    p.add_argument("--workers", type=int_at_least(1), default=settings.DEFAULT_WORKERS,
                   metavar="N", help="processes running the scans side by side (the results "
                   "do not depend on it; default: %(default)s)")
    p.add_argument("--seed", type=int_at_least(0), default=2021, metavar="N",
                   help="seed of the pseudo-experiments (default: %(default)s)")
    p.add_argument("--form-factor", choices=settings.BREMS_FORM_FACTORS,
                   default=settings.DEFAULT_BREMS_FORM_FACTOR,
                   help="proton form factor of the dark-photon bremsstrahlung rate: none (the "
                        "published treatment) or vmd (resonant, a theory variation; "
                        "na62dump.physics.brems) (default: %(default)s)")
    p.add_argument("--observed", type=_OBSERVED, default=["pseudo-data"], metavar="LIST",
                   help="observations in the likelihood, comma-separated: pseudo-data "
                        "(default) and/or published (NA62's observations with the published "
                        "backgrounds, written to DIR/limits_published/, beside the pseudo-data "
                        "limits); the yields are computed once for all")
    proj = p.add_argument_group("projection (expected limits at another exposure)")
    proj.add_argument("--projection", action="store_true",
                      help="expected limits only at --pot protons on target, backgrounds "
                           "scaled by the POT ratio, written to DIR/limits_projection/")
    proj.add_argument("--pot", type=float, metavar="N",
                      help="protons on target of the projection, e.g. 1e18 (with --projection)")
    p.set_defaults(func=main)
    return p


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------
def observed_sr_masses(results_dir: Path) -> dict[str, list[float]]:
    """SR candidate masses (GeV) per final state, from the unblinded pseudo-data outputs
    (the pseudo-data: the datasets of kind ``pseudo_data`` in the run's record,
    :func:`na62dump.runner.read_summary`)."""
    from na62dump import runner
    from processors import PROCESSORS

    data_sets = {name for name, rec in runner.read_summary(results_dir)["datasets"].items()
                 if rec.get("kind") == "pseudo_data"}
    out: dict[str, list[float]] = {}
    for channel, proc in PROCESSORS.items():
        if not runner.output_path(results_dir, channel).is_file():
            continue
        outputs = runner.load_output(results_dir, channel)
        for s in proc.states:
            out.setdefault(s.name, [])
        for name in data_sets & set(outputs):
            o = outputs[name]
            if not o.get("unblinded"):
                raise InputError(f"{runner.output_path(results_dir, channel)}: dataset "
                                 f"{name!r} is blinded although summary.json says unblinded")
            for row in o.get("candidates", []):
                if row.get("region") == "SR":
                    out.setdefault(row["state"], []).append(float(row["mass"]))
    return out


def _background(bkg: Mapping, state: str) -> tuple[dict, str]:
    entry = bkg.get(state, {}).get("SR")
    if entry is None:
        from na62dump.stats.workspace import channel_config

        cfg = channel_config(state)
        logger.warning("%s: not in background.json; using the statistics default "
                       "(median %.3g, k %.3g)", state, cfg.background_median, cfg.background_k)
        return {"median": cfg.background_median, "k": cfg.background_k}, "statistics default"
    return ({"median": float(entry["median"]), "k": float(entry["k"])},
            str(entry.get("source", "background.json")))


def _fill_sigma(sigma: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Resolution (GeV) with undefined points (no accepted event) filled per mass.

    The mean over the couplings where it is defined, else the nearest mass's relative value,
    else 1% of M (our fallback; such masses have no signal and do not enter the limits).
    """
    s = np.array(sigma, dtype=float)
    s[~(s > 0)] = np.nan  # a zero width (one accepted event) is no resolution
    rel = np.array([np.nanmean(r) / m if np.isfinite(r).any() else np.nan
                    for r, m in zip(s, masses, strict=True)])
    ok = np.isfinite(rel)
    if ok.any():
        rel = np.interp(np.log(masses), np.log(masses[ok]), rel[ok])
    else:
        rel = np.full_like(rel, 0.01)
    return np.where(np.isfinite(s), s, (rel * masses)[:, None])


def _group_modes(n_exp: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Production modes as the statistics' systematics know them: brems, mesons, b_meson."""
    out: dict[str, np.ndarray] = {}
    for mode, arr in n_exp.items():
        key = mode if mode in ("brems", "b_meson") else "mesons"
        out[key] = out.get(key, 0.0) + np.nan_to_num(np.asarray(arr, dtype=float))
    return out


# --------------------------------------------------------------------------------------------
# Contours
# --------------------------------------------------------------------------------------------
def contour_lines(x, y, z, level: float, *, log_x: bool = False) -> list[list[list[float]]]:
    """Polylines ``[[x, y], ...]`` of ``CLs = level`` (:func:`na62dump.stats.contours`).

    ``z`` has shape (len(x), len(y)); ``y`` is taken logarithmically, ``x`` too with
    ``log_x`` (the ALP lifetime axis).

    >>> x = np.geomspace(1, 100, 5); y = np.geomspace(1, 100, 5)
    >>> z = 1.0 / (x[:, None] * y[None, :])  # a CLs-like field in (0, 1]
    >>> lines = contour_lines(x, y, z, 0.01, log_x=True)
    >>> len(lines), [round(v, 6) for v in lines[0][0]]
    (1, [1.0, 100.0])
    """
    from na62dump.stats import contours

    x = np.asarray(x, dtype=float)
    z = np.asarray(z, dtype=float)
    if z.shape != (len(x), len(y)) or len(x) < 2 or len(y) < 2:
        return []
    lines = contours(np.log10(x) if log_x else x, y, z, level)
    out = []
    for line in lines:
        arr = np.array(line, dtype=float)
        if log_x:
            arr[:, 0] = 10.0 ** arr[:, 0]
        out.append(arr.tolist())
    return out


def open_edges(cls, level: float, axes: Sequence[str] = ("mass", "coupling")) -> list[str]:
    """Edges of the scanned grid that an excluded region (``cls < level``) reaches.

    There the contour is open: the exclusion may go on beyond the grid. ``axes`` names the
    two grid axes; returns e.g. ``["mass min", "coupling max"]`` (empty: closed inside).

    >>> c = np.ones((4, 3)); c[0, 1] = c[1, 2] = 0.01
    >>> open_edges(c, 0.1)
    ['mass min', 'coupling max']
    """
    ex = np.asarray(cls, dtype=float) < level
    if ex.ndim != 2 or not ex.any():
        return []
    edges = ((axes[0], "min", ex[0]), (axes[0], "max", ex[-1]),
             (axes[1], "min", ex[:, 0]), (axes[1], "max", ex[:, -1]))
    return [f"{axis} {end}" for axis, end, row in edges if row.any()]


def _contours(x, y, cls_obs, cls_exp, cl: float, blinded: bool,
              log_x: bool = False, axes: Sequence[str] = ("mass", "coupling")) -> dict[str, Any]:
    level = 1.0 - cl
    return {
        "level_cls": level,
        "observed": None if blinded else contour_lines(x, y, cls_obs, level, log_x=log_x),
        "expected": {k: contour_lines(x, y, v, level, log_x=log_x)
                     for k, v in cls_exp.items()},
        "open_at": {"observed": None if blinded else open_edges(cls_obs, level, axes),
                    "expected": {k: open_edges(v, level, axes) for k, v in cls_exp.items()}},
    }


# --------------------------------------------------------------------------------------------
# Scans
# --------------------------------------------------------------------------------------------
def json_safe(value: Any) -> Any:
    """Nested lists/dicts with every non-finite float replaced by ``None`` (strict JSON).

    >>> json_safe({"a": [1.0, float("nan")], "b": float("inf")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _finish(result_dict: dict, blinded: bool, extra: Mapping[str, Any]) -> dict:
    if blinded:
        result_dict["cls_observed"] = None
        result_dict["s_up_observed"] = None
    result_dict["blinded"] = blinded
    result_dict.update(extra)
    return json_safe(result_dict)


def _coupling_scan(model: str, name: str, states: Sequence[str], tables: Mapping, *, bkg,
                   observed, blinded, method, n_toys, seed, set_dir: Path, n_pot: float,
                   observed_source: str, coupling_name: str, record: Mapping,
                   progress: bool = False) -> Path:
    """Scan (M, coupling) for one channel or a combination of final states."""
    from na62dump.stats.scan import scan_dark_photon

    first = tables[states[0]]
    masses, coupling = first.mass_gev, first.coupling
    n_exp, sigma, backgrounds, obs, sources = {}, {}, {}, {}, {}
    for s in states:
        t = tables[s]
        if not (np.array_equal(t.mass_gev, masses) and np.array_equal(t.coupling, coupling)):
            raise InputError(f"{name}: the yield tables of {list(states)} differ in their grids")
        key = s  # each final state its own statistics channel (stats.workspace.channel_config)
        n_exp[key] = _group_modes(t.n_exp)
        sigma[key] = _fill_sigma(t.sigma_m_combined(), masses)
        backgrounds[key], sources[s] = _background(bkg, s)
        obs[key] = (observed.get(s, []) if not blinded else 0) or 0
    rng = np.random.default_rng([seed, *map(ord, f"{model}_{name}")])
    res = scan_dark_photon(
        n_exp, masses, coupling, sigma_m_gev=sigma, backgrounds=backgrounds, observed=obs,
        systematics={"production_rel": PRODUCTION_REL}, method=method, n_toys=n_toys,
        rng=rng, cl=CL, workspace_dir=_out_dir(set_dir, "workspaces"),
        blinded=blinded,
        workspace_prefix=f"{model}_{name}", progress=progress,
    )
    _write_patchset(model, name, n_exp, sigma, backgrounds, obs, masses, coupling,
                    coupling_name, _out_dir(set_dir, "workspaces"),
                    {"observed_source": observed_source, "blinded": blinded, "n_pot": n_pot,
                     "provenance": dict(record)})
    d = res.to_dict()
    if coupling_name != "eps":
        d[coupling_name] = d.pop("eps")
    d["contours"] = _contours(masses, coupling, res.cls_observed, res.cls_expected, CL,
                              blinded)
    d = _finish(d, blinded, {"model": model, "channel": name, "final_states": list(states),
                             "n_pot": n_pot, "options": dict(first.options),
                             "yield_coverage": {s: tables[s].coverage for s in states},
                             "background_source": sources,
                             "observed_source": observed_source,
                             "observed_sr_masses_gev": None if blinded else
                             {s: observed.get(s, []) for s in states},
                             "provenance": dict(record)})
    path = atomic.write_json(_out_dir(set_dir, "limits") / f"{model}_{name}.json", d)
    _report(model, name, res, coupling_name, blinded, d["contours"]["open_at"],
            observed_source)
    return path


def _write_patchset(model: str, name: str, n_exp, sigma, backgrounds, obs, masses, coupling,
                    coupling_name: str | tuple[str, ...], out_dir: Path,
                    meta: Mapping[str, Any]) -> None:
    """``<model>_<name>_bkgonly.json`` and ``_patchset.json`` (:mod:`na62dump.stats.patchset`;
    ``coupling`` and ``coupling_name`` tuples with several coupling axes, as the ALP's)."""
    from na62dump.stats import patchset

    bkg_spec, ps = patchset.build_patchset(
        n_exp, sigma, backgrounds, obs, masses, coupling, coupling_name=coupling_name,
        measurement=f"NA62_{model}_{name}", systematics={"production_rel": PRODUCTION_REL},
        metadata={**meta, "cl": CL, "model": model, "channel": name},
        blinded=bool(meta["blinded"]))
    if ps is None:  # a tiny sample, or no acceptance
        logger.warning("%s %s: no hypothesis with >= %g signal events: no patchset written",
                       model, name, patchset.PATCH_MIN_YIELD)
        return
    patchset.write_patchset(out_dir, f"{model}_{name}", bkg_spec, ps)


def _alp_scan(state: str, table, *, bkg, observed, blinded, method, n_toys, seed,
              set_dir: Path, n_pot: float, observed_source: str,
              n_couplings: int, record: Mapping, progress: bool = False) -> Path:
    from na62dump.stats.scan import scan_alp

    key = state
    tau_s = table.coupling / C_M_PER_S
    br = np.geomspace(*BR_RANGE, n_couplings)
    background, source = _background(bkg, state)
    # one resolution per mass (the scan's grid is mass x tau x BR x BR): the yield-weighted
    # mean over the lifetimes
    filled = _fill_sigma(table.sigma_m_combined(), table.mass_gev)
    w = table.total
    sigma = np.array([np.average(f, weights=wi) if wi.sum() > 0 else f.mean()
                      for f, wi in zip(filled, w, strict=True)])
    rng = np.random.default_rng([seed, *map(ord, f"alp_{state}")])
    unit = _group_modes(table.n_exp)
    obs = {key: (observed.get(state, []) if not blinded else 0) or 0}
    res = scan_alp(
        {key: unit}, table.mass_gev, tau_s, br,
        sigma_m_gev={key: sigma}, backgrounds={key: background}, observed=obs,
        systematics={"production_rel": PRODUCTION_REL}, method=method, n_toys=n_toys,
        rng=rng, cl=CL, workspace_dir=_out_dir(set_dir, "workspaces"),
        blinded=blinded,
        workspace_prefix=f"alp_{state}", progress=progress,
    )
    # one patch per tested (mass, tau_a, BR x BR): N = BR x BR x N(BR x BR = 1), linear
    _write_patchset("alp", state, {key: {m: v[..., None] * br for m, v in unit.items()}},
                    {key: sigma}, {key: background}, obs, table.mass_gev, (tau_s, br),
                    ALP_AXES, _out_dir(set_dir, "workspaces"),
                    {"observed_source": observed_source, "blinded": blinded, "n_pot": n_pot,
                     "provenance": dict(record)})
    d = res.to_dict()
    per_mass = []
    for i, m in enumerate(table.mass_gev):
        exp_i = {k: v[i] for k, v in res.cls_expected.items()}
        per_mass.append({
            "mass_gev": float(m), "tau_s": tau_s.tolist(), "br_x_br": br.tolist(),
            "cls_observed": None if blinded else res.cls_observed[i].tolist(),
            "cls_expected": {k: v.tolist() for k, v in exp_i.items()},
            "contours": _contours(tau_s, br, res.cls_observed[i], exp_i, CL, blinded,
                                  log_x=True, axes=("lifetime", "BR x BR")),
        })
    # one record per mass (what the figures read) and the (mass, tau, BR x BR) arrays
    d["masses"] = per_mass
    d["contours"] = [{"mass_gev": r["mass_gev"], **r["contours"]} for r in per_mass]
    d = _finish(d, blinded, {"model": "alp", "channel": state, "n_pot": n_pot,
                             "ctau_m": table.coupling.tolist(),
                             # (mass, tau): expected events at BR x BR = 1 (N is linear in
                             # it: the BR x BR limit at tau is s_up / n_exp_br1)
                             "n_exp_br1": table.total.tolist(),
                             "background_source": source,
                             "yield_coverage": dict(table.coverage),
                             "observed_source": observed_source,
                             "provenance": dict(record)})
    path = atomic.write_json(_out_dir(set_dir, "limits") / f"alp_{state}.json", d)
    open_at = {}
    for r in per_mass:
        for key, edges in (("observed", r["contours"]["open_at"]["observed"]),
                           ("expected", r["contours"]["open_at"]["expected"]["0"])):
            if edges:
                open_at.setdefault(key, []).extend(
                    f"{e} at {1e3 * r['mass_gev']:.0f} MeV" for e in edges)
    _report("alp", state, res, "BR x BR", blinded,
            {"observed": open_at.get("observed", []),
             "expected": {"0": open_at.get("expected", [])}}, observed_source)
    return path


def _out_dir(set_dir: Path, kind: str) -> Path:
    """Where ``kind`` (``limits``, ``workspaces``, ``yields``) goes in the limit set being
    written (:mod:`na62dump.artefacts`): the limit files at its top, the others below."""
    return set_dir if kind == "limits" else set_dir / kind


def _report(model: str, name: str, res, coupling_name: str, blinded: bool,
            open_at: Mapping | None = None, observed_source: str = "pseudo-data") -> None:
    exp = res.excluded("0")
    obs = None if blinded else res.excluded()
    m = res.mass_gev
    rows = exp.reshape(len(m), -1).any(axis=1)
    msg = (f"{model} {name}: expected exclusion at {int(rows.sum())} of {len(m)} masses"
           + (f" ({1000 * m[rows].min():.0f}-{1000 * m[rows].max():.0f} MeV)" if rows.any()
              else ""))
    if obs is not None:
        orow = obs.reshape(len(m), -1).any(axis=1)
        msg += f"; observed at {int(orow.sum())}"
    if observed_source != "pseudo-data":
        msg += f" [observations: {observed_source}]"
    print(msg + (" [blinded: expected only]" if blinded else ""))
    for kind, edges in (("observed", None if blinded else (open_at or {}).get("observed")),
                        ("expected median", (open_at or {}).get("expected", {}).get("0"))):
        if edges:
            print(f"  {model} {name}: {kind} contour open at " + ", ".join(edges)
                  + " (the exclusion reaches the edge of the scanned grid)")


# --------------------------------------------------------------------------------------------
def _observation_contexts(args, results_dir: Path) -> list[dict[str, Any]]:
    """One set of scan inputs per requested observation source (``--observed``)."""
    from na62dump import backgrounds, runner

    contexts = []
    for source in args.observed:
        if source == "published":
            from na62dump.stats import published

            # NA62's observations and SR backgrounds: no pseudo-data count, no unblinding
            ctx = dict(observed_source=published.OBSERVED_SOURCE,
                       bkg={s: {"SR": published.background(s)} for s in published.BACKGROUNDS},
                       n_pot=geometry.N_POT,  # the exposure of the published observations
                       blinded=False,
                       observed={s: published.sr_masses(s) for s in published.OBSERVATIONS})
            print(f"limits: observations {ctx['observed_source']} with the published SR "
                  f"backgrounds, N_POT {ctx['n_pot']:.3g}; written to "
                  f"{artefacts.limits_dir(results_dir, 'published')} beside the pseudo-data "
                  "limits")
        else:
            summary = runner.read_summary(results_dir)
            bkg = backgrounds.read_background(results_dir)
            blinded = not summary["unblinded"]
            if blinded:
                print("limits: the pseudo-data are blinded: expected limits only "
                      "(cls_observed null); rerun `na62dump run --unblind` for observed limits")
            ctx = dict(observed_source="pseudo-data", bkg=bkg,
                       n_pot=float(bkg.get("_meta", {}).get("n_pot", geometry.N_POT)),
                       blinded=blinded,
                       observed={} if blinded else observed_sr_masses(results_dir))
        contexts.append(ctx)
    return contexts


# --------------------------------------------------------------------------------------------
# Projection to another exposure (--projection --pot N)
# --------------------------------------------------------------------------------------------
PROJECTION_SOURCE = "projection"


def scale_backgrounds(bkg: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """Every final state's background estimate of ``background.json`` scaled by ``factor``
    (the POT ratio): medians, means and intervals times ``factor``, the log-normal width
    ``k`` unchanged (a relative uncertainty), ``"source"`` noting the scaling.

    >>> b = {"ee": {"SR": {"median": 0.01, "k": 2.0, "interval68": [0.005, 0.02]}},
    ...      "_meta": {"n_pot": 1.4e17}}
    >>> scale_backgrounds(b, 10.0)["ee"]["SR"]
    {'median': 0.1, 'k': 2.0, 'interval68': [0.05, 0.2], 'source': 'background.json x 10'}
    """
    out: dict[str, Any] = {}
    for state, regions in bkg.items():
        if state.startswith("_"):
            continue
        out[state] = {}
        for region, entry in regions.items():
            e = {}
            for key, value in entry.items():
                if key in ("median", "mean"):
                    e[key] = float(value) * factor
                elif key.startswith("interval"):
                    e[key] = [float(v) * factor for v in value]
                elif key == "k":
                    e[key] = float(value)
            e["source"] = f"{entry.get('source', 'background.json')} x {factor:.4g}"
            out[state][region] = e
    return out


def projection_context(results_dir: Path, pot: float | None) -> dict[str, Any]:
    """Scan inputs of a projection to ``pot`` protons on target: expected limits only
    (``blinded``), the campaign's backgrounds (``background.json``) scaled by ``pot / n_pot``
    (:func:`scale_backgrounds`), the signal yields rescaled to ``pot`` by the caller
    (:func:`_at_pot`: N_exp is proportional to N_POT)."""
    from na62dump import backgrounds

    if pot is None or not math.isfinite(pot) or pot <= 0:
        raise InputError(f"--projection needs --pot N with N > 0 (got {pot})")
    bkg = backgrounds.read_background(results_dir)
    n_pot = float(bkg.get("_meta", {}).get("n_pot", geometry.N_POT))
    factor = pot / n_pot
    print(f"limits: projection to {pot:.3g} POT (x{factor:.3g} the campaign's {n_pot:.3g}): "
          "expected limits only, backgrounds scaled by the POT ratio; written to "
          f"{artefacts.limits_dir(results_dir, PROJECTION_SOURCE)}")
    return dict(observed_source=PROJECTION_SOURCE, bkg=scale_backgrounds(bkg, factor),
                n_pot=float(pot), blinded=True, observed={})


def _at_pot(table, n_pot: float):
    """``table`` with its yields scaled to ``n_pot`` (N_exp is proportional to N_POT)."""
    import dataclasses

    if table.n_pot == n_pot:
        return table
    f = n_pot / table.n_pot
    return dataclasses.replace(table, n_pot=n_pot,
                               n_exp={k: v * f for k, v in table.n_exp.items()})


def main(args: argparse.Namespace) -> int:
    """Compute yields, workspaces and limits; return the exit status.

    The yield tables are computed once and scanned with each requested observation source
    (``--observed pseudo-data,published``), so the published limits cost only their scans.
    """

    results_dir = check_writable_dir(args.results, "--results")  # yields/, limits/ go there
    bad = [o for o in args.observed if o not in OBSERVED_CHOICES]
    if bad or not args.observed:
        raise InputError(f"--observed: {','.join(bad) or 'empty'}; choose among "
                         f"{', '.join(OBSERVED_CHOICES)}")
    if getattr(args, "projection", False):
        contexts = [projection_context(results_dir, args.pot)]
    elif getattr(args, "pot", None) is not None:
        raise InputError("--pot is the exposure of a projection: use it with --projection")
    else:
        contexts = _observation_contexts(args, results_dir)
    # tables at the first source's exposure, rescaled for the others
    n_pot = contexts[0]["n_pot"]
    records = stage_records(args, results_dir,
                            {_source_key(c["observed_source"]): c["blinded"] for c in contexts})
    with contextlib.ExitStack() as stack:
        # each source's limit set written aside, replacing the previous one only once every
        # file of it is written (na62dump.artefacts)
        for ctx in contexts:
            key = _source_key(ctx["observed_source"])
            ctx["set_dir"] = stack.enter_context(
                artefacts.StageSet(artefacts.limits_dir(results_dir, key)))
            ctx["record"] = records[key]
        written = _compute(args, results_dir, contexts, n_pot)
        for ctx in contexts:
            provenance.write_record(ctx["set_dir"], ctx["record"])
    committed = {c["set_dir"]: artefacts.limits_dir(results_dir, _source_key(
        c["observed_source"])) for c in contexts}
    for p in written:  # where the file is now: in the committed set
        print(f"written: {committed[p.parent] / p.name}")
    return 0


def _combination_masses(args: argparse.Namespace) -> int:
    """Mass points of a combination with a hadronic final state: ``--combination-masses``,
    by default the hadronic grid's."""
    n = getattr(args, "combination_masses", None)
    return args.hadronic_masses if n is None else n


def _source_key(observed_source: str) -> str:
    """``pseudo-data``, ``published`` or ``projection`` (the key of its limit set)."""
    return artefacts._source_key(observed_source)


def stage_records(args: argparse.Namespace, results_dir: Path,
                  blinded: Mapping[str, bool]) -> dict[str, dict[str, Any]]:
    """The provenance record of each limit set this invocation writes (``{source key:
    record}``, :mod:`na62dump.provenance`): the options of the scans, the seed, the blinding
    and the digests of the run and background sets read (the published set reads no
    background). ``na62dump all`` compares them with the existing sets' records."""
    projection = bool(getattr(args, "projection", False))
    options = {"models": list(args.models), "channels": args.channels,
               "masses": args.masses, "hadronic_masses": args.hadronic_masses,
               "combination_masses": _combination_masses(args),
               "couplings": args.couplings,
               "method": "asymptotic" if args.asymptotic else "toys",
               "toys": None if args.asymptotic else args.toys,
               "form_factor": args.form_factor,
               "projection_pot": getattr(args, "pot", None) if projection else None}
    run = provenance.input_digest(artefacts.run_dir(results_dir))
    bkg = provenance.input_digest(artefacts.background_dir(results_dir))
    out = {}
    for key, is_blinded in blinded.items():
        inputs = {"run": run} if key == "published" else {"run": run, "background": bkg}
        out[key] = provenance.record(
            "limits", options={**options, "source": key},
            seeds={"limits": args.seed}, blinding={"blinded": bool(is_blinded)},
            inputs=inputs)
    return out


@dataclass(frozen=True)
class _Scan:
    """One scan of :func:`_compute`: ``fn(*args, **kwargs)`` -> the limit file written, and a
    rough cost to start the costliest first: masses x channels (each mass one CLs curve over
    the signal yield, whatever the coupling grid; :func:`na62dump.stats.scan.scan_yields`)."""

    cost: int
    fn: Any
    args: tuple
    kwargs: dict


def _scan_in_worker(scan: _Scan) -> tuple[Path, str]:
    """Run ``scan`` in a worker process: its path and what it printed (shown by the parent,
    in the order of the scans)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        path = scan.fn(*scan.args, **scan.kwargs)
    return path, out.getvalue()


def _run_scans(scans: Sequence[_Scan], workers: int) -> list[Path]:
    """Run the scans, in ``workers`` processes if more than one, and return their limit
    files in the order of ``scans``. The scans are independent: each writes its own files
    and draws its toys from its own generator (seeded by ``--seed`` and its name), so the
    results do not depend on ``workers`` or on the order; the reports are printed in the order
    of ``scans`` whatever finishes first."""
    if workers <= 1 or len(scans) <= 1:
        return [scan.fn(*scan.args, **scan.kwargs) for scan in scans]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(range(len(scans)), key=lambda i: -scans[i].cost)  # longest first
    from concurrent.futures.process import BrokenProcessPool

    paths = []
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(scans)),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {i: pool.submit(_scan_in_worker, scans[i]) for i in order}
            for i in range(len(scans)):
                path, printed = futures[i].result()
                sys.stdout.write(printed)
                sys.stdout.flush()
                paths.append(path)
    except BrokenProcessPool:
        raise InputError("limits: a scan's worker process died (killed, or out of memory); "
                         "nothing was written; rerun with --workers 1") from None
    return paths


def _compute(args, results_dir: Path, contexts, n_pot: float) -> list[Path]:
    """Yield tables and scans of every requested model and channel, written into the limit
    sets being made (``ctx["set_dir"]``); returns the limit files written."""
    from na62dump import yields

    # published only, or a projection: limits only (the 2021 yield tables stay as they are)
    write_yields = "pseudo-data" in args.observed and not getattr(args, "projection", False)
    pseudo = next((c for c in contexts if c["observed_source"] == "pseudo-data"), None)
    write_yields = write_yields and pseudo is not None
    yields_dir = _out_dir(pseudo["set_dir"], "yields") if write_yields else None
    yields_record = pseudo["record"] if write_yields else None
    method = "asymptotic" if args.asymptotic else "toys"
    workers = getattr(args, "workers", 1)
    scan_args = dict(method=method, n_toys=args.toys, seed=args.seed,
                     progress=workers == 1 and sys.stderr.isatty())
    scans_todo: list[_Scan] = []  # run at the end, by _run_scans
    unknown_models = set(args.models) - set(MODELS)
    if unknown_models:
        raise InputError(f"--models: unknown {sorted(unknown_models)}; "
                         f"choose among {', '.join(MODELS)}")
    requested = args.channels
    if requested is not None:
        known = {*(s.key for s in SIGNAL_STATES),
                 *(name for m in COUPLING_MODELS for name in combinations(m))}
        bad = [c for c in requested if c not in known]
        if bad:
            raise InputError(f"--channels: unknown {bad}; choose among {sorted(known)}")

    def wanted(name: str) -> bool:
        return requested is None or name in requested

    # the models over (M, coupling): dark photon, dark scalar, gluon-coupled ALP, ...
    for model, spec in COUPLING_MODELS.items():
        if model not in args.models:
            continue
        coupling_name, rng_c = spec.coupling, spec.grid
        table_fn = functools.partial(getattr(yields, spec.table),
                                     **{o: getattr(args, o) for o in spec.table_options})
        # the analyses that select the model's final states (a reading of another model's
        # samples, BC10, takes only those of its own states)
        analyses = sorted({by_key(st).analysis for st in model_states(model)})
        samples = yields.signal_samples_from_results(results_dir, model, analyses)
        by_state: dict[str, list] = {}
        for s in samples:
            by_state.setdefault(s.channel, []).append(s)
        for state in sorted(set(by_state) - set(model_states(model))):
            logger.warning("%s: does not decay to %s (na62dump.finalstates): its samples are "
                           "not scanned", model, state)
            del by_state[state]
        combos = {name: [st for st in states if st in by_state]
                  for name, states in combinations(model).items()}
        combos = {name: states for name, states in combos.items()
                  if len(states) > 1 and wanted(name)}
        need = set(by_state) if requested is None else (
            set(requested) | {st for states in combos.values() for st in states})
        tables = {}
        couplings = np.geomspace(*rng_c, args.couplings)
        for state in sorted(set(by_state) & need):
            n_masses = args.masses if state in LEPTONIC_STATES else args.hadronic_masses
            masses = yields.mass_grid(by_state[state], n_masses)
            tables[state] = table_fn(by_state[state], state, masses, couplings, n_pot)
            if write_yields:
                yields.write_table(yields_dir, tables[state], yields_record)
        scans = [(state, [state], tables) for state in sorted(tables) if wanted(state)]
        for name, states in combos.items():
            lo = min(s.mass_gev for st in states for s in by_state[st])
            hi = max(s.mass_gev for st in states for s in by_state[st])
            # the leptonic combination at the leptonic grid, any with a hadronic state at
            # --combination-masses (several channels per mass: the costliest scans)
            n_masses = args.masses if set(states) <= set(LEPTONIC_STATES) else \
                _combination_masses(args)
            masses = np.geomspace(lo, hi, n_masses) if n_masses > 1 and hi > lo else \
                np.array([lo])
            scans.append((name, states,
                          {st: table_fn(by_state[st], st, masses, couplings, n_pot)
                           for st in states}))
        for ctx in contexts:
            for name, states, tabs in scans:
                tabs = {st: _at_pot(t, ctx["n_pot"]) for st, t in tabs.items()}
                cost = len(states) * len(next(iter(tabs.values())).mass_gev)
                scans_todo.append(_Scan(cost, _coupling_scan, (model, name, states, tabs),
                                        {**ctx, **scan_args, "coupling_name": coupling_name}))

    # ALP over (tau_a, BR x BR) at the generated masses
    if "alp" in args.models:
        samples = yields.signal_samples_from_results(results_dir, "alp")
        by_state = {}
        for s in samples:
            by_state.setdefault(s.channel, []).append(s)
        ctau = np.geomspace(*TAU_RANGE_S, args.couplings) * C_M_PER_S
        for state in sorted(by_state):
            if not wanted(state):
                continue
            table = yields.alp_table(by_state[state], state, ctau, n_pot)
            if write_yields:
                yields.write_table(yields_dir, table, yields_record)
            for ctx in contexts:
                scans_todo.append(_Scan(len(table.mass_gev), _alp_scan,
                                        (state, _at_pot(table, ctx["n_pot"])),
                                        {**ctx, **scan_args, "n_couplings": args.couplings}))

    written = _run_scans(scans_todo, workers)
    if not written:
        raise InputError(f"{results_dir}: no signal samples for the requested channels/models "
                         f"({requested or 'all'}; {args.models})")
    return written
