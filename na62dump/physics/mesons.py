"""Dark-photon production in decays of light neutral mesons made in the TAX.

Only the *primary* proton-nucleon interaction is modelled; in the 19.6 interaction lengths of
the TAX it happens for every proton (probability 1 - exp(-19.6)), so multiplicities per
interaction are multiplicities per POT. Mesons from the hadronic cascade are softer and are
neglected (NA62 uses Pythia 8 primary interactions too, ref. [34] of arXiv:2312.12055).

Branching ratios (eps = kinetic mixing, M = A' mass):

- pseudoscalars P = pi0, eta, eta' (Batell, Pospelov, Ritz, Phys. Rev. D 80 (2009) 095024):
  ``BR(P -> gamma A') = 2 eps^2 (1 - M^2/m_P^2)^3 BR(P -> gamma gamma)``;
- vectors V -> P A' with P the lightest radiative partner (omega -> pi0, rho0 -> pi0,
  phi -> eta): ``BR(V -> P A') = eps^2 BR(V -> P gamma) lambda^(3/2)(m_V^2, m_P^2, M^2) /
  (m_V^2 - m_P^2)^3``. As M -> 0 the Kallen function ``lambda`` tends to ``(m_V^2 - m_P^2)^2``,
  so the ratio tends to ``eps^2 BR(V -> P gamma)``, as it must. Transition form factors are
  set to 1, as in these formulas (*known weakness*: the eta transition form factor,
  ~ (1 - M^2 / Lambda^2)^-2 with Lambda ~ 0.72 GeV, would raise the eta rate by ~40 % at
  M = 0.3 GeV; not included).

Multiplicities per 400 GeV proton (primary interaction; Pythia 8 values quoted in
``shared/ANALYSIS.md``): we take the middle of each quoted range, pi0 5.5, eta 0.65, eta' 0.07,
rho0 0.66, omega 0.75, phi 0.024; NA62 assigns 20 % to meson production (arXiv:2312.12055,
app. A), which covers the spread of the ranges.

Momentum spectra: ``dN/dx_F dp_T^2 ~ (1 - |x_F|)^n exp(-b m_T)`` in the pN CM frame
(:class:`na62dump.physics.sampling.HadronSpectrum`). *Approximation* (our choice, not a fit):
one m_T slope for all mesons, b = 6 GeV^-1 (inverse slope 0.167 GeV, the "m_T scaling" of
light-hadron spectra at SPS energies), and n = 3.5 for pi0, eta, rho, omega, typical of central
meson production at sqrt(s) ~ 27 GeV (the 400 GeV pp data of LEBC-EHS / NA27 fall roughly as
(1 - x_F)^3-4), n = 4.5 for the heavier eta' and phi. Both live as data in
:data:`MESON_SOURCES` for a study to change; the acceptance of meson-produced A' depends on
them directly.

>>> round(float(br_to_aprime(0.0, "pi0")), 4)  # 2 BR(pi0 -> gamma gamma) at M -> 0
1.9765
>>> float(br_to_aprime(0.2, "pi0"))  # above threshold
0.0
>>> round(float(rate_per_pot(0.1, "eta", eps=1e-3)) * 1e6, 3)
0.462
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from na62dump.errors import InputError
from na62dump.physics import constants as c
from na62dump.physics.sampling import HadronSpectrum, kallen, sample_hadron, two_body_decay

log = logging.getLogger(__name__)

#: BR(P -> gamma gamma), PDG 2022 (R. L. Workman et al., PTEP 2022 083C01).
BR_PI0_GAMMAGAMMA = 0.98823
BR_ETA_GAMMAGAMMA = 0.3936
BR_ETAP_GAMMAGAMMA = 0.02307

#: Common m_T slope of the meson spectra (1/GeV), see the module docstring (approximation).
MT_SLOPE_PER_GEV = 6.0


@dataclass(frozen=True)
class MesonSource:
    """One meson species as a source of A': its decay to the A', yield and spectrum."""

    name: str
    mass: float  #: GeV
    kind: str  #: "pseudoscalar" (P -> gamma A') or "vector" (V -> P A')
    partner: str  #: the other daughter of the A' decay mode
    partner_mass: float  #: GeV (0 for the photon)
    br_radiative: float  #: BR(P -> gamma gamma) or BR(V -> P gamma)
    multiplicity: float  #: per POT (primary 400 GeV pN interaction)
    spectrum: HadronSpectrum

    @property
    def threshold(self) -> float:
        """Largest A' mass (GeV) the decay allows."""
        return self.mass - self.partner_mass


MESON_SOURCES: dict[str, MesonSource] = {
    s.name: s
    for s in (
        MesonSource("pi0", c.M_PI0, "pseudoscalar", "gamma", 0.0, BR_PI0_GAMMAGAMMA, 5.5,
                    HadronSpectrum(3.5, MT_SLOPE_PER_GEV)),
        MesonSource("eta", c.M_ETA, "pseudoscalar", "gamma", 0.0, BR_ETA_GAMMAGAMMA, 0.65,
                    HadronSpectrum(3.5, MT_SLOPE_PER_GEV)),
        MesonSource("etaprime", c.M_ETAP, "pseudoscalar", "gamma", 0.0, BR_ETAP_GAMMAGAMMA,
                    0.07, HadronSpectrum(4.5, MT_SLOPE_PER_GEV)),
        MesonSource("omega", c.M_OMEGA, "vector", "pi0", c.M_PI0, c.BR_OMEGA_PI0GAMMA, 0.75,
                    HadronSpectrum(3.5, MT_SLOPE_PER_GEV)),
        MesonSource("rho", c.M_RHO, "vector", "pi0", c.M_PI0, c.BR_RHO_PI0GAMMA, 0.66,
                    HadronSpectrum(3.5, MT_SLOPE_PER_GEV)),
        MesonSource("phi", c.M_PHI, "vector", "eta", c.M_ETA, c.BR_PHI_ETAGAMMA, 0.024,
                    HadronSpectrum(4.5, MT_SLOPE_PER_GEV)),
    )
}
#: Meson names, in the order of ``na62dump.codes.Production``.
MESONS: tuple[str, ...] = tuple(MESON_SOURCES)


def source(meson: str) -> MesonSource:
    """The :class:`MesonSource` called ``meson`` (one of :data:`MESONS`)."""
    try:
        return MESON_SOURCES[meson]
    except KeyError:
        raise InputError(f"unknown meson {meson!r}; expected one of {', '.join(MESONS)}") from None


def multiplicity(meson: str) -> float:
    """Mesons per POT (primary interaction of a 400 GeV proton)."""
    return source(meson).multiplicity


def _mass_array(mass):
    try:
        m = np.asarray(mass, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"mass: cannot be read as a number ({mass!r})") from err
    if np.isnan(m).any() or (m < 0).any():
        raise InputError(f"mass: must be a non-negative number (GeV), got {mass!r}")
    return m


def br_to_aprime(mass, meson: str, eps=1.0):
    """BR(meson -> A' + partner) at A' mass ``mass`` (GeV, array or scalar); 0 above threshold."""
    src = source(meson)
    m = _mass_array(mass)
    open_ = m < src.threshold
    if src.kind == "pseudoscalar":
        shape = np.clip(1.0 - m**2 / src.mass**2, 0.0, None) ** 3
        br = 2.0 * shape * src.br_radiative
    else:
        lam = np.clip(kallen(src.mass**2, src.partner_mass**2, m**2), 0.0, None)
        br = src.br_radiative * lam**1.5 / (src.mass**2 - src.partner_mass**2) ** 3
    out = np.where(open_, br, 0.0) * float(eps) ** 2
    return float(out) if out.ndim == 0 else out


def rate_per_pot(mass, meson: str, eps=1.0):
    """A' per POT from ``meson`` decays: multiplicity x BR(meson -> A' X)."""
    return multiplicity(meson) * br_to_aprime(mass, meson, eps)


def sample_meson(meson: str, n, rng):
    """Lab momenta (px, py, pz) in GeV of ``n`` mesons from the primary interaction."""
    src = source(meson)
    return sample_hadron(src.mass, src.spectrum, int(n), rng)


def sample(mass, meson: str, n, rng):
    """Draw ``n`` A' lab momenta (px, py, pz) in GeV from ``meson`` decays.

    The meson is drawn from its spectrum, then decays isotropically in its rest frame
    (P -> gamma A' from a spin-0 parent; V -> P A' from an unpolarised vector), and the A' is
    boosted to the lab.

    >>> import numpy as np
    >>> px, py, pz = sample(0.05, "pi0", 4, np.random.default_rng(1))
    >>> pz.shape
    (4,)
    """
    src = source(meson)
    m = float(_mass_array(mass))
    if not m < src.threshold:
        raise InputError(
            f"mass: {m:g} GeV is above the {meson} -> {src.partner} A' threshold "
            f"({src.threshold:.4f} GeV)"
        )
    ppx, ppy, ppz = sample_meson(meson, n, rng)
    return two_body_decay(ppx, ppy, ppz, src.mass, m, src.partner_mass, rng)
