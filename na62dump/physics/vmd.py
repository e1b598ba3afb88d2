r"""The ratio R(s) = sigma(e+e- -> hadrons) / sigma_pt, inclusive and per final state (VMD).

Convention
----------
``sigma_pt = 4 pi alpha^2 / (3 s)`` is the *point-like* mu+mu- cross-section, without the muon
mass factor (1 + 2 m_mu^2/s) sqrt(1 - 4 m_mu^2/s). This is the convention of the PDG R
compilation and of DarkCast (Ilten, Soreq, Williams, Xue, JHEP 06 (2018) 004, eq. 2.15 with
their R_mu^F grids), so that

    Gamma(A' -> F) = (alpha eps^2 M / 3) R_F(M^2)

holds exactly for a dark photon of mass M coupled to the electromagnetic current with strength
eps e. (With the massive-muon convention the hadronic widths would be ~11% larger at 300 MeV.)

All functions take ``sqrt_s`` in GeV (any array shape) and return float arrays of that shape.

Model (vector-meson dominance, our implementation; every parameter is a named module constant)
------------------------------------------------------------------------------------------------
Generic resonance sum. For the channels other than pi+pi- and K Kbar the rate is

    R_f(s) = | sum_V sqrt(R_V^peak) e^{i phi_V} m_V Gamma_V / (m_V^2 - s - i m_V Gamma_V)
               * sqrt(P_f(s) / P_f(m_V^2)) |^2,

so that a single resonance gives R_f(m_V^2) = R_V^peak. For a PDG vector meson
R_V^peak = 9 B(V -> e+e-) B(V -> f) / alpha^2 (the peak cross-section 12 pi B_ee B_f / m_V^2
divided by sigma_pt). ``P_f`` is the phase-space factor of the final state, proportional to the
width of a vector of mass sqrt(s) with fixed couplings divided by sqrt(s):

* ``P = s (1 - m_P^2/s)^3`` for P gamma (p-wave, V P gamma coupling),
* ``P = k^3 / sqrt(s)`` for quasi two-body V' -> V P (omega pi0, rho eta, K* K), with k the
  momentum in the sqrt(s) frame; for a broad daughter (rho, K*) k^3 is averaged over the
  daughter's Breit-Wigner line shape above its decay threshold, which removes the unphysical
  sharp two-body threshold;
* pi+ pi- pi0: the Dalitz-plot integral of |p+ x p-|^2 |sum_(ij) BW_rho(s_ij)|^2 (rho pi
  dynamics of omega/phi -> 3 pi);
* four pions: the four-body phase-space volume (no dynamics).

Channels
--------
``pipi``
    pi+ pi-: R = beta_pi^3 |F_pi(s)|^2 / 4 with the Gounaris-Sakurai (GS) form factor in the
    Kuhn-Santamaria / BaBar form (Z. Phys. C48 (1990) 445; BaBar, PRD 86 (2012) 032013):
    F = [GS_rho (1 + c_omega BW_omega)/(1 + c_omega) + sum_i c_i GS_i] / (1 + sum_i c_i),
    i = rho(1450), rho(1700), rho(2150). Parameters: the BaBar GS fit of PRD 86 (2012) 032013
    (module constants ``PIPI_*``; the resulting R agrees with the DarkCast pi+ pi- fit to 6%,
    see Validation). The rho-omega interference produces the drop of |F|^2 between 775 and
    790 MeV.
    Hard final-state radiation is moved to ``pipigamma`` (below), so ``pipi`` is pi+ pi-
    without a photon above E_gamma = 50 MeV.
``pipigamma``
    pi+ pi- gamma with E_gamma > 50 MeV: the pi+ pi- rate times the probability of a hard
    final-state photon. Its mass dependence is the soft-photon (Low) emission probability of a
    scalar pair, (2 alpha / pi) [(1 + beta^2)/(2 beta) ln((1 + beta)/(1 - beta)) - 1]
    ln(E_max / 50 MeV), normalised to the measured B(rho0 -> pi+ pi- gamma, E_gamma > 50 MeV)
    = 9.9e-3 (PDG) at the rho mass. (omega -> pi+ pi- gamma and eta -> pi+ pi- gamma are
    negligible or belong to other channels.)
``pipipi0``
    omega, phi, omega(1420), omega(1650) with 3 pi phase space (see above). omega and phi peaks
    from PDG branching fractions; omega-phi relative phase 163 deg (SND, PRD 68 (2003) 052006);
    omega(1420) / omega(1650) peak values R = 0.07 / 0.13 (sigma ~ 3 / 4 nb, BaBar
    PRD 70 (2004) 072004 and SND), phases 180 / 0 deg as in that fit.
``pipipipi`` (2 pi+ 2 pi-) and ``pipipi0pi0`` (pi+ pi- 2 pi0)
    isovector rho(1450) + rho(1700) with four-body phase space, normalised to the measured peak
    cross-sections near 1.5 GeV: sigma(2pi+ 2pi-) ~ 30 nb (BaBar PRD 85 (2012) 112009),
    sigma(pi+ pi- 2pi0) ~ 40 nb (BaBar PRD 96 (2017) 092009) of which the omega pi0
    (omega -> pi+ pi- pi0) part, peak ~ 12 nb near 1.3 GeV (SND, CMD-2), is modelled separately
    as a rho(1450) -> omega pi0 p-wave term.
``kk``, ``k0k0``
    K+ K- and K0 Kbar0 (K_S K_L): SU(3) VMD form factors with ideal mixing,
    F_K+ = F_rho/2 + F_omega/6 + F_phi/3, F_K0 = -F_rho/2 + F_omega/6 + F_phi/3
    (F(0) = 1 and 0: the kaon charges), R = beta_K^3 |F_K|^2 / 4, where
    F_rho = (1 - a) BW_rho + a BW_rho(1450), F_omega = (1 - a - 2c) BW_omega + a BW_omega(1420),
    F_phi = BW_phi + c BW_phi(1680) (the omega weight keeps F_K(0) exact); a and c
    (:data:`KAON_C_EXCITED`, :data:`KAON_C_PHI1680`) are fitted to the DarkCast K Kbar grid
    between 1.1 and 1.7 GeV. With the PDG phi mass and width this reproduces the measured
    peak (R_phi -> K+K- = 24.7 from B_ee B_KK).
``kkpi``, ``kkpi0``
    K Kbar pi via phi(1680) -> K* Kbar + c.c. (K* line shape averaged), total peak
    sigma(K Kbar pi) ~ 12 nb near 1.68 GeV (BaBar PRD 77 (2008) 092002: sigma(K_S K+- pi-+)
    ~ 4 nb is one third of K Kbar pi by isospin). Isospin for K* Kbar: K+K-pi0 : K0 Kbar0 pi0 :
    K0 K+- pi-+ = 1 : 1 : 4, so ``kkpi0`` (K+ K- pi0) is 1/6 of the total and ``kkpi`` holds
    the other 5/6 (K_S K pi, K_L K pi, K0 Kbar0 pi0): the two keys are disjoint.
``pi0gamma``, ``etagamma``
    rho + omega + phi with PDG B(V -> P gamma), B(V -> e+ e-). Phases: pi0 gamma rho -12.7 deg,
    phi 158 deg relative to omega (SND, PRD 93 (2016) 092001, arXiv:1601.08061); eta gamma:
    quark-model signs (rho, omega 0, phi 180 deg).
``pipieta``
    pi+ pi- eta via rho(1450), rho(1700) -> rho eta (rho line shape averaged), peak
    sigma ~ 4.5 nb near 1.6 GeV (CMD-3 PLB 773 (2017) 150; BaBar PRD 97 (2018) 052007).
``other_hadrons``
    Everything not listed (omega pi0 with omega -> pi0 gamma, 5 and 6 pions, K Kbar pi pi, eta
    omega, phi eta, ...): w(sqrt s) max(R_pQCD - sum_exclusive, 0) with a smooth step w from 0
    at :data:`E_OTHER_ON` = 1.1 GeV to 1 at :data:`E_PQCD` = 1.8 GeV. Above 1.8 GeV the
    inclusive R therefore equals the perturbative value
    R_pQCD = 3 sum_q e_q^2 (1 + alpha_s(s)/pi) = 2 (1 + alpha_s/pi) (u, d, s), with alpha_s at
    one loop (n_f = 3) from alpha_s(m_tau) = 0.32 (PDG 2022); R_pQCD(2 GeV) = 2.20, BES II
    measures 2.18 +- 0.07 +- 0.18 there (PRL 88 (2002) 101802).

Validity: from threshold to :data:`E_MAX` = 2.5 GeV (below open charm; u, d, s only).

Validation (tests in ``tests/physics/test_vmd.py``)
---------------------------------------------------
* pi+ pi- (with its hard-photon part) is within 6% of the DarkCast pi+ pi- fit at 0.3, 0.5,
  0.6, 0.7775 (the peak, R = 9.34 vs 9.36), 0.8, 0.9, 1.0 and 1.1 GeV.
* Dark-photon c tau, BR(ee) and BR(mumu) at 0.1, 0.3, 0.5 GeV agree with the DarkCast values
  to 0.2%; BR(hadrons) to 6% at 0.3 GeV (DarkCast quotes 0.009) and 1% at 0.5 GeV
  (``tests/physics/test_dark_photon.py``).
* pi0 gamma far below the resonances reproduces the chiral-anomaly (pi0 -> gamma gamma)
  prediction with the VMD rise, within 10% up to 0.3 GeV. (The DarkCast pi0 gamma grid is
  ~10 times lower at 0.3 GeV; it is negligible for the dark photon there either way.)
* Narrow peaks (omega, phi -> 3 pi, pi0 gamma, K K, eta gamma) match 9 B_ee B_f / alpha^2.

* K Kbar: within 15% of DarkCast between 1.1 and 1.8 GeV (by construction, fitted).
* pi+ pi- pi0 below the omega is lower than DarkCast's omega term by 45% at 0.6 GeV and 17% at
  0.7 GeV (BR ~ 1e-4 there), within 10% at 0.9 GeV.

Known weaknesses: the 4 pi, K Kbar pi and eta pi pi line shapes are single effective
resonance sums normalised to their measured peaks (uncertainty ~20-30% away from the peak);
between 1.1 and 1.8 GeV the inclusive R is an interpolation, not a fit to R data.

Examples
--------
>>> import numpy as np
>>> float(r_exclusive(0.2)["pipi"])  # below the pi+ pi- threshold
0.0
>>> bool(r_ratio(2.0) > 2.1)
True
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from na62dump.physics import constants as C

log = logging.getLogger(__name__)

ALPHA = C.ALPHA_EM
#: 9 / alpha^2: R at the peak of a narrow vector meson is RPEAK_PER_BB * B(V->ee) * B(V->f).
RPEAK_PER_BB = 9.0 / ALPHA**2

#: Upper end of this description (GeV): three light flavours, below open charm.
E_MAX = 2.5
#: Where ``other_hadrons`` starts to fill the gap to perturbative QCD (GeV).
E_OTHER_ON = 1.1
#: From here on the inclusive R is perturbative QCD (GeV).
E_PQCD = 1.8
#: Strong coupling at the tau mass (PDG 2022, rounded), run at one loop with n_f = 3.
ALPHAS_MTAU = 0.32

#: Exclusive hadronic final states, in the order used everywhere.
EXCLUSIVE_STATES = (
    "pipi",
    "pipigamma",
    "pipipi0",
    "pipipi0pi0",
    "pipipipi",
    "kk",
    "k0k0",
    "kkpi",
    "kkpi0",
    "pi0gamma",
    "etagamma",
    "pipieta",
)
HADRONIC_STATES = (*EXCLUSIVE_STATES, "other_hadrons")

#: Kinematic threshold (GeV) of each exclusive state (``kkpi``: the lighter of K0 K+- pi-+ and
#: K0 Kbar0 pi0); R is exactly 0 below it.
THRESHOLDS = {
    "pipi": 2 * C.M_PI,
    "pipigamma": 2 * C.M_PI,
    "pipipi0": 2 * C.M_PI + C.M_PI0,
    "pipipi0pi0": 2 * C.M_PI + 2 * C.M_PI0,
    "pipipipi": 4 * C.M_PI,
    "kk": 2 * C.M_K,
    "k0k0": 2 * C.M_K0,
    "kkpi": min(C.M_K + C.M_K0 + C.M_PI, 2 * C.M_K0 + C.M_PI0),
    "kkpi0": 2 * C.M_K + C.M_PI0,
    "pi0gamma": C.M_PI0,
    "etagamma": C.M_ETA,
    "pipieta": 2 * C.M_PI + C.M_ETA,
}

# ------------------------------------------------------------------------------------------------
# pi+ pi-: BaBar Gounaris-Sakurai fit, PRD 86 (2012) 032013 (masses, widths in GeV; phases rad)
# ------------------------------------------------------------------------------------------------
PIPI_RHO = (0.77502, 0.14959)
PIPI_OMEGA = (0.78191, 0.00813)
PIPI_C_OMEGA = 1.644e-3 * np.exp(-0.025j)
#: (mass, width, |c|, phase) of rho(1450), rho(1700), rho(2150)
PIPI_EXCITED = (
    (1.493, 0.427, 0.158, 3.76),
    (1.861, 0.316, 0.068, 1.39),
    (2.254, 0.109, 0.0072, 0.70),
)
#: PDG: B(rho0 -> pi+ pi- gamma, E_gamma > 50 MeV)
BR_RHO_PIPIGAMMA = 9.9e-3
E_GAMMA_CUT = 0.050

# ------------------------------------------------------------------------------------------------
# generic resonance sums: (mass, width, R_peak, phase [rad])
# ------------------------------------------------------------------------------------------------
PI0GAMMA_RES = (
    (C.M_RHO, C.GAMMA_RHO, RPEAK_PER_BB * C.BR_RHO_EE * C.BR_RHO_PI0GAMMA, np.deg2rad(-12.7)),
    (C.M_OMEGA, C.GAMMA_OMEGA, RPEAK_PER_BB * C.BR_OMEGA_EE * C.BR_OMEGA_PI0GAMMA, 0.0),
    (C.M_PHI, C.GAMMA_PHI, RPEAK_PER_BB * C.BR_PHI_EE * C.BR_PHI_PI0GAMMA, np.deg2rad(158.0)),
)
ETAGAMMA_RES = (
    (C.M_RHO, C.GAMMA_RHO, RPEAK_PER_BB * C.BR_RHO_EE * C.BR_RHO_ETAGAMMA, 0.0),
    (C.M_OMEGA, C.GAMMA_OMEGA, RPEAK_PER_BB * C.BR_OMEGA_EE * C.BR_OMEGA_ETAGAMMA, 0.0),
    (C.M_PHI, C.GAMMA_PHI, RPEAK_PER_BB * C.BR_PHI_EE * C.BR_PHI_ETAGAMMA, np.pi),
)
PIPIPI0_RES = (
    (C.M_OMEGA, C.GAMMA_OMEGA, RPEAK_PER_BB * C.BR_OMEGA_EE * C.BR_OMEGA_3PI, 0.0),
    (C.M_PHI, C.GAMMA_PHI, RPEAK_PER_BB * C.BR_PHI_EE * C.BR_PHI_3PI, np.deg2rad(163.0)),
    (C.M_OMEGA1420, C.GAMMA_OMEGA1420, 0.07, np.pi),
    (C.M_OMEGA1650, C.GAMMA_OMEGA1650, 0.13, 0.0),
)
#: Isovector excited rhos for the 4 pi, eta pi pi and omega pi channels: (mass, width, weight,
#: phase); the weights set the relative size of rho(1700) to rho(1450) inside each channel.
RHO_EXCITED = ((C.M_RHO1450, C.GAMMA_RHO1450, 1.0, 0.0), (C.M_RHO1700, C.GAMMA_RHO1700, 0.5, 0.0))
#: Peak R values of the channels normalised to measured cross-sections (see module docstring).
RPEAK_PIPIPIPI = 0.78  # 30 nb / sigma_pt(1.5 GeV) = 38.6 nb
RPEAK_PIPIPI0PI0_NONOMEGA = 0.78  # 40 nb minus the omega pi0 part, at 1.5 GeV
RPEAK_OMEGAPI0_3PI = 0.26  # 12 nb / sigma_pt(1.35 GeV) = 47.7 nb, omega -> pi+ pi- pi0
RPEAK_PIPIETA = 0.13  # 4.5 nb / sigma_pt(1.6 GeV) = 33.9 nb
RPEAK_KKPI = 0.39  # 12 nb / sigma_pt(1.68 GeV) = 30.8 nb
#: Kaon form factors: weight of rho(1450) and omega(1420) relative to rho and omega, and of
#: phi(1680) relative to phi (complex). Fitted by us (least squares in log R, 1.1-1.7 GeV) to
#: the DarkCast K Kbar grid; within 15% of it over 1.1-1.8 GeV, phi peak unchanged.
KAON_C_EXCITED = -0.42
KAON_C_PHI1680 = 0.12 * np.exp(1j * np.deg2rad(195.0))
#: Isospin share of K+ K- pi0 in K Kbar pi from K* Kbar + c.c.
KKPI0_SHARE = 1.0 / 6.0
M_KSTAR, GAMMA_KSTAR = 0.89555, 0.0473  # K*(892)0, PDG 2022


# ================================================================================================
# small helpers
# ================================================================================================
def _sqrt_pos(x):
    return np.sqrt(np.maximum(x, 0.0))


def _beta(s, m):
    """Velocity of a particle of mass m in a pair at squared mass s (0 below threshold)."""
    return _sqrt_pos(1.0 - 4.0 * m * m / s)


def _k2body(sqrt_s, m1, m2):
    """Two-body break-up momentum (GeV), 0 below threshold."""
    s = sqrt_s**2
    lam = (s - (m1 + m2) ** 2) * (s - (m1 - m2) ** 2)
    return np.where(sqrt_s > m1 + m2, _sqrt_pos(lam), 0.0) / (2.0 * sqrt_s)


def _smoothstep(x, lo, hi):
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _bw_pwave_pipi(s, m, g):
    """rho Breit-Wigner with p-wave pi pi energy-dependent width (for rho -> pi pi inside 3 pi)."""
    rs = np.sqrt(np.maximum(s, 4.0 * C.M_PI**2))
    k = _k2body(rs, C.M_PI, C.M_PI)
    k0 = _k2body(m, C.M_PI, C.M_PI)
    width = g * (m / rs) * (k / k0) ** 3
    return 1.0 / (m * m - s - 1j * rs * width)


# ================================================================================================
# Gounaris-Sakurai pion form factor
# ================================================================================================
def _gs_k(s):
    return 0.5 * _sqrt_pos(s - 4.0 * C.M_PI**2)


def _gs_h(s):
    k = _gs_k(s)
    rs = np.sqrt(s)
    return 2.0 / np.pi * k / rs * np.log((rs + 2.0 * k) / (2.0 * C.M_PI))


def gounaris_sakurai(s, mass, width):
    """GS propagator normalised to 1 at s = 0, for s >= 4 m_pi^2 (Gounaris, Sakurai PRL 21 (1968)
    244): (m^2 + d m Gamma) / (m^2 - s + f(s) - i m Gamma(s))."""
    mpi2 = C.M_PI**2
    m2 = mass * mass
    km = _gs_k(m2)
    hm = _gs_h(m2)
    dhm = hm * (1.0 / (8.0 * km**2) - 1.0 / (2.0 * m2)) + 1.0 / (2.0 * np.pi * m2)
    k = _gs_k(s)
    f = width * m2 / km**3 * (k**2 * (_gs_h(s) - hm) + (m2 - s) * km**2 * dhm)
    d = (
        3.0 / np.pi * mpi2 / km**2 * np.log((mass + 2.0 * km) / (2.0 * C.M_PI))
        + mass / (2.0 * np.pi * km)
        - mpi2 * mass / (np.pi * km**3)
    )
    gam = width * (mass / np.sqrt(s)) * (k / km) ** 3
    return (m2 + d * mass * width) / (m2 - s + f - 1j * mass * gam)


def pion_form_factor(sqrt_s):
    """Electromagnetic pion form factor F_pi(s) (complex), valid at and above 2 m_pi."""
    s = np.maximum(np.asarray(sqrt_s, dtype=float) ** 2, 4.0 * C.M_PI**2 * (1.0 + 1e-12))
    m_o, g_o = PIPI_OMEGA
    bw_omega = m_o**2 / (m_o**2 - s - 1j * m_o * g_o)
    rho = gounaris_sakurai(s, *PIPI_RHO) * (1.0 + PIPI_C_OMEGA * bw_omega) / (1.0 + PIPI_C_OMEGA)
    num = rho.astype(complex)
    norm = 1.0 + 0.0j
    for m, g, mag, phase in PIPI_EXCITED:
        c = mag * np.exp(1j * phase)
        num = num + c * gounaris_sakurai(s, m, g)
        norm += c
    return num / norm


def _r_pipi_total(sqrt_s):
    """pi+ pi- (photon-inclusive) R = beta^3 |F_pi|^2 / 4."""
    s = np.asarray(sqrt_s, dtype=float) ** 2
    beta = _beta(s, C.M_PI)
    return np.where(beta > 0, 0.25 * beta**3 * np.abs(pion_form_factor(np.sqrt(s))) ** 2, 0.0)


def _soft_photon_probability(sqrt_s):
    """Leading-log probability of FSR with E_gamma > E_GAMMA_CUT off a pi+ pi- pair."""
    s = np.asarray(sqrt_s, dtype=float) ** 2
    beta = np.clip(_beta(s, C.M_PI), 1e-9, 1 - 1e-12)
    e_max = (s - 4.0 * C.M_PI**2) / (2.0 * np.sqrt(s))
    logs = np.log(np.maximum(e_max, E_GAMMA_CUT) / E_GAMMA_CUT)
    coul = (1.0 + beta**2) / (2.0 * beta) * np.log((1.0 + beta) / (1.0 - beta)) - 1.0
    return 2.0 * ALPHA / np.pi * coul * logs


def _hard_fsr_fraction(sqrt_s):
    """Fraction of pi+ pi- events with a photon above 50 MeV, normalised to the rho at its mass."""
    ref = _soft_photon_probability(C.M_RHO)
    return np.clip(BR_RHO_PIPIGAMMA * _soft_photon_probability(sqrt_s) / ref, 0.0, 1.0)


# ================================================================================================
# phase-space factors P_f(sqrt_s), tabulated once on a grid and interpolated
# ================================================================================================
_GRID = np.concatenate([np.linspace(0.27, 1.2, 1200), np.linspace(1.2, E_MAX + 0.05, 600)[1:]])


def _interp(table, sqrt_s):
    x, y = table
    return np.interp(np.asarray(sqrt_s, dtype=float), x, y, left=0.0)


@functools.cache
def _p_3pi():
    """(grid, P) for pi+ pi- pi0: (1/s) * Dalitz integral of |p+ x p-|^2 |sum BW_rho|^2."""
    mc, m0 = C.M_PI, C.M_PI0
    grid = np.concatenate(
        [np.linspace(2 * mc + m0, 1.1, 241)[1:], np.linspace(1.1, E_MAX + 0.05, 80)[1:]]
    )
    rs = grid[:, None, None]
    s = rs**2
    n = 40
    u = (np.arange(n) + 0.5) / n
    e_max = (s + mc**2 - (mc + m0) ** 2) / (2.0 * rs)
    ep = mc + (e_max - mc) * u[None, :, None]
    em = mc + (e_max - mc) * u[None, None, :]
    e0 = rs - ep - em
    pp2, pm2, p02 = ep**2 - mc**2, em**2 - mc**2, e0**2 - m0**2
    dot = 0.5 * (p02 - pp2 - pm2)
    g = pp2 * pm2 - dot**2
    inside = (g > 0) & (e0 > m0)
    s_pm = s + m0**2 - 2.0 * rs * e0
    s_p0 = s + mc**2 - 2.0 * rs * em
    s_m0 = s + mc**2 - 2.0 * rs * ep
    m, w = C.M_RHO, C.GAMMA_RHO
    amp = _bw_pwave_pipi(s_pm, m, w) + _bw_pwave_pipi(s_p0, m, w) + _bw_pwave_pipi(s_m0, m, w)
    dens = np.where(inside, g * np.abs(amp) ** 2, 0.0)
    area = (e_max - mc) ** 2 / n**2
    p = dens.sum(axis=(1, 2)) * area[:, 0, 0] / s[:, 0, 0]
    return np.concatenate([[2 * mc + m0], rs[:, 0, 0]]), np.concatenate([[0.0], p])


@functools.cache
def _p_4pi():
    """(grid, P) for four pions: four-body phase-space volume / s (m_pi+ for all four)."""
    m = C.M_PI
    x = np.linspace(2 * m, E_MAX + 0.05, 1500)

    def k(mm, m1, m2):
        return _k2body(mm, m1, m2)

    # R2(M; m1, m2) ~ k/M ; R_n(M) = int d(mu^2) R2(M; mu, m) R_{n-1}(mu)
    r2 = np.where(x > 2 * m, k(x, m, m) / x, 0.0)
    r_prev = r2
    for n in (3, 4):
        r_n = np.zeros_like(x)
        for i, big in enumerate(x):
            sel = (x >= (n - 1) * m) & (x <= big - m)
            if sel.sum() < 2:
                continue
            mu = x[sel]
            integrand = 2.0 * mu * k(big, mu, m) / big * r_prev[sel]
            r_n[i] = np.trapezoid(integrand, mu)
        r_prev = r_n
    return x, r_prev / x**2


@functools.cache
def _p_quasi2body(m_res, g_res, m_res_min, m_other):
    """(grid, P) = <k^3>/sqrt(s) for V -> R + P, k^3 averaged over the R Breit-Wigner."""
    mu = np.linspace(m_res_min, m_res + 6 * g_res, 400)
    weight = 1.0 / ((mu**2 - m_res**2) ** 2 + (m_res * g_res) ** 2)
    weight /= np.trapezoid(weight, mu)
    kk = _k2body(_GRID[:, None], mu[None, :], m_other)
    mean_k3 = np.trapezoid(kk**3 * weight[None, :], mu, axis=1)
    return _GRID, mean_k3 / _GRID


def _p_pgamma(m_p):
    def p(sqrt_s):
        s = np.asarray(sqrt_s, dtype=float) ** 2
        return s * np.maximum(1.0 - m_p**2 / s, 0.0) ** 3

    return p


def _resonance_sum(sqrt_s, resonances, pfun):
    """|sum_V sqrt(R_V) e^{i phi} m Gamma / (m^2 - s - i m Gamma) sqrt(P(s)/P(m^2))|^2."""
    sqrt_s = np.asarray(sqrt_s, dtype=float)
    s = sqrt_s**2
    p_s = pfun(sqrt_s)
    amp = np.zeros(sqrt_s.shape, dtype=complex)
    for m, g, r_peak, phase in resonances:
        p_ref = float(pfun(np.asarray(m)))
        if r_peak <= 0 or p_ref <= 0:
            continue
        bw = m * g / (m * m - s - 1j * m * g)
        amp = amp + np.sqrt(r_peak) * np.exp(1j * phase) * bw * np.sqrt(p_s / p_ref)
    return np.abs(amp) ** 2


def _table_fun(table_factory):
    def p(sqrt_s):
        return _interp(table_factory(), sqrt_s)

    return p


def _calibrated(sqrt_s, resonances, pfun, r_peak, window):
    """Resonance-sum shape with unit couplings, scaled so that its maximum in ``window``
    (GeV) equals ``r_peak`` (the measured peak value)."""
    unit = tuple((m, g, w**2, ph) for m, g, w, ph in resonances)
    ref = _calibration_max(unit, pfun, window)
    return r_peak / ref * _resonance_sum(sqrt_s, unit, pfun)


_CAL_CACHE: dict = {}


def _calibration_max(unit, pfun, window):
    key = (unit, id(pfun), window)  # the phase-space functions are module-level singletons
    if key not in _CAL_CACHE:
        x = np.linspace(*window, 400)
        _CAL_CACHE[key] = float(_resonance_sum(x, unit, pfun).max())
    return _CAL_CACHE[key]


_P_3PI = _table_fun(_p_3pi)
_P_4PI = _table_fun(_p_4pi)


def _p_q2b(m_res, g_res, m_res_min, m_other):
    def p(sqrt_s):
        return _interp(_p_quasi2body(m_res, g_res, m_res_min, m_other), sqrt_s)

    return p


#: omega pi0 (omega line shape from the 3 pi threshold), rho eta, K*(892) K.
_P_OMEGAPI = _p_q2b(C.M_OMEGA, C.GAMMA_OMEGA, 2 * C.M_PI + C.M_PI0, C.M_PI0)
_P_RHOETA = _p_q2b(C.M_RHO, C.GAMMA_RHO, 2 * C.M_PI, C.M_ETA)
_P_KSTARK = _p_q2b(M_KSTAR, GAMMA_KSTAR, C.M_K + C.M_PI, C.M_K)
_P_PI0GAMMA = _p_pgamma(C.M_PI0)
_P_ETAGAMMA = _p_pgamma(C.M_ETA)


# ================================================================================================
# exclusive channels
# ================================================================================================
def _r_kaons(sqrt_s, charged: bool):
    """R(K+ K-) or R(K0 Kbar0) = beta_K^3 |F_K|^2 / 4 with the SU(3) VMD form factors."""
    s = np.asarray(sqrt_s, dtype=float) ** 2
    m_k = C.M_K if charged else C.M_K0
    sign_rho = 0.5 if charged else -0.5

    def bw(m, g):
        return m * m / (m * m - s - 1j * m * g)

    a, c = KAON_C_EXCITED, KAON_C_PHI1680
    rho = (1 - a) * bw(C.M_RHO, C.GAMMA_RHO) + a * bw(C.M_RHO1450, C.GAMMA_RHO1450)
    omega = (1 - a - 2 * c) * bw(C.M_OMEGA, C.GAMMA_OMEGA) + a * bw(
        C.M_OMEGA1420, C.GAMMA_OMEGA1420
    )
    phi = bw(C.M_PHI, C.GAMMA_PHI) + c * bw(C.M_PHI1680, C.GAMMA_PHI1680)
    ff = sign_rho * rho + omega / 6.0 + phi / 3.0
    return 0.25 * _beta(s, m_k) ** 3 * np.abs(ff) ** 2


_WINDOW_4PI = (1.2, 1.9)


def _r_pipipipi(sqrt_s):
    return _calibrated(sqrt_s, RHO_EXCITED, _P_4PI, RPEAK_PIPIPIPI, _WINDOW_4PI)


def _r_pipipi0pi0(sqrt_s):
    non_omega = _calibrated(sqrt_s, RHO_EXCITED, _P_4PI, RPEAK_PIPIPI0PI0_NONOMEGA, _WINDOW_4PI)
    omega_pi = _calibrated(sqrt_s, RHO_EXCITED, _P_OMEGAPI, RPEAK_OMEGAPI0_3PI, (1.1, 1.6))
    return non_omega + omega_pi


def _r_kkpi_total(sqrt_s):
    res = ((C.M_PHI1680, C.GAMMA_PHI1680, 1.0, 0.0),)
    return _calibrated(sqrt_s, res, _P_KSTARK, RPEAK_KKPI, (1.4, 2.0))


def _r_pipieta(sqrt_s):
    return _calibrated(sqrt_s, RHO_EXCITED, _P_RHOETA, RPEAK_PIPIETA, (1.3, 1.9))


def r_exclusive(sqrt_s) -> dict[str, np.ndarray]:
    """R per exclusive final state (keys :data:`EXCLUSIVE_STATES`), point-like convention.

    ``sqrt_s`` in GeV, any shape; no range check here (see
    :data:`na62dump.physics.dark_photon.MASS_RANGE_GEV`).
    """
    x = np.asarray(sqrt_s, dtype=float)
    pipi_all = _r_pipi_total(x)
    f_hard = _hard_fsr_fraction(x)
    kkpi_total = _r_kkpi_total(x)
    out = {
        "pipi": pipi_all * (1.0 - f_hard),
        "pipigamma": pipi_all * f_hard,
        "pipipi0": _resonance_sum(x, PIPIPI0_RES, _P_3PI),
        "pipipi0pi0": _r_pipipi0pi0(x),
        "pipipipi": _r_pipipipi(x),
        "kk": _r_kaons(x, charged=True),
        "k0k0": _r_kaons(x, charged=False),
        "kkpi": (1.0 - KKPI0_SHARE) * kkpi_total,
        "kkpi0": KKPI0_SHARE * kkpi_total,
        "pi0gamma": _resonance_sum(x, PI0GAMMA_RES, _P_PI0GAMMA),
        "etagamma": _resonance_sum(x, ETAGAMMA_RES, _P_ETAGAMMA),
        "pipieta": _r_pipieta(x),
    }
    return {k: np.where(x > THRESHOLDS[k], v, 0.0) for k, v in out.items()}


# ================================================================================================
# inclusive
# ================================================================================================
def alpha_s(sqrt_s):
    """One-loop alpha_s(mu = sqrt_s) with n_f = 3 from :data:`ALPHAS_MTAU`."""
    b0 = (33.0 - 2.0 * 3) / (12.0 * np.pi)
    mu2 = np.asarray(sqrt_s, dtype=float) ** 2
    return ALPHAS_MTAU / (1.0 + b0 * ALPHAS_MTAU * np.log(mu2 / C.M_TAU**2))


def r_pqcd(sqrt_s):
    """R = 3 sum_q e_q^2 (1 + alpha_s / pi) for u, d, s quarks (= 2 (1 + alpha_s/pi))."""
    return 2.0 * (1.0 + alpha_s(sqrt_s) / np.pi)


def r_all(sqrt_s) -> dict[str, np.ndarray]:
    """R per hadronic state (keys :data:`HADRONIC_STATES`, with ``other_hadrons``)."""
    x = np.asarray(sqrt_s, dtype=float)
    out = r_exclusive(x)
    total_excl = sum(out.values())
    w = _smoothstep(x, E_OTHER_ON, E_PQCD)
    with np.errstate(invalid="ignore", divide="ignore"):
        pq = np.where(x > E_OTHER_ON, r_pqcd(np.maximum(x, E_OTHER_ON)), 0.0)
    out["other_hadrons"] = w * np.maximum(pq - total_excl, 0.0)
    return out


def r_ratio(sqrt_s):
    """Inclusive R(s) = sum of :func:`r_all` (exclusive VMD below 1.1 GeV, pQCD above 1.8 GeV).

    >>> round(float(r_ratio(2.0)), 2)
    2.2
    """
    return sum(r_all(sqrt_s).values())
