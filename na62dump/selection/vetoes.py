"""Upstream (ANTI0) and photon (LAV) vetoes of the vertex tracks.

A track is vetoed if it is spatially compatible (within ``max_distance``, at the ANTI0 plane
``geometry.ANTI0_Z``, extrapolating the upstream track line) and in time with an ANTI0 signal,
or in time with any LAV signal.

>>> import awkward as ak
>>> anti0 = ak.Array([[{"x": 0.1, "y": 0.0, "time": 1.0}]])
>>> anti0_vetoed(ak.Array([[0.25, 0.35]]), ak.Array([[0.0, 0.0]]), ak.Array([[0.0, 0.0]]),
...              anti0, 0.2, 5.0).tolist()
[[True, False]]
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from na62dump.selection.flat import cartesian, group_any


def anti0_vetoed(x, y, t, anti0, max_distance, max_dt):
    """Per track: an ANTI0 signal within ``max_distance`` (m) and ``max_dt`` (ns).

    ``x``, ``y``: the upstream track line at the ANTI0 plane; ``t``: the track time.
    """
    trk = ak.zip({"x": x, "y": y, "t": t})
    sig = ak.zip({"x": anti0.x, "y": anti0.y, "time": anti0.time})
    pairs = ak.cartesian({"trk": trk, "sig": sig}, axis=1, nested=True)
    d = np.hypot(pairs.sig.x - pairs.trk.x, pairs.sig.y - pairs.trk.y)
    return ak.any((d < max_distance) & (np.abs(pairs.sig.time - pairs.trk.t) < max_dt), axis=2)


def lav_vetoed(t, lav, max_dt):
    """Per track: any LAV signal (any station) within ``max_dt`` (ns) of the track time.

    >>> import awkward as ak
    >>> lav = ak.Array([[{"station": 3, "time": 4.0}], []])
    >>> lav_vetoed(ak.Array([[0.0, 10.0], [0.0]]), lav, 5.0).tolist()
    [[True, False], [False]]
    """
    pairs = ak.cartesian({"t": t, "lav": lav.time}, axis=1, nested=True)
    return ak.any(np.abs(pairs.lav - pairs.t) < max_dt, axis=2)


def anti0_vetoed_flat(x, y, t, event, anti0, max_distance, max_dt):
    """:func:`anti0_vetoed` for flat per-track arrays; ``event``: each track's event index,
    ``anti0``: a :class:`~na62dump.selection.flat.FlatCollection`."""
    n = len(x)
    trk, _, sig = cartesian(np.arange(n), np.arange(n) + 1, anti0.starts[event],
                            anti0.stops[event])  # fmt: skip
    d = np.hypot(anti0.x[sig] - x[trk], anti0.y[sig] - y[trk])
    return group_any((d < max_distance) & (np.abs(anti0.time[sig] - t[trk]) < max_dt), trk, n)


def lav_vetoed_flat(t, event, lav, max_dt):
    """:func:`lav_vetoed` for flat per-track arrays (see :func:`anti0_vetoed_flat`)."""
    n = len(t)
    trk, _, sig = cartesian(np.arange(n), np.arange(n) + 1, lav.starts[event], lav.stops[event])
    return group_any(np.abs(lav.time[sig] - t[trk]) < max_dt, trk, n)
