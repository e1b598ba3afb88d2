"""CLs with pseudo-experiments on pyhf models: the published treatment (vectorised) and pyhf's.

Two toy treatments are available; they differ in how the systematic uncertainties enter.

``published`` (the default, NA62 PRL 133 (2024) 111802, Sec. V and Appendix B)
    The systematic pdfs are posteriors: the nuisance parameters are fitted to the observed
    data under each hypothesis (``theta_mu`` at the tested ``mu``, ``theta_0`` at ``mu = 0``),
    the main-measurement data of the pseudo-experiments are Poisson around the model at those
    fitted values, and the auxiliary data (the constraint centres) stay at their nominal
    values. A toy with the observed counts then has exactly the observed test statistic
    (ties count as ``q >= q_obs``). With ``n_obs = 0`` and no background, CLs = exp(-s) and
    the 90% CL limit is 2.30 events; a signal uncertainty weakens it (2.49 events with the
    published e+e- nuisances).
``pyhf`` (:func:`pyhf_toy_hypotest`, :func:`pyhf.infer.hypotest` with ``calctype="toybased"``)
    Frequentist toys: the auxiliary data are randomised too. This breaks the ties of the
    ``n = 0`` toys, and the limit comes out *stronger* than without systematics (2.2 events
    for the e+e- nuisances with 500 toys, ``benchmarks/bench_limits.py``; 2.30 without
    systematics, 2.49 in the published treatment), which is why it is not our default.
``asymptotic`` (:func:`pyhf.infer.hypotest`, ``calctype="asymptotics"``)
    Invalid with no background and no observed event: 1.35 events instead of 2.30.

The empty data set, exactly (stratified estimator)
    Every tail probability ``P(q >= q_thr)`` is split into the stratum of toys with no event
    at all, whose probability is known in closed form, ``P(n = 0) = exp(-sum_i lambda_i)``
    at the generating parameters, and the rest, estimated by the fraction of toys that have
    at least one event and ``q >= q_thr``. Both parts are unbiased, so the estimator is the
    published one with the toy noise of the empty stratum removed (:func:`_tail`). This
    matters at ``n_obs = 0``, where the empty stratum is all there is: there the observed
    CLs is **exact**, with no toy noise at all, for the following reasons.

    1. With 0 events in every bin the extended likelihood is ``exp(-(s S(theta) + b
       B(theta_b))) x constraints`` (``sum_i f_s,i = sum_i f_b,i = 1``): it depends on the
       signal and background totals only, whatever the binning and the mass shapes. The
       signal nuisances (N_POT, efficiency, production) multiply the signal only and the
       background nuisance the background only, so the fitted ``theta_b`` is the same under
       both hypotheses and the fitted signal total ``u(s) = s S(theta_s)`` minimises
       ``u + C(theta_s)``.
    2. The empty data set has the largest ``q~_s`` of all data sets: for any data ``n`` with
       best fit ``(s_hat <= s, theta_hat)``, evaluating the conditional fit at ``theta'``
       with ``s S(theta'_s) >= s_hat S(theta_hat_s)`` and ``theta'_b = theta_hat_b`` (so
       every ``lambda_i`` is at least as large and the ``- n_i ln lambda_i`` terms can only
       decrease) gives ``q(n)/2 <= [s S(theta'_s) + C(theta'_s)] - [s_hat S(theta_hat_s) +
       C(theta_hat_s)]``; with one signal factor (one channel, or channels that share
       their signal nuisances) ``C`` is quadratic in ``ln S``, the choice
       ``theta'_s = theta_s(s)`` (if allowed) or ``S(theta'_s) = s_hat S(theta_hat_s)/s``
       (else) bounds this by ``q(0)/2 = min [s S + C]``, with equality only if every event
       sits where the signal pdf vanishes (then ``q(n) = q(0)`` exactly, a tie).
       Combinations (one efficiency nuisance per channel) are checked numerically in the
       tests (no toy with events reaches ``q(0)``).
    3. Hence at ``n_obs = 0`` only empty toys have ``q >= q_obs``: ``CLs+b = exp(-lambda_sb)``
       and ``CLb = exp(-lambda_b)``, and ``CLs = exp(-u(s))``, independent of the background
       and the binning. This is the exact one-bin CLs of the totals with the same nuisances
       (:func:`na62dump.stats.counting.counting_cls` with ``method="exact"``): with one
       signal log-normal of width ``sigma`` the 90% CL limit is ``ln 10 exp(sigma^2 ln 10)``
       (2.303 events without uncertainties, 2.49 with the published e+e- ones).

    The expected bands use the same estimator at each background-only toy's ``q``; the
    bands whose toys are empty (every band when ``P_b(n > 0) < 2.3%``) are exact too.

Test statistic: ``q~_mu`` (pyhf's ``qtilde``), ``q = -2 [log L(mu, theta_mu) - log L(mu_hat,
theta_hat)]`` with ``0 <= mu_hat <= mu``, evaluated with the pyhf model's (batched)
``logpdf`` at parameters found by a batched, bounded Newton minimiser (:class:`FastModel`):
the workspaces of :mod:`na62dump.stats.workspace` are sums of samples ``N * mu**p *
prod_k k_k**alpha_k``, whose gradient and Hessian are analytic, so thousands of toys are fitted
in one vectorised call (checked against :func:`pyhf.infer.mle.fit` in the tests). Identical
toy data sets are fitted once.

API
---
``FastModel.from_spec(spec)``; ``published_cls(fast_model, mu_values, n_toys, rng) ->
dict(mu, cls, clsb, clb, cls_expected (5 x n_mu: -2..+2 sigma))``;
``upper_limit_from_curve(mu, cls, cl=0.9)``; ``pyhf_toy_hypotest(spec, mu, n_toys, rng)``;
``check_pyhf_toy_bands()`` (the numpy >= 2.4 guard).

>>> from na62dump.stats.workspace import build_channel_workspace
>>> spec = build_channel_workspace(0.3, 1.0, 0.003, {"median": 1e-6, "k": 1.0}, [], "ee",
...                                {"n_pot_k": 1.0, "efficiency_rel": 0.0,
...                                 "production_rel": 0.0})
>>> fm = FastModel.from_spec(spec)
>>> res = published_cls(fm, [2.302585], 2000, np.random.default_rng(1))
>>> bool(abs(res["cls"][0] - 0.1) < 0.02)
True
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from na62dump.errors import InputError
from na62dump.stats.workspace import MODIFIER_SETTINGS, make_model

log = logging.getLogger(__name__)

__all__ = [
    "NORMAL_PERCENTILES",
    "FastModel",
    "PublishedToys",
    "check_pyhf_toy_bands",
    "pyhf_toy_hypotest",
    "published_cls",
    "upper_limit_from_curve",
]

#: Percentiles of the standard normal at -2, -1, 0, +1, +2 sigma (the order of the bands).
NORMAL_PERCENTILES = 100.0 * stats.norm.cdf([-2.0, -1.0, 0.0, 1.0, 2.0])
#: Relative tolerance with which a toy's test statistic counts as a tie with the observed one.
TIE_RTOL = 1e-9
_MAX_ITER = 100
#: Batch size of the pyhf model that evaluates the test statistic.
LOGPDF_BATCH = 512


class FastModel:
    """A pyhf model of normfactor/normsys samples, with batched analytic fits.

    The expected main data are ``lambda_i = sum_c N[c, i] * mu**p[c] * exp(L[c] . theta)``
    (``L[c, k] = ln k`` of modifier ``k`` on sample ``c``, ``p[c] = 1`` if the sample carries
    the POI); constrained parameters have unit-Gaussian constraints around the auxiliary data.
    :meth:`from_spec` checks this representation against ``pyhf.Model.expected_actualdata``.
    """

    def __init__(self, spec: Mapping, validate: bool = True):
        self.spec = spec
        self.model, data = make_model(spec, validate=validate)
        cfg = self.model.config
        self.poi = cfg.poi_index
        self.npars = cfg.npars
        self.nmain = cfg.nmaindata
        self.main_obs = np.asarray(data[: self.nmain], dtype=float)
        self.aux_nominal = np.asarray(data[self.nmain:], dtype=float)
        self.init = np.asarray(cfg.suggested_init(), dtype=float)
        self.lo, self.hi = np.asarray(cfg.suggested_bounds(), dtype=float).T
        # Constrained parameters and the position of their auxiliary datum.
        self.constrained = np.zeros(self.npars, dtype=bool)
        self.aux_index = np.zeros(self.npars, dtype=int)
        pos = 0
        for name in cfg.auxdata_order:
            sl = cfg.par_slice(name)
            n = sl.stop - sl.start
            self.constrained[sl] = True
            self.aux_index[sl] = np.arange(pos, pos + n)
            pos += n
        rows, p, lmat = [], [], []
        offsets = np.cumsum([0, *[cfg.channel_nbins[c] for c in cfg.channels]])
        for ci, cname in enumerate(cfg.channels):
            channel = next(ch for ch in spec["channels"] if ch["name"] == cname)
            for sample in channel["samples"]:
                row = np.zeros(self.nmain)
                row[offsets[ci]:offsets[ci + 1]] = sample["data"]
                lvec = np.zeros(self.npars)
                has_mu = 0
                for mod in sample["modifiers"]:
                    if mod["type"] == "normfactor" and mod["name"] == cfg.poi_name:
                        has_mu = 1
                    elif mod["type"] == "normsys":
                        hi, lo = float(mod["data"]["hi"]), float(mod["data"]["lo"])
                        if not np.isclose(hi * lo, 1.0, rtol=1e-9):
                            raise InputError(f"normsys {mod['name']!r} is not log-normal "
                                             f"symmetric (hi*lo = {hi * lo}); not supported")
                        lvec[cfg.par_slice(mod["name"])] += np.log(hi)
                    else:
                        raise InputError(f"modifier {mod['name']!r} of type {mod['type']!r} "
                                         "is not supported by the fast fitter")
                rows.append(row)
                p.append(has_mu)
                lmat.append(lvec)
        self.nominal = np.array(rows)  # (C, I)
        self.has_mu = np.array(p, dtype=float)  # (C,)
        self.lmat = np.array(lmat)  # (C, P)
        self._pyhf_batched = None

    @classmethod
    def from_spec(cls, spec: Mapping, check: bool = True, validate: bool = True) -> FastModel:
        """Build from a workspace spec; with ``check``, compare with pyhf's expected data;
        ``validate``: check the spec against pyhf's schema first."""
        fm = cls(spec, validate=validate)
        if check:
            rng = np.random.default_rng(12345)
            pars = np.clip(fm.init + rng.normal(0, 0.7, (4, fm.npars)), fm.lo, fm.hi)
            pars[:, fm.poi] = rng.uniform(0.1, 5.0, 4)
            for par in pars:
                ref = np.asarray(fm.model.expected_actualdata(par))
                if not np.allclose(fm.expected(par[None])[0], ref, rtol=1e-10, atol=1e-300):
                    raise InputError("workspace is not a normfactor/normsys model the fast "
                                     "fitter represents exactly")
        return fm

    # -- model ---------------------------------------------------------------------------
    def _parts(self, x):
        """``base`` (T, C, I) without the mu factor and ``A`` (T, C, I) with it."""
        e = np.exp(x @ self.lmat.T)  # (T, C); L has a zero POI column
        base = self.nominal[None] * e[..., None]
        muf = np.where(self.has_mu[None] > 0, x[:, self.poi, None], 1.0)
        return base, base * muf[..., None]

    def expected(self, x) -> np.ndarray:
        """Expected main data (T, I) at parameters ``x`` (T, P)."""
        return self._parts(np.atleast_2d(x))[1].sum(axis=1)

    def nll(self, x, n, aux) -> np.ndarray:
        """Negative log-likelihood without the data-only constants (T,)."""
        lam = self.expected(x)
        c = self.constrained
        return (np.sum(lam - n * np.log(lam), axis=1)
                + 0.5 * np.sum((x[:, c] - aux[:, self.aux_index[c]]) ** 2, axis=1))

    def logpdf(self, x, n) -> np.ndarray:
        """pyhf's ``logpdf`` of main data ``n`` (T, I) plus nominal auxdata, batched (T,)."""
        x, n = np.atleast_2d(x), np.atleast_2d(n)
        model = self._batched_pyhf()
        size = model.batch_size
        out = np.empty(len(x))
        data = np.empty((size, self.nmain + len(self.aux_nominal)))
        data[:] = np.concatenate([self.main_obs, self.aux_nominal])
        xp = np.empty((size, self.npars))
        for start in range(0, len(x), size):
            m = min(size, len(x) - start)
            xp[:] = self.init
            xp[:m] = x[start:start + m]
            data[:m, : self.nmain] = n[start:start + m]
            out[start:start + m] = np.asarray(model.logpdf(xp, data))[:m]
        return out

    def _batched_pyhf(self):
        """The same pyhf model with ``batch_size`` :data:`LOGPDF_BATCH` (built once)."""
        if self._pyhf_batched is None:
            import pyhf

            meas = self.spec["measurements"][0]["config"]
            self._pyhf_batched = pyhf.Model(
                {"channels": self.spec["channels"], "parameters": meas["parameters"]},
                modifier_settings=MODIFIER_SETTINGS, poi_name=meas["poi"],
                batch_size=LOGPDF_BATCH, validate=False)
        return self._pyhf_batched

    # -- fits ----------------------------------------------------------------------------
    def fit(self, n, mu_fixed=None, mu_max=None, aux=None):
        """Batched bounded minimisation of the NLL for main data ``n`` (T, I).

        ``mu_fixed`` (scalar or (T,)): conditional fit; else ``0 <= mu <= mu_max`` (default:
        the measurement bound). ``aux`` (T, A) defaults to the nominal auxiliary data.
        Returns ``(x, nll)`` with ``x`` (T, P).
        """
        n = np.atleast_2d(np.asarray(n, dtype=float))
        t = len(n)
        aux = np.broadcast_to(self.aux_nominal if aux is None else aux,
                              (t, len(self.aux_nominal)))
        lo = np.broadcast_to(self.lo, (t, self.npars)).copy()
        hi = np.broadcast_to(self.hi, (t, self.npars)).copy()
        x = np.broadcast_to(self.init, (t, self.npars)).copy()
        c = self.constrained
        x[:, c] = aux[:, self.aux_index[c]]
        if mu_fixed is not None:
            mu = np.broadcast_to(np.asarray(mu_fixed, dtype=float), (t,))
            x[:, self.poi] = lo[:, self.poi] = hi[:, self.poi] = mu
        else:
            if mu_max is not None:
                hi[:, self.poi] = np.broadcast_to(np.asarray(mu_max, dtype=float), (t,))
            s_tot = np.sum(self.nominal[self.has_mu > 0], axis=0).sum()
            b_tot = np.sum(self.nominal[self.has_mu == 0])
            x[:, self.poi] = np.clip((n.sum(axis=1) - b_tot) / s_tot, 0.0, hi[:, self.poi])
        fixed = lo == hi
        f = self.nll(x, n, aux)
        eye = np.eye(self.npars)
        for _ in range(_MAX_ITER):
            g, h = self._grad_hess(x, n, aux)
            at_lo = (x <= lo) & (g > 0)
            at_hi = (x >= hi) & (g < 0)
            frozen = fixed | at_lo | at_hi
            g = np.where(frozen, 0.0, g)
            mask = (~frozen)[:, :, None] & (~frozen)[:, None, :]
            h = np.where(mask, h, eye)
            # Modified Newton: |eigenvalues| keep the direction a descent one.
            w, v = np.linalg.eigh(h)
            w = np.maximum(np.abs(w), 1e-8)
            vg = np.matmul(v.transpose(0, 2, 1), g[:, :, None])[:, :, 0]
            d = -np.matmul(v, (vg / w)[:, :, None])[:, :, 0]
            d = np.where(frozen, 0.0, d)
            step = np.ones(t)
            accepted = np.zeros(t, dtype=bool)
            new_x, new_f = x.copy(), f.copy()
            for _ in range(40):
                todo = ~accepted
                trial = np.clip(x[todo] + step[todo, None] * d[todo], lo[todo], hi[todo])
                ft = self.nll(trial, n[todo], aux[todo])
                ok = ft <= f[todo] + 1e-14 * np.abs(f[todo])
                idx = np.flatnonzero(todo)[ok]
                new_x[idx], new_f[idx] = trial[ok], ft[ok]
                accepted[idx] = True
                if accepted.all():
                    break
                step[~accepted] *= 0.5
            moved = np.max(np.abs(new_x - x), axis=1)
            gain = f - new_f
            x, f = new_x, new_f
            if np.all((moved < 1e-9) | (gain < 1e-13 * (1 + np.abs(f)))):
                break
        return x, f

    def _grad_hess(self, x, n, aux):
        base, a = self._parts(x)
        lam = a.sum(axis=1)  # (T, I)
        w = 1.0 - n / lam
        r = n / lam**2
        lm = self.lmat  # (C, P), zero POI column
        sw = np.einsum("tci,ti->tc", a, w)  # sum_i A w
        bw = np.einsum("tci,ti->tc", base, w) * self.has_mu  # d/dmu of sum_i A w
        dlam = np.matmul(a.transpose(0, 2, 1), lm)  # (T, I, P): d lambda / d theta
        dlam[:, :, self.poi] = np.matmul(base.transpose(0, 2, 1), self.has_mu)
        c = self.constrained
        g = sw @ lm
        g[:, self.poi] = bw.sum(axis=1)
        g[:, c] += x[:, c] - aux[:, self.aux_index[c]]
        h = np.matmul((sw[:, :, None] * lm).transpose(0, 2, 1), lm)
        cross = bw @ lm
        h[:, self.poi, :] += cross
        h[:, :, self.poi] += cross
        h += np.matmul((dlam * r[:, :, None]).transpose(0, 2, 1), dlam)
        h[:, c, c] += 1.0
        return g, h


def _qtilde_rows(fm: FastModel, rows: np.ndarray, mu: float, free=None):
    """``q~_mu`` for unique main-data rows; ``free`` = (x, nll) of their unbounded fits."""
    if free is None:
        free = fm.fit(rows)
    x_free, _ = free
    q = np.zeros(len(rows))
    need = x_free[:, fm.poi] < mu
    if need.any():
        x_cond, _ = fm.fit(rows[need], mu_fixed=mu)
        lp = fm.logpdf(np.concatenate([x_cond, x_free[need]]),
                       np.concatenate([rows[need], rows[need]]))
        m = int(need.sum())
        q[need] = np.maximum(-2.0 * (lp[:m] - lp[m:]), 0.0)
    return q


def _poisson_from_uniform(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson variates by inversion (common random numbers across hypotheses).

    ``u`` (T, I) uniforms, ``lam`` (I,) means: the count is the number of CDF values below
    ``u``, with the CDF tabulated up to far in the tail of the largest mean.
    """
    lam = np.asarray(lam, dtype=float).ravel()
    n_max = int(stats.poisson.isf(1e-15, lam.max())) + 1
    cdf = stats.poisson.cdf(np.arange(n_max + 1)[:, None], lam[None, :])  # (K, I)
    counts = np.zeros(u.shape)
    for row in cdf:  # K is tens: a loop over count values, not over toys
        counts += u > row
    return counts


def _tail(q_events: np.ndarray, n_toys: int, p_empty: float, q_empty: float,
          thr: np.ndarray) -> np.ndarray:
    """``P(q >= thr)``: the empty data set exactly, the toys with events by their fraction.

    ``q_events`` are the test statistics of the toys with at least one event (of ``n_toys``
    thrown), ``p_empty = exp(-sum lambda)`` the probability of no event at the generating
    parameters and ``q_empty`` its test statistic (see the module docstring).
    """
    thr = np.asarray(thr, dtype=float)
    above = len(q_events) - np.searchsorted(np.sort(q_events), thr, side="left")
    return p_empty * (q_empty >= thr) + above / n_toys


def _cls(clsb, clb):
    clsb, clb = np.asarray(clsb, dtype=float), np.asarray(clb, dtype=float)
    return np.divide(clsb, clb, out=np.ones_like(clsb), where=clb > 0)


def _threshold(q):
    """Ties count as ``q >= q_thr`` (a toy identical to the observation has its ``q``)."""
    return q - TIE_RTOL * (1.0 + q)


def _expected_cls(sb: tuple, b: tuple, q_b_all: np.ndarray) -> np.ndarray:
    """Expected CLs at -2..+2 sigma as pyhf's ToyCalculator: each b-only toy as observed.

    ``sb`` and ``b`` are the :func:`_tail` arguments ``(q_events, n_toys, p_empty,
    q_empty)`` of the two hypotheses; ``q_b_all`` the test statistic of every b-only toy.
    """
    thr = _threshold(q_b_all)
    cls = _cls(_tail(*sb, thr), _tail(*b, thr))
    return np.percentile(cls, NORMAL_PERCENTILES, method="linear")


class PublishedToys:
    """The published toy treatment for one model, evaluated one tested ``mu`` at a time.

    The b-only toys (at ``theta_0``, fitted to the observed data with ``mu = 0``) are thrown
    once and their free fits reused at every ``mu``; the s+b toys use the same uniform random
    numbers at every ``mu`` (Poisson by inversion), so CLs(mu) is a smooth curve without
    independent toy noise between neighbouring points. The empty data set enters exactly
    (:func:`_tail`; exact CLs at ``n_obs = 0``, see the module docstring).
    """

    def __init__(self, fm: FastModel, n_toys: int, rng: np.random.Generator):
        if isinstance(n_toys, bool) or not (isinstance(n_toys, int | np.integer)
                                            and n_toys > 0):
            raise InputError(f"n_toys must be a positive integer, got {n_toys!r}")
        if not isinstance(rng, np.random.Generator):
            raise InputError("rng must be a seeded numpy.random.Generator")
        self.fm = fm
        self.obs = fm.main_obs[None]
        self.u_sb = rng.random((n_toys, fm.nmain))
        u_b = rng.random((n_toys, fm.nmain))
        self.n_toys = int(n_toys)
        x0, _ = fm.fit(self.obs, mu_fixed=0.0)
        lam_b = fm.expected(x0)[0]
        self.p_empty_b = float(np.exp(-lam_b.sum()))
        # With no observed event the toys with events never reach q_obs (module docstring);
        # when, moreover, fewer background-only toys than the +2 sigma quantile leaves have
        # an event, every band is set by the empty data set too: then the whole result is
        # the exact empty-set term and no toy needs fitting (:meth:`evaluate`).
        self.empty_only = bool(self.obs.sum() == 0
                               and 1.0 - self.p_empty_b < 1.0 - NORMAL_PERCENTILES[-1] / 100)
        if self.empty_only:
            self.free_obs = fm.fit(self.obs)  # the observation's free fit, for q_obs at every mu
            return
        n_b = _poisson_from_uniform(u_b, lam_b)
        self.events_b = n_b.sum(axis=1) > 0
        # rows: the observation, the empty data set, the b-only toys (fitted once, together)
        empty = np.zeros_like(self.obs)
        rows, inv = np.unique(np.concatenate([self.obs, empty, n_b]), axis=0,
                              return_inverse=True)
        self.rows_b, self.inv_b = rows, inv.ravel()
        self.free_b = fm.fit(rows)

    def evaluate(self, mu: float, expected: bool = True) -> dict:
        """``{"cls", "clsb", "clb", "q_obs", "cls_expected" (5,)}`` at ``mu`` (> 0)."""
        if not (np.isfinite(mu) and mu > 0):
            raise InputError(f"tested mu must be finite and > 0 (CLs is 0/0 at 0): {mu!r}")
        fm = self.fm
        x_mu, _ = fm.fit(self.obs, mu_fixed=mu)
        lam_sb = fm.expected(x_mu)[0]
        if self.empty_only:  # exact: CLs+b = P_sb(n = 0), CLb = P_b(n = 0), every band alike
            clsb, clb = float(np.exp(-lam_sb.sum())), self.p_empty_b
            cls = float(_cls(clsb, clb))
            q_obs = float(_qtilde_rows(fm, self.obs, mu, self.free_obs)[0])
            return {"cls": cls, "clsb": clsb, "clb": clb, "q_obs": q_obs,
                    "cls_expected": np.full(5, cls) if expected else np.full(5, np.nan)}
        n_sb = _poisson_from_uniform(self.u_sb, lam_sb)
        n_sb = n_sb[n_sb.sum(axis=1) > 0]  # the empty toys enter exactly, through p_empty
        if len(n_sb):
            rows_sb, inv_sb = np.unique(n_sb, axis=0, return_inverse=True)
            q_sb = _qtilde_rows(fm, rows_sb, mu)[inv_sb.ravel()]
        else:
            q_sb = np.zeros(0)
        qb_all = _qtilde_rows(fm, self.rows_b, mu, self.free_b)[self.inv_b]
        q_obs, q_empty, q_b = float(qb_all[0]), float(qb_all[1]), qb_all[2:]
        sb = (q_sb, self.n_toys, float(np.exp(-lam_sb.sum())), q_empty)
        b = (q_b[self.events_b], self.n_toys, self.p_empty_b, q_empty)
        thr = _threshold(q_obs)
        clsb, clb = float(_tail(*sb, thr)), float(_tail(*b, thr))
        out = {"cls": float(_cls(clsb, clb)), "clsb": clsb, "clb": clb, "q_obs": q_obs}
        out["cls_expected"] = (_expected_cls(sb, b, q_b) if expected
                               else np.full(5, np.nan))
        return out


def published_cls(fm: FastModel, mu_values: Sequence[float], n_toys: int,
                  rng: np.random.Generator, *, expected: bool = True) -> dict:
    """CLs of the published toy treatment at each ``mu`` (see :class:`PublishedToys`).

    Returns ``{"mu", "cls", "clsb", "clb", "q_obs", "cls_expected"}``, arrays over ``mu``
    (``cls_expected`` has shape (5, n_mu) for -2, -1, 0, +1, +2 sigma).
    """
    mus = np.atleast_1d(np.asarray(mu_values, dtype=float))
    if np.any(~np.isfinite(mus)) or np.any(mus <= 0):
        raise InputError(f"tested mu values must be finite and > 0 (CLs is 0/0 at 0): {mus}")
    toys = PublishedToys(fm, n_toys, rng)
    res = [toys.evaluate(mu, expected) for mu in mus]
    out = {k: np.array([r[k] for r in res]) for k in ("cls", "clsb", "clb", "q_obs")}
    out["cls_expected"] = np.array([r["cls_expected"] for r in res]).T
    out["mu"] = mus
    return out


def upper_limit_from_curve(mu: np.ndarray, cls: np.ndarray, cl: float = 0.9) -> float:
    """Smallest ``mu`` where CLs falls to ``1 - cl``, interpolating log CLs linearly in mu.

    Returns ``nan`` if CLs never reaches ``1 - cl`` on the grid (and ``mu[0]`` if it is
    already below it at the first point).

    >>> mu = np.linspace(0.5, 5, 10)
    >>> round(upper_limit_from_curve(mu, np.exp(-mu)), 3)
    2.303
    """
    mu = np.asarray(mu, dtype=float)
    cls = np.asarray(cls, dtype=float)
    alpha = 1.0 - cl
    below = np.flatnonzero(cls <= alpha)
    if len(below) == 0:
        return float("nan")
    i = below[0]
    if i == 0:
        return float(mu[0])
    y0, y1 = np.log(max(cls[i - 1], 1e-300)), np.log(max(cls[i], 1e-300))
    if y0 == y1:
        return float(mu[i])
    return float(mu[i - 1] + (np.log(alpha) - y0) * (mu[i] - mu[i - 1]) / (y1 - y0))


# -- pyhf's own toys -----------------------------------------------------------------------
def check_pyhf_toy_bands(numpy_version: str | None = None) -> bool:
    """Whether pyhf 0.7.6's toy expected bands work with this numpy.

    pyhf 0.7.6 calls ``numpy.percentile(..., interpolation=...)``, removed in numpy 2.4, in
    ``ToyCalculator.expected_pvalues`` / ``EmpiricalDistribution.expected_value``.
    :func:`pyhf_toy_hypotest` falls back to its own band computation when this is False.

    >>> check_pyhf_toy_bands("2.3.5"), check_pyhf_toy_bands("2.4.0")
    (True, False)
    """
    version = numpy_version or np.__version__
    major, minor = (int(v) for v in version.split(".")[:2])
    return (major, minor) < (2, 4)


def pyhf_toy_hypotest(spec: Mapping, mu: float, n_toys: int, rng: np.random.Generator,
                      *, use_pyhf_bands: bool | None = None) -> dict:
    """pyhf's frequentist toys (``calctype="toybased"``, aux data randomised) at one ``mu``.

    pyhf samples from the global numpy random state; it is seeded from ``rng`` here, so the
    result is reproducible for a given generator. The expected band comes from
    ``pyhf.infer.hypotest(..., return_expected_set=True)`` when the installed numpy allows it
    (:func:`check_pyhf_toy_bands`), else from pyhf's toy distributions with our percentile
    computation (same definition).

    Returns ``{"cls", "cls_expected"}`` (the latter for -2..+2 sigma).
    """
    import pyhf

    if not isinstance(rng, np.random.Generator):
        raise InputError("rng must be a seeded numpy.random.Generator")
    if not (np.isfinite(mu) and mu > 0):
        raise InputError(f"mu must be finite and > 0 (CLs is 0/0 at 0), got {mu!r}")
    model, data = make_model(spec)
    if use_pyhf_bands is None:
        use_pyhf_bands = check_pyhf_toy_bands()
    np.random.seed(int(rng.integers(2**32)))  # pyhf draws from the global state  # noqa: NPY002
    if use_pyhf_bands:
        with warnings.catch_warnings():
            # numpy < 2.4 still accepts pyhf's percentile(interpolation=...) with a warning.
            warnings.filterwarnings("ignore", "the `interpolation=` argument",
                                    DeprecationWarning)
            cls_obs, cls_exp = pyhf.infer.hypotest(
                mu, data, model, test_stat="qtilde", calctype="toybased", ntoys=n_toys,
                return_expected_set=True, track_progress=False)
        return {"cls": float(cls_obs), "cls_expected": np.array([float(c) for c in cls_exp])}
    calc = pyhf.infer.calculators.ToyCalculator(
        data, model, test_stat="qtilde", ntoys=n_toys, track_progress=False)
    sb, b = calc.distributions(mu)
    q_obs = calc.teststatistic(mu)
    cls = float(sb.pvalue(q_obs) / b.pvalue(q_obs))
    per_toy = np.array([calc.pvalues(t, sb, b)[2] for t in b.samples], dtype=float)
    return {"cls": cls,
            "cls_expected": np.percentile(per_toy, NORMAL_PERCENTILES, method="linear")}

