"""Independent one-bin CLs calculation (pure numpy/scipy), the cross-check of the pyhf path.

The model is one counting bin with Poisson mean

    lambda(s, a_s, a_b) = s * k_s**a_s + b * k_b**a_b,

``s`` the signal yield in events (the parameter of interest), ``b`` the median background,
``k_s`` and ``k_b`` the shape parameters ``k = exp(sigma)`` of log-normal uncertainties on the
signal and background yields, and ``a_s``, ``a_b`` nuisance parameters with unit-Gaussian
constraints around their auxiliary values (0 for the observed data). This is exactly the
one-bin content of the pyhf workspaces of :mod:`na62dump.stats.workspace` with ``normsys``
modifiers interpolated by ``code1`` (``k**a``); several signal uncertainties in one bin are
equivalent to a single one with ``ln k_s = sqrt(sum(ln k_i**2))`` (see
:func:`combined_log_normal_k`).

Test statistic: the one-sided profile likelihood ratio with a bounded signal (``q~_mu`` of
Cowan et al., pyhf's ``qtilde``): ``q = 2 [NLL(s, theta_s) - NLL(s_hat, theta_hat)]`` with
``0 <= s_hat <= s``. CLs = CLs+b / CLb, with

- ``method="toys"`` (the published treatment): pseudo-experiments thrown at the nuisance values
  fitted to the observed data under each hypothesis (``theta_s`` for s+b, ``theta_0`` for b),
  the auxiliary (nominal) values held fixed, so a toy identical to the observation has the
  same ``q`` (ties count as ``q >= q_obs``);
- ``method="exact"``: the same as infinitely many toys, summing the Poisson probabilities of
  every count (one bin makes this cheap);
- ``method="asymptotic"``: the asymptotic formulae for ``q~_mu`` with the Asimov data set of
  the background-only hypothesis (nuisances and auxiliary data at the values fitted with
  ``s = 0``), as :func:`pyhf.infer.hypotest` does. With no background and no observed event
  these formulae are not valid (the limit comes out near 1.35 events instead of 2.30).

With ``n_obs = 0`` and ``b -> 0``, CLs = exp(-s) and the 90% CL limit is ln 10 = 2.303 events:

>>> round(counting_upper_limit(0, 1e-6, toys="exact"), 3)
2.303

A signal uncertainty weakens the limit in the published treatment (the NA62 e+e- nuisances):

>>> k = combined_log_normal_k([1.2, 1.029, 1.01])
>>> round(counting_upper_limit(0, 0.0094, signal_rel_unc=k - 1, background_k=4.0,
...                            toys="exact"), 2)
2.49
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize, stats

from na62dump.errors import InputError

log = logging.getLogger(__name__)

__all__ = [
    "combined_log_normal_k",
    "counting_cls",
    "counting_upper_limit",
]

#: Bound of the nuisance parameters in units of their Gaussian width (as pyhf's normsys).
ALPHA_BOUND = 5.0
#: Largest signal yield (events) the limit search considers.
S_MAX = 1000.0
#: Relative tolerance with which a toy's test statistic counts as a tie with the observed one.
TIE_RTOL = 1e-9


def combined_log_normal_k(ks: Sequence[float]) -> float:
    """Shape parameter of the product of independent log-normals: ``exp(sqrt(sum ln^2 k))``.

    >>> round(combined_log_normal_k([1.2, 1.029, 1.01]), 4)
    1.203
    """
    ks = np.asarray(ks, dtype=float)
    if np.any(~np.isfinite(ks)) or np.any(ks < 1.0):
        raise InputError(f"log-normal shape parameters must be finite and >= 1, got {ks}")
    return float(np.exp(np.sqrt(np.sum(np.log(ks) ** 2))))


class _OneBin:
    """The one-bin likelihood; nuisance vector ``a = (a_s, a_b)`` (absent ones have k = 1).

    Fits are vectorised over arrays of counts and tested yields: a damped Newton iteration in
    the two nuisances at fixed ``s`` (``cond_fit``), to which the bounded free fit reduces
    exactly (``free_fit``, see its docstring).
    """

    def __init__(self, background: float, k_s: float, k_b: float):
        self.b = background
        self.ls = math.log(k_s)
        self.lb = math.log(k_b)

    def rate(self, s, a_s, a_b):
        return s * np.exp(self.ls * a_s) + self.b * np.exp(self.lb * a_b)

    def nll(self, n, s, a_s, a_b, aux):
        lam = self.rate(s, a_s, a_b)
        return lam - n * np.log(lam) + 0.5 * ((a_s - aux[0]) ** 2 + (a_b - aux[1]) ** 2)

    def cond_fit(self, n, s, aux=(0.0, 0.0)):
        """Minimise the NLL over ``(a_s, a_b)`` at fixed ``s``; returns ``(nll, a_s, a_b)``."""
        n, s = np.broadcast_arrays(np.asarray(n, float), np.asarray(s, float))
        a_s = np.full(n.shape, float(aux[0]))
        a_b = np.full(n.shape, float(aux[1]))
        f = self.nll(n, s, a_s, a_b, aux)
        for _ in range(200):
            e_s = s * np.exp(self.ls * a_s)
            e_b = self.b * np.exp(self.lb * a_b)
            lam = e_s + e_b
            w = 1.0 - n / lam
            g = np.stack([w * self.ls * e_s + a_s - aux[0], w * self.lb * e_b + a_b - aux[1]])
            r = n / lam**2
            h00 = w * self.ls**2 * e_s + r * (self.ls * e_s) ** 2 + 1.0
            h11 = w * self.lb**2 * e_b + r * (self.lb * e_b) ** 2 + 1.0
            h01 = r * self.ls * e_s * self.lb * e_b
            det = h00 * h11 - h01**2
            good = (h00 > 0) & (det > 0)
            # Newton step where the Hessian is positive definite, gradient step elsewhere.
            d0 = np.where(good, -(h11 * g[0] - h01 * g[1]) / np.where(good, det, 1), -g[0])
            d1 = np.where(good, -(h00 * g[1] - h01 * g[0]) / np.where(good, det, 1), -g[1])
            step = np.ones(n.shape)
            new_f = np.full(n.shape, np.inf)
            for _ in range(30):  # backtracking, per element
                ts = np.clip(a_s + step * d0, -ALPHA_BOUND, ALPHA_BOUND)
                tb = np.clip(a_b + step * d1, -ALPHA_BOUND, ALPHA_BOUND)
                trial = self.nll(n, s, ts, tb, aux)
                ok = trial <= f + 1e-15 * np.abs(f)
                new_f = np.where(ok & np.isinf(new_f), trial, new_f)
                if ok.all():
                    break
                step = np.where(np.isinf(new_f), step * 0.5, step)
            acc = np.isfinite(new_f)
            ts = np.clip(a_s + step * d0, -ALPHA_BOUND, ALPHA_BOUND)
            tb = np.clip(a_b + step * d1, -ALPHA_BOUND, ALPHA_BOUND)
            moved = np.maximum(np.abs(ts - a_s), np.abs(tb - a_b))
            a_s = np.where(acc, ts, a_s)
            a_b = np.where(acc, tb, a_b)
            f = np.where(acc, new_f, f)
            if np.all(~acc | (moved < 1e-10)):
                break
        return f, a_s, a_b

    def free_fit(self, n, s_max, aux=(0.0, 0.0)):
        """Minimise the NLL over ``0 <= s <= s_max`` and the nuisances; returns the NLL.

        Exact reduction: with ``lambda_aux(s)`` the rate at the auxiliary nuisance values,
        if ``lambda_aux(0) <= n <= lambda_aux(s_max)`` the rate can equal ``n`` at no
        constraint cost (NLL = n - n ln n); below, ``s_hat = 0`` (any signal only pushes the
        background nuisance further); above, ``s_hat = s_max``.
        """
        n, s_max = np.broadcast_arrays(np.asarray(n, float), np.asarray(s_max, float))
        lo = self.rate(0.0, aux[0], aux[1])
        hi = self.rate(s_max, aux[0], aux[1])
        s_edge = np.where(n < lo, 0.0, s_max)
        f_edge, _, _ = self.cond_fit(n, s_edge, aux)
        with np.errstate(divide="ignore", invalid="ignore"):
            f_sat = n - np.where(n > 0, n * np.log(n), 0.0)
        return np.where((n >= lo) & (n <= hi), f_sat, f_edge)

    def qtilde(self, n, s, aux=(0.0, 0.0)):
        """``q~_s`` for counts ``n`` (bounded free fit ``0 <= s_hat <= s``), vectorised."""
        cond, _, _ = self.cond_fit(n, s, aux)
        free = self.free_fit(n, s, aux)
        return np.maximum(2.0 * (cond - free), 0.0)


def _validate(n_obs, background, signal_rel_unc, background_k, cl):
    if isinstance(n_obs, bool) or not float(n_obs).is_integer() or n_obs < 0:
        raise InputError(f"n_obs must be a non-negative integer count, got {n_obs!r}")
    if not (np.isfinite(background) and background > 0):
        raise InputError(
            f"background must be a finite positive yield (floor tiny ones), got {background!r}"
        )
    if not (np.isfinite(signal_rel_unc) and signal_rel_unc >= 0):
        raise InputError(f"signal_rel_unc must be finite and >= 0, got {signal_rel_unc!r}")
    if background_k is not None and not (np.isfinite(background_k) and background_k >= 1):
        raise InputError(f"background_k must be >= 1 (or None), got {background_k!r}")
    if not 0 < cl < 1:
        raise InputError(f"cl must be in (0, 1), got {cl!r}")


def counting_cls(
    s: float,
    n_obs: int,
    background: float,
    *,
    signal_rel_unc: float = 0.0,
    background_k: float | None = None,
    method: str = "exact",
    toys: int = 1000,
    rng: np.random.Generator | int = 0,
) -> dict:
    """CLs of the one-bin model at signal yield ``s`` (events).

    Parameters
    ----------
    s : float
        Tested signal yield (events), > 0.
    n_obs : int
        Observed count.
    background : float
        Median background yield (events), > 0.
    signal_rel_unc : float
        Log-normal signal uncertainty, ``k_s = 1 + signal_rel_unc``.
    background_k : float or None
        Log-normal shape parameter of the background yield (None: no uncertainty).
    method : {"exact", "toys", "asymptotic"}
        See the module docstring.
    toys : int
        Number of pseudo-experiments per hypothesis for ``method="toys"``.
    rng : numpy.random.Generator or int
        Generator (or seed) of the pseudo-experiments.

    Returns
    -------
    dict
        ``{"cls", "clsb", "clb", "q_obs"}``.
    """
    _validate(n_obs, background, signal_rel_unc, background_k, 0.9)
    if not (np.isfinite(s) and s > 0):
        raise InputError(f"tested signal yield must be finite and > 0, got {s!r}")
    model = _OneBin(background, 1.0 + signal_rel_unc, background_k or 1.0)
    q_obs = float(model.qtilde(n_obs, s)[()])
    if method == "asymptotic":
        # Asimov data of the background-only hypothesis (pyhf's generate_asimov_data).
        _, a0s, a0b = model.cond_fit(n_obs, 0.0)
        aux0 = (float(a0s), float(a0b))
        n_asimov = float(model.rate(0.0, *aux0))
        q_a = float(model.qtilde(n_asimov, s, aux=aux0)[()])
        sq, sqa = math.sqrt(q_obs), math.sqrt(max(q_a, 1e-300))
        if q_obs <= q_a:
            clsb = stats.norm.sf(sq)
            clb = stats.norm.cdf(sqa - sq)
        else:
            clsb = stats.norm.sf((q_obs + q_a) / (2 * sqa))
            clb = stats.norm.sf((q_obs - q_a) / (2 * sqa))
        return {"cls": float(clsb / clb), "clsb": float(clsb), "clb": float(clb),
                "q_obs": q_obs}
    if method not in ("toys", "exact"):
        raise InputError(f"method must be 'exact', 'toys' or 'asymptotic', got {method!r}")
    _, a_ss, a_sb = model.cond_fit(n_obs, s)
    _, a_0s, a_0b = model.cond_fit(n_obs, 0.0)
    lam_sb = float(model.rate(s, a_ss, a_sb))
    lam_b = float(model.rate(0.0, a_0s, a_0b))
    thr = q_obs - TIE_RTOL * (1.0 + q_obs)
    if method == "exact":
        n_hi = int(stats.poisson.isf(1e-12, max(lam_sb, lam_b))) + 2
        counts = np.arange(n_hi + 1)
        q = model.qtilde(counts, s)
        clsb = float(np.sum(stats.poisson.pmf(counts, lam_sb)[q >= thr]))
        clb = float(np.sum(stats.poisson.pmf(counts, lam_b)[q >= thr]))
    else:
        if isinstance(toys, bool) or not (isinstance(toys, int | np.integer) and toys > 0):
            raise InputError(f"toys must be a positive integer, got {toys!r}")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        n_sb = gen.poisson(lam_sb, toys)
        n_b = gen.poisson(lam_b, toys)
        uniq, inv = np.unique(np.concatenate([n_sb, n_b]), return_inverse=True)
        q = model.qtilde(uniq, s)[inv]
        clsb = float(np.mean(q[:toys] >= thr))
        clb = float(np.mean(q[toys:] >= thr))
    cls = clsb / clb if clb > 0 else 1.0
    return {"cls": cls, "clsb": clsb, "clb": clb, "q_obs": q_obs}


def counting_upper_limit(
    n_obs: int,
    background: float,
    *,
    signal_rel_unc: float = 0.0,
    background_k: float | None = None,
    cl: float = 0.9,
    toys: int | str | None = None,
    rng: np.random.Generator | int = 0,
) -> float:
    """Upper limit (events) on the signal yield of a one-bin counting experiment.

    Parameters
    ----------
    n_obs : int
        Observed count.
    background : float
        Median expected background (events); must be > 0 (floor tiny backgrounds, e.g. 1e-6).
    signal_rel_unc : float
        Relative signal uncertainty, modelled as a log-normal with ``k = 1 + signal_rel_unc``
        (0.2 is the NA62 N_POT uncertainty, k = 1.2).
    background_k : float or None
        Log-normal shape parameter of the background yield (4.0 for e+e-, 1.125 for mu+mu-).
    cl : float
        Confidence level (0.9: CLs = 0.1 at the limit).
    toys : None, int or "exact"
        None: asymptotic formulae (wrong for tiny backgrounds, see the module docstring);
        an int N: the published pseudo-experiment treatment with N toys per hypothesis and
        the same toys at every tested yield (common random numbers); "exact": the
        infinite-toy limit of the published treatment.
    rng : numpy.random.Generator or int
        Generator (or seed) of the pseudo-experiments (only with integer ``toys``).

    Returns
    -------
    float
        The signal yield (events) at which CLs = 1 - cl.

    Examples
    --------
    >>> round(counting_upper_limit(0, 1e-6, toys=20000, rng=1), 1)
    2.3
    """
    _validate(n_obs, background, signal_rel_unc, background_k, cl)
    if toys is None:
        method, n_toys = "asymptotic", 0
    elif toys == "exact":
        method, n_toys = "exact", 0
    elif isinstance(toys, int | np.integer) and not isinstance(toys, bool) and toys > 0:
        method, n_toys = "toys", int(toys)
    else:
        raise InputError(f"toys must be None, 'exact' or a positive integer, got {toys!r}")
    seed = rng if isinstance(rng, int | np.integer) else int(rng.integers(2**63))
    alpha = 1.0 - cl

    def f(s):
        # The same seed at every tested s: common random numbers make CLs(s) monotone.
        res = counting_cls(s, n_obs, background, signal_rel_unc=signal_rel_unc,
                           background_k=background_k, method=method, toys=max(n_toys, 1),
                           rng=np.random.default_rng(seed))
        return res["cls"] - alpha

    lo, hi = 1e-3, 1.0
    while f(hi) > 0:
        lo, hi = hi, hi * 2.0
        if hi > S_MAX:
            raise InputError(f"no upper limit below {S_MAX} events (n_obs={n_obs})")
    return float(optimize.brentq(f, lo, hi, xtol=1e-4, rtol=1e-6))
