r"""Dark scalar S mixing with the Higgs boson (PBC benchmark BC4): widths, BRs, B -> K S.

The scalar couples to SM fermions like a light Higgs boson, with strength ``sin(theta) ~
theta``. Units: GeV, metres, seconds.

Decay widths (:func:`partial_widths`)::

    Gamma(S -> l+l-) = G_F m_l^2 M beta_l^3 theta^2 / (4 sqrt2 pi),    beta = sqrt(1 - 4m^2/M^2)

    Gamma(S -> pi pi) = 3 G_F M^3 beta_pi  theta^2 / (16 sqrt2 pi) x c_pi^2    (pi+pi- : pi0pi0
                                                                              = 2 : 1)
    Gamma(S -> K Kbar) = G_F M^3 beta_K theta^2 / (4 sqrt2 pi) x c_K^2        (K+K- : K0K0bar
                                                                              = 1 : 1)
    c_P = 2/9 + (11/9) m_P^2 / M^2

The hadronic widths are the leading order of chiral perturbation theory with the heavy quarks
(c, b, t) integrated out into the gluon operator (Voloshin, Sov. J. Nucl. Phys. 44 (1986) 478;
Gunion, Haber, Kane, Dawson, "The Higgs Hunter's Guide" (1990) sec. 2.2; used for this model by
Bezrukov and Gorbunov, JHEP 05 (2010) 010, eq. 3.3). *Approximation*: this neglects the
pi pi final-state interaction (f0(500), f0(980)), which the dispersive treatments of Winkler,
Phys. Rev. D 99 (2019) 015018 and Boiarska et al., JHEP 11 (2019) 162 include; the LO widths are
reliable to a factor ~2 below 0.6 GeV and underestimate the hadronic width near 1 GeV by a
larger factor. Channels opening above 1 GeV (4 pi, eta eta, gluons) are not included: above
1 GeV the BRs are indicative only. :data:`MASS_RANGE_GEV` stops at 2 GeV.

Production: ``B -> K S`` through the top-W loop (Willey and Yu, Phys. Rev. D 26 (1982) 3086;
Boiarska et al. 2019, eq. 3.2; Winkler 2019 eq. 24)::

    L = theta (3 sqrt2 G_F m_t^2 V_ts^* V_tb / (16 pi^2)) (m_b / v) S sbar P_R b + h.c.
    Gamma(B -> K S) = |C theta|^2 / 4 x ((m_B^2 - m_K^2) / (m_b - m_s))^2 f_0(M^2)^2
                      x sqrt(lambda(m_B^2, m_K^2, M^2)) / (16 pi m_B^3)

with ``C`` the coefficient in brackets times m_b / v and the scalar form factor
``f_0(q^2) = 0.330 / (1 - q^2 / 37.46 GeV^2)`` (Ball and Zwicky, Phys. Rev. D 71 (2005) 014015).
The BR uses the mean of the B+ and B0 lifetimes (equal production). Only the exclusive K mode is
kept (B -> K* S adds about as much again and the inclusive b -> s S about 10 times more: our
yield is conservative by that factor).

>>> round(float(br_b_to_ks(0.5, 1.0)), 3)  # BR(B -> K S) / theta^2
0.472
>>> round(float(branching_ratios(0.5)["pipi"]), 3)  # pi+ pi-
0.436
>>> round(float(ctau_m(0.5, 1e-4)), 2)  # metres
2.51
"""

from __future__ import annotations

import logging

import numpy as np

from na62dump.physics import bmesons
from na62dump.physics import constants as C
from na62dump.physics._checks import check_mass, check_nonnegative
from na62dump.physics.decay import HBAR_GEV_S, ctau_from_width, lifetime_from_width
from na62dump.physics.sampling import kallen

log = logging.getLogger(__name__)

#: Fermi constant (GeV^-2), PDG 2024.
G_F = 1.1663788e-5
#: Higgs vacuum expectation value v = (sqrt2 G_F)^(-1/2) (GeV).
V_HIGGS = (np.sqrt(2.0) * G_F) ** -0.5
#: Top pole mass, b and s MS-bar masses (GeV), |V_ts V_tb| (PDG 2024).
M_TOP = 172.57
M_B_QUARK = 4.183
M_S_QUARK = 0.0935
VTS_VTB = 0.0411 * 0.999
#: Ball-Zwicky B -> K scalar form factor f_0(q^2) = r2 / (1 - q^2 / m_fit^2).
F0_R2 = 0.330
F0_MFIT2 = 37.46

#: Validity range (GeV), see the module docstring.
MASS_RANGE_GEV = (2.0 * C.M_E * (1.0 + 1e-9), 2.0)

#: Keys of the width and BR dictionaries (pipi / kk: the charged two-track states).
STATES = ("ee", "mumu", "pipi", "pi0pi0", "kk", "k0k0")


def _beta(mass, m):
    x = 4.0 * m * m / mass**2
    return np.sqrt(np.clip(1.0 - x, 0.0, None)) * (x < 1.0)


def _unit_widths(m: np.ndarray) -> dict[str, np.ndarray]:
    """Partial widths (GeV) at theta = 1 for checked masses."""
    lep = G_F * m / (4.0 * np.sqrt(2.0) * np.pi)
    c_pi = 2.0 / 9.0 + 11.0 / 9.0 * C.M_PI**2 / m**2
    c_k = 2.0 / 9.0 + 11.0 / 9.0 * C.M_K**2 / m**2
    pipi_all = 3.0 * G_F * m**3 * _beta(m, C.M_PI) * c_pi**2 / (16.0 * np.sqrt(2.0) * np.pi)
    kk_all = G_F * m**3 * _beta(m, C.M_K) * c_k**2 / (4.0 * np.sqrt(2.0) * np.pi)
    return {
        "ee": lep * C.M_E**2 * _beta(m, C.M_E) ** 3,
        "mumu": lep * C.M_MU**2 * _beta(m, C.M_MU) ** 3,
        "pipi": pipi_all * 2.0 / 3.0,
        "pi0pi0": pipi_all / 3.0,
        "kk": kk_all / 2.0,
        "k0k0": kk_all / 2.0,
    }


def _check(mass, theta=None):
    m = check_mass(mass, MASS_RANGE_GEV, "dark-scalar mass")
    if theta is None:
        return m
    return m, check_nonnegative(theta, "theta")


def partial_widths(mass, theta) -> dict[str, np.ndarray]:
    """Partial widths (GeV) per key of :data:`STATES`, ``mass`` broadcast against ``theta``."""
    m, th = _check(mass, theta)
    return {k: v * th**2 for k, v in _unit_widths(m).items()}


def total_width(mass, theta):
    """Total width (GeV)."""
    m, th = _check(mass, theta)
    return sum(_unit_widths(m).values()) * th**2


def branching_ratios(mass) -> dict[str, np.ndarray]:
    """Branching ratios (independent of theta), per key of :data:`STATES`; they sum to 1."""
    unit = _unit_widths(_check(mass))
    tot = sum(unit.values())
    return {k: v / tot for k, v in unit.items()}


def ctau_m(mass, theta):
    """Proper decay length c tau (m); inf for theta = 0."""
    with np.errstate(divide="ignore"):
        return ctau_from_width(total_width(mass, theta))


def lifetime_s(mass, theta):
    """Proper lifetime (s); inf for theta = 0."""
    with np.errstate(divide="ignore"):
        return lifetime_from_width(total_width(mass, theta))


def width_b_to_ks(mass, theta=1.0, kaon: str = "K+"):
    """Gamma(B -> K S) in GeV (formula in the module docstring); 0 above the end point."""
    m = np.asarray(mass, dtype=float)
    th = check_nonnegative(theta, "theta")
    m_k, _, m_b = bmesons.KAONS[kaon]
    coupling = (
        3.0 * np.sqrt(2.0) * G_F * M_TOP**2 * VTS_VTB / (16.0 * np.pi**2) * M_B_QUARK / V_HIGGS
    )
    f0 = F0_R2 / (1.0 - m**2 / F0_MFIT2)
    lam = np.clip(kallen(m_b**2, m_k**2, m**2), 0.0, None)
    amp2 = (coupling * th) ** 2 / 4.0 * ((m_b**2 - m_k**2) / (M_B_QUARK - M_S_QUARK)) ** 2 * f0**2
    return np.where(m < m_b - m_k, amp2 * np.sqrt(lam) / (16.0 * np.pi * m_b**3), 0.0)


def br_b_to_ks(mass, theta=1.0):
    """BR(B -> K S), averaged over B+ -> K+ S and B0 -> K0 S (equal B+ and B0 production)."""
    _check(mass)
    br = 0.5 * (
        width_b_to_ks(mass, theta, "K+") * bmesons.TAU_B_CHARGED_S
        + width_b_to_ks(mass, theta, "K0") * bmesons.TAU_B0_S
    ) / HBAR_GEV_S
    return float(br) if np.ndim(br) == 0 else br


def n_produced_per_pot(mass, theta):
    """Dark scalars per POT: ``B_PER_POT x BR(B -> K S)``."""
    return bmesons.B_PER_POT * br_b_to_ks(mass, theta)


def sample(mass, n, rng):
    """Draw ``n`` S lab momenta (px, py, pz) in GeV from B+ -> K+ S (B0 -> K0 S is the same to
    0.1 % in the two-body momentum)."""
    m = float(_check(mass))
    return bmesons.sample_b_to_kx(m, n, rng, kaon="K+")
