"""e+e- processor (PRL 133 (2024) 111802): electrons, LAV + ANTI0 vetoes, cone FV, elliptic SR.

>>> EEProcessor().cuts.sr_shape
'ellipse'
"""

from __future__ import annotations

from na62dump.selection.config import DEFAULT_CUTS
from processors.base import TwoTrackProcessor, analysis_states


class EEProcessor(TwoTrackProcessor):
    """A' -> e+e- selection; ``cuts``: :class:`na62dump.selection.config.EECuts`."""

    channel = "ee"
    cuts_class = DEFAULT_CUTS[channel]
    states = analysis_states(channel)
