"""Hadronic processor: pi+pi-gamma, pi+pi-pi0, pi+pi-pi0pi0, pi+pi-eta, K+K-, K+K-pi0.

One two-track vertex per event; each final state is an exclusive selection of its own (track
PID, photon multiplicity, pi0/eta candidates), so the cutflow names carry the state
(``"pipipi0:pid"``) and the histograms' ``state`` axis holds the six states.

>>> [s.name for s in HadronicProcessor().states]
['pipigamma', 'pipipi0', 'pipipi0pi0', 'pipieta', 'kk', 'kkpi0']
"""

from __future__ import annotations

from na62dump.codes import HADRONIC_CHANNELS
from na62dump.selection.config import M_KAON, M_PION, HadronicCuts
from processors.base import State, TwoTrackProcessor


def _state(channel):
    kaons = channel.daughters[0] == "K+"
    return State(
        channel.key, M_KAON if kaons else M_PION, "kaon" if kaons else "pion", neutrals=True
    )


class HadronicProcessor(TwoTrackProcessor):
    """Hadronic final states; ``cuts``: :class:`na62dump.selection.config.HadronicCuts`."""

    channel = "hadronic"
    cuts_class = HadronicCuts
    states = tuple(_state(c) for c in HADRONIC_CHANNELS)
