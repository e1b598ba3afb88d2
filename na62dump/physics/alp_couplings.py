r"""Loop-induced ALP couplings at the weak scale: b -> s and the lepton coupling (BC10, BC11).

An ALP coupled at the scale Lambda only to fermions (BC10) or only to gluons (BC11) acquires a
flavour-changing coupling to b sbar through loops (top-W penguins and the running from Lambda
to the weak scale); it makes the ALP in ``B -> K(*) a``. This module evaluates that coupling as
NA62's interpretation tool ALPINIST does (github jjerhot/ALPINIST, commit 53441e5, BSD-3:
``ALP_rescale/alp/effective_coupling.py``, class ``above_EW``, ``C_qq_ij_mu`` and the functions it
calls; ``ALP_rescale/general/functions.py`` for the running couplings), which implements the
one-loop running and matching of Bauer, Neubert, Renner, Schnubel and Thamm, JHEP 04 (2021) 063,
arXiv:2012.12272 (the evolution above the weak scale, their sec. 3 and app.) and JHEP 09 (2022)
056, arXiv:2110.10698 (the flavour-changing couplings at mu_w, their sec. 2-3).

Lagrangian above the weak scale (2110.10698 eq. 2.1 with ALPINIST's ``f -> Lambda``)::

    L = (d_mu a / Lambda) sum_F psibar_F C_F gamma^mu psi_F
        + g_s^2 C_GG / Lambda a G Gtilde + g^2 C_WW / Lambda a W Wtilde
        + g'^2 C_BB / Lambda a B Btilde

with F the chiral multiplets (Q, u, d, L, e) of each generation. The b -> s coupling at
mu_w = m_t is that of the left-handed doublets, ``L = (d_mu a / Lambda) [k_D]_23 sbar_L gamma^mu
b_L + h.c.``, which :func:`k_bs` returns per unit of the input coupling, with the CKM factor
``V_tb V_ts`` included::

    [k_D]_23 = V_tb V_ts [ -I_t(mu_w) / 6 + alpha_t / (4 pi) ( c_tt(mu_w) (ln(mu_w^2 / m_t^2) / 2
               - 1/4 - 3/2 (1 - x_t + ln x_t) / (1 - x_t)^2) - 3 alpha / (2 pi s_w^2) Ctilde_WW
               (1 - x_t + x_t ln x_t) / (1 - x_t)^2 ) ],   x_t = m_t^2 / m_W^2,

with ``I_t`` and ``c_tt(mu_w)`` the running of the top coupling from Lambda (integrals over mu
of the gauge couplings, :func:`_i_top`, :func:`_c_top`) and ``Ctilde_VV`` the gauge couplings
shifted by the fermion anomalies (:func:`fermion_inputs`). The lepton coupling at m_t
(:func:`k_ll`) is ``c_ee(mu_w) = c_ee - I_t + ...`` (ALPINIST ``C_ee_mu``); below m_t the
couplings are not run further (ALPINIST: ``lepton_coupling`` with C_WW = C_BB = 0, the quark
coupling of the hadronic widths taken at its input value).

Inputs, as ALPINIST (``ALP_rescale/general/constants.py``, which cites PDG 2018-2024): m_t =
172.57, m_W = 80.379, m_Z = 91.1876 GeV, sin^2 theta_w = 1 - m_W^2 / m_Z^2, alpha(m_Z) =
1/127.952, V_tb = 0.99917, V_ts = 0.03978; alpha_t(m_t) = y_t^2 / (4 pi) with y_t(m_t) = 1;
alpha_s at four loops with flavour thresholds and Lambda_QCD^(nf=3) = 0.34 GeV
(:func:`alpha_s`); the electroweak couplings at one loop from m_Z (:func:`alpha_2`,
:func:`alpha_1`, :func:`alpha_em`). Only scales between m_t and Lambda (1 TeV) are used.

The matching scale Lambda of the running is :data:`LAMBDA_GEV` = 1 TeV (ALPINIST's default
``alp_lambda_UV``); the couplings of the models are ``C / Lambda`` in GeV^-1 and the loop factors
returned here multiply them (the logarithmic dependence on Lambda is that of 1 TeV).

>>> f"{k_bs(*fermion_inputs()):.4e}"  # BC10: C_f = 1/2, C_F = -1/2 (c_ff = 1)
'3.5184e-04'
>>> f"{k_bs(*gluon_inputs()):.4e}"  # BC11: C_GG = 1
'-5.2612e-07'
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.integrate import quad

from na62dump.errors import InputError

#: Matching scale (GeV) of the running: ALPINIST's default ``alp_lambda_UV``.
LAMBDA_GEV = 1000.0
#: Electroweak inputs (ALPINIST constants.py; PDG 2018 m_W, m_Z; PDG 2024 m_t).
M_TOP = 172.57
M_W = 80.379
M_Z = 91.1876
SIN2_W = 1.0 - (M_W / M_Z) ** 2
ALPHA_EM_MZ = 1.0 / 127.952
#: CKM elements (PDG 2020, as ALPINIST).
V_TB, V_TS = 0.99917, 0.03978
#: alpha_t(m_t) = y_t(m_t)^2 / (4 pi), y_t(m_t) = 1 (ALPINIST ``alpha_t``).
ALPHA_T_MT = 1.0 / (4.0 * np.pi)
#: Quark and lepton masses (GeV) of the flavour thresholds of alpha_s and alpha (ALPINIST
#: constants.py, PDG 2024): u, d, s, c, b, t and e, mu, tau.
_M_UP = (2.16e-3, 1.273, M_TOP)
_M_DOWN = (4.7e-3, 93.5e-3, 4.183)
_M_LEP = (5.1099895e-4, 0.1056583755, 1.77693)
#: Lambda_QCD (GeV) with three flavours, the reference of the adaptive thresholds of alpha_s.
_LAMBDA_QCD_NF2 = 0.31


def _alpha_s_pert(q, nf, lam):
    """alpha_s at four loops (ALPINIST ``alpha_s_perturbative``, order 3): the expansion in
    1 / ln(q^2 / Lambda^2) with the beta coefficients beta_0..beta_3 of nf flavours."""
    b0 = 11.0 - 2.0 / 3.0 * nf
    lm = np.log((q / lam) ** 2)
    a_lo = 4.0 * np.pi / (b0 * lm)
    llm = np.log(lm)
    b1 = 102.0 - 38.0 / 3.0 * nf
    b2 = 2857.0 / 2.0 - 5033.0 / 18.0 * nf + 325.0 / 54.0 * nf**2
    xi = 1.2026  # zeta(3)
    b3 = ((149753.0 / 6.0 + 3564.0 * xi) - (1078361.0 / 162.0 + 6508.0 / 27.0 * xi) * nf
          + (50065.0 / 162.0 + 6472.0 / 81.0 * xi) * nf**2 + 1093.0 / 729.0 * nf**3)
    a1 = a_lo * (1.0 - b1 / b0**2 * llm / lm)
    a2 = a1 + a_lo * b1**2 / (b0**4 * lm**2) * (llm**2 - llm - 1.0 + b2 * b0 / b1**2)
    return a2 + a_lo * b1**3 / (b0**6 * lm**3) * (
        -(llm**3) + 2.5 * llm**2 + 2.0 * llm - 0.5 - 3.0 * b2 * b0 / b1**2 * llm
        + b3 * b0**2 / (2.0 * b1**3))


def alpha_s(q):
    """Strong coupling at ``q`` >= 1 GeV (GeV): four loops, nf and Lambda_QCD adapted at the
    s, c, b, t masses from Lambda^(nf=2) = 0.31 GeV (ALPINIST ``adaptive_nf_LambdaQCD``).

    >>> round(alpha_s(91.1876), 4)  # ALPINIST's alpha_s (the PDG average is 0.1180)
    0.1208
    """
    if q < 1.0:
        raise InputError(f"alpha_s: {q:g} GeV is below the perturbative range (>= 1 GeV)")
    nf, lam = 2, _LAMBDA_QCD_NF2
    for m_q in (_M_DOWN[1], _M_UP[1], _M_DOWN[2], _M_UP[2]):
        if m_q < q:
            nf += 1
            lam = lam * (lam / m_q) ** (2.0 / (33.0 - 2.0 * nf))
    return float(_alpha_s_pert(q, nf, lam))


def _beta_qed(mu):
    """One-loop QED beta coefficient with the fermions lighter than ``mu`` (ALPINIST)."""
    b = sum(3.0 * (2.0 / 3.0) ** 2 for m in _M_UP if mu > m)
    b += sum(3.0 * (1.0 / 3.0) ** 2 for m in _M_DOWN if mu > m)
    b += sum(1.0 for m in _M_LEP if mu > m)
    return -4.0 / 3.0 * b


def alpha_em(mu):
    """alpha at ``mu`` (GeV), one loop from alpha(m_Z) (ALPINIST ``alpha_EM``)."""
    return ALPHA_EM_MZ / (1.0 - _beta_qed(mu) / (2.0 * np.pi) * ALPHA_EM_MZ * np.log(M_Z / mu))


def alpha_2(mu):
    """SU(2) coupling g^2 / (4 pi) at ``mu``, one loop from m_Z (beta = 19/6; ALPINIST
    ``alpha_ww``)."""
    ref = ALPHA_EM_MZ / SIN2_W
    return ref / (1.0 - 19.0 / 6.0 / (2.0 * np.pi) * ref * np.log(M_Z / mu))


def alpha_1(mu):
    """U(1)_Y coupling g'^2 / (4 pi) at ``mu``, one loop from m_Z (beta = -41/6; ALPINIST
    ``alpha_bb``)."""
    ref = ALPHA_EM_MZ / (1.0 - SIN2_W)
    return ref / (1.0 + 41.0 / 6.0 / (2.0 * np.pi) * ref * np.log(M_Z / mu))


def _u_top(mu_w, mu):
    """``1 - exp(-18 U(mu_w, mu))`` of the top-Yukawa running (2012.12272; ALPINIST
    ``__one_minus_e18U``), with alpha_t taken at mu_w = m_t (:data:`ALPHA_T_MT`; only mu_w = m_t
    is used)."""
    return 4.5 * ALPHA_T_MT / alpha_s(mu_w) * (1.0 - (alpha_s(mu) / alpha_s(mu_w)) ** (1.0 / 7.0))


def fermion_inputs(c_f: float = 0.5, c_F: float = -0.5):
    """``(Ctilde_GG, Ctilde_WW, Ctilde_BB, c_tt)`` of an ALP with the same couplings ``c_f`` to
    every right-handed singlet (u, d, e) and ``c_F`` to every doublet (Q, L), the three
    generations, and no gauge coupling (BC10: c_f = 1/2, c_F = -1/2, i.e. c_ff = c_f - c_F = 1;
    ALPINIST ``load_data.py``). The anomaly shifts (ALPINIST ``C_GG_tilde``, ``C_WW_tilde``,
    ``C_BB_tilde``; 2012.12272)::

        Ctilde_GG = 1/2 sum (C_u + C_d - 2 C_Q),  Ctilde_WW = -1/2 sum (3 C_Q + C_L),
        Ctilde_BB = sum (4/3 C_u + 1/3 C_d - 1/6 C_Q + C_e - 1/2 C_L),

    and the top coupling ``c_tt = 1`` as ALPINIST passes it (its argument ``C_tt``).
    """
    n = 3
    gg = 0.5 * n * (c_f + c_f - 2.0 * c_F)
    ww = -0.5 * n * (3.0 * c_F + c_F)
    bb = n * (4.0 / 3.0 * c_f + 1.0 / 3.0 * c_f - 1.0 / 6.0 * c_F + c_f - 0.5 * c_F)
    return gg, ww, bb, 1.0


def gluon_inputs():
    """``(Ctilde_GG, Ctilde_WW, Ctilde_BB, c_tt)`` of an ALP coupled only to gluons, C_GG = 1
    (BC11; ALPINIST ``_cbs_G``)."""
    return 1.0, 0.0, 0.0, 0.0


def _gauge_terms(mu, gg, ww, bb, ctt, lam, w_gg=2.0, w_ww=9.0 / 16.0, w_bb=17.0 / 48.0):
    """``w_gg alpha_s^2 / pi^2 Ctilde_GG(mu) + w_ww alpha_2^2 / pi^2 Ctilde_WW(mu) + w_bb alpha_1^2
    / pi^2 Ctilde_BB(mu)`` with ``Ctilde_VV(mu) = Ctilde_VV - k_V U(mu, Lambda) c_tt`` (k_V = 2/9,
    1/6, 17/54; ALPINIST ``C_GG_tilde_mu`` ...)."""
    u = _u_top(mu, lam)
    return (w_gg * alpha_s(mu) ** 2 * (gg - 2.0 / 9.0 * u * ctt)
            + w_ww * alpha_2(mu) ** 2 * (ww - 1.0 / 6.0 * u * ctt)
            + w_bb * alpha_1(mu) ** 2 * (bb - 17.0 / 54.0 * u * ctt)) / np.pi**2


def _integral(f, lam, mu_w):
    """``int_Lambda^mu_w dmu / mu f(mu)`` (ALPINIST integrates from Lambda down to mu_w)."""
    return quad(lambda mu: f(mu) / mu, lam, mu_w)[0]


def _i_top(mu_w, gg, ww, bb, ctt, lam):
    """``I_t(mu_w)`` (ALPINIST ``__I_t``)."""
    return (-2.0 / 3.0 * _u_top(mu_w, lam) * ctt - 2.0 / 3.0 * _integral(
        lambda mu: _u_top(mu_w, mu) * _gauge_terms(mu, gg, ww, bb, ctt, lam), lam, mu_w))


def _c_top(mu_w, gg, ww, bb, ctt, lam):
    """``c_tt(mu_w)`` (ALPINIST ``C_uu_mu`` for the top)."""
    return (ctt - _u_top(mu_w, lam) * ctt + _integral(
        lambda mu: (1.0 - _u_top(mu_w, mu)) * _gauge_terms(mu, gg, ww, bb, ctt, lam),
        lam, mu_w))


@functools.cache
def k_bs(gg: float, ww: float, bb: float, ctt: float, lam: float = LAMBDA_GEV) -> float:
    """``[k_D]_23`` at mu_w = m_t (module docstring) for the inputs of :func:`fermion_inputs`
    or :func:`gluon_inputs`: the b -> s coupling is ``k_bs x C / Lambda`` (GeV^-1)."""
    mu_w = M_TOP
    x_t = M_TOP**2 / M_W**2
    i_t = _i_top(mu_w, gg, ww, bb, ctt, lam)
    c_t = _c_top(mu_w, gg, ww, bb, ctt, lam)
    u = _u_top(mu_w, lam)
    ww_mu = ww - 1.0 / 6.0 * u * ctt
    bracket = (c_t * (0.5 * np.log(mu_w**2 / M_TOP**2) - 0.25
                      - 1.5 * (1.0 - x_t + np.log(x_t)) / (1.0 - x_t) ** 2)
               - 3.0 * alpha_em(mu_w) / (2.0 * np.pi * SIN2_W) * ww_mu
               * (1.0 - x_t + x_t * np.log(x_t)) / (1.0 - x_t) ** 2)
    return float(V_TB * V_TS * (-i_t / 6.0 + ALPHA_T_MT / (4.0 * np.pi) * bracket))


@functools.cache
def k_ll(gg: float, ww: float, bb: float, ctt: float, lam: float = LAMBDA_GEV) -> float:
    """Lepton coupling at m_t per unit input coupling (ALPINIST ``C_ee_mu`` with C_ee = c_tt)::

        c_ee(m_t) = c_ee - I_t + int_Lambda^m_t dmu / mu (1 - U) (9/16 alpha_2^2 Ctilde_WW(mu)
                    + 15/16 alpha_1^2 Ctilde_BB(mu)) / pi^2

    >>> round(k_ll(*fermion_inputs()), 4)
    1.0536
    """
    mu_w = M_TOP
    i_t = _i_top(mu_w, gg, ww, bb, ctt, lam)
    rest = _integral(lambda mu: (1.0 - _u_top(mu_w, mu)) * _gauge_terms(
        mu, gg, ww, bb, ctt, lam, w_gg=0.0, w_ww=9.0 / 16.0, w_bb=15.0 / 16.0), lam, mu_w)
    return float(ctt - i_t + rest)
