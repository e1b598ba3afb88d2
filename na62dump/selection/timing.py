"""Track times: the NA48-CHOD time if present, else the CHOD time, and trigger coincidence.

>>> import awkward as ak
>>> t = ak.Array([{"hasChod": True, "chodTime": 1.0, "hasNa48chod": True, "na48chodTime": 2.0},
...               {"hasChod": True, "chodTime": 1.0, "hasNa48chod": False, "na48chodTime": 0.0}])
>>> track_time(t).tolist()
[2.0, 1.0]
"""

from __future__ import annotations

import numpy as np


def track_time(track):
    """Track time (ns): NA48-CHOD time when the track has a NA48-CHOD signal, else CHOD time."""
    return np.where(track.hasNa48chod, track.na48chodTime, track.chodTime)


def has_chod_signal(track):
    """The published selection requires an associated CHOD signal."""
    return track.hasChod


def in_trigger_time(track, trigger_time, window_ns):
    """CHOD signal present and ``|t_track - t_trigger| < window_ns``."""
    return has_chod_signal(track) & (np.abs(track_time(track) - trigger_time) < window_ns)
