r"""ALP coupled to fermions (PBC benchmark BC10): widths, lifetime and production in B -> K_X a.

Coupling and normalisation. The parameter is ``cff = c_ff / Lambda`` in GeV^-1 (the PBC
convention of BC10, Beacham et al., J. Phys. G 47 (2020) 010501, arXiv:1901.09966), for the
Lagrangian with the same axial coupling to every fermion::

    L = (c_ff / (2 Lambda)) d_mu a sum_f fbar gamma^mu gamma_5 f.

In the chiral notation of Bauer et al. (arXiv:2012.12272, 2110.10698) used by ALPINIST,
``L = (d_mu a / Lambda) sum_F psibar_F C_F gamma^mu psi_F``, this is ``C_f = c_ff / 2`` for every
right-handed singlet and ``C_F = -c_ff / 2`` for every doublet (ALPINIST's BC10 set-up,
``ALP_rescale/general/load_data.py``: ``C_f = 0.5``, ``C_F = -0.5``), so that their ``c_ff =
C_f - C_F`` is ours. The hadronic widths come from arXiv:2310.03524, whose coupling is twice
this one: ALPINIST divides their widths by 4 ("factor 2 difference coupling",
``decay_widths.py``), as we do (:data:`TABLE_FACTOR`). The running from Lambda is evaluated at
Lambda = 1 TeV (:data:`na62dump.physics.alp_couplings.LAMBDA_GEV`); every rate is
proportional to ``cff^2``. Units: GeV, metres, seconds.

Decay widths (:func:`partial_widths`, keys of :data:`STATES`), valid for
:data:`MASS_RANGE_GEV` (0.01-3 GeV, the span of the tables):

- leptons, ``Gamma(a -> l+l-) = g_ll^2 m_l^2 M beta_l / (8 pi)``, ``beta_l = sqrt(1 - 4 m_l^2 /
  M^2)`` (2110.10698; ALPINIST ``a_2El``, ``a_2Mu``), with ``g_ll = k_ll cff`` and k_ll = 1.054
  the running of the lepton coupling from 1 TeV to m_t (:func:`na62dump.physics.alp_couplings.
  k_ll`);
- gamma gamma (through the fermion loops and the meson mixing) and the hadronic decays:
  the widths of arXiv:2310.03524 as digitised by ALPINIST, shipped in
  ``na62dump/data/alp_fermion_widths_2310.03524.txt`` (see its header), linear interpolation as
  ALPINIST's ``interp1d``, zero outside a table's span, times ``cff^2`` x :data:`TABLE_FACTOR`:
  the exclusive states of the analysis (pi+pi-gamma, pi+pi-pi0, pi+pi-pi0pi0, pi+pi-eta,
  K+K-pi0, charge-resolved in 2310.03524) and ``other_hadrons``, the tabulated total hadronic
  width minus those (where positive). The total is ``hadrons_total + gammagamma + ee + mumu``
  (ALPINIST ``Total_width(is_fermionic=True)``).

Production (:func:`br_b_to_ka`): ``B -> K_X a`` through the loop-induced
coupling ``L = g_bs d_mu a sbar_L gamma^mu b_L + h.c.``, ``g_bs = k_bs cff`` (k_bs = 3.5e-4,
:func:`na62dump.physics.alp_couplings.k_bs`: top-W loops and the running of 2110.10698, as
ALPINIST's ``C_qq_ij_mu``). The matrix element of the current is the one the dark scalar uses
(:func:`na62dump.physics.scalar.b_to_kx_amplitude`: ``<K| sbar gamma^mu b |B> q_mu = (m_B^2 -
m_K^2) f_0(M^2)``, ``2 m_B p A_0(M^2)`` for the K*), so ``|M|^2 = g_bs^2 A^2 / 4`` and::

    Gamma(B -> K_X a) = g_bs^2 A_X^2 p_a / (32 pi m_B^2)

(ALPINIST ``alp_production_BRs.branching_ratios`` with ``ds_production_BRs.M2``; 2110.10698).
The BR is the mean of B+ and B0 (:mod:`na62dump.physics.bmesons`), the rate that multiplies
``B_PER_POT``. The kaon families are those of the dark scalar (``scalar.KAON_FAMILIES``: K,
K*(892), K0*(700), K0*(1430), K*(1410), K*(1680), K1(1270), K1(1400), K2*(1430)), the nine
ALPINIST sums for the ALP (``ALP_production/modes/meson_decay.py``, ``setup.kaons_list``);
K and K*(892) alone are 27 % of the sum at 0.3 GeV. The kinematics of the ALP are those of the
model-independent ALP samples (``physics.alp.sample``: B -> K+ a), which the yields of this
model read for every family (*approximation*: a heavier K_X leaves the ALP less momentum in the
B frame, 2.3 instead of 2.6 GeV for the K2*(1430) at 0.3 GeV; the dark-scalar samples draw
the family per event instead, ``scalar.kaon_weights``).

Not here (*open*): the hadronic final states in the limits (only e+e- and mu+mu- are scanned;
their BRs are in :func:`branching_ratios`).

>>> round(float(br_b_to_ka(0.3, 1e-3)), 4)  # c_ff / Lambda = 1 / TeV
0.1881
>>> round(float(ctau_m(0.3, 1e-3)) * 1e6, 3)  # micrometres
1.879
>>> round(float(branching_ratios(0.7)["mumu"]), 4)
0.9996
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from na62dump.errors import InputError
from na62dump.physics import alp_couplings, bmesons, scalar
from na62dump.physics import constants as C
from na62dump.physics._checks import check_mass, check_nonnegative
from na62dump.physics.decay import (
    HBAR_GEV_S,
    ctau_from_width,
    lifetime_from_width,
    read_mode_tables,
)

TABLE_FILE = Path(__file__).resolve().parent.parent / "data" / "alp_fermion_widths_2310.03524.txt"
#: Gamma [GeV] = cff^2 x table x TABLE_FACTOR (the coupling of 2310.03524 is twice ours;
#: ALPINIST ``Load_digitized_fermions.width_from_file``: ``g^2 x width x 1e-9 x 1e9 / 4``).
TABLE_FACTOR = 0.25
#: Validity range (GeV): the span of the tables.
MASS_RANGE_GEV = (0.01, 3.0)
#: Exclusive hadronic states of the analysis (keys of the table file).
HADRONIC_STATES: tuple[str, ...] = ("pipigamma", "pipipi0", "pipipi0pi0", "pipieta", "kkpi0")
#: Keys of :func:`partial_widths`.
STATES: tuple[str, ...] = ("ee", "mumu", "gammagamma", *HADRONIC_STATES, "other_hadrons")
#: Kaon families of the production: all of ``scalar.KAON_FAMILIES`` (module docstring).
PRODUCTION_FAMILIES: tuple[str, ...] = tuple(scalar.KAON_FAMILIES)


@functools.cache
def _tables(path: Path = TABLE_FILE) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{mode: (mass GeV, width)}`` of the table file, sorted in mass (parsed once)."""
    return read_mode_tables(path, {"hadrons_total", "gammagamma", *HADRONIC_STATES})


def _table_width(mode: str, m: np.ndarray) -> np.ndarray:
    """Tabulated width at ``m`` (linear, 0 outside the span), before the coupling."""
    x, y = _tables()[mode]
    return np.where((m >= x[0]) & (m <= x[-1]), np.interp(m, x, y), 0.0)


def _lepton_width(m: np.ndarray, m_l: float, g: np.ndarray) -> np.ndarray:
    open_ = m > 2.0 * m_l
    root = np.sqrt(np.where(open_, m * m - 4.0 * m_l * m_l, 0.0))
    return np.where(open_, g * g * m_l * m_l * root / (8.0 * np.pi), 0.0)


def _check(mass, cff):
    return check_mass(mass, MASS_RANGE_GEV, "ALP mass"), check_nonnegative(cff, "cff")


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


def partial_widths(mass, cff=1.0) -> dict[str, np.ndarray | float]:
    """Partial widths (GeV) of :data:`STATES` at ``mass`` (GeV) for ``cff`` = c_ff / Lambda
    (GeV^-1), ``mass`` broadcast against ``cff``."""
    m, c = _check(mass, cff)
    g_ll = alp_couplings.k_ll(*alp_couplings.fermion_inputs()) * c
    scale = c * c * TABLE_FACTOR
    out = {"ee": _lepton_width(m, C.M_E, g_ll), "mumu": _lepton_width(m, C.M_MU, g_ll),
           "gammagamma": _table_width("gammagamma", m) * scale}
    excl = 0.0
    for k in HADRONIC_STATES:
        w = _table_width(k, m)
        out[k] = w * scale
        excl = excl + w
    out["other_hadrons"] = np.clip(_table_width("hadrons_total", m) - excl, 0.0, None) * scale
    return {k: _out(np.broadcast_to(v, np.broadcast(m, c).shape) * 1.0) for k, v in out.items()}


def total_width(mass, cff=1.0):
    """Total width (GeV): the sum of :func:`partial_widths`."""
    return _out(sum(np.asarray(v) for v in partial_widths(mass, cff).values()))


def branching_ratios(mass) -> dict[str, np.ndarray | float]:
    """BR of each of :data:`STATES` (independent of the coupling)."""
    pw = partial_widths(mass, 1.0)
    tot = sum(np.asarray(v) for v in pw.values())
    return {k: _out(np.asarray(v) / tot) for k, v in pw.items()}


def ctau_m(mass, cff):
    """Proper decay length c tau (m); inf at cff = 0."""
    return ctau_from_width(total_width(mass, cff))


def lifetime_s(mass, cff):
    """Proper lifetime (s); inf at cff = 0."""
    return lifetime_from_width(total_width(mass, cff))


# --- production: B -> K_X a -------------------------------------------------------------------


def g_bs(cff):
    """The b -> s coupling (GeV^-1) at ``cff`` = c_ff / Lambda: ``k_bs x cff``."""
    return alp_couplings.k_bs(*alp_couplings.fermion_inputs()) * check_nonnegative(cff, "cff")


def width_b_to_kx(mass, gbs, kaon: str = "K+"):
    """Gamma(B -> kaon a) in GeV for a b -> s coupling ``gbs`` (GeV^-1) (module docstring), for
    a key ``kaon`` of ``bmesons.KAONS`` in ``scalar.KAON_FAMILIES``; 0 above the end point.
    Shared with the gluon-coupled ALP (its own ``gbs``)."""
    amp, p, m_b, _, open_ = scalar.b_to_kx_amplitude(mass, kaon)
    g = np.asarray(gbs, dtype=float)
    return np.where(open_, g * g * amp * amp * p / (32.0 * np.pi * m_b * m_b), 0.0)


def br_b_to_kx_gbs(mass, gbs, family: str = "K"):
    """BR(B -> K_X a) of one kaon family at b -> s coupling ``gbs`` (GeV^-1), the mean of B+ ->
    K_X+ a and B0 -> K_X0 a with their lifetimes (``bmesons``)."""
    if family not in scalar.KAON_FAMILIES:
        raise InputError(f"unknown kaon family {family!r}; expected one of "
                         f"{', '.join(scalar.KAON_FAMILIES)}")
    _, kp, k0 = scalar.KAON_FAMILIES[family]
    return _out(0.5 * (width_b_to_kx(mass, gbs, kp) * bmesons.TAU_B_CHARGED_S
                       + width_b_to_kx(mass, gbs, k0) * bmesons.TAU_B0_S) / HBAR_GEV_S)


def br_b_to_kx(mass, cff, family: str = "K"):
    """BR(B -> K_X a) of one kaon family at ``cff`` (the B+ / B0 mean)."""
    m, _ = _check(mass, cff)
    return br_b_to_kx_gbs(m, g_bs(cff), family)


def br_b_to_ka(mass, cff):
    """BR(B -> K_X a) summed over :data:`PRODUCTION_FAMILIES` (the B+ / B0 mean): the rate
    that multiplies ``bmesons.B_PER_POT``."""
    return _out(sum(np.asarray(br_b_to_kx(mass, cff, f)) for f in PRODUCTION_FAMILIES))


def n_produced_per_pot(mass, cff):
    """ALPs per POT: ``B_PER_POT x BR(B -> K_X a)``, summed over the kaon families."""
    return bmesons.B_PER_POT * br_b_to_ka(mass, cff)


# --- validation against ALPINIST -------------------------------------------------------------

#: ALPINIST's own values (github jjerhot/ALPINIST, commit 53441e5, its python run outside the
#: project: ``above_EW.C_qq_ij_mu`` with the BC10 inputs of ``load_data.py``,
#: ``alp_production_BRs.branching_ratios`` for B+ and B0 -> K, K*(892) and the sum over
#: its nine kaon families ``setup.kaons_list`` (averaged over B+ and B0),
#: ``Total_width(True).width_a``, ``a_2El``, ``a_2Mu``) at c_ff = 1, Lambda = 1 TeV (cff = 1e-3
#: GeV^-1): g_bs in GeV^-1, the BRs, c tau in metres (hbar c from ALPINIST's hbar and c).
ALPINIST_CFF = 1e-3
ALPINIST_G_BS = 3.51838e-07
ALPINIST_REFERENCE: dict[float, dict[str, float]] = {
    0.1: {"br_b_to_k": 0.0230452, "br_b_to_kstar": 0.027854, "br_b_to_kx_all": 0.187961,
          "ctau_m": 0.171114, "ee": 0.999977},
    0.3: {"br_b_to_k": 0.0230758, "br_b_to_kstar": 0.0278548, "br_b_to_kx_all": 0.187795,
          "ctau_m": 1.87943e-06, "ee": 3.29511e-05, "mumu": 0.999966},
    0.7: {"br_b_to_k": 0.0232292, "br_b_to_kstar": 0.0278558, "br_b_to_kx_all": 0.186941,
          "ctau_m": 5.99491e-07, "ee": 2.45248e-05, "mumu": 0.999596},
    1.2: {"br_b_to_k": 0.0235975, "br_b_to_kstar": 0.0278363, "br_b_to_kx_all": 0.184747,
          "ctau_m": 2.218e-08, "ee": 1.55549e-06, "mumu": 0.065463},
}


def alpinist_check() -> list[dict]:
    """Ours vs :data:`ALPINIST_REFERENCE`: one row per (mass, quantity) with ``ours``,
    ``reference`` (g_bs at mass None)."""
    rows = [{"mass_gev": None, "quantity": "g_bs", "ours": float(g_bs(ALPINIST_CFF)),
             "reference": ALPINIST_G_BS}]
    for m, ref in ALPINIST_REFERENCE.items():
        br = branching_ratios(m)
        ours = {"br_b_to_k": float(br_b_to_kx(m, ALPINIST_CFF, "K")),
                "br_b_to_kstar": float(br_b_to_kx(m, ALPINIST_CFF, "K*(892)")),
                "br_b_to_kx_all": float(br_b_to_ka(m, ALPINIST_CFF)),
                "ctau_m": float(ctau_m(m, ALPINIST_CFF)), **{k: float(v) for k, v in br.items()}}
        rows.extend({"mass_gev": m, "quantity": q, "ours": ours[q], "reference": r}
                    for q, r in ref.items())
    return rows
