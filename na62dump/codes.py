"""Integer codes stored in the ntuples (``Truth_model``, ``Truth_mode``, ``Truth_channel``).

One place for them, so the simulation that writes and the processors that read agree. The
final-state codes (:class:`Channel`) are those of the registry of final states
(:mod:`na62dump.finalstates`), which holds everything else about each state.

>>> Channel.from_name("pipipi0") is Channel.PIPIPI0
True
>>> Channel.EE.daughters
('e+', 'e-')
"""

from __future__ import annotations

from enum import IntEnum

from na62dump.finalstates import FINAL_STATES, FinalState, by_key

#: Dataset kinds, one list for the campaign (``datasets.yaml``), a coffea fileset
#: (``run --fileset``), ``inspect --kind`` and the processors: ``signal``, the Monte Carlo
#: backgrounds (``prompt``, ``combinatorial`` pseudo-events, ``upstream``), the Q1 control
#: sample (stands for data: no truth) and the ``pseudo_data`` (the only kind that is blinded).
KINDS = ("signal", "prompt", "q1_control", "combinatorial", "upstream", "pseudo_data")


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


class _ChannelCodes(IntEnum):
    """Methods of :class:`Channel` (its members come from the registry)."""

    @classmethod
    def from_name(cls, name: str) -> Channel:
        return cls[name.upper()]

    @property
    def final_state(self) -> FinalState:
        """Its record in the registry of final states (:mod:`na62dump.finalstates`)."""
        return by_key(self.name.lower())

    @property
    def daughters(self) -> tuple[str, ...]:
        """Visible daughters, charged first, then neutrals, as the simulation writes them."""
        return self.final_state.daughters

    @property
    def key(self) -> str:
        """Lower-case name used in datasets.yaml, branching-ratio dicts and file names."""
        return self.name.lower()


#: ``Truth_channel`` codes: one member per final state of :data:`na62dump.finalstates.
#: FINAL_STATES` (``Channel.EE`` = 1, ... ``Channel.MUPI`` = 10, background vertices only).
Channel = _ChannelCodes("Channel", [(s.key.upper(), s.code) for s in FINAL_STATES],
                        module=__name__, qualname="Channel")
