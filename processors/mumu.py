"""mu+mu- processor: muons (MUV3, E/p < 0.2), LAV veto only, box FV in the vacuum tube, box SR.

>>> MuMuProcessor().cuts.veto_anti0
False
"""

from __future__ import annotations

from na62dump.selection.config import DEFAULT_CUTS
from processors.base import TwoTrackProcessor, analysis_states


class MuMuProcessor(TwoTrackProcessor):
    """A' -> mu+mu- selection; ``cuts``: :class:`na62dump.selection.config.MuMuCuts`."""

    channel = "mumu"
    cuts_class = DEFAULT_CUTS[channel]
    states = analysis_states(channel)
