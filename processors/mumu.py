"""mu+mu- processor: muons (MUV3, E/p < 0.2), LAV veto only, box FV in the vacuum tube, box SR.

>>> MuMuProcessor().cuts.veto_anti0
False
"""

from __future__ import annotations

from na62dump.selection.config import M_MUON, MuMuCuts
from processors.base import State, TwoTrackProcessor


class MuMuProcessor(TwoTrackProcessor):
    """A' -> mu+mu- selection; ``cuts``: :class:`na62dump.selection.config.MuMuCuts`."""

    channel = "mumu"
    cuts_class = MuMuCuts
    states = (State("mumu", M_MUON, "muon"),)
