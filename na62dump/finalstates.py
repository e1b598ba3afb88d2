"""The registry of final states: one record per decay final state, read by every stage.

A final state (``"ee"``, ``"pipipi0"``, ...) is simulated (its daughters), selected by one
analysis channel (a coffea processor and its cut object: the track PID, the exclusive neutral
content, the K_S mask), enters the statistics as a channel of its own (its mass range and the
background model of its *statistics channel*), may have a combinatorial background estimate,
and is reached by some models. Each of these facts is written once, here, and the stages take
their lists from it:

- ``na62dump.codes.Channel`` (the ``Truth_channel`` codes) is built from :data:`FINAL_STATES`;
- the processors' :class:`processors.base.State` come from :func:`states_of`, their cut
  classes (``selection.config.DEFAULT_CUTS``) and ``processors.PROCESSORS`` from
  :data:`ANALYSES`; ``selection.neutrals.NEUTRAL_CONTENT`` from ``neutrals``;
- the simulation's signal channels (``simulation.signal.CHANNELS``) and the campaign's
  analysis of each final state (``simulation.campaign.FINAL_STATE_TO_ANALYSIS``) from
  :data:`SIGNAL_STATES`;
- the statistics' per-state configuration (``stats.workspace.CHANNELS``) from
  ``stats_channel`` and ``mass_range_gev``; the limits' model states and combinations
  (``commands.limits``) and the ALP's visible final states (``physics.alp.FINAL_STATES``) from
  ``models``;
- the background stage's combinatorial channels (``backgrounds.COMBINATORIAL_CHANNELS``) from
  ``combinatorial``; the figures' LaTeX labels (``plotting.STATE_LATEX``) from ``latex``.

Adding a final state is adding a record (and, for a new neutral content or PID, the
selection code that implements it); the tests check that each stage sees it.

This module imports nothing beyond the standard library: ``na62dump.codes`` builds on it and
is imported everywhere.

>>> by_key("pipipi0").analysis, by_key("pipipi0").neutrals
('hadronic', (0, 1, 0))
>>> [a.name for a in ANALYSES]
['ee', 'mumu', 'pipi', 'hadronic']
>>> [s.key for s in states_of("hadronic")]
['pipigamma', 'pipipi0', 'pipipi0pi0', 'pipieta', 'kk', 'kkpi0']
>>> decays_of("alp_gluon")
('pipigamma', 'pipipi0', 'pipipi0pi0', 'pipieta', 'kkpi0')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ANALYSES",
    "FINAL_STATES",
    "SIGNAL_STATES",
    "Analysis",
    "FinalState",
    "analysis",
    "by_key",
    "decays_of",
    "states_of",
]

#: Track PID requirements the selection implements (``na62dump.selection.pid``), both tracks.
PIDS = ("electron", "muon", "pion", "kaon")
#: Models of the ``Truth_model`` codes (``na62dump.codes.Model``) that decay to final states.
MODELS = ("dark_photon", "alp", "dark_scalar", "alp_gluon")
#: Models with no samples of their own, read from another model's: model -> the simulated model
#: whose signal samples its yields take (the same production and decay kinematics, other
#: rates). BC10 (``physics.alp_fermion``) is made in B -> K(*) a and decays like any ALP of
#: that mass: the model-independent ALP samples (``physics.alp``) serve it.
READS_SAMPLES_OF: dict[str, str] = {"alp_fermion": "alp"}
#: Every model with final states: the simulated ones, then the readings.
SCANNED_MODELS: tuple[str, ...] = (*MODELS, *READS_SAMPLES_OF)


def samples_model(model: str) -> str:
    """The model whose signal samples ``model``'s yields read (itself unless a reading).

    >>> samples_model("alp_fermion"), samples_model("dark_scalar")
    ('alp', 'dark_scalar')
    """
    return READS_SAMPLES_OF.get(model, model)


@dataclass(frozen=True)
class FinalState:
    """One decay final state (masses in GeV).

    Attributes
    ----------
    key : lower-case name used in datasets.yaml, the branching-ratio dicts, the processors'
        ``state`` axes and cutflow labels, and file names.
    code : its ``Truth_channel`` code (``na62dump.codes.Channel``), stored in the ntuples.
    daughters : visible daughters, charged first, then neutrals, as the simulation makes them.
    latex : the final state in matplotlib mathtext (figure titles and labels).
    analysis : the analysis channel (processor) that selects it; ``None`` for states that
        are background vertices only (no signal, no selection).
    pid : PID both tracks must pass (one of :data:`PIDS`).
    exclusive : the selection requires the neutral daughters (:attr:`neutrals`) and no other
        photon (up to the cuts' ``extra_photons_max``); false for the leptonic channels,
        which have no neutral requirement.
    stats_channel : the statistics channel whose background model (mass shape, default
        median and k, ``na62dump.stats.workspace.BACKGROUND_MODELS``) the state takes; the
        state still enters a likelihood as a channel of its own.
    mass_range_gev : reconstructed-mass range of its workspaces (the background shape is
        normalised over it, the mass bins cover it).
    combinatorial : its background has a combinatorial component estimated from the Q1
        control sample (accidental two-track pairs).
    kshort_mask : the K_S mass window is masked in the blinded pseudo-data (pi+pi-).
    models : models with a branching ratio to it (``na62dump.physics``), which the limits
        scan in this state.
    """

    key: str
    code: int
    daughters: tuple[str, ...]
    latex: str
    analysis: str | None = None
    pid: str | None = None
    exclusive: bool = False
    stats_channel: str | None = None
    mass_range_gev: tuple[float, float] | None = None
    combinatorial: bool = False
    kshort_mask: bool = False
    models: tuple[str, ...] = ()

    @property
    def neutrals(self) -> tuple[int, int, int] | None:
        """Neutral content ``(photons, pi0, eta)`` the selection requires (counted in the
        daughters), or ``None`` when it has no neutral requirement (not :attr:`exclusive`)."""
        if not self.exclusive:
            return None
        return tuple(self.daughters.count(n) for n in ("gamma", "pi0", "eta"))

    @property
    def leptonic(self) -> bool:
        """Two leptons (e+e-, mu+mu-): scanned on the fine (``--masses``) grid."""
        return self.pid in ("electron", "muon")

    @property
    def is_signal(self) -> bool:
        """Selected by an analysis channel (signal samples can be made of it)."""
        return self.analysis is not None


@dataclass(frozen=True)
class Analysis:
    """An analysis channel: one coffea processor with its cut object, and its final states.

    ``processor``: ``"module:Class"`` of the processor (``processors/``); ``cuts``: the name
    of its cut class in :mod:`na62dump.selection.config`.
    """

    name: str
    processor: str
    cuts: str

    @property
    def states(self) -> tuple[FinalState, ...]:
        """Its final states, in registry order."""
        return states_of(self.name)

    @property
    def combinatorial(self) -> bool:
        """Whether the background stage estimates a combinatorial component for it."""
        return any(s.combinatorial for s in self.states)


#: Mass ranges (GeV) of the workspaces: from the e+e-, mu+mu- and pi+pi- thresholds
#: (rounded up) to 2 GeV (our choice: the SR has no mass cut, and 2 GeV covers every mass the
#: scans use); every hadronic state shares the pi+pi- range (K+K- states: the bins below
#: their threshold hold no signal).
_EE_RANGE = (0.001022, 2.0)
_MUMU_RANGE = (0.2114, 2.0)
_HADRONIC_RANGE = (0.2792, 2.0)
_LEPTON_MODELS = ("dark_photon", "alp", "dark_scalar", "alp_fermion")
_PSEUDOSCALAR_HADRONS = ("dark_photon", "alp", "alp_gluon")  # odd number of pseudoscalars
_SCALAR_PAIRS = ("dark_photon", "dark_scalar")  # pi+pi-, K+K-: parity forbids the ALPs


def _hadronic(key, code, daughters, latex, models) -> FinalState:
    """A state of the hadronic analysis: exclusive, pion or kaon PID, hadronic statistics."""
    kaons = daughters[0] == "K+"
    return FinalState(key, code, daughters, latex, analysis="hadronic",
                      pid="kaon" if kaons else "pion", exclusive=True,
                      stats_channel="hadronic", mass_range_gev=_HADRONIC_RANGE,
                      models=models)  # fmt: skip


#: Every final state, in ``Truth_channel`` code order (the order of every derived list).
FINAL_STATES: tuple[FinalState, ...] = (
    FinalState("ee", 1, ("e+", "e-"), r"e^+e^-", analysis="ee", pid="electron",
               stats_channel="ee", mass_range_gev=_EE_RANGE, combinatorial=True,
               models=_LEPTON_MODELS),
    FinalState("mumu", 2, ("mu+", "mu-"), r"\mu^+\mu^-", analysis="mumu", pid="muon",
               stats_channel="mumu", mass_range_gev=_MUMU_RANGE, combinatorial=True,
               models=_LEPTON_MODELS),
    FinalState("pipi", 3, ("pi+", "pi-"), r"\pi^+\pi^-", analysis="pipi", pid="pion",
               exclusive=True, stats_channel="pipi", mass_range_gev=_HADRONIC_RANGE,
               kshort_mask=True, models=_SCALAR_PAIRS),
    _hadronic("pipigamma", 4, ("pi+", "pi-", "gamma"), r"\pi^+\pi^-\gamma",
              _PSEUDOSCALAR_HADRONS),
    _hadronic("pipipi0", 5, ("pi+", "pi-", "pi0"), r"\pi^+\pi^-\pi^0",
              _PSEUDOSCALAR_HADRONS),
    # and the dark scalar's multi-meson width (na62dump.physics.scalar: its rho+rho- share)
    _hadronic("pipipi0pi0", 6, ("pi+", "pi-", "pi0", "pi0"), r"\pi^+\pi^-\pi^0\pi^0",
              (*_PSEUDOSCALAR_HADRONS, "dark_scalar")),
    _hadronic("pipieta", 7, ("pi+", "pi-", "eta"), r"\pi^+\pi^-\eta",
              _PSEUDOSCALAR_HADRONS),
    _hadronic("kk", 8, ("K+", "K-"), r"K^+K^-", _SCALAR_PAIRS),
    _hadronic("kkpi0", 9, ("K+", "K-", "pi0"), r"K^+K^-\pi^0",
              _PSEUDOSCALAR_HADRONS),
    # background vertices only (prompt mu+ pi- pairs): simulated, never selected as signal
    FinalState("mupi", 10, ("mu+", "pi-"), r"\mu^+\pi^-"),
)  # fmt: skip

#: The analysis channels, one processor each, in the order the stages run them.
ANALYSES: tuple[Analysis, ...] = (
    Analysis("ee", "processors.ee:EEProcessor", "EECuts"),
    Analysis("mumu", "processors.mumu:MuMuProcessor", "MuMuCuts"),
    Analysis("pipi", "processors.pipi:PiPiProcessor", "PiPiCuts"),
    Analysis("hadronic", "processors.hadronic:HadronicProcessor", "HadronicCuts"),
)

#: The final states an analysis selects (the ones signal samples can be made of).
SIGNAL_STATES: tuple[FinalState, ...] = tuple(s for s in FINAL_STATES if s.is_signal)

_BY_KEY = {s.key: s for s in FINAL_STATES}
_ANALYSES = {a.name: a for a in ANALYSES}


def by_key(key: str) -> FinalState:
    """The record of final state ``key``; ``KeyError`` naming the known ones otherwise."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown final state {key!r}; known: {list(_BY_KEY)}") from None


def analysis(name: str) -> Analysis:
    """The :class:`Analysis` ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return _ANALYSES[name]
    except KeyError:
        raise KeyError(f"unknown analysis channel {name!r}; known: {list(_ANALYSES)}") from None


def states_of(name: str) -> tuple[FinalState, ...]:
    """The final states analysis channel ``name`` selects, in registry order."""
    analysis(name)
    return tuple(s for s in FINAL_STATES if s.analysis == name)


def decays_of(model: str) -> tuple[str, ...]:
    """Keys of the final states ``model`` decays to, in registry order.

    >>> decays_of("dark_scalar")
    ('ee', 'mumu', 'pipi', 'pipipi0pi0', 'kk')
    """
    if model not in SCANNED_MODELS:
        raise KeyError(f"unknown model {model!r}; known: {list(SCANNED_MODELS)}")
    return tuple(s.key for s in FINAL_STATES if model in s.models)
