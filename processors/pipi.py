"""pi+pi- processor: two pions and no photon, hadronic SR/CR, K_S mass window masked in data.

>>> PiPiProcessor().states[0].kshort_mask
True
"""

from __future__ import annotations

from na62dump.selection.config import M_PION, PiPiCuts
from processors.base import State, TwoTrackProcessor


class PiPiProcessor(TwoTrackProcessor):
    """X -> pi+pi- selection; ``cuts``: :class:`na62dump.selection.config.PiPiCuts`."""

    channel = "pipi"
    cuts_class = PiPiCuts
    states = (State("pipi", M_PION, "pion", neutrals=True, kshort_mask=True),)
