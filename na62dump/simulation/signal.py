"""Signal generator: a long-lived X made in the TAX, forced to decay in the decay volume.

For each event:

1. **Production.** The X lab momentum comes from the physics samplers of
   :mod:`na62dump.physics` (``brems.sample``, ``mesons.sample`` for pi0/eta/etaprime/omega/rho/
   phi, ``bmesons.sample_b_to_kx`` for B -> K(*) X, ``scalar.sample`` for the dark scalar's
   B -> K_X S over the kaon states, ``alp_gluon.sample`` for the gluon-coupled ALP made by
   mixing with pi0 / eta / eta', production ``mixing``, the meson drawn per event with its
   share of the yield); the production point is the primary interaction in the
   TAX: transverse position the mean beam impact point
   ``geometry.BEAM_POINT`` with a Gaussian beam spot of :data:`BEAM_SPOT_SIGMA_M` per
   coordinate, depth exponential with ``geometry.TAX_LAMBDA_I`` truncated to the TAX.
2. **Decay point.** Z uniform in ``geometry.FORCED_DECAY_Z`` along the line of flight (the
   lifetime enters later through ``physics.decay.forced_decay_weight``, so one sample serves
   every coupling); the decay time follows from the X velocity.
3. **Decay.** Exact daughter masses (``codes.Channel.daughters``): two-body final states
   isotropic in the X rest frame (exact for scalars and pseudoscalars; for the dark photon the
   polarisation averaged over production, ``angular="transverse"`` gives ``1 + cos^2``);
   three- and four-body final states uniform in phase space (Raubold-Lynch, unweighted; no
   matrix element, an approximation for pi+pi-pi0 / pi+pi-gamma whose acceptance is
   dominated by the boost; the same for the gluon-coupled ALP's pi+pi-gamma, pi+pi-pi0,
   pi+pi-eta, pi+pi-pi0pi0 and K+K-pi0: no ALP Dalitz distribution is published in a form
   we use, Aloni, Soreq & Williams give integrated widths only); pi0 and eta decay promptly to
   gamma gamma.
4. **Detector response** (:func:`na62dump.simulation.detector.simulate_detector`); every
   generated event is kept, accepted or not, with its truth.

>>> import numpy as np
>>> from na62dump.simulation.signal import generate_signal
>>> out = generate_signal("dark_photon", "brems", "ee", 0.3, 50, np.random.default_rng(1))
>>> out["Truth_mass"][:2].tolist(), int(out["Truth_mode"][0])
([0.30000001192092896, 0.30000001192092896], 0)
"""

from __future__ import annotations

import logging

import numpy as np

from na62dump import geometry as g
from na62dump.codes import Channel, Model, Production
from na62dump.errors import InputError
from na62dump.finalstates import SIGNAL_STATES
from na62dump.simulation.detector import DEFAULT_CONFIG, DetectorConfig, simulate_detector
from na62dump.simulation.kinematics import (
    C_M_PER_NS,
    SPECIES,
    Particles,
    decay_neutral_mesons,
    four_momentum,
    phase_space_decay,
    two_body_decay,
)

log = logging.getLogger(__name__)

#: Gaussian r.m.s. of the proton beam spot on the TAX, per transverse coordinate (m);
#: approximation (the SPS beam is focused to about a millimetre on the TAX).
BEAM_SPOT_SIGMA_M = 0.0015

MODELS = ("dark_photon", "alp", "dark_scalar", "alp_gluon")
PRODUCTIONS = ("brems", "pi0", "eta", "etaprime", "omega", "rho", "phi", "b_meson", "mixing")
#: Final states a signal sample can decay to: those an analysis selects (na62dump.finalstates).
CHANNELS = tuple(s.key for s in SIGNAL_STATES)
#: Parent masses (GeV) recorded in ``Truth_parentMass``; B: the B+/B0 average (PDG).
_B_MASS = 5.2797


def _parent_mass(production: str) -> float:
    if production in ("brems", "mixing"):  # no parent decay
        return 0.0
    if production == "b_meson":
        return _B_MASS
    from na62dump.physics import mesons

    return float(mesons.source(production).mass)


def sample_production_momentum(production: str, mass: float, n: int, rng, model: str = "alp"):
    """X lab momenta ``(px, py, pz)`` from the physics sampler of ``production``.

    ``model`` matters for ``b_meson`` only: the dark scalar draws its kaon state per event from
    the B -> K_X S branching ratios (``scalar.sample``); the ALP keeps the model-independent
    B+ -> K+ a kinematics (``alp.sample``)."""
    if production == "brems":
        from na62dump.physics import brems

        return brems.sample(mass, n, rng)
    if (production == "mixing") != (model == "alp_gluon"):
        raise InputError(f"production {production!r} with model {model!r}: the ALP-meson "
                         f"mixing is the production of 'alp_gluon', and its only one")
    if production == "mixing":
        from na62dump.physics import alp_gluon

        return alp_gluon.sample(mass, n, rng)
    if production == "b_meson":
        # each B-produced model's own sampler: the ALP's B+ -> K+ a, the scalar's B -> K_X S
        from na62dump.physics import alp, scalar

        samplers = {"alp": alp.sample, "dark_scalar": scalar.sample}
        if model not in samplers:
            raise InputError(f"production 'b_meson': no B-decay production for model "
                             f"{model!r} (one of {', '.join(samplers)})")
        return samplers[model](mass, n, rng)
    from na62dump.physics import mesons

    return mesons.sample(mass, production, n, rng)


def sample_tax_point(n: int, rng: np.random.Generator):
    """Primary-interaction points ``(n, 3)`` in the TAX (m); see the module documentation."""
    length = g.TAX_Z_END - g.TAX_Z_START
    u = rng.uniform(0.0, 1.0, n)
    depth = -g.TAX_LAMBDA_I * np.log1p(-u * -np.expm1(-length / g.TAX_LAMBDA_I))
    return np.stack(
        [
            g.BEAM_POINT[0] + BEAM_SPOT_SIGMA_M * rng.standard_normal(n),
            g.BEAM_POINT[1] + BEAM_SPOT_SIGMA_M * rng.standard_normal(n),
            g.TAX_Z_START + depth,
        ],
        axis=-1,
    )


def decay_products(channel: Channel, parent_p4, rng, *, angular="isotropic"):
    """Daughter four-momenta ``(n, k, 4)`` and their species names for ``channel``."""
    names = channel.daughters
    masses = [SPECIES[d][1] for d in names]
    if len(names) == 2:
        d1, d2 = two_body_decay(parent_p4, masses[0], masses[1], rng, angular=angular)
        return np.stack([d1, d2], axis=1), names
    return phase_space_decay(parent_p4, masses, rng), names


def validate(model: str, production: str, channel: str, mass) -> tuple[Model, Production,
                                                                      Channel, float]:
    """Check the signal parameters; return their codes (raises :class:`InputError`)."""
    if model not in MODELS:
        raise InputError(f"signal parameter 'model': {model!r} is not one of {MODELS}")
    if production not in PRODUCTIONS:
        raise InputError(
            f"signal parameter 'production': {production!r} is not one of {PRODUCTIONS}"
        )
    if channel not in CHANNELS:
        raise InputError(f"signal parameter 'channel': {channel!r} is not one of {CHANNELS}")
    try:
        m = float(mass)
    except (TypeError, ValueError) as err:
        raise InputError(f"signal parameter 'mass_gev': {mass!r} is not a number") from err
    ch = Channel.from_name(channel)
    threshold = sum(SPECIES[d][1] for d in ch.daughters)
    if not np.isfinite(m) or m <= threshold:
        raise InputError(
            f"signal parameter 'mass_gev': {m!r} GeV is not above the {channel} threshold "
            f"({threshold:.4f} GeV)"
        )
    mode = Production.from_name("b_meson" if production == "b_meson" else production)
    return Model[model.upper()], mode, ch, m


def generate_signal(
    model: str,
    production: str,
    channel: str,
    mass_gev: float,
    n: int,
    rng: np.random.Generator,
    *,
    angular: str = "isotropic",
    z_range: tuple[float, float] = g.FORCED_DECAY_Z,
    detector: DetectorConfig = DEFAULT_CONFIG,
):
    """Generate ``n`` forced-decay signal events; returns the ntuple branches (with truth).

    ``run``/``burst``/``event`` are filled by :func:`na62dump.simulation.generators.generate`.
    """
    model_c, mode_c, ch, m = validate(model, production, channel, mass_gev)
    n = int(n)
    px, py, pz = (np.asarray(a, dtype=float) for a in sample_production_momentum(
        production, m, n, rng, model=model))
    prod = sample_tax_point(n, rng)
    z_dec = rng.uniform(z_range[0], z_range[1], n)
    tx, ty = px / pz, py / pz
    dz = z_dec - prod[:, 2]
    decay = np.stack([prod[:, 0] + tx * dz, prod[:, 1] + ty * dz, z_dec], axis=-1)
    parent = four_momentum(px, py, pz, m)
    beta = np.sqrt(px * px + py * py + pz * pz) / parent[:, 3]
    t_dec = dz * (np.sqrt(1.0 + tx * tx + ty * ty) / beta - 1.0) / C_M_PER_NS
    daughters, names = decay_products(ch, parent, rng, angular=angular)
    k = len(names)
    flat = daughters.reshape(n * k, 4)
    particles = Particles(  # the columns of Particles.from_p4, without intermediate copies
        event=np.repeat(np.arange(n, dtype=np.int64), k),
        pdg=np.tile(np.array([SPECIES[d][0] for d in names], np.int32), n),
        charge=np.tile(np.array([SPECIES[d][2] for d in names], np.int8), n),
        px=flat[:, 0].copy(),
        py=flat[:, 1].copy(),
        pz=flat[:, 2].copy(),
        e=flat[:, 3].copy(),
        x=np.repeat(decay[:, 0], k),
        y=np.repeat(decay[:, 1], k),
        z=np.repeat(decay[:, 2], k),
        t=np.repeat(t_dec, k),
    )
    particles = decay_neutral_mesons(particles, rng)
    out = simulate_detector(particles, n, rng, cfg=detector)
    f4 = np.float32
    out.update({
        "Truth_model": np.full(n, int(model_c), np.int8),
        "Truth_mode": np.full(n, int(mode_c), np.int8),
        "Truth_channel": np.full(n, int(ch), np.int8),
        "Truth_mass": np.full(n, m, f4),
        "Truth_parentMass": np.full(n, _parent_mass(production), f4),
        "Truth_px": px.astype(f4),
        "Truth_py": py.astype(f4),
        "Truth_pz": pz.astype(f4),
        "Truth_prodX": prod[:, 0].astype(f4),
        "Truth_prodY": prod[:, 1].astype(f4),
        "Truth_prodZ": prod[:, 2].astype(f4),
        "Truth_decayX": decay[:, 0].astype(f4),
        "Truth_decayY": decay[:, 1].astype(f4),
        "Truth_decayZ": decay[:, 2].astype(f4),
        "Truth_zMin": np.full(n, z_range[0], f4),
        "Truth_zMax": np.full(n, z_range[1], f4),
        "Truth_weight": np.ones(n, f4),
    })
    return out
