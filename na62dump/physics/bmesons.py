"""B mesons made by 400 GeV protons in the TAX, and their two-body decays B -> K(*) X.

Used by the ALP (:mod:`na62dump.physics.alp`) and dark-scalar (:mod:`na62dump.physics.scalar`)
models, both produced in b -> s transitions.

Yield: :data:`B_PER_POT` counts B+, B0 and their antiparticles (the states with a B -> K(*) X
mode) per proton on the TAX. ``shared/ANALYSIS.md`` gives 1.6e-7 to 2.6e-7 from
sigma(bb) / sigma(pN) at sqrt(s) = 27.4 GeV (two b hadrons per bb pair, about 80 % of them B+ or
B0); we take the middle, 2.0e-7, and keep it configurable. In the model-independent ALP
interpretation (NA62, arXiv:2312.12055, Fig. 5) BR(B -> K(*) a) already stands for the
yield-weighted sum over B+, B0 and antiparticles, so a single number per POT is what enters.

Spectrum (*approximation*): ``dN/dx_F dp_T^2 ~ (1 - |x_F|)^n exp(-b m_T)`` in the pN CM frame
with n = 6 (our choice: heavy-quark production close to threshold, softer in x_F than open
charm, for which NA27 measured n of about 5 at 400 GeV, Aguilar-Benitez et al., Z. Phys. C 40
(1988) 321) and
the light-hadron m_T slope b = 6 GeV^-1 (then <p_T^2> = 1.8 GeV^2, close to 2 m_B / b).

Decays ``B -> K(*) X`` are isotropic in the B frame (spin-0 parent, exact). K* is taken at its
pole mass (narrow-width approximation).

>>> round(kx_threshold("K+"), 4)
4.7857
>>> import numpy as np
>>> px, py, pz = sample_b_to_kx(1.0, 3, np.random.default_rng(0))
>>> pz.shape
(3,)
"""

from __future__ import annotations

import logging

from particle import Particle

from na62dump.errors import InputError
from na62dump.physics.sampling import HadronSpectrum, sample_hadron, two_body_decay

log = logging.getLogger(__name__)

#: B+, B0 and antiparticles per POT (see the module docstring).
B_PER_POT = 2.0e-7
#: Range quoted in ANALYSIS.md, for a systematic variation.
B_PER_POT_RANGE = (1.6e-7, 2.6e-7)

#: Masses (GeV) and lifetimes (s) of the parents, from the ``particle`` package (PDG tables;
#: looked up by PDG id, a dict access, ``from_name`` scans the whole table).
M_B_CHARGED = Particle.from_pdgid(521).mass * 1e-3
M_B0 = Particle.from_pdgid(511).mass * 1e-3
TAU_B_CHARGED_S = Particle.from_pdgid(521).lifetime * 1e-9
TAU_B0_S = Particle.from_pdgid(511).lifetime * 1e-9

#: Kaon in the final state -> (kaon mass, parent name, parent mass), in GeV.
KAONS: dict[str, tuple[float, str, float]] = {
    "K+": (Particle.from_pdgid(321).mass * 1e-3, "B+", M_B_CHARGED),
    "K0": (Particle.from_pdgid(311).mass * 1e-3, "B0", M_B0),
    "K*+": (Particle.from_pdgid(323).mass * 1e-3, "B+", M_B_CHARGED),
    "K*0": (Particle.from_pdgid(313).mass * 1e-3, "B0", M_B0),
}

#: B-meson spectrum in the pN CM frame (approximation, see the module docstring).
B_SPECTRUM = HadronSpectrum(n=6.0, b_per_gev=6.0)


def _kaon(kaon: str):
    try:
        return KAONS[kaon]
    except KeyError:
        raise InputError(f"unknown kaon {kaon!r}; expected one of {', '.join(KAONS)}") from None


def kx_threshold(kaon: str = "K+") -> float:
    """Largest X mass (GeV) allowed in ``B -> kaon X``."""
    m_k, _, m_b = _kaon(kaon)
    return m_b - m_k


def sample_b(n, rng, parent: str = "B+"):
    """Lab momenta (px, py, pz) in GeV of ``n`` B mesons (``parent`` "B+" or "B0")."""
    mass = {"B+": M_B_CHARGED, "B0": M_B0}.get(parent)
    if mass is None:
        raise InputError(f"unknown B meson {parent!r}; expected 'B+' or 'B0'")
    return sample_hadron(mass, B_SPECTRUM, int(n), rng)


def sample_b_to_kx(mass_x, n, rng, kaon: str = "K+"):
    """Draw ``n`` lab momenta (px, py, pz) in GeV of X from ``B -> kaon X`` decays.

    Parameters
    ----------
    mass_x : float
        Mass of X (GeV), below :func:`kx_threshold`.
    n : int
    rng : numpy.random.Generator
    kaon : {"K+", "K0", "K*+", "K*0"}
        The kaon in the final state; it fixes the parent (B+ or B0).
    """
    m_k, parent, m_b = _kaon(kaon)
    try:
        m = float(mass_x)
    except (TypeError, ValueError) as err:
        raise InputError(f"mass: cannot be read as a number ({mass_x!r})") from err
    if not 0.0 <= m < m_b - m_k:
        raise InputError(
            f"mass: {m:g} GeV is outside [0, {m_b - m_k:.4f}) GeV allowed in {parent} -> {kaon} X"
        )
    bx, by, bz = sample_b(n, rng, parent)
    return two_body_decay(bx, by, bz, m_b, m, m_k, rng)
