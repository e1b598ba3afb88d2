"""pi+pi- processor: two pions and no photon, hadronic SR/CR, K_S mass window masked in data.

>>> PiPiProcessor().states[0].kshort_mask
True
"""

from __future__ import annotations

from na62dump.selection.config import DEFAULT_CUTS
from processors.base import TwoTrackProcessor, analysis_states


class PiPiProcessor(TwoTrackProcessor):
    """X -> pi+pi- selection; ``cuts``: :class:`na62dump.selection.config.PiPiCuts`."""

    channel = "pipi"
    cuts_class = DEFAULT_CUTS[channel]
    states = analysis_states(channel)
