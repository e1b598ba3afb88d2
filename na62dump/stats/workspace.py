"""pyhf workspaces for one mass hypothesis and decay channel, and their combination.

A workspace models the signal region (SR) of one channel, binned in the reconstructed mass
``m``: ``n_bins`` equal bins over the window ``M +- n_sigma * sigma_M`` (clipped to the
channel's mass range) and, around it, up to two sideband bins that cover the rest of the range.
This is the binned form of the published extended likelihood
``e^-(s+b) prod_i (s f_s(m_i) + b f_b(m_i))`` (every observed SR event enters, in its mass
bin). ``binning="counting"`` gives a single bin (the whole SR).

Samples and modifiers (all ``normsys`` are log-normal: ``code1`` interpolation, ``k**alpha``
with a unit-Gaussian constraint on ``alpha``; pyhf keeps the interpolation code out of the
JSON, so always build the model with :func:`make_model`, which passes
``modifier_settings={"normsys": {"interpcode": "code1"}}``):

- ``signal_<production>``: Gaussian at ``M`` of width ``sigma_M`` (normalised over the
  channel range), yield ``signal_yield`` (events at ``mu = 1``); modifiers ``mu``
  (normfactor, the POI), ``n_pot`` (k = 1.2, shared by every channel, so it enters once in a
  combination), ``eff_<channel>`` (selection efficiency, 2.9%), ``prod_<production>``
  (production: 1% brems, 20% mesons; shared by channels);
- ``background``: the channel's mass shape (:data:`CHANNELS`, from the final state's
  statistics channel in :data:`BACKGROUND_MODELS`) times the median yield,
  modifier ``bkg_<channel>`` (k = 4.0 e+e-, 1.125 mu+mu-).

Yields must stay > 0 for the Poisson terms and the log-normal: the background median is
floored at :data:`BACKGROUND_FLOOR` events and every background bin at :data:`BIN_FLOOR`.

API
---
``build_channel_workspace(mass_gev, signal_yield, sigma_m_gev, background, observed, channel,
systematics=None, ...) -> dict`` (a pyhf workspace spec);
``combine_workspaces([spec, ...]) -> dict``; ``make_model(spec) -> (pyhf.Model, data)``;
``validate_workspace(spec)``; ``save_workspace(spec, path)`` (validated, atomic).

>>> spec = build_channel_workspace(0.3, 1.0, 0.003, {"median": 0.0094, "k": 4.0}, [], "ee")
>>> model, data = make_model(spec)
>>> model.config.poi_name, sorted(model.config.parameters)
('mu', ['bkg_ee', 'eff_ee', 'mu', 'n_pot', 'prod_brems'])
>>> round(float(sum(model.expected_actualdata(model.config.suggested_init()))), 4)
1.0094
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from na62dump.errors import InputError
from na62dump.finalstates import SIGNAL_STATES

log = logging.getLogger(__name__)

__all__ = [
    "BACKGROUND_FLOOR",
    "BACKGROUND_MODELS",
    "BLINDED_SUFFIX",
    "BIN_FLOOR",
    "CHANNELS",
    "DEFAULT_SYSTEMATICS",
    "MODIFIER_SETTINGS",
    "POI",
    "ChannelConfig",
    "background_pdf_fractions",
    "blinded_workspace",
    "build_channel_workspace",
    "combine_workspaces",
    "make_model",
    "mass_bin_edges",
    "save_workspace",
    "validate_workspace",
]

#: Name of the parameter of interest (signal strength, multiplies the nominal signal yield).
POI = "mu"
#: Upper bound of ``mu`` in the measurement (in units of the nominal signal yield).
MU_MAX = 1.0e4
#: The interpolation pyhf must use for our log-normal ``normsys`` (not stored in the JSON).
MODIFIER_SETTINGS = {"normsys": {"interpcode": "code1"}, "histosys": {"interpcode": "code0"}}
#: Floor (events) of a background median: log-normal and Poisson terms need yields > 0.
BACKGROUND_FLOOR = 1.0e-6
#: Floor (events) of the background in any mass bin.
BIN_FLOOR = 1.0e-12
#: Default systematic uncertainties (published, Appendix A and B of PRL 133 (2024) 111802):
#: N_POT log-normal k, relative selection-efficiency uncertainty, relative production
#: uncertainty per production mode.
DEFAULT_SYSTEMATICS = {
    "n_pot_k": 1.2,
    "efficiency_rel": 0.029,
    "production_rel": {"brems": 0.01, "mesons": 0.20},
}


@dataclass(frozen=True)
class ChannelConfig:
    """Per-channel defaults of the likelihood (masses in GeV).

    ``background_shape`` is ``{"kind": "landau", "loc_gev", "scale_gev"}``,
    ``{"kind": "bernstein", "coefficients": [...]}`` (Bernstein basis over ``mass_range_gev``)
    or ``{"kind": "flat"}``.
    """

    mass_range_gev: tuple[float, float]
    background_shape: dict = field(default_factory=dict)
    background_median: float = BACKGROUND_FLOOR
    background_k: float = 1.0


#: Background model of each statistics channel (``FinalState.stats_channel`` of
#: :mod:`na62dump.finalstates`): ``ChannelConfig`` fields but the mass range. ee: Landau with
#: location 14.86 MeV and scale 3.48 MeV and the published SR background (median 0.0094,
#: k = 4.0). mumu: the published shape is a degree-5 Bernstein polynomial whose coefficients
#: are partly unreadable in the source; we use OUR smooth, monotonically falling degree-5
#: Bernstein polynomial over the range (an approximation, not the published shape), median
#: 0.016, k = 1.125. Hadronic channels: flat in mass (our approximation; their backgrounds are
#: 1e-9 .. 1e-2 events), median 0.007 (pi+pi- upstream, SR), k = 2.0 (our choice).
BACKGROUND_MODELS: dict[str, dict] = {
    "ee": {"background_shape": {"kind": "landau", "loc_gev": 0.01486, "scale_gev": 0.00348},
           "background_median": 0.0094, "background_k": 4.0},
    "mumu": {"background_shape": {"kind": "bernstein",
                                  "coefficients": [1.0, 0.55, 0.3, 0.15, 0.07, 0.03]},
             "background_median": 0.016, "background_k": 1.125},
    "pipi": {"background_shape": {"kind": "flat"}, "background_median": 0.007,
             "background_k": 2.0},
    "hadronic": {"background_shape": {"kind": "flat"}, "background_median": 0.007,
                 "background_k": 2.0},
}  # fmt: skip

#: Statistics configuration of each final state an analysis selects: its registry mass range
#: (``FinalState.mass_range_gev``) and its statistics channel's background model. Every final
#: state is a channel of its own (own background and efficiency parameters), so that several
#: (e.g. the hadronic states) can enter one combination.
CHANNELS: dict[str, ChannelConfig] = {
    s.key: ChannelConfig(s.mass_range_gev, **BACKGROUND_MODELS[s.stats_channel])
    for s in SIGNAL_STATES
}


def channel_config(channel: str) -> ChannelConfig:
    """The :class:`ChannelConfig` of a final state (a key of :data:`CHANNELS`)."""
    if channel in CHANNELS:
        return CHANNELS[channel]
    raise InputError(f"unknown channel {channel!r}; known: the final states {list(CHANNELS)}")


def _finite_positive(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise InputError(f"{name} must be finite and > 0, got {value!r}")
    return v


def mass_bin_edges(mass_gev: float, sigma_m_gev: float, mass_range_gev: tuple[float, float],
                   n_sigma: float = 5.0, n_bins: int = 10) -> np.ndarray:
    """Bin edges (GeV): ``n_bins`` over ``M +- n_sigma sigma`` plus sidebands to the range ends.

    >>> mass_bin_edges(0.5, 0.01, (0.2, 1.0), n_sigma=2, n_bins=2).tolist()
    [0.2, 0.48, 0.5, 0.52, 1.0]
    """
    lo, hi = mass_range_gev
    if not lo < mass_gev < hi:
        raise InputError(f"mass {mass_gev} GeV outside the channel range {mass_range_gev}")
    w_lo = max(lo, mass_gev - n_sigma * sigma_m_gev)
    w_hi = min(hi, mass_gev + n_sigma * sigma_m_gev)
    edges = np.linspace(w_lo, w_hi, n_bins + 1)
    if w_lo > lo:
        edges = np.concatenate([[lo], edges])
    if w_hi < hi:
        edges = np.concatenate([edges, [hi]])
    return edges


def _bernstein_cdf(x: np.ndarray, coefficients: Sequence[float], lo: float, hi: float):
    """CDF of the normalised Bernstein-polynomial density over [lo, hi]."""
    c = np.asarray(coefficients, dtype=float)
    if np.any(c < 0) or not np.any(c > 0):
        raise InputError(f"Bernstein coefficients must be >= 0 and not all 0, got {c}")
    deg = len(c) - 1
    t = np.clip((np.asarray(x, dtype=float) - lo) / (hi - lo), 0.0, 1.0)
    # Integral of b_{j,n} over [0, t] = (1/(n+1)) sum_{i>j} b_{i,n+1}(t); each basis element
    # integrates to 1/(n+1), so the normalised CDF weights them by c_j / sum(c).
    cdf = np.zeros_like(t)
    for j, cj in enumerate(c):
        i = np.arange(j + 1, deg + 2)
        cdf = cdf + cj * np.sum(stats.binom.pmf(i[:, None], deg + 1, t[None, :]), axis=0)
    return cdf / c.sum()


def background_pdf_fractions(edges: np.ndarray, shape: Mapping,
                             mass_range_gev: tuple[float, float]) -> np.ndarray:
    """Fractions of the background (normalised over ``mass_range_gev``) in each mass bin.

    >>> f = background_pdf_fractions(np.array([0.001, 0.015, 1.0]),
    ...                              CHANNELS["ee"].background_shape, (0.001, 1.0))
    >>> bool(abs(f.sum() - 1) < 1e-12 and f[0] < f[1])
    True
    """
    lo, hi = mass_range_gev
    kind = shape.get("kind")
    x = np.clip(np.asarray(edges, dtype=float), lo, hi)
    if kind == "landau":
        dist = stats.landau(loc=shape["loc_gev"], scale=shape["scale_gev"])
        cdf = dist.cdf(x)
        cdf = (cdf - dist.cdf(lo)) / (dist.cdf(hi) - dist.cdf(lo))
    elif kind == "bernstein":
        cdf = _bernstein_cdf(x, shape["coefficients"], lo, hi)
    elif kind == "flat":
        cdf = (x - lo) / (hi - lo)
    else:
        raise InputError(f"unknown background shape kind {kind!r} in {dict(shape)}")
    return np.diff(cdf)


def _signal_fractions(edges: np.ndarray, mass_gev: float, sigma_m_gev: float) -> np.ndarray:
    cdf = stats.norm.cdf(edges, loc=mass_gev, scale=sigma_m_gev)
    frac = np.diff(cdf)
    return frac / frac.sum()


def _observed_counts(observed, edges: np.ndarray, channel: str) -> np.ndarray:
    if isinstance(observed, int | np.integer) and not isinstance(observed, bool):
        if observed < 0:
            raise InputError(f"observed count of {channel} must be >= 0, got {observed}")
        if len(edges) == 2:
            return np.array([float(observed)])
        if observed == 0:
            return np.zeros(len(edges) - 1)
        raise InputError(
            f"{channel}: {observed} observed events but no masses; pass the candidate masses "
            "(GeV) or use binning='counting'"
        )
    masses = np.asarray(observed, dtype=float).ravel()
    if np.any(~np.isfinite(masses)):
        raise InputError(f"{channel}: observed candidate masses contain NaN/inf: {masses}")
    if np.any((masses < edges[0]) | (masses > edges[-1])):
        raise InputError(
            f"{channel}: observed masses {masses} outside the SR mass range "
            f"[{edges[0]}, {edges[-1]}] GeV"
        )
    counts, _ = np.histogram(masses, bins=edges)
    return counts.astype(float)


def _k_from_rel(name: str, rel) -> float:
    rel = float(rel)
    if not (np.isfinite(rel) and rel >= 0):
        raise InputError(f"systematics[{name!r}] must be a finite relative uncertainty >= 0")
    return 1.0 + rel


def build_channel_workspace(
    mass_gev: float,
    signal_yield: float | Mapping[str, float],
    sigma_m_gev: float,
    background: Mapping,
    observed: int | Sequence[float],
    channel: str,
    systematics: Mapping | None = None,
    *,
    binning: str = "window",
    n_sigma: float = 5.0,
    n_bins: int = 10,
    mass_range_gev: tuple[float, float] | None = None,
) -> dict:
    """pyhf workspace spec of one channel at one mass hypothesis.

    Parameters
    ----------
    mass_gev : float
        Mass hypothesis M (GeV).
    signal_yield : float or mapping
        Expected signal events in the SR at ``mu = 1``; a mapping ``{"brems": y, "mesons":
        y}`` makes one signal sample per production mode (each with its own production
        uncertainty). Zero entries are dropped; at least one must be > 0.
    sigma_m_gev : float
        Mass resolution (GeV) of the Gaussian signal pdf.
    background : mapping
        ``{"median": events, "k": log-normal shape}`` and optionally ``"shape"`` (see
        :class:`ChannelConfig`; default: the channel's).
    observed : int or sequence of float
        Candidate masses (GeV) observed in the SR, or a count (0, or any with
        ``binning="counting"``).
    channel : str
        A final state, a key of :data:`CHANNELS` (``"ee"``, ``"mumu"``, ``"pipigamma"``,
        ...; see :func:`channel_config`).
    systematics : mapping, optional
        Overrides of :data:`DEFAULT_SYSTEMATICS` (``n_pot_k``, ``efficiency_rel``,
        ``production_rel``: a number or a mapping per production mode).
    binning : {"window", "counting"}
        Mass bins around M (default), or one bin.
    n_sigma, n_bins : float, int
        Half-width of the window in units of ``sigma_m_gev`` and its number of bins.
    mass_range_gev : (float, float), optional
        The channel's SR mass range (default from :data:`CHANNELS`).

    Returns
    -------
    dict
        A workspace spec, valid under pyhf's schema (build the model with :func:`make_model`).
    """
    cfg = channel_config(channel)
    mass_gev = _finite_positive("mass_gev", mass_gev)
    sigma_m_gev = _finite_positive("sigma_m_gev", sigma_m_gev)
    rng_m = tuple(mass_range_gev or cfg.mass_range_gev)
    syst = dict(DEFAULT_SYSTEMATICS)
    syst.update(systematics or {})
    if not isinstance(background, Mapping):
        raise InputError(f"background of {channel} must be a mapping with 'median' and 'k'")
    median = float(background.get("median", cfg.background_median))
    if not (np.isfinite(median) and median >= 0):
        raise InputError(f"background median of {channel} must be finite and >= 0: {median}")
    median = max(median, BACKGROUND_FLOOR)
    k_b = float(background.get("k", cfg.background_k))
    if not (np.isfinite(k_b) and k_b >= 1):
        raise InputError(f"background k of {channel} must be >= 1, got {k_b}")
    shape = background.get("shape", cfg.background_shape)

    if binning == "window":
        edges = mass_bin_edges(mass_gev, sigma_m_gev, rng_m, n_sigma, n_bins)
        f_sig = _signal_fractions(edges, mass_gev, sigma_m_gev)
        f_bkg = background_pdf_fractions(edges, shape, rng_m)
    elif binning == "counting":
        edges = np.array(rng_m, dtype=float)
        f_sig = f_bkg = np.ones(1)
    else:
        raise InputError(f"binning must be 'window' or 'counting', got {binning!r}")
    data = _observed_counts(observed, edges, channel)

    yields = dict(signal_yield) if isinstance(signal_yield, Mapping) else {"brems": signal_yield}
    prod_rel = syst["production_rel"]
    samples = []
    for mode, y in yields.items():
        y = float(y)
        if not (np.isfinite(y) and y >= 0):
            raise InputError(f"signal yield {mode!r} of {channel} must be finite and >= 0: {y}")
        if y == 0:
            continue
        rel = prod_rel.get(mode) if isinstance(prod_rel, Mapping) else prod_rel
        if rel is None:
            raise InputError(f"no production uncertainty for mode {mode!r} in systematics")
        modifiers = [{"name": POI, "type": "normfactor", "data": None}]
        for name, k in (
            ("n_pot", float(syst["n_pot_k"])),
            (f"eff_{channel}", _k_from_rel("efficiency_rel", syst["efficiency_rel"])),
            (f"prod_{mode}", _k_from_rel("production_rel", rel)),
        ):
            if not (np.isfinite(k) and k >= 1):
                raise InputError(f"log-normal k of {name} must be >= 1, got {k}")
            if k > 1:
                modifiers.append({"name": name, "type": "normsys",
                                  "data": {"hi": k, "lo": 1.0 / k}})
        samples.append({"name": f"signal_{mode}", "data": (y * f_sig).tolist(),
                        "modifiers": modifiers})
    if not samples:
        raise InputError(f"signal yield of {channel} at {mass_gev} GeV is zero")
    bkg_mods = []
    if k_b > 1:
        bkg_mods.append({"name": f"bkg_{channel}", "type": "normsys",
                         "data": {"hi": k_b, "lo": 1.0 / k_b}})
    samples.append({"name": "background",
                    "data": np.maximum(median * f_bkg, BIN_FLOOR).tolist(),
                    "modifiers": bkg_mods})
    spec = {
        "channels": [{"name": channel, "samples": samples}],
        "observations": [{"name": channel, "data": data.tolist()}],
        "measurements": [{"name": "NA62", "config": {
            "poi": POI, "parameters": [{"name": POI, "bounds": [[0.0, MU_MAX]]}]}}],
        "version": "1.0.0",
    }
    return spec


def combine_workspaces(specs: Sequence[Mapping]) -> dict:
    """Product of channel likelihoods: channels and observations joined, shared names shared.

    Modifiers with the same name (``n_pot``, ``prod_<mode>``) become one parameter, so the
    N_POT constraint enters the combined likelihood once.

    >>> a = build_channel_workspace(0.3, 1.0, 0.003, {"median": 0.0094, "k": 4.0}, [], "ee")
    >>> b = build_channel_workspace(0.3, 0.5, 0.002, {"median": 0.016, "k": 1.125}, [], "mumu")
    >>> model, _ = make_model(combine_workspaces([a, b]))
    >>> [p for p in model.config.par_order if p == "n_pot"], model.config.channels
    (['n_pot'], ['ee', 'mumu'])
    """
    if not specs:
        raise InputError("combine_workspaces needs at least one workspace")
    channels, observations, params = [], [], {}
    names = set()
    for spec in specs:
        for ch in spec["channels"]:
            if ch["name"] in names:
                raise InputError(f"channel {ch['name']!r} appears in two workspaces")
            names.add(ch["name"])
            channels.append(ch)
        observations.extend(spec["observations"])
        for p in spec["measurements"][0]["config"]["parameters"]:
            if p["name"] in params and params[p["name"]] != p:
                raise InputError(f"parameter {p['name']!r} configured differently: "
                                 f"{params[p['name']]} vs {p}")
            params[p["name"]] = p
    combined = {
        "channels": channels,
        "observations": observations,
        "measurements": [{"name": "NA62", "config": {"poi": POI,
                                                     "parameters": list(params.values())}}],
        "version": "1.0.0",
    }
    validate_workspace(combined)
    return combined


def validate_workspace(spec: Mapping, validate: bool = True):
    """Validate ``spec`` against pyhf's schema; returns the :class:`pyhf.Workspace`.

    ``validate=False`` only builds it (for specs this package's builders just made: the
    schema check costs ~10 ms, and a limit scan builds thousands of models; every saved
    workspace is validated by :func:`save_workspace`, and the builders' outputs in the tests).
    """
    import pyhf

    try:
        return pyhf.Workspace(dict(spec), validate=validate)
    except pyhf.exceptions.InvalidSpecification as err:
        raise InputError(f"invalid pyhf workspace: {err}") from err


def make_model(spec: Mapping, validate: bool = True, **kwargs):
    """``(pyhf.Model, observed data incl. auxdata)`` with the log-normal interpolation.

    ``validate``: check ``spec`` (and the model) against pyhf's schema (see
    :func:`validate_workspace`). Extra keyword arguments go to :meth:`pyhf.Workspace.model`
    (e.g. ``batch_size``).
    """
    ws = validate_workspace(spec, validate)
    model = ws.model(modifier_settings=MODIFIER_SETTINGS, validate=validate, **kwargs)
    return model, ws.data(model)


#: Suffix of the measurement names of a blinded workspace (:func:`blinded_workspace`).
BLINDED_SUFFIX = "_BLINDED_asimov"


def blinded_workspace(spec: Mapping) -> dict:
    """``spec`` as it may be written while the pseudo-data are blinded.

    A workspace must carry observations (pyhf's schema), and a blinded one must not let a
    reader take them for data: a 0 there is indistinguishable from a real zero. So the
    observations become the background-only Asimov data (the sum of the samples without the
    signal strength, per bin: non-integer, never a count) and every measurement name gets
    :data:`BLINDED_SUFFIX`. The expected limits are unchanged (they do not use the
    observations); the observed ones are not computed while blind.

    >>> spec = {"channels": [{"name": "ee", "samples": [
    ...     {"name": "signal", "data": [1.0], "modifiers": [
    ...         {"name": "mu", "type": "normfactor", "data": None}]},
    ...     {"name": "background", "data": [0.0094], "modifiers": []}]}],
    ...     "observations": [{"name": "ee", "data": [0.0]}],
    ...     "measurements": [{"name": "NA62", "config": {"poi": "mu", "parameters": []}}],
    ...     "version": "1.0.0"}
    >>> b = blinded_workspace(spec)
    >>> b["observations"], b["measurements"][0]["name"]
    ([{'name': 'ee', 'data': [0.0094]}], 'NA62_BLINDED_asimov')
    """
    out = json.loads(json.dumps(spec))  # a deep copy of plain JSON types
    asimov = {}
    for ch in out["channels"]:
        n_bins = len(ch["samples"][0]["data"])
        total = np.zeros(n_bins)
        for sample in ch["samples"]:
            if not any(m["type"] == "normfactor" and m["name"] == POI
                       for m in sample["modifiers"]):
                total += np.asarray(sample["data"], dtype=float)
        asimov[ch["name"]] = total.tolist()
    out["observations"] = [{"name": o["name"], "data": asimov[o["name"]]}
                           for o in out["observations"]]
    for meas in out["measurements"]:
        if not meas["name"].endswith(BLINDED_SUFFIX):
            meas["name"] += BLINDED_SUFFIX
    return out


def save_workspace(spec: Mapping, path: str | os.PathLike, *, blinded: bool = False,
                   measurement: str | None = None) -> Path:
    """Validate and write ``spec`` as JSON atomically (temporary file, then rename);
    ``blinded``: as :func:`blinded_workspace` (Asimov observations, marked);
    ``measurement``: the name of its (one) measurement, unique per file, so that ``pyhf
    combine`` of two saved workspaces (of different channels) keeps both measurements
    (``[a-zA-Z0-9_]`` only).

    >>> import tempfile
    >>> spec = build_channel_workspace(0.3, 1.0, 0.003, {"median": 0.0094, "k": 4.0}, [], "ee")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_workspace(spec, Path(d) / "ws.json", measurement="NA62_ee_m300p0")
    ...     json.loads(p.read_text())["measurements"][0]["name"]
    'NA62_ee_m300p0'
    """
    from na62dump.atomic import write_json

    if measurement is not None:
        if not measurement.replace("_", "").isalnum():
            raise InputError(f"measurement name {measurement!r}: use [a-zA-Z0-9_] only")
        if len(spec["measurements"]) != 1:
            raise InputError(f"measurement name {measurement!r} for a workspace with "
                             f"{len(spec['measurements'])} measurements")
        spec = {**spec, "measurements": [{**spec["measurements"][0], "name": measurement}]}
    if blinded:
        spec = blinded_workspace(spec)
    validate_workspace(spec)
    return write_json(path, spec, indent=1, sort_keys=True)
