"""Integer codes stored in the ntuples (``Truth_model``, ``Truth_mode``, ``Truth_channel``).

One place for them, so the simulation that writes and the processors that read agree.

>>> Channel.from_name("pipipi0") is Channel.PIPIPI0
True
>>> Channel.EE.daughters
('e+', 'e-')
"""

from __future__ import annotations

from enum import IntEnum


class Model(IntEnum):
    NONE = 0  #: background
    DARK_PHOTON = 1
    ALP = 2
    DARK_SCALAR = 3
    ALP_GLUON = 4  #: ALP coupled to gluons (BC11), na62dump.physics.alp_gluon


class Production(IntEnum):
    BREMS = 0
    PI0 = 1
    ETA = 2
    ETAPRIME = 3
    OMEGA = 4
    RHO = 5
    PHI = 6
    B_MESON = 10
    MIXING = 11  #: ALP-meson mixing with pi0, eta, eta' (BC11)
    # backgrounds
    PROMPT = 20
    COMBINATORIAL = 21
    UPSTREAM_K3PI = 22
    UPSTREAM_KS = 23
    UPSTREAM_INTERACTION = 24

    @classmethod
    def from_name(cls, name: str) -> Production:
        return cls[name.upper()]


#: Visible final states (charged daughters first, then neutrals, as the simulation writes them).
_DAUGHTERS = {
    "EE": ("e+", "e-"),
    "MUMU": ("mu+", "mu-"),
    "PIPI": ("pi+", "pi-"),
    "PIPIGAMMA": ("pi+", "pi-", "gamma"),
    "PIPIPI0": ("pi+", "pi-", "pi0"),
    "PIPIPI0PI0": ("pi+", "pi-", "pi0", "pi0"),
    "PIPIETA": ("pi+", "pi-", "eta"),
    "KK": ("K+", "K-"),
    "KKPI0": ("K+", "K-", "pi0"),
    "MUPI": ("mu+", "pi-"),
}


class Channel(IntEnum):
    EE = 1
    MUMU = 2
    PIPI = 3
    PIPIGAMMA = 4
    PIPIPI0 = 5
    PIPIPI0PI0 = 6
    PIPIETA = 7
    KK = 8
    KKPI0 = 9
    MUPI = 10  #: background vertices only

    @classmethod
    def from_name(cls, name: str) -> Channel:
        return cls[name.upper()]

    @property
    def daughters(self) -> tuple[str, ...]:
        return _DAUGHTERS[self.name]

    @property
    def key(self) -> str:
        """Lower-case name used in datasets.yaml, branching-ratio dicts and file names."""
        return self.name.lower()


#: The exclusive hadronic final states of the hadronic processor.
HADRONIC_CHANNELS = (
    Channel.PIPIGAMMA,
    Channel.PIPIPI0,
    Channel.PIPIPI0PI0,
    Channel.PIPIETA,
    Channel.KK,
    Channel.KKPI0,
)

#: Analysis channels (one processor each) and the final states they select.
ANALYSIS_CHANNELS = {
    "ee": (Channel.EE,),
    "mumu": (Channel.MUMU,),
    "pipi": (Channel.PIPI,),
    "hadronic": HADRONIC_CHANNELS,
}
