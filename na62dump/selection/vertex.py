"""Two-track vertices: closest approach of two straight lines, time coincidence, charge.

The vertex of two upstream track lines is the midpoint of their segment of closest approach
(the residual field in the decay volume is neglected); the vertex time is the mean track time.
The published selection asks for *exactly one* such vertex among all pairs of selected tracks,
regardless of the total number of tracks.

>>> import numpy as np
>>> s, t, cda, mid = closest_approach((0.0, 0.0, 0.0), (1.0, 0.0, 0.0),
...                                   (0.0, 1.0, 5.0), (0.0, 0.0, 1.0))
>>> float(cda), [float(c) for c in mid]
(1.0, [0.0, 0.5, 0.0])
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from na62dump.selection.flat import combinations, offsets_from_counts


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def closest_approach(p1, d1, p2, d2):
    """Closest approach of the lines ``p1 + s d1`` and ``p2 + t d2``.

    Arguments are 3-tuples of arrays (numpy or awkward, broadcastable). Returns ``(s, t, cda,
    midpoint)`` with ``midpoint`` a 3-tuple. Parallel lines give non-finite ``s``/``t``.
    """
    w0 = tuple(a - b for a, b in zip(p1, p2, strict=True))
    a, b, c = _dot(d1, d1), _dot(d1, d2), _dot(d2, d2)
    d, e = _dot(d1, w0), _dot(d2, w0)
    den = a * c - b * b
    with np.errstate(invalid="ignore", divide="ignore"):  # parallel lines: NaN, no vertex
        s = (b * e - c * d) / den
        t = (a * e - b * d) / den
        q1 = tuple(p + s * u for p, u in zip(p1, d1, strict=True))
        q2 = tuple(p + t * u for p, u in zip(p2, d2, strict=True))
        cda = np.sqrt(sum((u - v) ** 2 for u, v in zip(q1, q2, strict=True)))
        mid = tuple(0.5 * (u + v) for u, v in zip(q1, q2, strict=True))
    return s, t, cda, mid


def two_track_vertices(tracks, time, max_dt, max_cda):
    """All pairs of ``tracks`` (jagged) with their vertex; ``ok`` marks the vertex candidates.

    Parameters
    ----------
    tracks : jagged record array
        Selected tracks (``charge``, ``x``, ``y``, ``z``, ``px``, ``py``, ``pz``, ...).
    time : jagged array
        Track times (ns), same structure.
    max_dt, max_cda : float
        Time coincidence (ns) and closest-approach distance (m) windows.

    Returns
    -------
    pairs : jagged record array
        Fields ``t1``, ``t2`` (the tracks, the positive one first when the charges are
        opposite), ``i1``, ``i2`` (their indices in ``tracks``), ``x``, ``y``, ``z`` (vertex,
        m), ``cda`` (m), ``time`` (ns), ``dt`` = t(positive) - t(negative) (ns), ``ok``.
    """
    idx = ak.local_index(tracks, axis=1)
    rec = ak.zip({"trk": tracks, "t": time, "i": idx}, depth_limit=2)
    pair = ak.combinations(rec, 2, axis=1, fields=["a", "b"])
    swap = pair.a.trk.charge < pair.b.trk.charge
    first = ak.where(swap, pair.b, pair.a)
    second = ak.where(swap, pair.a, pair.b)
    t1, t2 = first.trk, second.trk
    _, _, cda, mid = closest_approach(
        (t1.x, t1.y, t1.z), (t1.px / t1.pz, t1.py / t1.pz, 1.0),
        (t2.x, t2.y, t2.z), (t2.px / t2.pz, t2.py / t2.pz, 1.0),
    )  # fmt: skip
    dt = first.t - second.t
    opposite = (t1.charge * t2.charge) < 0
    ok = opposite & (np.abs(dt) < max_dt) & (cda < max_cda)
    return ak.zip(
        {
            "t1": t1, "t2": t2, "i1": first.i, "i2": second.i,
            "x": mid[0], "y": mid[1], "z": mid[2], "cda": cda,
            "time": 0.5 * (first.t + second.t), "dt": dt, "ok": ok,
        },
        depth_limit=2,
    )  # fmt: skip


def single_vertex(pairs):
    """``(has_one, vertex)``: events with exactly one vertex candidate, and that candidate.

    ``vertex`` is an option-type record per event (None where ``has_one`` is False).
    """
    good = pairs[pairs.ok]
    has_one = ak.num(good, axis=1) == 1
    return has_one, ak.mask(ak.firsts(good, axis=1), has_one)


def single_vertex_flat(tracks, time, good, max_dt, max_cda):
    """:func:`two_track_vertices` of the ``good`` tracks then :func:`single_vertex`, flat.

    Parameters
    ----------
    tracks : :class:`~na62dump.selection.flat.FlatCollection`
        All tracks of the chunk (``charge``, ``x``, ``y``, ``z``, ``px``, ``py``, ``pz``).
    time, good : flat per-track arrays
        Track times (ns) and the track selection.
    max_dt, max_cda : float
        As in :func:`two_track_vertices`.

    Returns
    -------
    has_one : bool array (one per event)
    vertex : dict of arrays, one entry per event with ``has_one`` (in event order):
        ``event``, ``i1``, ``i2`` (flat track indices, the positive track first), ``x``,
        ``y``, ``z``, ``cda``, ``time``, ``dt``.
    """
    n_events = len(tracks.offsets) - 1
    chosen = np.flatnonzero(good)
    sub = offsets_from_counts(np.bincount(tracks.event[chosen], minlength=n_events))
    event, a, b = combinations(sub[:-1], sub[1:])
    a, b = chosen[a], chosen[b]
    swap = tracks.charge[a] < tracks.charge[b]
    first, second = np.where(swap, b, a), np.where(swap, a, b)
    x, y, z, px, py, pz = (tracks[k] for k in ("x", "y", "z", "px", "py", "pz"))
    _, _, cda, mid = closest_approach(
        (x[first], y[first], z[first]), (px[first] / pz[first], py[first] / pz[first], 1.0),
        (x[second], y[second], z[second]), (px[second] / pz[second], py[second] / pz[second], 1.0),
    )  # fmt: skip
    dt = time[first] - time[second]
    opposite = (tracks.charge[first] * tracks.charge[second]) < 0
    ok = opposite & (np.abs(dt) < max_dt) & (cda < max_cda)
    has_one = np.bincount(event[ok], minlength=n_events) == 1
    pick = ok & has_one[event]
    vertex = {
        "event": event[pick], "i1": first[pick], "i2": second[pick],
        "x": mid[0][pick], "y": mid[1][pick], "z": mid[2][pick], "cda": cda[pick],
        "time": 0.5 * (time[first][pick] + time[second][pick]), "dt": dt[pick],
    }  # fmt: skip
    return has_one, vertex
