"""Track association with LKr clusters (E/p) and with MUV3 signals.

Both work on jagged per-event lists: the track quantities are lists of tracks, the detector
signals lists of clusters / tiles, and the association is done for every track against every
signal of its event (``ak.cartesian(..., nested=True)``), without loops.

>>> import awkward as ak
>>> clusters = ak.Array([[{"x": 0.50, "y": 0.0, "time": 0.0, "energy": 20.0},
...                       {"x": 0.52, "y": 0.0, "time": 0.0, "energy": 5.0}]])
>>> e, idx = lkr_energy(ak.Array([[0.515]]), ak.Array([[0.0]]), ak.Array([[0.0]]),
...                     clusters, max_distance=0.05, max_dt=5.0, min_energy=1.0)
>>> e.tolist(), idx.tolist()
([[5.0]], [[1]])
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from na62dump.selection.flat import cartesian, group_any, group_argmin


def _track_signal_pairs(x, y, t, signals, fields):
    tracks = ak.zip({"x": x, "y": y, "t": t})
    sig = ak.zip({f: signals[f] for f in fields})
    return ak.cartesian({"trk": tracks, "sig": sig}, axis=1, nested=True)


def lkr_energy(x, y, t, clusters, max_distance, max_dt, min_energy):
    """Energy (GeV) and index of the LKr cluster closest to each track at the LKr plane.

    Parameters
    ----------
    x, y, t : jagged arrays
        Extrapolated track position at the LKr front plane (m) and track time (ns).
    clusters : jagged record array
        ``Cluster`` collection (``x``, ``y``, ``time``, ``energy``).
    max_distance, max_dt, min_energy : float
        Spatial (m) and time (ns) windows and the minimum cluster energy (GeV).

    Returns
    -------
    energy, index : jagged arrays like ``x``
        Energy 0 and index -1 where no cluster is associated.
    """
    pairs = _track_signal_pairs(x, y, t, clusters, ("x", "y", "time", "energy"))
    d = np.hypot(pairs.sig.x - pairs.trk.x, pairs.sig.y - pairs.trk.y)
    ok = (
        (d < max_distance)
        & (np.abs(pairs.sig.time - pairs.trk.t) < max_dt)
        & (pairs.sig.energy > min_energy)
    )
    d = ak.where(ok, d, np.inf)
    best = ak.argmin(d, axis=2, keepdims=True)
    best_ok = ak.fill_none(ak.firsts(ok[best], axis=2), False)
    energy = ak.fill_none(ak.firsts(pairs.sig.energy[best], axis=2), 0.0)
    index = ak.fill_none(ak.firsts(best, axis=2), -1)
    return ak.where(best_ok, energy, 0.0), ak.where(best_ok, index, -1)


def muv3_search_radius(p, const_m, ms_m_gev):
    """Momentum-dependent MUV3 search radius ``R(p) = const_m + ms_m_gev / p`` (m).

    The 1/p term follows the multiple scattering in the calorimeters and the iron wall.

    >>> float(muv3_search_radius(10.0, 0.15, 2.0))
    0.35
    """
    return const_m + ms_m_gev / p


def muv3_associated(x, y, t, p, muv3, radius_const_m, radius_ms_m_gev, max_dt):
    """True for tracks with a MUV3 signal within ``R(p)`` of the extrapolated position and in time.

    ``x``, ``y``: track position at the MUV3 plane (m); ``t``: track time (ns); ``p`` (GeV).
    """
    pairs = _track_signal_pairs(x, y, t, muv3, ("x", "y", "time"))
    radius = muv3_search_radius(p, radius_const_m, radius_ms_m_gev)
    d = np.hypot(pairs.sig.x - pairs.trk.x, pairs.sig.y - pairs.trk.y)
    ok = (d < radius) & (np.abs(pairs.sig.time - pairs.trk.t) < max_dt)
    return ak.any(ok, axis=2)


# ---------------------------------------------------------------------------------------------
# Flat fast path (numpy arrays + offsets, see na62dump.selection.flat)
# ---------------------------------------------------------------------------------------------
def _track_signal_index(event, signals):
    """``(track, signal)`` index pairs: every track against every signal of its event."""
    n = len(event)
    track_starts = np.arange(n)
    return cartesian(track_starts, track_starts + 1, signals.starts[event], signals.stops[event])


def lkr_energy_flat(x, y, t, event, clusters, max_distance, max_dt, min_energy):
    """:func:`lkr_energy` for flat per-track arrays; ``event``: each track's event index,
    ``clusters``: a :class:`~na62dump.selection.flat.FlatCollection`. The index returned is
    the cluster's global (flat) index, -1 where none is associated."""
    trk, _, sig = _track_signal_index(event, clusters)
    d = np.hypot(clusters.x[sig] - x[trk], clusters.y[sig] - y[trk])
    ok = (
        (d < max_distance)
        & (np.abs(clusters.time[sig] - t[trk]) < max_dt)
        & (clusters.energy[sig] > min_energy)
    )
    best = group_argmin(d[ok], trk[ok], len(x))
    found = best >= 0
    index = np.full(len(x), -1)
    index[found] = sig[ok][best[found]]
    energy = np.zeros(len(x))
    energy[found] = clusters.energy[index[found]]
    return energy, index


def muv3_associated_flat(x, y, t, p, event, muv3, radius_const_m, radius_ms_m_gev, max_dt):
    """:func:`muv3_associated` for flat per-track arrays (see :func:`lkr_energy_flat`)."""
    trk, _, sig = _track_signal_index(event, muv3)
    radius = muv3_search_radius(p, radius_const_m, radius_ms_m_gev)
    d = np.hypot(muv3.x[sig] - x[trk], muv3.y[sig] - y[trk])
    ok = (d < radius[trk]) & (np.abs(muv3.time[sig] - t[trk]) < max_dt)
    return group_any(ok, trk, len(x))
