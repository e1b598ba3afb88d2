"""Fast CLs scans over (M, coupling) grids: dark photon (M, eps) and ALP (tau_a, BR x BR).

Structure that makes the scan fast: at a given mass the likelihood depends on the coupling
only through the expected signal yield (the signal mass shape, resolution and background do
not change with the coupling; see the approximations below). So, per mass, the CLs-vs-signal
curve ``CLs(s)`` (observed and expected -2..+2 sigma) is computed once, with vectorised toys
(:class:`na62dump.stats.toys.PublishedToys`) on a geometric grid of the total signal ``s``
(events), and every coupling at that mass is mapped through its ``N_exp(M, coupling)``:
``CLs(M, coupling) = CLs(N_exp(M, coupling))``, interpolating ``log CLs`` linearly in ``s``.
This equals a per-point toy hypotest at ``mu = 1`` with the nominal yield ``N_exp`` (the model
is linear in ``mu``), within toy precision (``benchmarks/bench_limits.py`` shows both).

Approximations (documented, configurable where it matters):

- Channel fractions: in a combination the signal splits over channels as ``N_c / sum N``,
  which can vary with the coupling. The curve is computed at :data:`MAX_FRACTION_NODES`
  fractions of the first channel spanning the range met where ``1e-1 < sum N < 1e2`` (one
  node if that range is narrower than :data:`FRACTION_TOLERANCE`) and interpolated linearly.
- Resolution: ``sigma_M`` per mass is the yield-weighted mean over those couplings.
- Production-mode mixture (and the channel split of a single curve): per mass, where the
  yield crosses the contour along the coupling axis (:data:`WEIGHT_YIELD`), so they move
  smoothly with the mass.
- A channel is left out at masses outside its mass range or where it has no signal.
- Common random numbers: every mass (and channel-fraction node) throws its toys from a
  generator seeded with the same seed (drawn once from ``rng``), so neighbouring masses with
  equal inputs give equal CLs curves and the contours carry no mass-to-mass toy noise. At
  ``n_obs = 0`` the observed CLs is exact anyway (:mod:`na62dump.stats.toys`).
- ``CLs(s)`` between 0 and the first grid point is interpolated from ``CLs(0) = 1``; beyond
  the last computed point it is extrapolated log-linearly (the grid stops once the observed
  and all expected CLs are below ``(1 - cl) / 4``).

API
---
``scan_yields(n_exp: {channel: array (n_mass, ...)}, mass_gev, *, sigma_m_gev, backgrounds,
observed, systematics=None, method="toys"|"asymptotic"|"pyhf-toys", n_toys=1000, rng, cl=0.9)
-> ScanResult``; ``scan_dark_photon(n_exp, mass_gev, eps, ...)`` (arrays (n_mass, n_eps));
``scan_alp(n_exp_unit, mass_gev, tau_s, br_x_br, ...)`` (``n_exp_unit`` (n_mass, n_tau) at
BR x BR = 1, result arrays (n_mass, n_tau, n_br)). ``ScanResult.to_dict()`` gives the
``limits/*.json`` artefact (``cls_observed``, ``cls_expected`` keyed ``"-2"`` .. ``"2"``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from na62dump.errors import InputError
from na62dump.stats.toys import (
    FastModel,
    PublishedToys,
    pyhf_toy_hypotest,
    upper_limit_from_curve,
)
from na62dump.stats.workspace import (
    build_channel_workspace,
    channel_config,
    combine_workspaces,
    make_model,
    save_workspace,
)

log = logging.getLogger(__name__)

__all__ = [
    "BANDS",
    "ScanResult",
    "cls_curve",
    "scan_alp",
    "scan_dark_photon",
    "scan_yields",
]

#: Keys of the expected bands, in the order of the rows of the expected CLs.
BANDS = ("-2", "-1", "0", "1", "2")
#: Channel-fraction spread below which one curve per mass is enough.
FRACTION_TOLERANCE = 0.05
#: Largest number of channel-fraction nodes per mass.
MAX_FRACTION_NODES = 3
#: Signal yields (events) where the channel fractions span their nodes.
RELEVANT_YIELDS = (0.1, 100.0)
#: The production-mode mixture and the channel split of a mass are taken where its yield
#: crosses this many events along the coupling axis (about the 2.3-2.7 events of the n = 0
#: limit: where the contour lies), interpolated between the two grid couplings around each
#: crossing (:func:`crossing_shares`). They move continuously with the mass, so the limits
#: do too (a window of yields would jump whenever a grid coupling entered or left it).
WEIGHT_YIELD = 2.5


def _crossings(tot: np.ndarray):
    """Where ``tot`` (one mass's yields, last axis the coupling) crosses :data:`WEIGHT_YIELD`:
    ``(index j, fraction t)`` of each crossing between grid points ``j`` and ``j + 1``,
    ``t`` linear in ``log N`` (empty arrays where it never crosses)."""
    lt = np.log(np.where(tot > 0, tot, np.nan)) - np.log(WEIGHT_YIELD)
    a, b = lt[..., :-1], lt[..., 1:]
    with np.errstate(invalid="ignore"):
        cross = (a * b < 0) & np.isfinite(a) & np.isfinite(b)
    idx = np.nonzero(cross)
    t = a[idx] / (a[idx] - b[idx])
    return idx, t


def crossing_shares(parts: Mapping[str, np.ndarray], tot: np.ndarray) -> dict[str, float]:
    """Share of each of ``parts`` (yields summing to ``tot``) where the contour lies.

    At each crossing of :data:`WEIGHT_YIELD` (:func:`_crossings`) every part is interpolated
    log-linearly between the two grid points, so its share follows the yields continuously
    as the mass moves (the parts can change by orders of magnitude between two couplings at
    the steep upper edge); the shares are averaged over the crossings (lower and upper edge).
    Without any crossing, the ratios of the summed yields.

    >>> tot = np.array([0.1, 1.0, 10.0])
    >>> sh = crossing_shares({"a": 0.5 * tot, "b": 0.5 * tot}, tot)
    >>> {k: round(v, 3) for k, v in sh.items()}
    {'a': 0.5, 'b': 0.5}
    """
    idx, t = _crossings(tot)
    if t.size == 0:
        total = float(np.sum(tot))
        return {k: float(np.sum(v)) / total if total > 0 else 0.0 for k, v in parts.items()}
    lo = idx[:-1] + (idx[-1],)
    hi = idx[:-1] + (idx[-1] + 1,)
    with np.errstate(divide="ignore"):
        at = {k: np.exp((1 - t) * np.log(v[lo]) + t * np.log(v[hi])) for k, v in parts.items()}
    norm = sum(at.values())
    return {k: float(np.mean(np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)))
            for k, v in at.items()}


#: Default grid of total signal yields (events): first point, ratio, last point.
S_GRID = (0.4, 1.25, 200.0)


@dataclass
class ScanResult:
    """CLs over a grid of masses and couplings (arrays shaped ``(n_mass, *coupling_shape)``).

    Attributes
    ----------
    cls_observed, cls_expected : arrays
        Observed CLs and expected CLs per band (``"-2"`` .. ``"2"``; ``"-2"`` is the
        2.3% quantile of CLs, i.e. the strongest expected limit, as pyhf orders them).
    s_up_observed, s_up_expected : arrays (n_mass,)
        Upper limit (events) on the total signal yield per mass, at the central channel
        fraction (NaN where no signal or no crossing on the tested grid).
    curves : list
        Per mass ``{"fraction_nodes", "curves": [{"mu", "cls", "cls_expected"}]}`` or None.
    """

    mass_gev: np.ndarray
    couplings: dict
    cl: float
    method: str
    n_toys: int
    channels: list
    cls_observed: np.ndarray
    cls_expected: dict
    s_up_observed: np.ndarray
    s_up_expected: dict
    curves: list = field(default_factory=list, repr=False)

    def excluded(self, band: str | None = None) -> np.ndarray:
        """Boolean mask of excluded points (observed, or the expected ``band``)."""
        cls = self.cls_observed if band is None else self.cls_expected[band]
        return cls < 1.0 - self.cl

    def to_dict(self) -> dict:
        """JSON-able dict (the ``limits/*.json`` artefact)."""
        return {
            "mass_gev": self.mass_gev.tolist(),
            **{k: np.asarray(v).tolist() for k, v in self.couplings.items()},
            "cl": self.cl, "method": self.method, "n_toys": self.n_toys,
            "channels": list(self.channels),
            "cls_observed": self.cls_observed.tolist(),
            "cls_expected": {k: v.tolist() for k, v in self.cls_expected.items()},
            "s_up_observed": self.s_up_observed.tolist(),
            "s_up_expected": {k: v.tolist() for k, v in self.s_up_expected.items()},
            # per mass {channel: {production mode: share}} of the signal where the contour
            # lies (crossing_shares), the mixture the production uncertainties enter with
            "mode_shares": [None if c is None else c["mode_shares"] for c in self.curves],
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON atomically (infinite limits stay ``Infinity``)."""
        from na62dump.atomic import write_json

        return write_json(path, self.to_dict(), indent=None, allow_nan=True)


# -- the CLs(s) curve of one workspace -------------------------------------------------------
def cls_curve(spec: Mapping, *, method: str = "toys", n_toys: int = 1000,
              rng: np.random.Generator | None = None, cl: float = 0.9,
              s_grid: tuple[float, float, float] = S_GRID, validate: bool = True) -> dict:
    """CLs (observed, expected) versus ``mu`` for a workspace whose nominal signal is 1 event.

    ``mu`` is then the total signal yield in events. The grid is geometric
    (``s_grid = (first, ratio, last)``) and stops early once the observed and all expected
    CLs are below ``(1 - cl) / 4``. ``validate``: check ``spec`` against pyhf's schema.

    Returns ``{"mu": (n,), "cls": (n,), "cls_expected": (5, n)}``.
    """
    first, ratio, last = s_grid
    mus, cls, exp = [], [], []
    if method == "toys":
        if rng is None:
            raise InputError("method='toys' needs a seeded rng (numpy.random.Generator)")
        toys = PublishedToys(FastModel.from_spec(spec, validate=validate), n_toys, rng)
        evaluate = toys.evaluate
    elif method == "asymptotic":
        import pyhf

        model, data = make_model(spec, validate=validate)

        def evaluate(mu):
            obs, expd = pyhf.infer.hypotest(mu, data, model, test_stat="qtilde",
                                            calctype="asymptotics", return_expected_set=True)
            return {"cls": float(obs), "cls_expected": np.array([float(e) for e in expd])}
    elif method == "pyhf-toys":
        if rng is None:
            raise InputError("method='pyhf-toys' needs a seeded rng (numpy.random.Generator)")

        def evaluate(mu):
            return pyhf_toy_hypotest(spec, mu, n_toys, rng)
    else:
        raise InputError(f"method must be 'toys', 'asymptotic' or 'pyhf-toys', got {method!r}")
    mu = first
    small = 0
    while mu <= last * (1 + 1e-12):
        res = evaluate(mu)
        mus.append(mu)
        cls.append(res["cls"])
        exp.append(res["cls_expected"])
        if max(res["cls"], *res["cls_expected"]) < (1.0 - cl) / 4:
            small += 1
            if small >= 2:
                break
        mu *= ratio
    return {"mu": np.array(mus), "cls": np.array(cls), "cls_expected": np.array(exp).T}


def _interp_curve(mu: np.ndarray, cls: np.ndarray, s: np.ndarray) -> np.ndarray:
    """log CLs interpolated linearly in ``s``, from CLs(0) = 1, extrapolated past the end."""
    x = np.concatenate([[0.0], mu])
    y = np.log(np.clip(np.concatenate([[1.0], cls]), 1e-300, 1.0))
    y = np.minimum.accumulate(y)  # CLs(s) does not increase with the signal
    out = np.interp(s, x, y)
    if len(x) >= 3:
        slope = (y[-1] - y[-2]) / (x[-1] - x[-2])
        beyond = s > x[-1]
        out = np.where(beyond, y[-1] + min(slope, 0.0) * (s - x[-1]), out)
    return np.clip(np.exp(out), 0.0, 1.0)


def _as_mode_dict(value) -> dict:
    return dict(value) if isinstance(value, Mapping) else {"brems": value}


# -- the scan ----------------------------------------------------------------------------------
def scan_yields(
    n_exp: Mapping,
    mass_gev,
    *,
    sigma_m_gev: Mapping,
    backgrounds: Mapping,
    observed: Mapping,
    systematics: Mapping | None = None,
    method: str = "toys",
    n_toys: int = 1000,
    rng: np.random.Generator | None = None,
    cl: float = 0.9,
    couplings: Mapping | None = None,
    s_grid: tuple[float, float, float] = S_GRID,
    workspace_dir: str | os.PathLike | None = None,
    blinded: bool = False,
    workspace_prefix: str = "scan",
    progress: bool = False,
) -> ScanResult:
    """CLs on a grid of masses x couplings from expected signal yields.

    Parameters
    ----------
    n_exp : mapping
        ``{channel: array (n_mass, ...)}`` expected signal events (all channels the same
        shape), or ``{channel: {production_mode: array}}`` (the mode fractions only set the
        production-uncertainty mixture, per mass, at the relevant yields).
    mass_gev : array (n_mass,)
        Mass hypotheses (GeV).
    sigma_m_gev : mapping
        ``{channel: array (n_mass,) or (n_mass, ...)}`` mass resolution (GeV).
    backgrounds : mapping
        ``{channel: {"median", "k", optional "shape"}}`` (SR expectations).
    observed : mapping
        ``{channel: candidate masses (GeV) in the SR, or 0}``.
    systematics : mapping, optional
        See :func:`na62dump.stats.workspace.build_channel_workspace`.
    method : {"toys", "asymptotic", "pyhf-toys"}
        The published toy treatment (default), pyhf asymptotics, or pyhf's toy calculator.
    n_toys : int
        Pseudo-experiments per hypothesis and tested yield.
    rng : numpy.random.Generator
        Seeded generator (required for toys); one seed is drawn from it and every mass
        reuses it (common random numbers across masses).
    cl : float
        Confidence level.
    couplings : mapping, optional
        Coupling grids stored in the result (e.g. ``{"eps": eps}``).
    s_grid : (first, ratio, last)
        Geometric grid of tested total signal yields (events).
    workspace_dir : path, optional
        Save each mass's workspace (nominal signal 1 event at the central channel fraction)
        as ``<workspace_prefix>_m<MeV>.json``, its measurement named
        ``NA62_<workspace_prefix>_m<MeV>`` (``.`` as ``p``: unique, so that ``pyhf combine``
        of two of them works).
    blinded : bool
        The pseudo-data are blinded: the saved workspaces carry the background-only Asimov
        observations and a marked measurement name
        (:func:`na62dump.stats.workspace.blinded_workspace`), never the 0 the scan uses.
    progress : bool
        Show a rich progress bar.

    Returns
    -------
    ScanResult
    """
    if not n_exp:
        raise InputError("n_exp is empty: give at least one channel")
    masses = np.atleast_1d(np.asarray(mass_gev, dtype=float))
    channels = list(n_exp)
    modes = {c: {m: np.asarray(v, dtype=float) for m, v in _as_mode_dict(n_exp[c]).items()}
             for c in channels}
    per_channel = {c: sum(modes[c].values()) for c in channels}
    shape = per_channel[channels[0]].shape
    for c in channels:
        channel_config(c)  # an unknown channel is an InputError naming it
        if per_channel[c].shape != shape or shape[0] != len(masses):
            raise InputError(f"n_exp[{c!r}] has shape {per_channel[c].shape}; expected "
                             f"{shape} with first axis n_mass = {len(masses)}")
        if np.any(~np.isfinite(per_channel[c])) or np.any(per_channel[c] < 0):
            raise InputError(f"n_exp[{c!r}] contains NaN, inf or negative yields")
        for key, what in ((sigma_m_gev, "sigma_m_gev"), (backgrounds, "backgrounds"),
                          (observed, "observed")):
            if c not in key:
                raise InputError(f"{what} has no entry for channel {c!r}")
    if not 0 < cl < 1:
        raise InputError(f"cl must be in (0, 1), got {cl!r}")
    total = sum(per_channel.values())
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise InputError("rng must be a seeded numpy.random.Generator")
    # Common random numbers across masses: the same seed for every mass's toys.
    seed = None if rng is None else int(rng.integers(2**63))
    cls_obs = np.ones(shape)
    cls_exp = np.ones((5, *shape))
    s_up_obs = np.full(len(masses), np.nan)
    s_up_exp = np.full((5, len(masses)), np.nan)
    curves = []

    track = range(len(masses))
    if progress:
        from rich.progress import track as rich_track

        track = rich_track(track, description=f"CLs scan ({method})")
    for i in track:
        mass = masses[i]
        tot = total[i]
        relevant = (tot > RELEVANT_YIELDS[0]) & (tot < RELEVANT_YIELDS[1])
        if not relevant.any():
            relevant = tot > 0
        if not relevant.any():
            curves.append(None)
            continue  # no signal anywhere at this mass: CLs = 1
        active = []
        for c in channels:
            if per_channel[c][i][relevant].sum() <= 0:
                continue
            lo, hi = channel_config(c).mass_range_gev
            if lo < mass < hi:
                active.append(c)
            else:
                log.warning("%s: signal at M = %.4f GeV outside the channel's mass range "
                            "%s; channel left out at this mass", c, mass, (lo, hi))
        if not active:
            curves.append(None)
            continue
        # channel and production-mode shares where the contour lies (WEIGHT_YIELD)
        ch_share = crossing_shares({c: per_channel[c][i] for c in active}, tot)
        f0 = per_channel[active[0]][i][relevant] / tot[relevant]
        f0_all = per_channel[active[0]][i] / np.where(tot > 0, tot, 1.0)
        lo_f, hi_f = float(f0.min()), float(f0.max())
        if len(active) == 1 or hi_f - lo_f < FRACTION_TOLERANCE:
            nodes = [ch_share[active[0]]]
        else:
            nodes = list(np.linspace(lo_f, hi_f, MAX_FRACTION_NODES))
        # Split of the rest over the other channels
        rest = {c: ch_share[c] for c in active[1:]}
        rest_sum = sum(rest.values())
        sig = {}
        for c in active:
            s_arr = np.asarray(sigma_m_gev[c], dtype=float)
            s_i = s_arr[i] if s_arr.ndim == 1 else s_arr[i][relevant]
            wc = per_channel[c][i][relevant]
            sig[c] = float(s_i) if np.ndim(s_i) == 0 else float(
                np.average(s_i, weights=wc if wc.sum() > 0 else None))
        mode_frac = {c: {m: f for m, f in crossing_shares(
            {m: v[i] for m, v in modes[c].items()}, per_channel[c][i]).items() if f > 0}
            for c in active}
        node_curves = []
        for f in nodes:
            fr = {active[0]: f}
            for c in active[1:]:
                fr[c] = (1.0 - f) * rest[c] / rest_sum if rest_sum > 0 else 0.0
            specs = []
            for c in active:
                if fr[c] <= 0:
                    continue
                specs.append(build_channel_workspace(
                    mass, {m: fr[c] * v for m, v in mode_frac[c].items()}, sig[c],
                    backgrounds[c], observed[c], c, systematics))
            spec = combine_workspaces(specs) if len(specs) > 1 else specs[0]
            node_rng = None if seed is None else np.random.default_rng(seed)
            # built by this package's builders just now: no schema check per curve (the saved
            # workspace of each mass is checked by save_workspace, the builders in the tests)
            node_curves.append(cls_curve(spec, method=method, n_toys=n_toys, rng=node_rng,
                                         cl=cl, s_grid=s_grid, validate=False))
            if workspace_dir is not None and len(node_curves) == (len(nodes) + 1) // 2:
                tag = f"m{1000 * mass:.1f}"
                save_workspace(spec, Path(workspace_dir) / f"{workspace_prefix}_{tag}.json",
                               blinded=blinded,
                               measurement=f"NA62_{workspace_prefix}_{tag.replace('.', 'p')}")
        curves.append({"fraction_nodes": nodes, "curves": node_curves,
                       "mode_shares": mode_frac})
        # Map every coupling at this mass.
        s_flat = tot.ravel()
        f_flat = np.clip(f0_all.ravel(), nodes[0], nodes[-1])
        obs_n = np.array([_interp_curve(cv["mu"], cv["cls"], s_flat) for cv in node_curves])
        exp_n = np.array([[_interp_curve(cv["mu"], cv["cls_expected"][b], s_flat)
                           for b in range(5)] for cv in node_curves])
        if len(nodes) == 1:
            cls_obs[i] = obs_n[0].reshape(shape[1:])
            cls_exp[:, i] = exp_n[0].reshape(5, *shape[1:])
        else:
            pos = np.interp(f_flat, nodes, np.arange(len(nodes)))
            j = np.minimum(pos.astype(int), len(nodes) - 2)
            t = pos - j
            cols = np.arange(len(s_flat))
            cls_obs[i] = ((1 - t) * obs_n[j, cols] + t * obs_n[j + 1, cols]).reshape(shape[1:])
            for b in range(5):
                cls_exp[b, i] = ((1 - t) * exp_n[j, b, cols]
                                 + t * exp_n[j + 1, b, cols]).reshape(shape[1:])
        central = node_curves[(len(nodes) - 1) // 2]
        s_up_obs[i] = upper_limit_from_curve(central["mu"], central["cls"], cl)
        for b in range(5):
            s_up_exp[b, i] = upper_limit_from_curve(central["mu"], central["cls_expected"][b],
                                                    cl)
        log.debug("M = %.4f GeV: s_up = %.3f events (%d fraction nodes)", mass, s_up_obs[i],
                  len(nodes))
    return ScanResult(
        mass_gev=masses, couplings=dict(couplings or {}), cl=cl, method=method,
        n_toys=n_toys if method != "asymptotic" else 0, channels=channels,
        cls_observed=cls_obs, cls_expected={k: cls_exp[j] for j, k in enumerate(BANDS)},
        s_up_observed=s_up_obs, s_up_expected={k: s_up_exp[j] for j, k in enumerate(BANDS)},
        curves=curves)


def scan_dark_photon(n_exp: Mapping, mass_gev, eps, **kwargs) -> ScanResult:
    """:func:`scan_yields` over (M, eps): ``n_exp[channel]`` of shape (n_mass, n_eps)."""
    eps = np.asarray(eps, dtype=float)
    for c, v in n_exp.items():
        arr = sum(_as_mode_dict(v).values())
        if np.shape(arr) != (len(np.atleast_1d(mass_gev)), len(eps)):
            raise InputError(f"n_exp[{c!r}] must have shape (n_mass, n_eps) = "
                             f"({len(np.atleast_1d(mass_gev))}, {len(eps)}), "
                             f"got {np.shape(arr)}")
    return scan_yields(n_exp, mass_gev, couplings={"eps": eps}, **kwargs)


def scan_alp(n_exp_unit: Mapping, mass_gev, tau_s, br_x_br, **kwargs) -> ScanResult:
    """ALP scan in (tau_a, BR(B -> K a) x BR(a -> f)) per mass.

    ``n_exp_unit[channel]`` (n_mass, n_tau) is the expected yield at BR x BR = 1; the yield is
    linear in BR x BR, so the grid is (n_mass, n_tau, n_br) with ``N = BR x BR * n_unit``.
    """
    br = np.asarray(br_x_br, dtype=float)
    if np.any(~np.isfinite(br)) or np.any(br <= 0):
        raise InputError("br_x_br must be finite and > 0")
    full = {}
    for c, v in n_exp_unit.items():
        modes = _as_mode_dict(v)
        full[c] = {m: np.asarray(a, dtype=float)[..., None] * br for m, a in modes.items()}
    return scan_yields(full, mass_gev,
                       couplings={"tau_s": np.asarray(tau_s, dtype=float), "br_x_br": br},
                       **kwargs)
