"""Hadronic processor: pi+pi-gamma, pi+pi-pi0, pi+pi-pi0pi0, pi+pi-eta, K+K-, K+K-pi0.

One two-track vertex per event; each final state is an exclusive selection of its own (track
PID, photon multiplicity, pi0/eta candidates), so the cutflow names carry the state
(``"pipipi0:pid"``) and the histograms' ``state`` axis holds the six states (the registry's
hadronic final states, :mod:`na62dump.finalstates`).

>>> [s.name for s in HadronicProcessor().states]
['pipigamma', 'pipipi0', 'pipipi0pi0', 'pipieta', 'kk', 'kkpi0']
"""

from __future__ import annotations

from na62dump.selection.config import DEFAULT_CUTS
from processors.base import TwoTrackProcessor, analysis_states


class HadronicProcessor(TwoTrackProcessor):
    """Hadronic final states; ``cuts``: :class:`na62dump.selection.config.HadronicCuts`."""

    channel = "hadronic"
    cuts_class = DEFAULT_CUTS[channel]
    states = analysis_states(channel)
