"""Coffea processors, one per analysis channel: ee, mumu, pipi, hadronic.

``PROCESSORS[channel](cuts=..., unblind=...)`` builds the processor of ``channel`` (the analysis
channels and their processors are those of :data:`na62dump.finalstates.ANALYSES`); its output
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

import importlib

from na62dump.finalstates import ANALYSES
from processors.base import TwoTrackProcessor
from processors.ee import EEProcessor
from processors.hadronic import HadronicProcessor
from processors.mumu import MuMuProcessor
from processors.pipi import PiPiProcessor


def _load(path: str) -> type[TwoTrackProcessor]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


#: The processor of each analysis channel of the registry (``Analysis.processor``).
PROCESSORS: dict[str, type[TwoTrackProcessor]] = {a.name: _load(a.processor) for a in ANALYSES}

__all__ = [
    "PROCESSORS",
    "EEProcessor",
    "HadronicProcessor",
    "MuMuProcessor",
    "PiPiProcessor",
    "TwoTrackProcessor",
]
