"""Expected signal yields ``N_exp`` from processed forced-decay signal samples.

For one model, production mode and decay channel (``shared/ANALYSIS.md``, "Signal yield"):

    N_exp(M, c) = N_POT x production(M, c) x BR(X -> f)(M) x A(M, c tau(M, c)),

``c`` the coupling (eps for the dark photon), with the *acceptance times decay probability*

    A(M, c tau) = sum_bins accepted[pz, dz] x wbar(dz_lo, dz_hi, pz / M, c tau) / N_generated,

``wbar`` the exact bin average of the forced-decay weight
(:func:`na62dump.physics.decay.forced_decay_weight_binned`), ``accepted`` the processors' truth
histogram of selected events in the SR (``docs/artefacts.md``, Stage 2, ``"signal"``) and
``N_generated`` the total of the ``generated`` histogram. The same weights over ``generated``
give the probability to decay in the forced range ``P_D``, and ``A / P_D`` is the selection
efficiency for decays there. The mass resolution is the weighted RMS of ``(m_reco - M) / M``
in the ``resolution`` histogram, times ``M``. No sample is re-run for a new coupling.

Interpolation in mass
---------------------
Signal samples exist at a few masses (the *nodes*). At a target point ``(M, c)`` the lab decay
length of a particle of momentum ``p`` is ``(p / M) c tau``, so each node ``M_i`` is
reweighted with the *same* ``c tau / M`` as the target (``c tau_i = M_i c tau(M, c) / M``):
the node then describes a particle with the target's decay-length scale, and what is left to
interpolate is the smooth mass dependence of the kinematics and acceptance. ``log A`` and the
relative resolution are interpolated in ``log M`` with a monotone cubic (PCHIP, no overshoot);
production and branching ratios are evaluated analytically at every mass. The interpolation is
exact at the nodes; outside the node range the yield is 0 (no extrapolation).

>>> import numpy as np
>>> s = SignalSample.synthetic(mass_gev=0.1, pz_gev=50.0, z_range=(100.0, 200.0), n=10_000)
>>> lam = 50.0 / 0.1 * 0.2  # pz/M x c tau = 100 m
>>> from na62dump.physics.decay import prob_decay_in_range
>>> exact = prob_decay_in_range(100.0, 200.0, 0.0, lam)
>>> bool(abs(s.acceptance([0.2])[0] / exact - 1) < 1e-3)
True
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from na62dump import artefacts, atomic, geometry, settings
from na62dump.errors import InputError
from na62dump.physics.decay import forced_decay_weight_binned

logger = logging.getLogger(__name__)

#: ``log A`` floor used in the interpolation (A below it counts as 0).
_LOG_FLOOR = -700.0
#: Number of c tau values reweighted at once (bounds the memory of the vectorised sum).
_CTAU_CHUNK = 256


def _axis_edges(h, name: str, what: str) -> np.ndarray:
    try:
        return np.asarray(h.axes[name].edges, dtype=float)
    except (KeyError, AttributeError) as err:
        raise InputError(f"{what}: histogram has no axis {name!r}") from err


def _project(h, keep: Sequence[str], state: str | None, what: str) -> np.ndarray:
    """Values of ``h`` over the axes ``keep`` (in that order), selecting ``state`` if present."""
    names = [ax.name for ax in h.axes]
    if "state" in names:
        cats = list(h.axes["state"])
        if state is not None and state in cats:
            h = h[{"state": state}]
        else:
            h = h[{"state": sum}]
        names = [ax.name for ax in h.axes]
    missing = [k for k in keep if k not in names]
    if missing:
        raise InputError(f"{what}: histogram lacks axes {missing} (has {names})")
    extra = [n for n in names if n not in keep]
    if extra:
        h = h.project(*keep)
    elif names != list(keep):
        h = h.project(*keep)
    vals = np.asarray(h.values(), dtype=float)
    if not np.all(np.isfinite(vals)):
        raise InputError(f"{what}: histogram holds NaN or infinite values")
    return vals


@dataclass(frozen=True)
class SignalSample:
    """Truth histograms of one processed signal sample (one mass, production, channel).

    ``generated`` and ``accepted`` are arrays over (pz, dz) bins with edges ``pz_edges`` (GeV)
    and ``dz_edges`` (m); ``resolution`` is over (pz, dz, mrel) with its own edges.
    """

    mass_gev: float
    production: str
    channel: str
    pz_edges: np.ndarray = field(repr=False)
    dz_edges: np.ndarray = field(repr=False)
    generated: np.ndarray = field(repr=False)
    accepted: np.ndarray = field(repr=False)
    z_range: tuple[float, float] = geometry.FORCED_DECAY_Z
    res_pz_edges: np.ndarray | None = field(default=None, repr=False)
    res_dz_edges: np.ndarray | None = field(default=None, repr=False)
    mrel_edges: np.ndarray | None = field(default=None, repr=False)
    resolution: np.ndarray | None = field(default=None, repr=False)
    model: str = "dark_photon"
    name: str = ""
    #: Weighted number of generated events including those outside the histogram range
    #: (soft or backward meson-decay particles land in the p_z underflow); None: the in-range
    #: total of ``generated``.
    n_total: float | None = None

    def __post_init__(self):
        what = f"signal sample {self.name or self.mass_gev}"
        if not (self.mass_gev > 0 and math.isfinite(self.mass_gev)):
            raise InputError(f"{what}: mass must be > 0, got {self.mass_gev!r}")
        shape = (len(self.pz_edges) - 1, len(self.dz_edges) - 1)
        for key in ("generated", "accepted"):
            arr = getattr(self, key)
            if arr.shape != shape:
                raise InputError(f"{what}: {key} has shape {arr.shape}, expected {shape}")
        if self.generated.sum() <= 0:
            raise InputError(f"{what}: the generated histogram is empty")
        if self.z_range[1] <= self.z_range[0]:
            raise InputError(f"{what}: bad forced-decay range {self.z_range}")
        # compact, non-empty bins of accepted / generated: (count, pz/M, dz_lo, dz_hi)
        object.__setattr__(self, "_acc", self._compact(self.accepted, self.pz_edges,
                                                       self.dz_edges))
        object.__setattr__(self, "_gen", self._compact(self.generated, self.pz_edges,
                                                       self.dz_edges))
        if self.resolution is not None:
            r = self.resolution
            if r.ndim != 3 or r.shape != (len(self.res_pz_edges) - 1, len(self.res_dz_edges) - 1,
                                          len(self.mrel_edges) - 1):
                raise InputError(f"{what}: resolution histogram shape {r.shape} does not match")

    def _compact(self, counts, pz_edges, dz_edges):
        i, j = np.nonzero(counts)
        pzc = 0.5 * (pz_edges[:-1] + pz_edges[1:])
        return (counts[i, j], pzc[i] / self.mass_gev, dz_edges[j], dz_edges[j + 1])

    @property
    def n_generated(self) -> float:
        """Every generated event counts in the denominator, in the histogram range or not."""
        return float(self.generated.sum() if self.n_total is None else self.n_total)

    # ----------------------------------------------------------------------------------------
    @staticmethod
    def _reweighted_sum(compact, ctau: np.ndarray, z_range) -> np.ndarray:
        counts, pz_over_m, lo, hi = compact
        out = np.empty(ctau.shape, dtype=float)
        flat, res = ctau.ravel(), out.reshape(-1)
        lo = np.maximum(lo, 0.0)  # a flight distance is >= 0 (underflow bin edge)
        for start in range(0, flat.size, _CTAU_CHUNK):
            c = flat[start : start + _CTAU_CHUNK, None]
            w = forced_decay_weight_binned(lo, hi, pz_over_m, c, z_range)
            res[start : start + _CTAU_CHUNK] = w @ counts
        return out

    def _ctau(self, ctau_m) -> np.ndarray:
        c = np.asarray(ctau_m, dtype=float)
        if not np.all(np.isfinite(c)) or np.any(c <= 0):
            raise InputError("c tau must be finite and > 0 (m)")
        return c

    def acceptance(self, ctau_m) -> np.ndarray:
        """``A = P(decay in the forced range) x efficiency`` at each ``c tau`` (m)."""
        c = self._ctau(ctau_m)
        return self._reweighted_sum(self._acc, c, self.z_range) / self.n_generated

    def decay_probability(self, ctau_m) -> np.ndarray:
        """Probability to decay in the forced range, from the ``generated`` histogram."""
        c = self._ctau(ctau_m)
        return self._reweighted_sum(self._gen, c, self.z_range) / self.n_generated

    def effective_generated(self, ctau_m) -> np.ndarray:
        """Kish effective number of generated events under the decay weights at ``c tau``.

        Where the particle decays long before the forced range, a handful of the fastest
        events carry all the weight and the efficiency is not measured by the sample.
        """
        c = self._ctau(ctau_m)
        counts, pz_over_m, lo, hi = self._gen
        lo = np.maximum(lo, 0.0)
        flat = c.ravel()
        out = np.empty(flat.size)
        for start in range(0, flat.size, _CTAU_CHUNK):
            w = forced_decay_weight_binned(lo, hi, pz_over_m, flat[start:start + _CTAU_CHUNK, None],
                                           self.z_range)
            s1, s2 = w @ counts, (w * w) @ counts
            out[start:start + _CTAU_CHUNK] = np.divide(s1 * s1, s2, out=np.zeros_like(s1),
                                                       where=s2 > 0)
        return out.reshape(c.shape)

    def efficiency(self, ctau_m) -> np.ndarray:
        """Selection efficiency for decays in the forced range: accepted / generated, weighted.

        NaN where the decay weights leave fewer than :attr:`MIN_EFFECTIVE_EVENTS` effective
        generated events (:meth:`effective_generated`): the sample does not measure it there.
        """
        a, p = self.acceptance(ctau_m), self.decay_probability(ctau_m)
        measured = (p > 0) & (self.effective_generated(ctau_m) >= self.MIN_EFFECTIVE_EVENTS)
        return np.divide(a, p, out=np.full(a.shape, np.nan), where=measured)

    #: Minimum effective number of accepted events for a lifetime-weighted resolution; below
    #: it (a few events dominate the weights) the unweighted resolution of the sample is used.
    MIN_EFFECTIVE_EVENTS = 10.0

    def relative_resolution(self, ctau_m) -> np.ndarray:
        """Weighted RMS of ``(m_reco - M) / M`` over the accepted events, at each ``c tau``.

        Events are weighted by their decay weight at ``c tau``; where the weights leave fewer
        than :attr:`MIN_EFFECTIVE_EVENTS` effective events, the unweighted RMS of the whole
        sample is returned instead (the resolution depends on the lifetime only through the
        momentum and vertex position, weakly). Never less than the ``mrel`` bin width /
        sqrt(12), what the histogram can resolve. NaN without a ``resolution`` histogram or
        accepted event.
        """
        c = self._ctau(ctau_m)
        if self.resolution is None or self.resolution.sum() <= 0:
            return np.full(c.shape, np.nan)
        r = self.resolution
        mc = 0.5 * (self.mrel_edges[:-1] + self.mrel_edges[1:])
        n = r.sum(axis=2)  # (pz, dz)
        m1 = (r * mc).sum(axis=2)
        m2 = (r * mc * mc).sum(axis=2)
        # the binning limits what the histogram can resolve: floor at one bin width / sqrt(12)
        floor = float(np.min(np.diff(self.mrel_edges))) / math.sqrt(12.0)
        unweighted = max(math.sqrt(max(m2.sum() / n.sum() - (m1.sum() / n.sum()) ** 2, 0.0)),
                         floor)
        pz_c = 0.5 * (self.res_pz_edges[:-1] + self.res_pz_edges[1:]) / self.mass_gev
        i, j = np.nonzero(n)
        lo = np.maximum(self.res_dz_edges[j], 0.0)
        hi = self.res_dz_edges[j + 1]
        flat = c.ravel()
        out = np.empty(flat.size)
        for start in range(0, flat.size, _CTAU_CHUNK):
            w = forced_decay_weight_binned(lo, hi, pz_c[i], flat[start:start + _CTAU_CHUNK, None],
                                           self.z_range)
            s0, s1, s2 = w @ n[i, j], w @ m1[i, j], w @ m2[i, j]
            s00 = (w * w) @ n[i, j]
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = s1 / s0
                rms = np.sqrt(np.clip(s2 / s0 - mean * mean, 0.0, None))
                n_eff = s0 * s0 / s00
            good = (s0 > 0) & (n_eff >= self.MIN_EFFECTIVE_EVENTS)
            out[start:start + _CTAU_CHUNK] = np.where(good, np.maximum(rms, floor), unweighted)
        return out.reshape(c.shape)

    # ----------------------------------------------------------------------------------------
    @classmethod
    def from_output(
        cls,
        output: Mapping[str, Any],
        *,
        mass_gev: float,
        production: str,
        channel: str,
        state: str | None = None,
        z_range: tuple[float, float] = geometry.FORCED_DECAY_Z,
        model: str = "dark_photon",
        name: str = "",
    ) -> SignalSample:
        """From one dataset's processor output (``output["signal"]``, docs/artefacts.md)."""
        what = f"signal dataset {name!r}"
        sig = output.get("signal") if isinstance(output, Mapping) else None
        if not isinstance(sig, Mapping):
            raise InputError(f"{what}: processor output has no 'signal' histograms")
        for key in ("generated", "accepted"):
            if key not in sig:
                raise InputError(f"{what}: 'signal' lacks the {key!r} histogram")
        gen, acc = sig["generated"], sig["accepted"]
        kwargs = {}
        res = sig.get("resolution")
        if res is not None:
            kwargs = dict(
                res_pz_edges=_axis_edges(res, "pz", what),
                res_dz_edges=_axis_edges(res, "dz", what),
                mrel_edges=_axis_edges(res, "mrel", what),
                resolution=_project(res, ("pz", "dz", "mrel"), state, what),
            )
        return cls(
            mass_gev=float(mass_gev),
            production=production,
            channel=channel,
            pz_edges=_axis_edges(gen, "pz", what),
            dz_edges=_axis_edges(gen, "dz", what),
            generated=_project(gen, ("pz", "dz"), None, what),
            accepted=_project(acc, ("pz", "dz"), state, what),
            z_range=(float(z_range[0]), float(z_range[1])),
            model=model,
            name=name,
            n_total=float(sig["n_generated"]) if "n_generated" in sig
            else float(getattr(gen.sum(flow=True), "value", gen.sum(flow=True))),
            **kwargs,
        )

    @classmethod
    def synthetic(
        cls,
        *,
        mass_gev: float,
        pz_gev: float,
        z_range: tuple[float, float],
        n: int,
        efficiency: float = 1.0,
        z_prod: float = 0.0,
        n_dz_bins: int = 200,
    ) -> SignalSample:
        """A sample with every particle at one momentum, decays uniform in ``z_range``.

        Exactly the expectation of an infinite forced-decay sample (for tests and examples):
        ``n`` events spread evenly over the dz bins, a fraction ``efficiency`` accepted.
        """
        dz_edges = np.linspace(z_range[0] - z_prod, z_range[1] - z_prod, n_dz_bins + 1)
        pz_edges = np.array([pz_gev * 0.999, pz_gev * 1.001])
        gen = np.full((1, n_dz_bins), n / n_dz_bins)
        return cls(
            mass_gev=mass_gev, production="synthetic", channel="ee", pz_edges=pz_edges,
            dz_edges=dz_edges, generated=gen, accepted=gen * efficiency,
            z_range=z_range, name="synthetic",
        )


# --------------------------------------------------------------------------------------------
# Interpolation across mass nodes
# --------------------------------------------------------------------------------------------
def _pchip_log_mass(node_masses: np.ndarray, values: np.ndarray, mass: float) -> np.ndarray:
    """PCHIP in ``log M`` of ``values`` (nodes x points), evaluated at ``mass``."""
    if len(node_masses) == 1:
        return values[0]
    f = PchipInterpolator(np.log(node_masses), values, axis=0, extrapolate=False)
    return f(math.log(mass))


def usable_segments(nodes: Sequence[SignalSample]) -> tuple[list[list[SignalSample]], list[float]]:
    """Split mass-sorted ``nodes`` into runs of consecutive nodes that accepted events.

    A node with no accepted event measures nothing but an upper bound on its acceptance; it
    must neither enter the interpolation (as ``log A = -inf`` it would wipe out the yield
    between it and its neighbours) nor be bridged over (its neighbours say nothing about it).
    So the yield is interpolated inside each run of usable nodes and is 0 outside the runs.
    Returns (the runs, the masses of the empty nodes).

    >>> full = SignalSample.synthetic(mass_gev=0.1, pz_gev=50.0, z_range=(100.0, 200.0), n=100)
    >>> import dataclasses
    >>> at = lambda m, eff=1.0: dataclasses.replace(full, mass_gev=m,
    ...                                            accepted=full.generated * eff)
    >>> runs, empty = usable_segments([at(0.1), at(0.2), at(0.3, 0.0), at(0.4)])
    >>> [[s.mass_gev for s in r] for r in runs], empty
    ([[0.1, 0.2], [0.4]], [0.3])
    """
    runs: list[list[SignalSample]] = [[]]
    empty: list[float] = []
    for s in sorted(nodes, key=lambda s: s.mass_gev):
        if s.accepted.sum() > 0:
            runs[-1].append(s)
        else:
            empty.append(s.mass_gev)
            if runs[-1]:
                runs.append([])
    return [r for r in runs if r], empty


def interpolated_acceptance(
    nodes: Sequence[SignalSample], mass: float, ctau_m
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Acceptance ``A``, efficiency and relative resolution at ``mass`` for each ``c tau``.

    ``nodes`` are samples of one production and channel at different masses. Nodes that
    accepted no event split them into runs (:func:`usable_segments`); inside the run that
    spans ``mass``, each node is reweighted at the target's ``c tau / M`` (module docstring)
    and ``log A``, ``log P_D`` and the relative resolution are PCHIP-interpolated in
    ``log M``. Outside every run ``A = 0`` and the efficiency and resolution are NaN.
    (``log A`` is floored at :data:`_LOG_FLOOR` only where a usable node's decay weights
    underflow at an extreme ``c tau``; there every node's ``A`` is vanishingly small.)
    """
    if not nodes:
        raise InputError("no signal sample to interpolate")
    masses = np.array(sorted(s.mass_gev for s in nodes))
    if len(np.unique(masses)) != len(masses):
        raise InputError(f"two signal samples at the same mass: {masses.tolist()}")
    ctau = np.asarray(ctau_m, dtype=float)
    runs, _ = usable_segments(nodes)
    run = next((r for r in runs if r[0].mass_gev * (1 - 1e-9) <= mass
                <= r[-1].mass_gev * (1 + 1e-9)), None)
    if run is None:
        nan = np.full(ctau.shape, np.nan)
        return np.zeros(ctau.shape), nan, nan
    masses = np.array([s.mass_gev for s in run])
    exact = np.isclose(masses, mass, rtol=1e-9, atol=0)
    if exact.any():
        s = run[int(np.argmax(exact))]
        return s.acceptance(ctau), s.efficiency(ctau), s.relative_resolution(ctau)
    # PCHIP on [M_k, M_k+1] depends on the nodes k-1 .. k+2 only (its slope at a node uses
    # the two neighbouring secants, the one-sided end formula the first or last three nodes):
    # reweighting just those gives the same interpolant at a fraction of the cost
    k = int(np.searchsorted(masses, mass)) - 1
    run = run[max(k - 1, 0):k + 3]
    masses = np.array([s.mass_gev for s in run])
    tau_over_m = ctau / mass
    a = np.array([s.acceptance(tau_over_m * s.mass_gev) for s in run])
    p = np.array([s.decay_probability(tau_over_m * s.mass_gev) for s in run])
    r = np.array([s.relative_resolution(tau_over_m * s.mass_gev) for s in run])
    with np.errstate(divide="ignore"):
        la = np.maximum(np.log(a), _LOG_FLOOR)
        lp = np.maximum(np.log(p), _LOG_FLOOR)
    acc = np.exp(_pchip_log_mass(masses, la, mass))
    acc = np.where(acc <= math.exp(_LOG_FLOOR + 1), 0.0, acc)
    pd = np.exp(_pchip_log_mass(masses, lp, mass))
    n_eff = np.array([s.effective_generated(tau_over_m * s.mass_gev) for s in run]).min(axis=0)
    measured = (pd > 0) & (n_eff >= SignalSample.MIN_EFFECTIVE_EVENTS)
    eff = np.divide(acc, pd, out=np.full(acc.shape, np.nan), where=measured)
    # resolution: interpolate only over nodes where it is defined
    ok = np.all(np.isfinite(r), axis=tuple(range(1, r.ndim)))
    res = (
        _pchip_log_mass(masses[ok], r[ok], mass) if ok.sum() >= 2 and masses[ok][0] <= mass
        <= masses[ok][-1] else np.full(ctau.shape, np.nan)
    )
    return acc, eff, res


def coverage(nodes: Sequence[SignalSample]) -> dict[str, Any]:
    """Where the interpolated yield of ``nodes`` exists, and why it stops (for the outputs).

    ``{"ranges_gev": [[lo, hi], ...], "nodes": [{"mass_gev", "accepted_events",
    "generated_events"}...], "empty_nodes_gev": [...], "note": text}``: the yield is
    interpolated inside each range and is 0 outside (below the first node, above the last,
    and around each node that accepted no event).
    """
    runs, empty = usable_segments(nodes)
    ranges = [[r[0].mass_gev, r[-1].mass_gev] for r in runs]
    ordered = sorted(nodes, key=lambda s: s.mass_gev)
    note = ("no node accepted an event: no yield" if not ranges else
            "yield interpolated in " + ", ".join(f"{1e3 * a:.1f}-{1e3 * b:.1f} MeV"
                                                 for a, b in ranges)
            + " (the simulated masses); 0 outside")
    if empty:
        note += "; no accepted event at " + ", ".join(f"{1e3 * m:.1f}" for m in empty) + " MeV"
    return {
        "ranges_gev": ranges,
        "nodes": [{"mass_gev": s.mass_gev, "accepted_events": float(s.accepted.sum()),
                   "generated_events": s.n_generated} for s in ordered],
        "empty_nodes_gev": empty,
        "note": note,
    }


# --------------------------------------------------------------------------------------------
# Yield tables
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class YieldTable:
    """N_exp over a (mass, coupling) grid per production mode, with efficiency and resolution.

    ``coupling_name`` is ``"eps"`` (dark photon) or ``"ctau_m"`` (ALP and scalar: N_exp per
    unit BR x BR). Arrays are (mass x coupling).
    """

    model: str
    channel: str
    mass_gev: np.ndarray
    coupling_name: str
    coupling: np.ndarray
    n_exp: Mapping[str, np.ndarray]
    efficiency: Mapping[str, np.ndarray]
    sigma_m_gev: Mapping[str, np.ndarray]
    n_pot: float
    notes: str = ""
    #: Per production mode, where the yield exists and why it stops (:func:`coverage`).
    coverage: Mapping[str, Any] = field(default_factory=dict)
    #: Physics options the table was computed with (e.g. ``{"brems_form_factor": "none"}``).
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> np.ndarray:
        return np.sum(list(self.n_exp.values()), axis=0)

    def sigma_m_combined(self) -> np.ndarray:
        """Yield-weighted mean resolution over production modes (GeV)."""
        num = np.zeros_like(self.total)
        den = np.zeros_like(self.total)
        for mode, n in self.n_exp.items():
            s = self.sigma_m_gev[mode]
            ok = np.isfinite(s) & (n > 0)
            num += np.where(ok, n * s, 0.0)
            den += np.where(ok, n, 0.0)
        return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)

    def to_json(self) -> dict[str, Any]:
        def clean(a):
            a = np.asarray(a, dtype=float)
            return [[None if not math.isfinite(v) else float(v) for v in row] for row in a]

        return {
            "model": self.model,
            "channel": self.channel,
            "mass_gev": [float(m) for m in self.mass_gev],
            self.coupling_name: [float(c) for c in self.coupling],
            "coupling": self.coupling_name,
            "n_pot": float(self.n_pot),
            "n_exp": {k: clean(v) for k, v in self.n_exp.items()},
            "n_exp_total": clean(self.total),
            "efficiency": {k: clean(v) for k, v in self.efficiency.items()},
            "sigma_m_gev": {k: clean(v) for k, v in self.sigma_m_gev.items()},
            "notes": self.notes,
            "coverage": dict(self.coverage),
            "options": dict(self.options),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], what: str = "yields") -> YieldTable:
        try:
            name = data["coupling"]

            def arr(a):
                return np.array([[np.nan if v is None else v for v in row] for row in a], float)

            return cls(
                model=data["model"],
                channel=data["channel"],
                mass_gev=np.asarray(data["mass_gev"], float),
                coupling_name=name,
                coupling=np.asarray(data[name], float),
                n_exp={k: arr(v) for k, v in data["n_exp"].items()},
                efficiency={k: arr(v) for k, v in data["efficiency"].items()},
                sigma_m_gev={k: arr(v) for k, v in data["sigma_m_gev"].items()},
                n_pot=float(data["n_pot"]),
                notes=data.get("notes", ""),
                coverage=dict(data.get("coverage", {})),
                options=dict(data.get("options", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{what}: malformed yield table ({err!r})") from err


def dark_photon_yields(
    samples: Sequence[SignalSample],
    mass_gev,
    eps,
    *,
    production_rate: Callable[[str, np.ndarray], np.ndarray],
    branching_ratio: Callable[[np.ndarray], np.ndarray],
    ctau_m: Callable[[float, float], float],
    n_pot: float = geometry.N_POT,
    channel: str = "ee",
    model: str = "dark_photon",
    coupling_name: str = "eps",
    rate_power: float = 2.0,
    options: Mapping[str, Any] | None = None,
) -> YieldTable:
    """``N_exp`` table over ``mass_gev`` x coupling for one decay channel.

    For the dark photon (coupling ``eps``, ``rate_power=2``) and any model whose production
    scales as a power of its coupling (the dark scalar: ``coupling_name="sin2theta",
    rate_power=1``). ``production_rate(mode, masses)``: particles per POT at coupling 1 for
    production ``mode`` (the rate scales as coupling**rate_power); ``branching_ratio(masses)``:
    BR(X -> channel);
    ``ctau_m(mass, couplings)``: proper decay length (m), vectorised over the couplings.
    """
    if not (n_pot > 0 and math.isfinite(n_pot)):
        raise InputError(f"N_POT must be > 0, got {n_pot!r}")
    masses = np.asarray(mass_gev, dtype=float)
    eps = np.asarray(eps, dtype=float)
    if np.any(masses <= 0) or np.any(eps <= 0):
        raise InputError("masses and couplings must be > 0")
    modes: dict[str, list[SignalSample]] = {}
    for s in samples:
        if s.channel == channel:
            modes.setdefault(s.production, []).append(s)
    if not modes:
        raise InputError(f"no {model} signal sample for channel {channel!r}")
    br = np.asarray(branching_ratio(masses), dtype=float)
    n_exp, effs, sig, cover = {}, {}, {}, {}
    for mode, nodes in sorted(modes.items()):
        cover[mode] = coverage(nodes)
        if cover[mode]["empty_nodes_gev"] or not cover[mode]["ranges_gev"]:
            logger.warning("%s %s %s: %s", model, channel, mode, cover[mode]["note"])
        rate = np.asarray(production_rate(mode, masses), dtype=float)
        n = np.zeros((masses.size, eps.size))
        e = np.full_like(n, np.nan)
        r = np.full_like(n, np.nan)
        for i, m in enumerate(masses):
            ct = np.asarray(ctau_m(float(m), eps), dtype=float)
            a, e[i], r[i] = interpolated_acceptance(nodes, float(m), ct)
            n[i] = n_pot * rate[i] * eps**rate_power * br[i] * a
        n_exp[mode], effs[mode], sig[mode] = n, e, r * masses[:, None]
        logger.info("%s %s: max N_exp %.3g", channel, mode, float(n.max()))
    return YieldTable(
        model=model, channel=channel, mass_gev=masses, coupling_name=coupling_name,
        coupling=eps, n_exp=n_exp, efficiency=effs, sigma_m_gev=sig, n_pot=n_pot,
        notes=f"N_exp = N_POT x rate(M) {coupling_name}^{rate_power:g} x BR x A(M, ctau); "
        "A interpolated in log M at fixed ctau/M (na62dump.yields)", coverage=cover,
        options=dict(options or {}),
    )


def lifetime_yields(
    samples: Sequence[SignalSample],
    ctau_m,
    *,
    parents_per_pot: float,
    model: str,
    channel: str,
    n_pot: float = geometry.N_POT,
) -> YieldTable:
    """``N_exp`` per unit ``BR x BR`` over (sample masses x ``c tau``), for ALPs and scalars.

    ``N_exp = N_POT x parents_per_pot x BR(B -> K X) x BR(X -> f) x A(c tau)``, linear in the
    product of branching ratios, which is the free parameter; the table holds the yield at
    ``BR x BR = 1``. Only the generated masses are used (no interpolation).
    """
    if not (n_pot > 0 and parents_per_pot > 0):
        raise InputError("N_POT and parents per POT must be > 0")
    nodes = sorted((s for s in samples if s.channel == channel), key=lambda s: s.mass_gev)
    if not nodes:
        raise InputError(f"no {model} signal sample for channel {channel!r}")
    ct = np.asarray(ctau_m, dtype=float)
    masses = np.array([s.mass_gev for s in nodes])
    a = np.array([s.acceptance(ct) for s in nodes])
    eff = np.array([s.efficiency(ct) for s in nodes])
    res = np.array([s.relative_resolution(ct) for s in nodes]) * masses[:, None]
    mode = nodes[0].production
    cover = coverage(nodes)
    if cover["empty_nodes_gev"]:
        logger.warning("%s %s: %s", model, channel, cover["note"])
    return YieldTable(
        model=model, channel=channel, mass_gev=masses, coupling_name="ctau_m", coupling=ct,
        n_exp={mode: n_pot * parents_per_pot * a}, efficiency={mode: eff},
        sigma_m_gev={mode: res}, n_pot=n_pot, coverage={mode: cover},
        notes="N_exp at BR x BR = 1: N_POT x parents/POT x A(ctau) (na62dump.yields)",
    )


def yields_path(results_dir: str | os.PathLike, model: str, channel: str) -> Path:
    """``DIR/limits/yields/<model>_<channel>.json`` (:func:`na62dump.artefacts.yields_dir`)."""
    return artefacts.yields_dir(results_dir) / f"{model}_{channel}.json"


def write_table(directory: str | os.PathLike, table: YieldTable,
                record: Mapping[str, Any] | None = None) -> Path:
    """Write ``directory/<model>_<channel>.json`` atomically, with the provenance ``record``
    of the stage that computed it (``"provenance"``); ``directory`` is the yields directory
    of the limit set being written (``<set>/yields``)."""
    payload = table.to_json()
    if record:
        payload["provenance"] = dict(record)
    return atomic.write_json(Path(directory) / f"{table.model}_{table.channel}.json", payload)


# --------------------------------------------------------------------------------------------
# From the stage-2 outputs and the physics models
# --------------------------------------------------------------------------------------------
def signal_samples_from_results(results_dir: str | os.PathLike, model: str,
                                channels: Sequence[str] | None = None) -> list[SignalSample]:
    """The processed signal samples of ``model`` found in ``DIR/run/*.coffea``: those of its
    own datasets, or for a model that reads another's samples (``finalstates.samples_model``:
    BC10 the ALP's) those of that model.

    Each dataset's mass, production, final state and forced-decay range come from the run's
    own record (the ``datasets`` of :func:`na62dump.runner.read_summary`); a signal output
    that the record does not describe is an error (the run's outputs and ``summary.json``
    disagree).
    """
    from na62dump import runner
    from na62dump.finalstates import samples_model
    from processors import PROCESSORS

    dataset_model = samples_model(model)
    records = runner.read_summary(results_dir)["datasets"]
    out = []
    for analysis in channels or list(PROCESSORS):
        if not runner.output_path(results_dir, analysis).is_file():
            continue
        outputs = runner.load_output(results_dir, analysis)
        for name, output in sorted(outputs.items()):
            if not isinstance(output, Mapping) or "signal" not in output:
                continue
            rec = records.get(name)
            if rec is None:
                raise InputError(
                    f"{runner.output_path(results_dir, analysis)}: signal dataset {name!r} is "
                    f"not in the 'datasets' record of {artefacts.summary_path(results_dir)}; "
                    "rerun `na62dump run`")
            meta = rec["metadata"]
            if meta.get("model") != dataset_model:
                continue
            try:
                mass, production, state = (float(meta["mass_gev"]), str(meta["production"]),
                                           str(meta["channel"]))
            except KeyError as err:
                raise InputError(f"{Path(results_dir) / 'summary.json'}: signal dataset "
                                 f"{name!r} has no {err.args[0]!r} in its metadata") from None
            z_range = tuple(meta.get("z_range_m", geometry.FORCED_DECAY_Z))
            out.append(SignalSample.from_output(
                output, mass_gev=mass, production=production, channel=state, state=state,
                z_range=z_range, model=model, name=name))
    return out


def dark_photon_production_rate(mode: str, masses,
                                form_factor: str = settings.DEFAULT_BREMS_FORM_FACTOR
                                ) -> np.ndarray:
    """A' per POT at eps = 1 for production ``mode`` (``brems`` or a meson name).

    ``form_factor``: the proton form factor of the bremsstrahlung rate
    (:mod:`na62dump.physics.brems`; ``"none"`` is the published treatment).
    """
    from na62dump.physics import brems, mesons

    m = np.asarray(masses, dtype=float)
    if mode == "brems":
        return np.asarray(brems.rate_per_pot(m, 1.0, form_factor=form_factor), dtype=float)
    if mode in mesons.MESONS:
        return np.asarray(mesons.rate_per_pot(m, mode, 1.0), dtype=float)
    raise InputError(f"dark photon: unknown production mode {mode!r}")


def mass_grid(samples: Sequence[SignalSample], n: int) -> np.ndarray:
    """``n`` log-spaced masses spanning the sample masses (GeV)."""
    masses = sorted({s.mass_gev for s in samples})
    if not masses:
        raise InputError("no signal sample: no mass grid")
    if n < 1:
        raise InputError(f"--masses {n}: must be >= 1")
    if len(masses) == 1 or n == 1:
        return np.array(masses[:1] if n == 1 else masses)
    return np.geomspace(masses[0], masses[-1], n)


def dark_photon_table(samples, channel: str, masses, eps, n_pot: float,
                      form_factor: str = settings.DEFAULT_BREMS_FORM_FACTOR) -> YieldTable:
    """:func:`dark_photon_yields` with the physics of :mod:`na62dump.physics.dark_photon`.

    ``form_factor`` is the bremsstrahlung proton form factor (``"none"``, the published
    treatment, or ``"vmd"``); it is recorded in the table's ``options``.
    """
    from na62dump.physics import dark_photon

    def br(m):
        return np.asarray(dark_photon.branching_ratios(m)[channel], dtype=float)

    def rate(mode, m):
        # meson production closes above the meson's threshold; keep it at 0 there
        return np.nan_to_num(dark_photon_production_rate(mode, m, form_factor))

    return dark_photon_yields(samples, masses, eps, production_rate=rate, branching_ratio=br,
                              ctau_m=dark_photon.ctau_m, n_pot=n_pot, channel=channel,
                              options={"brems_form_factor": form_factor})


def _one_mode_table(physics, samples, channel: str, masses, couplings, n_pot: float, *,
                    model: str, coupling_name: str, rate_power: float) -> YieldTable:
    """Yields of a model with one production mode over (M, coupling), from its physics module:
    ``physics.branching_ratios(M)[channel]``, ``physics.n_produced_per_pot(M, 1)`` (scaled as
    coupling^rate_power) and ``physics.ctau_m``."""

    def br(m):
        return np.asarray(physics.branching_ratios(m)[channel], dtype=float)

    def rate(mode, m):
        return np.asarray(physics.n_produced_per_pot(np.ravel(m), 1.0), dtype=float)

    return dark_photon_yields(samples, masses, couplings, production_rate=rate,
                              branching_ratio=br, ctau_m=physics.ctau_m, n_pot=n_pot,
                              channel=channel, model=model, coupling_name=coupling_name,
                              rate_power=rate_power)


def dark_scalar_table(samples, channel: str, masses, sin2theta, n_pot: float) -> YieldTable:
    """Dark scalar yields over (M, sin^2 theta), the PBC parameter (:mod:`na62dump.physics.
    scalar`): production B -> K_X S summed over the kaon states, linear in sin^2 theta."""
    from na62dump.physics import scalar

    return _one_mode_table(scalar, samples, channel, masses, sin2theta, n_pot,
                           model="dark_scalar", coupling_name="sin2theta", rate_power=1.0)


def alp_gluon_table(samples, channel: str, masses, cgg, n_pot: float) -> YieldTable:
    """Yields of the ALP coupled to gluons (BC11) over (M, c_GG / Lambda in GeV^-1)
    (:mod:`na62dump.physics.alp_gluon`): production by mixing with pi0, eta, eta' (one mode,
    ``mixing``), quadratic in the coupling, BR and c tau from the ASW widths. Masses of the
    grid inside the pi0 / eta / eta' pole windows, where the first-order mixing fails
    (``alp_gluon.off_poles``), are left out. The production in B decays is left out too: at
    most 3e-9 of the mixing yield (``alp_gluon.b_production_check``)."""
    from na62dump.physics import alp_gluon

    masses = np.asarray(masses, dtype=float)
    return _one_mode_table(alp_gluon, samples, channel, masses[alp_gluon.off_poles(masses)],
                           cgg, n_pot, model="alp_gluon", coupling_name="cgg", rate_power=2.0)


def alp_fermion_table(samples, channel: str, masses, cff, n_pot: float) -> YieldTable:
    """Yields of the ALP coupled to fermions (BC10) over (M, c_ff / Lambda in GeV^-1)
    (:mod:`na62dump.physics.alp_fermion`) from the model-independent ALP samples (production
    ``b_meson``, B -> K a kinematics): N_POT x B_PER_POT x BR(B -> K_X a) (quadratic in the
    coupling) x BR(a -> channel) x A(M, c tau), c tau and the BRs from its widths."""
    from na62dump.physics import alp_fermion

    return _one_mode_table(alp_fermion, samples, channel, masses, cff, n_pot,
                           model="alp_fermion", coupling_name="cff", rate_power=2.0)


def alp_table(samples, channel: str, ctau_m, n_pot: float) -> YieldTable:
    """ALP yields per unit BR x BR at the sample masses (:mod:`na62dump.physics.alp`)."""
    from na62dump.physics import alp

    return lifetime_yields(samples, ctau_m, parents_per_pot=float(alp.n_produced_per_pot(1.0)),
                           model="alp", channel=channel, n_pot=n_pot)
