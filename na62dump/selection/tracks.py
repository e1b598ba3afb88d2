"""Per-track requirements: momentum and fit quality, extrapolation, acceptance, isolation.

Each track carries two straight lines (``docs/ntuple.md``): the *upstream* line through
(``x``, ``y``) at ``z`` = STRAW 1 with slopes ``px/pz``, ``py/pz`` (valid upstream of the
magnet, back to the decay vertex and the ANTI0), and the *downstream* line
``x(z) = xDown + txDown (z - STRAW_Z[3])`` (after the magnet: RICH, CHODs, LKr, MUVs).

Works on any awkward record array with the ``Track`` fields, jagged or flat.

>>> import awkward as ak
>>> t = ak.Array([{"xDown": 0.5, "yDown": 0.0, "txDown": 0.01, "tyDown": 0.0}])
>>> x, y = extrapolate_down(t, 228.885)
>>> round(float(x[0]), 6)
0.6
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from na62dump import geometry
from na62dump.selection.flat import cartesian, group_min


def extrapolate_down(track, z):
    """(x, y) of the downstream track line at ``z`` (m)."""
    dz = z - geometry.STRAW_Z[3]
    return track.xDown + track.txDown * dz, track.yDown + track.tyDown * dz


def extrapolate_up(track, z):
    """(x, y) of the upstream track line (before the magnet) at ``z`` (m)."""
    dz = z - track.z
    return track.x + track.px / track.pz * dz, track.y + track.py / track.pz * dz


def momentum(track):
    """Momentum magnitude (GeV)."""
    return np.sqrt(track.px**2 + track.py**2 + track.pz**2)


def passes_quality(track, cuts):
    """Momentum within [p_min, p_max], fit chi2/ndf and number of chambers (``TrackCuts``)."""
    p = momentum(track)
    return (
        (p > cuts.p_min_gev)
        & (p < cuts.p_max_gev)
        & (track.chi2 < cuts.chi2_max)
        & (track.nChambers >= cuts.n_chambers_min)
    )


def in_acceptance(track):
    """Extrapolated position inside NA48-CHOD (both planes), CHOD, LKr and MUV3."""
    ok = geometry.in_chod_acceptance(*extrapolate_down(track, geometry.CHOD_Z))
    for z in geometry.NA48CHOD_Z:
        ok = ok & geometry.in_na48chod_acceptance(*extrapolate_down(track, z))
    ok = ok & geometry.in_lkr_acceptance(*extrapolate_down(track, geometry.LKR_Z))
    ok = ok & geometry.in_muv3_acceptance(*extrapolate_down(track, geometry.MUV3_Z))
    return ok


def nearest_other_distance(x, y):
    """Per element of jagged (``x``, ``y``): distance to the nearest *other* element.

    Infinity when the element is alone in its list.

    >>> import awkward as ak
    >>> d = nearest_other_distance(ak.Array([[0.0, 3.0, 0.0], [1.0]]),
    ...                            ak.Array([[0.0, 4.0, 1.0], [1.0]]))
    >>> d.tolist()
    [[1.0, 4.242640687119285, 1.0], [inf]]
    """
    pos = ak.zip({"x": x, "y": y, "i": ak.local_index(x, axis=1)})
    pairs = ak.cartesian({"a": pos, "b": pos}, axis=1, nested=True)
    d = np.hypot(pairs.a.x - pairs.b.x, pairs.a.y - pairs.b.y)
    d = ak.where(pairs.a.i == pairs.b.i, np.inf, d)
    return ak.fill_none(ak.min(d, axis=2), np.inf)


def isolated(tracks, cuts):
    """Isolated from every other track at STRAW 1 and at the LKr front plane (``TrackCuts``).

    ``tracks`` is jagged (one list per event); the distance uses every track of the event.
    """
    d_straw = nearest_other_distance(*extrapolate_up(tracks, geometry.STRAW_Z[0]))
    d_lkr = nearest_other_distance(*extrapolate_down(tracks, geometry.LKR_Z))
    return (d_straw > cuts.isolation_straw1_m) & (d_lkr > cuts.isolation_lkr_m)


def nearest_other_distance_flat(x, y, offsets):
    """:func:`nearest_other_distance` for flat arrays with ``offsets`` (``n_events + 1``)."""
    _, a, b = cartesian(offsets[:-1], offsets[1:], offsets[:-1], offsets[1:])
    other = a != b
    a, b = a[other], b[other]
    return group_min(np.hypot(x[a] - x[b], y[a] - y[b]), a, len(x))


def isolated_flat(tracks, cuts):
    """:func:`isolated` for a :class:`~na62dump.selection.flat.FlatCollection` of tracks."""
    d_straw = nearest_other_distance_flat(
        *extrapolate_up(tracks, geometry.STRAW_Z[0]), tracks.offsets
    )
    d_lkr = nearest_other_distance_flat(*extrapolate_down(tracks, geometry.LKR_Z), tracks.offsets)
    return (d_straw > cuts.isolation_straw1_m) & (d_lkr > cuts.isolation_lkr_m)
