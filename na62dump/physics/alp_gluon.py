r"""ALP coupled to gluons (PBC benchmark BC11): widths, lifetime, production (mixing, B decays).

The coupling is ``cgg = c_GG / Lambda`` in GeV^-1, with ``c_GG`` and ``Lambda`` as defined by
Aloni, Soreq and Williams, Phys. Rev. Lett. 123 (2019) 031803, arXiv:1811.03474 (ASW). Every
rate here is proportional to ``cgg^2``. Units: GeV, metres, seconds.

Decay widths (:func:`partial_widths`, keys of :data:`STATES`), valid for
:data:`MASS_RANGE_GEV` (0.071-2.99 GeV, the span of the tables):

- ASW's data-driven widths (their Fig. 2: gamma gamma, 3 pi, pi pi gamma, pi pi eta,
  pi pi eta', K Kbar pi, 4 pi via rho rho, omega omega, K* K*bar, phi phi, and the total),
  for ``c_GG = 1``, ``Lambda = 1 TeV``, read from ``na62dump/data/alp_gluon_asw_widths.txt``
  (ALPINIST's digitisation, github jjerhot/ALPINIST, ``widths/integrated/``, commit 53441e5;
  see the file's header) and scaled by ``(cgg x 1000 GeV)^2``; interpolation linear in
  ``log Gamma`` between the tabulated masses, zero outside a channel's tabulated span;
- the exclusive two-track states of the analysis are taken from the isospin-summed tables
  with isospin factors (first principles): ``pi+pi-eta = 2/3 pi pi eta`` (the pi pi pair in
  I = 0: pi+pi- : pi0 pi0 = 2 : 1), ``K+K-pi0 = 1/6 K Kbar pi`` (K+K-pi0 : K0K0bar pi0 :
  K+K0bar pi- : K-K0 pi+ = 1 : 1 : 2 : 2), ``pi+pi-pi0pi0 = 2/3 (4 pi)`` (rho+rho- : rho0 rho0
  = 2 : 1, rho+rho- -> pi+pi-pi0pi0); the remainders are kept as ``pi0pi0eta``, ``kkpi_other``
  and ``pipipipi`` so that the sum is unchanged (``pipietaprime_all``: pi pi eta', all
  charges). A charge state is closed below its own threshold (pi+pi-eta opens 9 MeV above
  pi0pi0eta), where the summed table is its neutral partner's alone;
- ``other``: the total minus the sum of the exclusive channels (where positive), the
  hadronic decays ASW do not resolve (it dominates above 1.5 GeV). It opens at 4 m_pi
  (:data:`OTHER_THRESHOLD_GEV`): below, C and P conservation leave a pseudoscalar only
  gamma gamma, pi pi gamma and 3 pi, all tabulated (the difference between the digitised total
  and gamma gamma there, a few per cent, is digitisation noise and is dropped).

Production by mixing with P = pi0, eta, eta' (ASW, "Production" and their mixing angles):
the ALP inherits a fraction ``theta_aP^2`` of every P made in the primary interaction, with
P's lab momentum (the prescription ALPINIST uses, ``ALP_production/modes/mixing.py``, "fixing
momentum"), so ``a per POT = sum_P N_P theta_aP(M)^2`` with the multiplicities N_P and spectra
of :mod:`na62dump.physics.mesons`. The mixing angles at leading order in chiral perturbation
theory, with the ALP-gluon term rotated onto the quarks (``c_q = 64 pi^2 kappa_q c_GG``,
``kappa_q = m_q^-1 / sum m^-1``)::

    theta_aP = -F(M) f_pi / (2 Lambda) (K_aP M^2 + m_aP^2) / (M^2 - m_P^2)

with the kinetic mixing ``K_aP = -1/sqrt2 sum_q c_q <q qbar|P>`` (flavour content of P in the
octet-singlet basis with the angle ``theta_eta_eta' = arcsin(-1/3)``, plus the first-order
isospin-breaking terms of ASW, ``delta_I = (m_d - m_u) / (m_d + m_u)``), the mass mixing
``m_aP^2 = 64 pi^2 c_GG sqrt6 B_0 <eta_1|P> / sum m_q^-1`` (zero for the pi0) and ASW's
suppression ``F(M)`` of the mixing above 1.4 GeV (:func:`vmd_suppression`). The formulas are
ASW's (their eqs. 6-9 and supplemental material) in the form ALPINIST evaluates
(``ALP_rescale/alp/effective_coupling.py``, class ``mixing``, the RG-induced quark couplings
left out: they are loop-suppressed); inputs :data:`F_PI`, :data:`QUARK_MASSES_GEV`.
The first-order mixing fails at the meson poles: masses within :data:`POLE_EXCLUSION_GEV` of
m_pi0, m_eta, m_eta' are refused (the tables carry a placeholder there too).

Production in B decays (:func:`b_production_per_pot`): ``B -> K_X a`` through the b -> s
coupling the gluon coupling induces, ``g_bs = k_bs cgg`` with ``k_bs = -5.26e-7`` from the
running and matching of Bauer et al., arXiv:2110.10698, as ALPINIST evaluates it for BC11
(``load_data.py``, ``_cbs_G``; :func:`na62dump.physics.alp_couplings.k_bs` with
:func:`~na62dump.physics.alp_couplings.gluon_inputs`), and the rates of the ALP coupled to
fermions (:func:`na62dump.physics.alp_fermion.br_b_to_kx_gbs`, the nine kaon families). It is
at most 3e-9 of the mixing yield between 0.43 and 1.8 GeV (:func:`b_production_check`); the
two-loop estimate of Chakraborty et al., arXiv:2102.04474 (ALPINIST ``g_bs_fixed_cgg``: BR(B ->
K a) = 0.0106 at c_GG = 1, Lambda = 1 TeV, M = 1 GeV, against 5.2e-8 here) would make it at most
6e-4 of it. So the limits leave it out (``na62dump.yields.alp_gluon_table``) and `na62dump model
alp-gluon` shows it.

>>> round(float(ctau_m(0.3, 1e-5)), 4)  # metres, c_GG / Lambda = 1e-5 GeV^-1
0.0289
>>> round(float(branching_ratios(0.5)["gammagamma"]), 3)
0.492
>>> round(float(branching_ratios(1.0)["pipieta"]), 3)
0.526
>>> round(float(n_produced_per_pot(0.3, 1e-5)) * 1e8, 3)  # ALPs per POT
2.66
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np

from na62dump.errors import InputError
from na62dump.physics import constants as C
from na62dump.physics import mesons
from na62dump.physics._checks import check_mass, check_nonnegative
from na62dump.physics.decay import ctau_from_width, lifetime_from_width, read_mode_tables

log = logging.getLogger(__name__)

TABLE_FILE = Path(__file__).resolve().parent.parent / "data" / "alp_gluon_asw_widths.txt"
#: The tables are for c_GG / Lambda = 1 / (1000 GeV).
TABLE_CGG_INV_GEV = 1e-3
#: Validity range (GeV): the span common to the ASW tables.
MASS_RANGE_GEV = (0.0707, 2.99)
#: Half-width (GeV) of the mass windows around pi0, eta, eta' refused (first-order mixing
#: fails where |M^2 - m_P^2| is comparable to the mixing itself; our choice).
POLE_EXCLUSION_GEV = 0.005

#: Mass (GeV) above which ``other`` is open: 4 m_pi (module docstring).
OTHER_THRESHOLD_GEV = 4.0 * C.M_PI

#: Kinematic threshold (GeV) of each table (its lightest charge state; the rho rho table from
#: pi+pi-pi0pi0, 4 pi0 being no rho rho state): below it the width is 0 whatever the
#: digitisation's interpolation nodes (two tables start with a node at M = 0).
_TABLE_THRESHOLD_GEV: dict[str, float] = {
    "total": 0.0, "gammagamma": 0.0, "pipigamma": 2 * C.M_PI, "pipipi0": 2 * C.M_PI + C.M_PI0,
    "3pi0": 3 * C.M_PI0, "pipieta_all": 2 * C.M_PI0 + C.M_ETA,
    "pipietaprime_all": 2 * C.M_PI0 + C.M_ETAP, "kkpi_all": 2 * C.M_K + C.M_PI0,
    "4pi_all": 2 * C.M_PI + 2 * C.M_PI0, "omegaomega": 2 * C.M_OMEGA,
    "kstarkstar": 2 * C.M_K + 2 * C.M_PI, "phiphi": 4 * C.M_K,
}

#: Analysis states and the table they come from, with the isospin factor (module docstring).
_DERIVED: dict[str, tuple[str, float]] = {
    "gammagamma": ("gammagamma", 1.0),
    "pipigamma": ("pipigamma", 1.0),
    "pipipi0": ("pipipi0", 1.0),
    "3pi0": ("3pi0", 1.0),
    "pipieta": ("pipieta_all", 2.0 / 3.0),
    "pi0pi0eta": ("pipieta_all", 1.0 / 3.0),
    "pipietaprime_all": ("pipietaprime_all", 1.0),
    "kkpi0": ("kkpi_all", 1.0 / 6.0),
    "kkpi_other": ("kkpi_all", 5.0 / 6.0),
    "pipipi0pi0": ("4pi_all", 2.0 / 3.0),
    "pipipipi": ("4pi_all", 1.0 / 3.0),
    "omegaomega": ("omegaomega", 1.0),
    "kstarkstar": ("kstarkstar", 1.0),
    "phiphi": ("phiphi", 1.0),
}
#: Thresholds (GeV) of the charge states split off an isospin-summed table where they differ
#: from the table's own (its lightest charge state): a charge state is closed below its
#: threshold, the isospin share applying above it.
_STATE_THRESHOLD_GEV: dict[str, float] = {
    "pipieta": 2 * C.M_PI + C.M_ETA, "pipipipi": 4 * C.M_PI,
    "kkpi_other": 2 * C.M_K0 + C.M_PI0,
}

#: Keys of :func:`partial_widths` (``other``: the unresolved rest of the total).
STATES: tuple[str, ...] = (*_DERIVED, "other")

#: Mixing inputs (ASW; the values ALPINIST uses, ``ALP_rescale/general/constants.py``):
#: f_pi = 93 MeV, theta_eta_eta' = arcsin(-1/3); quark masses MS-bar at 2 GeV (PDG 2022:
#: m_u = 2.16, m_d = 4.67, m_s = 93.4 MeV).
F_PI = 0.093
THETA_ETA_ETAP = float(np.arcsin(-1.0 / 3.0))
QUARK_MASSES_GEV = {"u": 2.16e-3, "d": 4.67e-3, "s": 93.4e-3}
#: Mesons the ALP mixes with (keys of :data:`na62dump.physics.mesons.MESONS`).
MIXING_MESONS: tuple[str, ...] = ("pi0", "eta", "etaprime")


@functools.cache
def _tables(path: Path = TABLE_FILE) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The ASW tables: ``{mode: (mass GeV, width eV)}`` sorted in mass (parsed once)."""
    return read_mode_tables(path, {src for src, _ in _DERIVED.values()} | {"total"})


def _table_width_ev(mode: str, m: np.ndarray) -> np.ndarray:
    """Tabulated width (eV, c_GG = 1, Lambda = 1 TeV) at ``m``: linear in log Gamma between
    two positive nodes, linear in Gamma next to a zero node (a threshold), 0 outside the span."""
    x, y = _tables()[mode]
    m = np.asarray(m, dtype=float)
    i = np.clip(np.searchsorted(x, m, side="right") - 1, 0, x.size - 2)
    t = (m - x[i]) / (x[i + 1] - x[i])
    lo, hi = y[i], y[i + 1]
    both = (lo > 0) & (hi > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logv = np.exp(np.log(np.where(both, lo, 1.0))
                      + t * np.log(np.where(both, hi / np.where(both, lo, 1.0), 1.0)))
    val = np.where(both, logv, lo + t * (hi - lo))
    return np.where((m >= max(x[0], _TABLE_THRESHOLD_GEV[mode])) & (m <= x[-1]), val, 0.0)


def _check(mass, cgg):
    m = check_mass(mass, MASS_RANGE_GEV, "ALP mass")
    c = check_nonnegative(cgg, "cgg")
    return m, c


def partial_widths(mass, cgg=1.0) -> dict[str, np.ndarray | float]:
    """Partial widths (GeV) of :data:`STATES` at ``mass`` (GeV) for ``cgg`` = c_GG/Lambda (GeV^-1).
    """
    m, c = _check(mass, cgg)
    scale = (c / TABLE_CGG_INV_GEV) ** 2 * 1e-9  # eV -> GeV and the coupling
    out = {k: _table_width_ev(src, m) * f * (m >= _STATE_THRESHOLD_GEV.get(k, 0.0))
           for k, (src, f) in _DERIVED.items()}
    excl = sum(out.values())
    rest = np.clip(_table_width_ev("total", m) - excl, 0.0, None)
    out["other"] = np.where(m > OTHER_THRESHOLD_GEV, rest, 0.0)
    return {k: (float(v * scale) if np.ndim(v * scale) == 0 else v * scale)
            for k, v in out.items()}


def total_width(mass, cgg=1.0):
    """Total width (GeV): the sum of :func:`partial_widths`."""
    w = sum(np.asarray(v) for v in partial_widths(mass, cgg).values())
    return float(w) if np.ndim(w) == 0 else w


def branching_ratios(mass) -> dict[str, np.ndarray | float]:
    """BR of each of :data:`STATES` (independent of the coupling)."""
    pw = partial_widths(mass, 1.0)
    tot = sum(np.asarray(v) for v in pw.values())
    return {k: (float(np.asarray(v) / tot) if np.ndim(tot) == 0 else np.asarray(v) / tot)
            for k, v in pw.items()}


def ctau_m(mass, cgg):
    """Proper decay length c tau (m)."""
    return ctau_from_width(total_width(mass, cgg))


def lifetime_s(mass, cgg):
    """Proper lifetime (s)."""
    return lifetime_from_width(total_width(mass, cgg))


# ------------------------------------------------------------------------------------------------
# production by mixing
# ------------------------------------------------------------------------------------------------


def vmd_suppression(mass):
    """ASW's suppression F(M) of the ALP-meson mixing: 1 up to 1.4 GeV, (1.4 GeV / M)^4 above
    2 GeV, and between them the cubic interpolation ALPINIST uses (``effective_coupling.py``,
    ``_FVMD``: 5.7022 M^3 - 29.4815 M^2 + 49.0191 M - 25.4899, M in GeV)."""
    m = np.asarray(mass, dtype=float)
    cubic = 5.7022 * m**3 - 29.4815 * m**2 + 49.0191 * m - 25.4899
    return np.where(m <= 1.4, 1.0, np.where(m <= 2.0, cubic, (1.4 / np.maximum(m, 1e-9)) ** 4))


def _flavour_content():
    """<u ubar|P>, <d dbar|P>, <s sbar|P> and <eta_1|P> of pi0, eta, eta' (octet-singlet
    mixing with :data:`THETA_ETA_ETAP`: eta = eta_8 cos - eta_1 sin, eta' = eta_8 sin + eta_1 cos,
    eta_8 = (u + d - 2 s) / sqrt6, eta_1 = (u + d + s) / sqrt3)."""
    th = THETA_ETA_ETAP
    c8 = np.array([1.0, 1.0, -2.0]) / np.sqrt(6.0)
    c1 = np.array([1.0, 1.0, 1.0]) / np.sqrt(3.0)
    return {
        "pi0": (np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0), 0.0),
        "eta": (c8 * np.cos(th) - c1 * np.sin(th), -np.sin(th)),
        "etaprime": (c8 * np.sin(th) + c1 * np.cos(th), np.cos(th)),
    }


def mixing_angle(mass, meson: str, cgg=1.0):
    """ALP-meson mixing angle theta_aP (module docstring) for ``meson`` in :data:`MIXING_MESONS`.
    """
    if meson not in MIXING_MESONS:
        raise InputError(f"unknown mixing meson {meson!r}; expected one of "
                         f"{', '.join(MIXING_MESONS)}")
    m = np.asarray(check_mass(mass, MASS_RANGE_GEV, "ALP mass"), dtype=float)
    c = np.asarray(check_nonnegative(cgg, "cgg"), dtype=float)
    mq = np.array([QUARK_MASSES_GEV[q] for q in "uds"])
    inv_sum = np.sum(1.0 / mq)
    kappa = (1.0 / mq) / inv_sum
    cq = 64.0 * np.pi**2 * kappa  # per unit c_GG
    delta_i = (mq[1] - mq[0]) / (mq[1] + mq[0])
    b0 = C.M_PI0**2 / (mq[0] + mq[1])
    content, singlet = _flavour_content()[meson]
    m2 = m * m
    if meson == "pi0":
        # kinetic mixing with the first-order isospin-breaking terms (eta and eta' poles)
        u, d, s = cq
        k = -0.5 * (u - d - delta_i * C.M_PI0**2 / 3.0 * (
            (u + d + 2.0 * s) / (m2 - C.M_ETAP**2) + 2.0 * (u + d - s) / (m2 - C.M_ETA**2)))
        m_mix2 = 0.0
        m_p = C.M_PI0
    else:
        u, d, s = cq
        # <q qbar|P> sqrt2 = coefficient of (c_u + c_d) and c_s in ASW's K_aP
        light = (u + d - delta_i * C.M_PI0**2 * (u - d) / (m2 - C.M_PI0**2)) * content[0]
        k = -0.5 * np.sqrt(2.0) * (light + s * content[2])
        m_mix2 = 64.0 * np.pi**2 * np.sqrt(6.0) * b0 * singlet / inv_sum
        m_p = C.M_ETA if meson == "eta" else C.M_ETAP
    theta = -vmd_suppression(m) * F_PI / 2.0 * (k * m2 + m_mix2) / (m2 - m_p**2) * c
    return float(theta) if theta.ndim == 0 else theta


def off_poles(mass) -> np.ndarray:
    """True where ``mass`` (GeV) is outside the pole windows (:data:`POLE_EXCLUSION_GEV`)."""
    m = np.asarray(mass, dtype=float)
    return np.all([np.abs(m - mp) >= POLE_EXCLUSION_GEV
                   for mp in (C.M_PI0, C.M_ETA, C.M_ETAP)], axis=0)


def _check_poles(m: np.ndarray):
    for name, mp in (("pi0", C.M_PI0), ("eta", C.M_ETA), ("etaprime", C.M_ETAP)):
        if (np.abs(m - mp) < POLE_EXCLUSION_GEV).any():
            raise InputError(f"ALP mass: within {POLE_EXCLUSION_GEV * 1e3:g} MeV of the {name} "
                             f"mass, where the first-order mixing fails")


def rate_per_pot(mass, meson: str, cgg):
    """ALPs per POT from mixing with ``meson``: N_meson per POT x theta_aP^2."""
    m = np.asarray(check_mass(mass, MASS_RANGE_GEV, "ALP mass"), dtype=float)
    _check_poles(m)
    out = mesons.multiplicity(meson) * np.asarray(mixing_angle(m, meson, cgg)) ** 2
    return float(out) if out.ndim == 0 else out


def n_produced_per_pot(mass, cgg):
    """ALPs per POT, summed over :data:`MIXING_MESONS`."""
    return sum(rate_per_pot(mass, p, cgg) for p in MIXING_MESONS)


def g_bs(cgg):
    """The b -> s coupling (GeV^-1) the gluon coupling induces: ``k_bs x cgg`` (module
    docstring)."""
    from na62dump.physics import alp_couplings

    return alp_couplings.k_bs(*alp_couplings.gluon_inputs()) * check_nonnegative(cgg, "cgg")


def b_production_per_pot(mass, cgg):
    """ALPs per POT from ``B -> K_X a`` (module docstring): ``B_PER_POT x sum_X BR(B -> K_X
    a)`` at the induced ``g_bs``, the nine kaon families of the dark scalar."""
    from na62dump.physics import alp_fermion, bmesons, scalar

    m = np.asarray(check_mass(mass, MASS_RANGE_GEV, "ALP mass"), dtype=float)
    gbs = np.abs(g_bs(cgg))
    out = bmesons.B_PER_POT * sum(np.asarray(alp_fermion.br_b_to_kx_gbs(m, gbs, f))
                                  for f in scalar.KAON_FAMILIES)
    return float(out) if np.ndim(out) == 0 else out


#: Masses (GeV) of :func:`b_production_check`: the span of the BC11 samples.
B_CHECK_MASSES_GEV = (0.43, 0.7, 1.0, 1.5, 1.8)


def b_production_check(masses=B_CHECK_MASSES_GEV) -> dict[float, float]:
    """B-decay over mixing production per POT at ``masses`` (the same at every coupling: both go
    as cgg^2; module docstring)."""
    return {float(m): float(b_production_per_pot(m, 1.0) / n_produced_per_pot(m, 1.0))
            for m in masses}


def mixing_fractions(mass) -> dict[str, float]:
    """Share of each meson of :data:`MIXING_MESONS` in the ALP yield at ``mass`` (GeV); the
    same for every coupling (each rate goes as cgg^2)."""
    rates = {p: float(rate_per_pot(float(mass), p, 1.0)) for p in MIXING_MESONS}
    total = sum(rates.values())
    return {p: r / total for p, r in rates.items()}


def sample(mass, n, rng, meson: str | None = None):
    """Draw ``n`` ALP lab momenta (px, py, pz) in GeV made by mixing: the meson's lab momentum
    from the shipped spectrum (:func:`na62dump.physics.mesons.sample_meson`), kept by the ALP
    (module docstring). ``meson`` None: each event draws its meson with the probabilities of
    :func:`mixing_fractions` (one sample per mass serves every coupling); else that meson only.

    >>> import numpy as np
    >>> px, py, pz = sample(0.3, 3, np.random.default_rng(0), meson="eta")
    >>> pz.shape
    (3,)
    """
    if meson is not None and meson not in MIXING_MESONS:
        raise InputError(f"unknown mixing meson {meson!r}; expected one of "
                         f"{', '.join(MIXING_MESONS)}")
    m = np.asarray(check_mass(mass, MASS_RANGE_GEV, "ALP mass"), dtype=float)
    _check_poles(m)
    n = int(n)
    if meson is not None:
        return mesons.sample_meson(meson, n, rng)
    frac = mixing_fractions(float(m))
    pick = rng.choice(len(MIXING_MESONS), size=n, p=[frac[p] for p in MIXING_MESONS])
    px, py, pz = (np.empty(n) for _ in range(3))
    for i, p in enumerate(MIXING_MESONS):
        sel = pick == i
        if sel.any():
            px[sel], py[sel], pz[sel] = mesons.sample_meson(p, int(sel.sum()), rng)
    return px, py, pz


# ------------------------------------------------------------------------------------------------
# validation against the tables
# ------------------------------------------------------------------------------------------------
#: Masses (GeV) of :func:`asw_check`: off the meson poles, one per regime (3 pi and gamma
#: gamma, pi pi gamma, pi pi eta, the multi-meson region) -- and the coupling of its c tau.
ASW_CHECK_MASSES_GEV = (0.5, 0.7, 1.0, 1.5)
ASW_CHECK_CGG = 1e-5


def asw_check(masses=ASW_CHECK_MASSES_GEV, cgg: float = ASW_CHECK_CGG) -> list[dict]:
    """Our c tau and BRs against the ASW tables read directly: Gamma_f from ALPINIST's files
    interpolated linearly (as ALPINIST's ``interp1d`` reads them), the total from the total
    table, BR = Gamma_f x isospin share / Gamma_total. It checks the interpolation, the isospin
    split, the normalisation (eV, Lambda = 1 TeV) and the consistency of the exclusive channels
    with ASW's total (our total is their sum plus ``other``), not ASW's calculation itself.

    Returns dicts with ``mass_gev``, ``quantity`` (``ctau_m`` or a state), ``ours``,
    ``reference``.
    """
    from na62dump.physics.decay import HBAR_C_GEV_M

    scale = (cgg / TABLE_CGG_INV_GEV) ** 2 * 1e-9
    tab = _tables()
    out = []
    for m in masses:
        x, y = tab["total"]
        total = float(np.interp(m, x, y)) * scale
        out.append({"mass_gev": m, "quantity": "ctau_m", "ours": float(ctau_m(m, cgg)),
                    "reference": HBAR_C_GEV_M / total})
        br = branching_ratios(m)
        for state in ("gammagamma", "pipigamma", "pipipi0", "pipieta", "kkpi0", "pipipi0pi0"):
            src, share = _DERIVED[state]
            x, y = tab[src]
            ref = float(np.interp(m, x, y, left=0.0, right=0.0)) * share * scale / total
            if ref > 1e-3 or br[state] > 1e-3:
                out.append({"mass_gev": m, "quantity": state, "ours": float(br[state]),
                            "reference": ref})
    return out


#: ALPINIST's ALP-meson mixing angles at ``c_GG = 1``, ``Lambda = 1 TeV`` (``cgg = 1e-3``
#: GeV^-1), from its own code run outside the project: ``ALP_rescale/alp/
#: effective_coupling.py``, ``mixing(1000.).pi / .eta / .etap(M, 1.0)`` (github
#: jjerhot/ALPINIST, commit 53441e5). Its full form adds the quark couplings that the running
#: from m_t to 2 GeV induces (``below_EW.Cqq``), which we leave out (module docstring); the
#: comparison measures that approximation and checks our implementation of the rest.
ALPINIST_MIXING: dict[float, dict[str, float]] = {
    0.5: {"pi0": 0.0072041, "eta": -0.055425, "etaprime": -0.0027982},
    0.7: {"pi0": 0.0052911, "eta": 0.029333, "etaprime": -0.0092068},
    1.0: {"pi0": 0.004946, "eta": 0.016423, "etaprime": 0.10072},
    1.5: {"pi0": 0.0050729, "eta": 0.012679, "etaprime": 0.013611},
}
#: c_GG / Lambda (GeV^-1) of :data:`ALPINIST_MIXING`.
ALPINIST_MIXING_CGG = 1e-3


def production_check() -> list[dict]:
    """ALPs per POT by mixing, ours against the same meson yields with ALPINIST's mixing
    angles (:data:`ALPINIST_MIXING`): ``sum_P N_P theta_aP^2``. No public estimate of the
    BC11 yield at 400 GeV exists to compare with; this checks the mixing angles, the part of the
    production that is ours, while the meson yields N_P are checked against ALPINIST's Pythia
    photons (``na62dump.validation.meson_rows``). Per mass: ``ours`` and ``reference`` per
    (c_GG/Lambda)^2 in GeV^2, and the largest ratio of single mixing angles."""
    out = []
    for m, ref in ALPINIST_MIXING.items():
        ours = float(n_produced_per_pot(m, 1.0))
        theirs = sum(mesons.multiplicity(p) * (ref[p] / ALPINIST_MIXING_CGG) ** 2
                     for p in MIXING_MESONS)
        angle_ratio = {p: float(mixing_angle(m, p, ALPINIST_MIXING_CGG)) / ref[p]
                       for p in MIXING_MESONS}
        out.append({"mass_gev": m, "ours": ours, "reference": theirs,
                    "angle_ratio": angle_ratio})
    return out
