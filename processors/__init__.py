"""Coffea processors, one per analysis channel: ee, mumu, pipi, hadronic.

``PROCESSORS[channel](cuts=..., unblind=...)`` builds the processor of ``channel``; its output
per dataset follows ``docs/artefacts.md`` ("Stage 2"). The selection itself lives in
:mod:`na62dump.selection` (one small function per idea) and its parameters in
:mod:`na62dump.selection.config` (one typed object per channel, defaults = published values).

Typical use (``na62dump run`` does the same for the whole campaign)::

    from coffea import processor
    from na62dump.schema import NA62Schema
    from na62dump.selection.config import EECuts
    from processors import PROCESSORS

    fileset = {"dp_brems_ee_m0100": {"files": {"sig.root": "events"},
                                     "metadata": {"kind": "signal"}}}
    run = processor.Runner(processor.FuturesExecutor(workers=2), schema=NA62Schema)
    out = run(fileset, processor_instance=PROCESSORS["ee"](cuts=EECuts(p_min_gev=12.0)))
    out["dp_brems_ee_m0100"]["cutflow"]

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
