"""Coffea processors, one per analysis channel: ee, mumu, pipi, hadronic.

``PROCESSORS[channel](cuts=..., unblind=...)`` builds the processor of ``channel``; its output
per dataset follows ``docs/artefacts.md`` ("Stage 2").

>>> sorted(PROCESSORS)
['ee', 'hadronic', 'mumu', 'pipi']
"""

from processors.base import TwoTrackProcessor
from processors.ee import EEProcessor
from processors.hadronic import HadronicProcessor
from processors.mumu import MuMuProcessor
from processors.pipi import PiPiProcessor

PROCESSORS: dict[str, type[TwoTrackProcessor]] = {
    "ee": EEProcessor,
    "mumu": MuMuProcessor,
    "pipi": PiPiProcessor,
    "hadronic": HadronicProcessor,
}

__all__ = [
    "PROCESSORS",
    "EEProcessor",
    "HadronicProcessor",
    "MuMuProcessor",
    "PiPiProcessor",
    "TwoTrackProcessor",
]
