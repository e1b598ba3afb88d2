"""Posterior statistics of the background estimates: weighted MC counts, beta posteriors of
rejection factors, pseudo-experiments and their summaries.

What enters here are numbers (MC counts, published values); which samples give them, for which
final state, is decided by :mod:`na62dump.backgrounds` (the orchestration, which reads the run's
artefacts). The method is the published one (``shared/ANALYSIS.md``, "Backgrounds"): for the
prompt background ``N_bkg = N_inFV x (1 - eta_veto) x (1 - eta_region)``, each pass fraction
``1 - eta`` with a beta posterior (uniform prior, binomial likelihood of the MC counts),
``N_inFV`` sampled from its uncertainty, the three factors sampled independently per
pseudo-experiment (:func:`prompt_pseudo_experiments`); an MC count of ``k`` events of weight
``w`` as ``w x Gamma(k + 1, 1)`` (:func:`mc_count_component`); components added
pseudo-experiment by pseudo-experiment (:func:`total_summary`).

Weighted MC events
------------------
An MC count is a :class:`WeightedCount` (sum of weights, sum of squared weights). Its effective
number of events is ``n_eff = (sum w)^2 / sum w^2`` (the number of unit-weight events with the
same relative uncertainty). A pass fraction ``f = sum w_pass / sum w_total`` enters the beta
posterior as ``k = f n_eff`` successes out of ``n = n_eff`` trials of the *total* sample:
``Beta(k + a0, n - k + b0)`` with the uniform prior ``a0 = b0 = 1``. For the published e+e-
inputs (59.9 +- 6.7 in the FV, hence ``n_eff = 79.9``) this gives ``1 - eta_veto`` with mode
0.0120 and shortest 68% interval [0.0032, 0.0299], i.e. the published 0.012 (+0.020 -0.008);
and ``1 - eta_SR`` with mode 0.0079 and [0.0013, 0.0242] against the published 0.008 (+0.018
-0.006): the published rejection factors are the *mode* of the posterior with the *shortest*
68% interval, which :func:`beta_summary` reports.

Central value and intervals of ``N_bkg``
----------------------------------------
:func:`summarise_samples` reports the median, mean, central 68% and 90% intervals (quantiles
16/84 and 5/95) of the pseudo-experiments and the log-normal model the limits use: median and
``k = sqrt(q84 / q16)`` (``k = exp(sigma)`` of a log-normal with the same central 68%
interval). The published ``N_bkg(SR) = 9.4e-3 (+20.6e-3 -7.2e-3)``, 90% CL ``(+49e-3 -9e-3)``,
has the pattern of a median with central quantile intervals (its mode would sit near 0 and its
mean above the upper 68% edge). With the published inputs and 10^6 pseudo-experiments
(``tests/test_backgrounds.py`` pins these numbers):

====================  =========  ==================  ==================
prior                 median     central 68%         central 90%
====================  =========  ==================  ==================
published (SR)        9.4e-3     [2.2e-3, 30.0e-3]   [0.4e-3, 58e-3]
uniform (SR)          17.4e-3    [4.8e-3, 50.6e-3]   [1.7e-3, 92e-3]
Jeffreys (SR)         7.4e-3     [1.5e-3, 27.2e-3]   [0.4e-3, 55e-3]
====================  =========  ==================  ==================

The published numbers lie between the two priors (nearer Jeffreys); the uniform prior the
publication names, applied with effective counts as here, gives a median 1.85 times higher.
The publication does not say how its weighted MC entered the binomial likelihood, which is the
likely origin of the difference. The prior is a parameter (:data:`UNIFORM_PRIOR`, the default,
:data:`JEFFREYS_PRIOR`); ``N_inFV`` as a Gamma or a truncated Gaussian changes the result by
less than 0.5%.

Every random number comes from a ``numpy.random.Generator`` passed in; :func:`seeded` makes
one per channel and component, so that one channel's numbers do not depend on which others
were processed.

>>> import numpy as np
>>> c = WeightedCount.from_value_error(59.9, 6.7)
>>> round(c.n_eff, 1)
79.9
>>> a, b = rejection_posterior(WeightedCount.from_value_error(0.72, 0.72), c)
>>> s = beta_summary(a, b)
>>> round(s["mode"], 3), [round(x, 3) for x in s["interval68"]]
(0.012, [0.003, 0.03])
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from na62dump import geometry
from na62dump.errors import InputError

#: Beta prior parameters (a0, b0): uniform (the published choice) and Jeffreys.
UNIFORM_PRIOR = (1.0, 1.0)
JEFFREYS_PRIOR = (0.5, 0.5)

#: Models of the N_inFV uncertainty: a Gaussian truncated at 0 or a Gamma of the same mean/sd.
NFV_MODELS = ("gauss", "gamma")

#: Regions of every background estimate.
REGIONS = ("CR", "SR")


# --------------------------------------------------------------------------------------------
# Weighted counts and beta posteriors
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightedCount:
    """A Monte Carlo count: sum of event weights and sum of squared weights."""

    sum_w: float
    sum_w2: float

    def __post_init__(self):
        for name in ("sum_w", "sum_w2"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise InputError(f"WeightedCount.{name} must be finite and >= 0, got {v!r}")

    @classmethod
    def from_value_error(cls, value: float, error: float) -> WeightedCount:
        """From a quoted ``value +- error`` with ``error = sqrt(sum w^2)``."""
        return cls(float(value), float(error) ** 2)

    @classmethod
    def from_weights(cls, weights) -> WeightedCount:
        w = np.asarray(weights, dtype=float)
        return cls(float(w.sum()), float((w * w).sum()))

    @property
    def value(self) -> float:
        return self.sum_w

    @property
    def error(self) -> float:
        return math.sqrt(self.sum_w2)

    @property
    def n_eff(self) -> float:
        """Effective number of events ``(sum w)^2 / sum w^2`` (0 for an empty count)."""
        return self.sum_w**2 / self.sum_w2 if self.sum_w2 > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "error": self.error, "n_eff": self.n_eff}

    def scaled(self, s: float) -> WeightedCount:
        """The count with every weight multiplied by ``s``."""
        return WeightedCount(self.sum_w * s, self.sum_w2 * s * s)


def rejection_posterior(
    passed: WeightedCount, total: WeightedCount, prior: tuple[float, float] = UNIFORM_PRIOR
) -> tuple[float, float]:
    """Beta posterior parameters ``(a, b)`` of the pass fraction ``1 - eta = passed / total``.

    ``k = f n_eff`` successes in ``n_eff`` trials of the total sample (module docstring).
    """
    if total.sum_w <= 0 or total.n_eff <= 0:
        raise InputError("rejection factor: the total MC count is empty")
    if passed.sum_w > total.sum_w * (1 + 1e-12):
        raise InputError(
            f"rejection factor: passed ({passed.sum_w}) exceeds total ({total.sum_w})"
        )
    n = total.n_eff
    k = min(passed.sum_w / total.sum_w, 1.0) * n
    return k + prior[0], n - k + prior[1]


def shortest_interval(ppf, cl: float, n_grid: int = 4001) -> tuple[float, float]:
    """Shortest interval of probability ``cl`` of a unimodal distribution given its ``ppf``."""
    p = np.linspace(0.0, 1.0 - cl, n_grid)
    lo, hi = ppf(p), ppf(p + cl)
    i = int(np.argmin(hi - lo))
    return float(lo[i]), float(hi[i])


def beta_summary(a: float, b: float) -> dict[str, Any]:
    """Mode, median, mean and shortest 68%/90% intervals of ``Beta(a, b)``."""
    dist = stats.beta(a, b)
    mode = (a - 1) / (a + b - 2) if a > 1 and b > 1 else (0.0 if a <= 1 else 1.0)
    return {
        "a": float(a),
        "b": float(b),
        "mode": float(mode),
        "median": float(dist.median()),
        "mean": float(dist.mean()),
        "interval68": list(shortest_interval(dist.ppf, 0.68)),
        "interval90": list(shortest_interval(dist.ppf, 0.90)),
    }


def sample_count(
    count: WeightedCount,
    size: int,
    rng: np.random.Generator,
    model: Literal["gauss", "gamma"] = "gamma",
) -> np.ndarray:
    """Pseudo-experiment values of an MC count ``value +- error``.

    ``"gamma"``: Gamma with the same mean and standard deviation (shape ``n_eff``), positive by
    construction. ``"gauss"``: Gaussian truncated at 0 (negative draws are redrawn, vectorised).
    A count without uncertainty is returned as a constant.
    """
    if model not in NFV_MODELS:
        raise InputError(f"N_inFV model must be one of {NFV_MODELS}, got {model!r}")
    if count.sum_w2 == 0 or count.sum_w == 0:
        return np.full(size, count.value)
    if model == "gamma":
        return rng.gamma(count.n_eff, count.sum_w2 / count.sum_w, size)
    out = rng.normal(count.value, count.error, size)
    bad = out <= 0
    while bad.any():
        out[bad] = rng.normal(count.value, count.error, int(bad.sum()))
        bad = out <= 0
    return out


# --------------------------------------------------------------------------------------------
# Prompt background
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromptInputs:
    """MC counts of the prompt estimate (one channel, at the analysis exposure).

    ``in_fv``: vertices in the FV with PID; ``after_vetoes``: the same after the LAV (and
    ANTI0) vetoes; ``regions``: after the CR or SR selection *alone* (no vetoes).
    """

    in_fv: WeightedCount
    after_vetoes: WeightedCount
    regions: Mapping[str, WeightedCount]
    source: str = ""


#: Published e+e- prompt MC inputs at 1.4e17 POT (shared/ANALYSIS.md, "Backgrounds"):
#: 59.9 +- 6.7 in FV with PID; 0.72 +- 0.72 after LAV and ANTI0; SR 0.47 +- 0.47; CR 0.51 +- 0.51.
PUBLISHED_EE_PROMPT = PromptInputs(
    in_fv=WeightedCount.from_value_error(59.9, 6.7),
    after_vetoes=WeightedCount.from_value_error(0.72, 0.72),
    regions={
        "SR": WeightedCount.from_value_error(0.47, 0.47),
        "CR": WeightedCount.from_value_error(0.51, 0.51),
    },
    source="published e+e- prompt MC counts (PRL 133 (2024) 111802, talk tables)",
)

#: Published N_bkg (68% CL) of the e+e- prompt background: central, minus, plus.
PUBLISHED_EE_PROMPT_RESULT = {"SR": (9.4e-3, 7.2e-3, 20.6e-3), "CR": (9.7e-3, 7.3e-3, 21.3e-3)}


def prompt_pseudo_experiments(
    inputs: PromptInputs,
    region: str,
    n: int,
    rng: np.random.Generator,
    *,
    nfv_model: Literal["gauss", "gamma"] = "gamma",
    prior: tuple[float, float] = UNIFORM_PRIOR,
) -> np.ndarray:
    """``n`` pseudo-experiment values of the prompt ``N_bkg`` in ``region`` (vectorised)."""
    if region not in inputs.regions:
        raise InputError(f"prompt background: no MC count for region {region!r}")
    if n < 1:
        raise InputError(f"number of pseudo-experiments must be >= 1, got {n}")
    if inputs.in_fv.sum_w == 0:
        return np.zeros(n)
    n_fv = sample_count(inputs.in_fv, n, rng, nfv_model)
    a1, b1 = rejection_posterior(inputs.after_vetoes, inputs.in_fv, prior)
    a2, b2 = rejection_posterior(inputs.regions[region], inputs.in_fv, prior)
    return n_fv * rng.beta(a1, b1, n) * rng.beta(a2, b2, n)


def summarise_samples(samples: np.ndarray) -> dict[str, Any]:
    """Median, mean, central 68%/90% intervals and the log-normal ``(median, k)`` model.

    ``k = sqrt(q84 / q16)``; a distribution concentrated at one value gets ``k = 1``, an
    all-zero one ``median = 0, k = 1``.
    """
    x = np.asarray(samples, dtype=float)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise InputError("background pseudo-experiments are empty or not finite")
    q05, q16, q50, q84, q95 = np.quantile(x, [0.05, 0.16, 0.5, 0.84, 0.95])
    k = math.sqrt(q84 / q16) if q16 > 0 else (1.0 if q84 == 0 else float("inf"))
    if not math.isfinite(k):
        # more than 16% of the pseudo-experiments at zero: take the upper side alone
        k = q84 / q50 if q50 > 0 else 1.0
    return {
        "median": float(q50),
        "k": float(max(k, 1.0)),
        "mean": float(x.mean()),
        "interval68": [float(q16), float(q84)],
        "interval90": [float(q05), float(q95)],
    }


# --------------------------------------------------------------------------------------------
# Components
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Component:
    """One background component in one region, as pseudo-experiment samples plus provenance."""

    name: str
    samples: np.ndarray = field(repr=False)
    info: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {**summarise_samples(self.samples), **dict(self.info)}


def lognormal_component(
    name: str, median: float, k: float, n: int, rng: np.random.Generator, **info
) -> Component:
    """Component with a log-normal uncertainty (median, k = exp(sigma))."""
    if median < 0 or k < 1:
        raise InputError(f"component {name}: need median >= 0 and k >= 1, got {median}, {k}")
    if median == 0:
        return Component(name, np.zeros(n), info)
    return Component(name, median * np.exp(math.log(k) * rng.standard_normal(n)), info)


def count_component(
    name: str, value: float, error: float, n: int, rng: np.random.Generator, **info
) -> Component:
    """Component quoted as ``value +- error``: a Gamma of that mean and standard deviation."""
    if value < 0 or error < 0:
        raise InputError(f"component {name}: negative value or error ({value} +- {error})")
    samples = sample_count(WeightedCount.from_value_error(value, error), n, rng, "gamma")
    return Component(name, samples, {"value": value, "error": error, **info})


def scale_to_pot(count: WeightedCount, pot_generated: float, pot_target: float = geometry.N_POT):
    """Scale an MC count generated for ``pot_generated`` protons to ``pot_target``."""
    if not (pot_generated > 0 and math.isfinite(pot_generated)):
        raise InputError(f"upstream sample: generated POT must be > 0, got {pot_generated!r}")
    return count.scaled(pot_target / pot_generated)


def total_summary(components: Sequence[Component]) -> dict[str, Any]:
    """Summary of the sum of components (pseudo-experiment by pseudo-experiment)."""
    if not components:
        raise InputError("no background component")
    total = np.sum([c.samples for c in components], axis=0)
    return {
        **summarise_samples(total),
        "components": {c.name: c.summary() for c in components},
    }


def mc_count_component(
    name: str, count: WeightedCount, n: int, rng: np.random.Generator, **info
) -> Component:
    """Component from a weighted MC count with one weight ``w`` per event.

    The expected count is ``w mu`` with ``mu`` the Poisson mean of the ``k`` selected MC
    events, sampled from its posterior under a uniform prior, ``Gamma(k + 1, 1)``: an empty
    selection still gives a background of the order of one MC weight, not zero.
    """
    k = count.n_eff
    w = count.sum_w2 / count.sum_w if count.sum_w > 0 else float(info.pop("weight", 0.0))
    samples = w * rng.gamma(k + 1.0, 1.0, n) if w > 0 else np.zeros(n)
    return Component(name, samples, {**count.as_dict(), "mc_weight": w, **info})


def prompt_component(inputs: PromptInputs, region: str, n_pe: int, rng: np.random.Generator,
                     nfv_model: Literal["gauss", "gamma"] = "gamma",
                     prior: tuple[float, float] = UNIFORM_PRIOR, mc_weight: float | None = None,
                     **info) -> Component:
    """The prompt component of one region: :func:`prompt_pseudo_experiments` and the posterior
    summaries of the two pass fractions (``info`` is recorded with it).

    ``mc_weight`` (the MC weight of one prompt event at the exposure) bounds the background
    when no MC vertex is in the FV.
    """
    if inputs.in_fv.sum_w == 0:
        # no prompt MC vertex in the FV: the sample only bounds the background, by about one
        # MC weight (the posterior of a Poisson mean with zero events, uniform prior)
        return mc_count_component("prompt", WeightedCount(0.0, 0.0), n_pe, rng,
                                  weight=mc_weight or 0.0, method="empty FV", **info)
    x = prompt_pseudo_experiments(inputs, region, n_pe, rng, nfv_model=nfv_model, prior=prior)
    factors = {
        "veto": beta_summary(*rejection_posterior(inputs.after_vetoes, inputs.in_fv, prior)),
        "region": beta_summary(*rejection_posterior(inputs.regions[region], inputs.in_fv,
                                                    prior)),
    }
    return Component("prompt", x, {
        "in_fv": inputs.in_fv.as_dict(), "after_vetoes": inputs.after_vetoes.as_dict(),
        "region_alone": inputs.regions[region].as_dict(), "pass_fraction": factors, **info})


def published_prompt_check(n_pe, seed, prior=UNIFORM_PRIOR, nfv_model="gamma") -> dict:
    """The prompt method on the published e+e- inputs, next to the published result."""
    out = {}
    for r in REGIONS:
        x = prompt_pseudo_experiments(PUBLISHED_EE_PROMPT, r, n_pe,
                                      seeded(seed, "published", r), nfv_model=nfv_model,
                                      prior=prior)
        c, lo, hi = PUBLISHED_EE_PROMPT_RESULT[r]
        out[r] = {**summarise_samples(x),
                  "published": {"central": c, "interval68": [c - lo, c + hi]}}
    return out


# --------------------------------------------------------------------------------------------
# Published values (1.4e17 POT), used only when asked (--published-background)
# --------------------------------------------------------------------------------------------
#: {final state: {component: {region: (value, error)}}} from shared/ANALYSIS.md.
PUBLISHED_COMPONENTS = {
    "mumu": {"combinatorial": {"CR": (0.17, 0.02), "SR": (0.016, 0.002)}},
    "pipi": {"upstream": {"CR": (0.013, 0.007), "SR": (0.007, 0.005)}},
    "pipigamma": {"upstream": {"CR": (0.031, 0.016), "SR": (0.007, 0.004)}},
}


def seeded(seed: int, *names: str) -> np.random.Generator:
    """An independent generator per (channel, component): results do not depend on which
    other channels were processed."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])
