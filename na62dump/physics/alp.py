"""Axion-like particle a from B -> K(*) a, model-independent (PBC BC10/BC11-like use).

Following the NA62 interpretation (arXiv:2312.12055, Fig. 5; Dobrich, Ertas, Kahlhoefer,
Spadaro, Phys. Lett. B 790 (2019) 537), the free parameters are the ALP mass ``M_a``, its
proper lifetime ``tau_a`` (or ``c tau``) and the product ``BR(B -> K(*) a) x BR(a -> f)``, where
BR(B -> K(*) a) is the yield-weighted sum over B+, B0 and antiparticles. The number of
(B -> K(*) a, a -> f) chains per POT is then ``B_PER_POT x BR x BR``
(:data:`na62dump.physics.bmesons.B_PER_POT`), and the number decaying in the fiducial volume is
that times the decay probability averaged over the ALP spectrum.

Final states of a pseudoscalar (J^PC = 0^-+): l+l-, gamma gamma and hadronic states with an odd
number of pseudoscalars or a photon: pi+pi-gamma, pi+pi-pi0, pi+pi-pi0pi0, pi+pi-eta,
K+K-pi0 (BR(a -> f) is a free parameter here, so no hadronic model is needed). pi+pi- and K+K-
are forbidden by parity and CP. :func:`allowed_final_states` lists those open at ``M_a`` among the
two-track states the analysis reconstructs (``na62dump.codes.Channel``). Decay kinematics for
the simulation: two-body states isotropic in the a rest frame (exact, spin 0), three- and
four-body states uniform in phase space (no matrix element; an approximation).

>>> allowed_final_states(0.25)
('ee', 'mumu')
>>> allowed_final_states(1.2)
('ee', 'mumu', 'pipigamma', 'pipipi0', 'pipipi0pi0', 'pipieta', 'kkpi0')
>>> round(n_produced_per_pot(1e-6) / 1e-13, 3)  # B_PER_POT = 4.3e-7
4.298
"""

from __future__ import annotations

import logging

from na62dump.codes import Channel
from na62dump.errors import InputError
from na62dump.finalstates import decays_of
from na62dump.physics import bmesons
from na62dump.physics import constants as C
from na62dump.physics._checks import check_mass, check_nonnegative
from na62dump.physics.decay import C_M_PER_S

log = logging.getLogger(__name__)

#: Validity range (GeV): above the e+e- threshold, below the B+ -> K+ a end point.
MASS_RANGE_GEV = (2.0 * C.M_E * (1.0 + 1e-9), bmesons.kx_threshold("K+"))

_DAUGHTER_MASS = {
    "e+": C.M_E, "e-": C.M_E, "mu+": C.M_MU, "mu-": C.M_MU, "pi+": C.M_PI, "pi-": C.M_PI,
    "pi0": C.M_PI0, "eta": C.M_ETA, "gamma": 0.0, "K+": C.M_K, "K-": C.M_K,
}

#: Visible final states of a pseudoscalar: the registry's states with ``"alp"`` among their
#: models (:func:`na62dump.finalstates.decays_of`).
FINAL_STATES: tuple[str, ...] = decays_of("alp")
#: States of the analysis a pseudoscalar cannot decay to (parity / CP).
FORBIDDEN_STATES: tuple[str, ...] = ("pipi", "kk")


def daughters(channel: str) -> tuple[str, ...]:
    """Daughter names of ``channel`` (from ``na62dump.codes.Channel``)."""
    try:
        return Channel.from_name(channel).daughters
    except KeyError:
        raise InputError(f"unknown final state {channel!r}") from None


def threshold(channel: str) -> float:
    """Sum of the daughter masses of ``channel`` (GeV)."""
    return float(sum(_DAUGHTER_MASS[d] for d in daughters(channel)))


def allowed_final_states(mass) -> tuple[str, ...]:
    """Final states of :data:`FINAL_STATES` kinematically open at ``mass`` (GeV)."""
    m = float(check_mass(mass, MASS_RANGE_GEV, "ALP mass"))
    return tuple(ch for ch in FINAL_STATES if m > threshold(ch))


def ctau_from_lifetime(lifetime_s):
    """c tau (m) from the proper lifetime (s)."""
    return check_nonnegative(lifetime_s, "lifetime_s") * C_M_PER_S


def lifetime_from_ctau(ctau_m):
    """Proper lifetime (s) from c tau (m)."""
    return check_nonnegative(ctau_m, "ctau_m") / C_M_PER_S


def n_produced_per_pot(br_product):
    """ALPs produced per POT that decay (anywhere) to the final state f.

    ``br_product = BR(B -> K(*) a) x BR(a -> f)``; the result is ``B_PER_POT x br_product``.
    """
    br = check_nonnegative(br_product, "br_product")
    if (br > 1.0).any():
        raise InputError(f"br_product: a product of branching ratios must be <= 1, got {br}")
    out = bmesons.B_PER_POT * br
    return float(out) if out.ndim == 0 else out


def sample(mass, n, rng, kaon: str = "K+"):
    """Draw ``n`` ALP lab momenta (px, py, pz) in GeV from ``B -> kaon a``.

    The ALP spectrum depends on the kaon only through the two-body momentum; ``"K+"`` is the
    default (the K and K* samples differ by a few per cent in mean momentum).
    """
    m = float(check_mass(mass, MASS_RANGE_GEV, "ALP mass"))
    return bmesons.sample_b_to_kx(m, n, rng, kaon=kaon)
