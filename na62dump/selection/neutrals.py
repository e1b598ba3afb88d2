"""Neutral candidates from LKr clusters: photons, pi0 -> gamma gamma and eta -> gamma gamma.

Photons are LKr clusters not associated to any track (farther than a minimum distance from
every extrapolated track at the LKr front plane), in the LKr acceptance, above an energy
threshold and in time with the vertex. Their momenta point from the *vertex* to the cluster,
so a gamma gamma invariant mass depends on the vertex position, as in the experiment.
Candidates of a final state are chosen deterministically per event:

- one photon: the most energetic one;
- one pi0 (eta): the in-window pair closest to the nominal mass (first such pair on ties);
- two pi0: the pairing of disjoint in-window pairs with the smallest sum of squared mass
  differences.

>>> import awkward as ak, numpy as np
>>> from na62dump.geometry import LKR_Z
>>> # two 10 GeV photons from (0, 0, LKR_Z - 50) at +-0.3375 m: m = 2 E sin(theta / 2) ~ 0.135
>>> ph = ak.Array([[{"E": 10.0, "px": 10 * 0.3375 / np.hypot(0.3375, 50), "py": 0.0,
...                  "pz": 10 * 50 / np.hypot(0.3375, 50), "x": 0.3375, "y": 0.0},
...                 {"E": 10.0, "px": -10 * 0.3375 / np.hypot(0.3375, 50), "py": 0.0,
...                  "pz": 10 * 50 / np.hypot(0.3375, 50), "x": -0.3375, "y": 0.0}]])
>>> pairs = gamma_gamma_pairs(ph, min_separation=0.1)
>>> round(float(pairs.mass[0][0]), 4)
0.135
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from na62dump import geometry
from na62dump.finalstates import FINAL_STATES
from na62dump.selection.flat import (
    FlatCollection,
    cartesian,
    combinations,
    group_argmin,
    group_min,
    offsets_from_counts,
)


def invariant_mass(e, px, py, pz):
    """sqrt(max(E^2 - p^2, 0)) (GeV)."""
    return np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))


def photon_candidates(clusters, track_x, track_y, vertex, cuts):
    """Photon candidates per event, with four-momenta pointing from the vertex.

    Parameters
    ----------
    clusters : jagged ``Cluster`` collection.
    track_x, track_y : jagged arrays
        Extrapolated positions of the event's tracks at the LKr front plane (m).
    vertex : record per event with ``x``, ``y``, ``z`` (m) and ``time`` (ns).
    cuts : ``NeutralCuts``.

    Returns
    -------
    jagged record array with ``E``, ``px``, ``py``, ``pz``, ``x``, ``y``, ``time``, ``i``
    (cluster index).
    """
    trk = ak.zip({"x": track_x, "y": track_y})
    cl = ak.zip({"x": clusters.x, "y": clusters.y, "i": ak.local_index(clusters.x, axis=1)})
    pairs = ak.cartesian({"c": cl, "t": trk}, axis=1, nested=True)
    d = np.hypot(pairs.c.x - pairs.t.x, pairs.c.y - pairs.t.y)
    d_min = ak.fill_none(ak.min(d, axis=2), np.inf)
    ok = (
        (clusters.energy > cuts.photon_energy_min_gev)
        & (np.abs(clusters.time - vertex.time) < cuts.photon_time_window_ns)
        & (d_min > cuts.photon_track_distance_min_m)
        & geometry.in_lkr_acceptance(clusters.x, clusters.y)
    )
    c = clusters[ok]
    dx, dy, dz = c.x - vertex.x, c.y - vertex.y, geometry.LKR_Z - vertex.z
    norm = np.sqrt(dx * dx + dy * dy + dz * dz)
    return ak.zip(
        {
            "E": c.energy,
            "px": c.energy * dx / norm,
            "py": c.energy * dy / norm,
            "pz": c.energy * dz / norm,
            "x": c.x,
            "y": c.y,
            "time": c.time,
            "i": cl.i[ok],
        }
    )


def gamma_gamma_pairs(photons, min_separation):
    """All photon pairs separated by more than ``min_separation`` (m) at the LKr.

    Fields: ``E``, ``px``, ``py``, ``pz`` (sum), ``mass`` (GeV), ``i1``, ``i2`` (the photons'
    positions in ``photons``).
    """
    idx = ak.local_index(photons.E, axis=1)
    ph = ak.zip({"E": photons.E, "px": photons.px, "py": photons.py, "pz": photons.pz,
                 "x": photons.x, "y": photons.y, "k": idx})  # fmt: skip
    p = ak.combinations(ph, 2, axis=1, fields=["a", "b"])
    p = p[np.hypot(p.a.x - p.b.x, p.a.y - p.b.y) > min_separation]
    e, px, py, pz = p.a.E + p.b.E, p.a.px + p.b.px, p.a.py + p.b.py, p.a.pz + p.b.pz
    return ak.zip(
        {"E": e, "px": px, "py": py, "pz": pz, "mass": invariant_mass(e, px, py, pz),
         "i1": p.a.k, "i2": p.b.k}
    )  # fmt: skip


def _zero_system(n_events_like):
    zero = ak.zeros_like(n_events_like, dtype=np.float64)
    return ak.zip({"E": zero, "px": zero, "py": zero, "pz": zero})


def best_photon(photons):
    """The most energetic photon per event (None if there is none)."""
    best = ak.argmax(photons.E, axis=1, keepdims=True)
    return ak.firsts(photons[best], axis=1)


def best_pair(pairs, mass, window):
    """The in-window gamma gamma pair closest to ``mass`` per event (None if none)."""
    pairs = pairs[np.abs(pairs.mass - mass) < window]
    best = ak.argmin(np.abs(pairs.mass - mass), axis=1, keepdims=True)
    return ak.firsts(pairs[best], axis=1)


def best_two_pairs(pairs, mass, window):
    """Two disjoint in-window pairs minimising the summed squared mass difference (or None)."""
    pairs = pairs[np.abs(pairs.mass - mass) < window]
    two = ak.combinations(pairs, 2, axis=1, fields=["a", "b"])
    disjoint = (
        (two.a.i1 != two.b.i1)
        & (two.a.i1 != two.b.i2)
        & (two.a.i2 != two.b.i1)
        & (two.a.i2 != two.b.i2)
    )
    two = two[disjoint]
    chi2 = (two.a.mass - mass) ** 2 + (two.b.mass - mass) ** 2
    best = ak.firsts(two[ak.argmin(chi2, axis=1, keepdims=True)], axis=1)
    return ak.zip({k: best.a[k] + best.b[k] for k in ("E", "px", "py", "pz")})


#: Neutral content of each final state with a neutral requirement: (photons, pi0, eta), the
#: ``neutrals`` of the registry (:mod:`na62dump.finalstates`).
NEUTRAL_CONTENT: dict[str, tuple[int, int, int]] = {
    s.key: s.neutrals for s in FINAL_STATES if s.neutrals is not None
}


def neutral_system(state, photons, cuts, m_pi0, m_eta, pairs=None):
    """Best neutral system (``E``, ``px``, ``py``, ``pz``) of ``state`` per event, or None.

    The photon multiplicity must be the state's (``NEUTRAL_CONTENT``), with at most
    ``cuts.extra_photons_max`` extra photons. ``pairs``: the :func:`gamma_gamma_pairs` of
    ``photons``, if already computed (several states share them).
    """
    n_gamma, n_pi0, n_eta = NEUTRAL_CONTENT[state]
    n_needed = n_gamma + 2 * n_pi0 + 2 * n_eta
    n = ak.num(photons.E, axis=1)
    multiplicity_ok = (n >= n_needed) & (n <= n_needed + cuts.extra_photons_max)
    if n_needed == 0:
        system = _zero_system(n)
    elif n_gamma == 1:
        system = best_photon(photons)
    else:
        if pairs is None:
            pairs = gamma_gamma_pairs(photons, cuts.photon_separation_min_m)
        if n_pi0 == 2:
            system = best_two_pairs(pairs, m_pi0, cuts.pi0_mass_window_gev)
        elif n_pi0 == 1:
            system = best_pair(pairs, m_pi0, cuts.pi0_mass_window_gev)
        else:
            system = best_pair(pairs, m_eta, cuts.eta_mass_window_gev)
    present = ~ak.is_none(system.E, axis=0)
    system = ak.zip({k: ak.fill_none(system[k], 0.0) for k in ("E", "px", "py", "pz")})
    return ak.mask(system, multiplicity_ok & present)


# ---------------------------------------------------------------------------------------------
# Flat fast path (numpy arrays + offsets, see na62dump.selection.flat); same choices as above
# ---------------------------------------------------------------------------------------------
def photon_candidates_flat(clusters, track_x, track_y, track_offsets, vertex, cuts):
    """:func:`photon_candidates` on flat arrays.

    ``clusters``: a :class:`~na62dump.selection.flat.FlatCollection`; ``track_x``,
    ``track_y``: flat track positions at the LKr with ``track_offsets``; ``vertex``: mapping
    of per-event arrays ``x``, ``y``, ``z``, ``time`` (NaN where there is no vertex). Returns
    a ``FlatCollection`` of photons (``E``, ``px``, ``py``, ``pz``, ``x``, ``y``, ``time``).
    """
    n_cl = len(clusters.x)
    event = clusters.event
    cl, _, trk = cartesian(np.arange(n_cl), np.arange(n_cl) + 1, track_offsets[:-1][event],
                           track_offsets[1:][event])  # fmt: skip
    d = np.hypot(clusters.x[cl] - track_x[trk], clusters.y[cl] - track_y[trk])
    d_min = group_min(d, cl, n_cl)
    ok = (
        (clusters.energy > cuts.photon_energy_min_gev)
        & (np.abs(clusters.time - vertex["time"][event]) < cuts.photon_time_window_ns)
        & (d_min > cuts.photon_track_distance_min_m)
        & geometry.in_lkr_acceptance(clusters.x, clusters.y)
    )
    ev = event[ok]
    e, x, y = clusters.energy[ok], clusters.x[ok], clusters.y[ok]
    dx, dy, dz = x - vertex["x"][ev], y - vertex["y"][ev], geometry.LKR_Z - vertex["z"][ev]
    norm = np.sqrt(dx * dx + dy * dy + dz * dz)
    fields = {"E": e, "px": e * dx / norm, "py": e * dy / norm, "pz": e * dz / norm,
              "x": x, "y": y, "time": clusters.time[ok]}  # fmt: skip
    n_events = len(clusters.offsets) - 1
    return FlatCollection(offsets_from_counts(np.bincount(ev, minlength=n_events)), fields)


def gamma_gamma_pairs_flat(photons, min_separation):
    """:func:`gamma_gamma_pairs` of a ``FlatCollection`` of photons: a dict of flat pair
    arrays (``event``, ``i1``, ``i2`` the photons' flat indices, ``E``, ``px``, ``py``,
    ``pz``, ``mass``), event by event."""
    event, a, b = combinations(photons.starts, photons.stops)
    keep = np.hypot(photons.x[a] - photons.x[b], photons.y[a] - photons.y[b]) > min_separation
    event, a, b = event[keep], a[keep], b[keep]
    e, px, py, pz = (photons[k][a] + photons[k][b] for k in ("E", "px", "py", "pz"))
    return {"event": event, "i1": a, "i2": b, "E": e, "px": px, "py": py, "pz": pz,
            "mass": invariant_mass(e, px, py, pz)}  # fmt: skip


def _take(parts, index, found):
    """Per-event ``E``, ``px``, ``py``, ``pz`` (float64, 0 where not ``found``)."""
    out = {}
    for k in ("E", "px", "py", "pz"):
        out[k] = np.zeros(len(index))
        out[k][found] = parts[k][index[found]]
    return out


def _in_window(pairs, mass, window):
    keep = np.abs(pairs["mass"] - mass) < window
    return {k: v[keep] for k, v in pairs.items()}


def best_two_pairs_flat(pairs, mass, window, n_events):
    """:func:`best_two_pairs` on flat pairs: ``(found, system)`` per event."""
    pairs = _in_window(pairs, mass, window)
    n = np.bincount(pairs["event"], minlength=n_events)
    offsets = offsets_from_counts(n)
    event, a, b = combinations(offsets[:-1], offsets[1:])
    i1, i2 = pairs["i1"], pairs["i2"]
    disjoint = (i1[a] != i1[b]) & (i1[a] != i2[b]) & (i2[a] != i1[b]) & (i2[a] != i2[b])
    event, a, b = event[disjoint], a[disjoint], b[disjoint]
    chi2 = (pairs["mass"][a] - mass) ** 2 + (pairs["mass"][b] - mass) ** 2
    best = group_argmin(chi2, event, n_events)
    found = best >= 0
    two = {k: pairs[k][a] + pairs[k][b] for k in ("E", "px", "py", "pz")}
    return found, _take(two, best, found)


def neutral_system_flat(state, photons, cuts, m_pi0, m_eta, pairs=None):
    """:func:`neutral_system` on a ``FlatCollection`` of photons (``pairs``: from
    :func:`gamma_gamma_pairs_flat`). Returns ``(found, system)``: per event, whether the
    state's neutral system exists, and its ``E``, ``px``, ``py``, ``pz`` (0 where not)."""
    n_gamma, n_pi0, n_eta = NEUTRAL_CONTENT[state]
    n_needed = n_gamma + 2 * n_pi0 + 2 * n_eta
    n_events = len(photons.offsets) - 1
    n = photons.counts
    multiplicity_ok = (n >= n_needed) & (n <= n_needed + cuts.extra_photons_max)
    if n_needed == 0:
        found = np.ones(n_events, bool)
        system = {k: np.zeros(n_events) for k in ("E", "px", "py", "pz")}
    elif n_gamma == 1:
        best = group_argmin(-photons.E, photons.event, n_events)
        found = best >= 0
        system = _take(photons.fields, best, found)
    else:
        if pairs is None:
            pairs = gamma_gamma_pairs_flat(photons, cuts.photon_separation_min_m)
        if n_pi0 == 2:
            found, system = best_two_pairs_flat(pairs, m_pi0, cuts.pi0_mass_window_gev, n_events)
        else:
            m, window = (m_pi0, cuts.pi0_mass_window_gev) if n_pi0 else (m_eta,
                                                                        cuts.eta_mass_window_gev)
            near = _in_window(pairs, m, window)
            best = group_argmin(np.abs(near["mass"] - m), near["event"], n_events)
            found = best >= 0
            system = _take(near, best, found)
    found = found & multiplicity_ok
    for k in system:
        system[k] = np.where(found, system[k], 0.0)
    return found, system
