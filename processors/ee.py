"""e+e- processor (PRL 133 (2024) 111802): electrons, LAV + ANTI0 vetoes, cone FV, elliptic SR.

>>> EEProcessor().cuts.sr_shape
'ellipse'
"""

from __future__ import annotations

from na62dump.selection.config import M_ELECTRON, EECuts
from processors.base import State, TwoTrackProcessor


class EEProcessor(TwoTrackProcessor):
    """A' -> e+e- selection; ``cuts``: :class:`na62dump.selection.config.EECuts`."""

    channel = "ee"
    cuts_class = EECuts
    states = (State("ee", M_ELECTRON, "electron"),)
