"""Physical constants, particle masses and widths (GeV), cached once at import.

Masses and total widths come from the ``particle`` package (PDG data tables shipped with the
pinned version, see ``pyproject.toml``), converted from MeV to GeV and stored as plain module
floats, so that the vectorised physics code never queries the package in a hot path and a
physicist can see at a glance which value is used. Quantities that ``particle`` does not
provide (couplings, branching fractions) are typed in below with their source.

>>> round(M_MU, 6)
0.105658
>>> round(M_RHO, 5), round(GAMMA_RHO, 4)
(0.77526, 0.1474)
>>> round(1 / ALPHA_EM, 3)
137.036
"""

from __future__ import annotations

from particle import Particle

#: Fine-structure constant at q^2 = 0 (CODATA 2018 / PDG). The dark-photon widths use alpha(0):
#: this is the convention of DarkCast (Ilten et al., JHEP 06 (2018) 004), whose c tau values we
#: reproduce (c tau = 0.811 m at M = 100 MeV, eps = 1e-6 needs alpha(0), not alpha(M_Z)).
ALPHA_EM = 1.0 / 137.035999084

#: Strong coupling at the Z pole (PDG 2022 world average), for the perturbative R ratio.
ALPHAS_MZ = 0.1180


#: PDG Monte Carlo numbers of the particles used here (look-up by id is fast; by name it scans
#: the whole table).
_PDGID = {
    "e-": 11,
    "mu-": 13,
    "tau-": 15,
    "pi+": 211,
    "pi0": 111,
    "K+": 321,
    "K0": 311,
    "eta": 221,
    "eta'(958)": 331,
    "p": 2212,
    "Z0": 23,
    "rho(770)0": 113,
    "omega(782)": 223,
    "phi(1020)": 333,
    "rho(1450)0": 100113,
    "rho(1700)0": 30113,
    "omega(1420)": 100223,
    "omega(1650)": 30223,
    "phi(1680)": 100333,
    "a(1)(1260)0": 20113,
}


def _mass_gev(name: str) -> float:
    return Particle.from_pdgid(_PDGID[name]).mass * 1e-3


def _width_gev(name: str) -> float:
    return Particle.from_pdgid(_PDGID[name]).width * 1e-3


# --- leptons -----------------------------------------------------------------------------------
M_E = _mass_gev("e-")
M_MU = _mass_gev("mu-")
M_TAU = _mass_gev("tau-")

# --- light pseudoscalars ------------------------------------------------------------------------
M_PI = _mass_gev("pi+")  #: charged pion
M_PI0 = _mass_gev("pi0")
M_K = _mass_gev("K+")  #: charged kaon
M_K0 = _mass_gev("K0")
M_ETA = _mass_gev("eta")
M_ETAP = _mass_gev("eta'(958)")
M_P = _mass_gev("p")
M_Z = _mass_gev("Z0")

# --- vector mesons (mass, total width) ----------------------------------------------------------
M_RHO, GAMMA_RHO = _mass_gev("rho(770)0"), _width_gev("rho(770)0")
M_OMEGA, GAMMA_OMEGA = _mass_gev("omega(782)"), _width_gev("omega(782)")
M_PHI, GAMMA_PHI = _mass_gev("phi(1020)"), _width_gev("phi(1020)")
M_RHO1450, GAMMA_RHO1450 = _mass_gev("rho(1450)0"), _width_gev("rho(1450)0")
M_RHO1700, GAMMA_RHO1700 = _mass_gev("rho(1700)0"), _width_gev("rho(1700)0")
M_OMEGA1420, GAMMA_OMEGA1420 = _mass_gev("omega(1420)"), _width_gev("omega(1420)")
M_OMEGA1650, GAMMA_OMEGA1650 = _mass_gev("omega(1650)"), _width_gev("omega(1650)")
M_PHI1680, GAMMA_PHI1680 = _mass_gev("phi(1680)"), _width_gev("phi(1680)")
M_A1, GAMMA_A1 = _mass_gev("a(1)(1260)0"), _width_gev("a(1)(1260)0")

# --- branching fractions of the vector mesons (PDG 2022 Review of Particle Physics, R. L. Workman
# et al., PTEP 2022 083C01; the 'particle' package has masses and widths only) -----------------
#: B(V -> e+ e-)
BR_RHO_EE = 4.72e-5
BR_OMEGA_EE = 7.38e-5
BR_PHI_EE = 2.979e-4
#: radiative decays V -> P gamma
BR_RHO_PI0GAMMA = 4.7e-4
BR_OMEGA_PI0GAMMA = 8.35e-2
BR_PHI_PI0GAMMA = 1.32e-3
BR_RHO_ETAGAMMA = 3.0e-4
BR_OMEGA_ETAGAMMA = 4.5e-4
BR_PHI_ETAGAMMA = 1.303e-2
#: hadronic decays
BR_OMEGA_3PI = 0.892
BR_PHI_3PI = 0.1524  #: phi -> rho pi + pi+ pi- pi0
BR_PHI_KK = 0.491  #: phi -> K+ K-
BR_PHI_K0K0 = 0.339  #: phi -> K_L K_S
