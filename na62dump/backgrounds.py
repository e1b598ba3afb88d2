"""Stage 3: expected backgrounds per channel and region, with their uncertainty model.

Three sources (``shared/ANALYSIS.md``, "Backgrounds"):

Prompt
    Secondaries of halo muons interacting in material, estimated from a prompt MC sample with
    the published frequentist + Bayesian method:
    ``N_bkg = N_inFV x (1 - eta_veto) x (1 - eta_region)``. Each pass fraction ``1 - eta``
    has a beta posterior (uniform prior, binomial likelihood of the MC counts); ``N_inFV`` is
    sampled from its uncertainty; pseudo-experiments sample the three factors independently.
Combinatorial
    Random pairs of uncorrelated single tracks (halo muons) within a time window, weighted for
    that window and the Q1 downscaling (:func:`combinatorial_pair_weight`), built into
    pseudo-events (:func:`combinatorial_pseudo_events`) that the channel processors select.
Upstream
    Hadronic backgrounds from processed upstream samples (K3pi, K_S, interactions), scaled to
    the exposure by their generated POT (:func:`scale_to_pot`).

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

From the campaign (:func:`estimate_backgrounds`)
-----------------------------------------------
- prompt: the prompt MC through each channel's processor twice, with the published selection
  (``DIR/run/<channel>.coffea``, for the vetoes) and with the LAV and ANTI0 vetoes switched off
  (re-run here, for the region factors) (:func:`prompt_inputs_from_outputs`). With no MC
  vertex in the FV the sample only bounds the background, at about one MC weight;
- combinatorial (e+e-, mu+mu-): all pairs (or ``max_pairs`` random ones) of the Q1 single-track
  events, written as an ntuple and selected by the channel's processor
  (:func:`combinatorial_output`);
- upstream (pi+pi-, hadronic): the processed upstream samples' CR/SR counts;
- an MC count of ``k`` events of weight ``w`` becomes ``w x Gamma(k + 1, 1)`` pseudo-experiments
  (:func:`mc_count_component`); components add pseudo-experiment by pseudo-experiment;
- a missing sample falls back to the published value where there is one
  (:data:`PUBLISHED_COMPONENTS`, :data:`PUBLISHED_EE_PROMPT`), flagged ``"source":
  "published"``;
- everything is scaled to the POT of the campaign's pseudo-data (``_meta.n_pot``).

Every random number comes from a ``numpy.random.Generator`` passed in, or (in
:func:`estimate_backgrounds`) from one seeded per channel and component, so that one
channel's numbers do not depend on which others were processed.

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

import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import stats

from na62dump import artefacts, atomic, geometry, provenance
from na62dump.errors import InputError
from na62dump.settings import DEFAULT_PSEUDO_EXPERIMENTS

logger = logging.getLogger(__name__)

#: Beta prior parameters (a0, b0): uniform (the published choice) and Jeffreys.
UNIFORM_PRIOR = (1.0, 1.0)
JEFFREYS_PRIOR = (0.5, 0.5)

#: Models of the N_inFV uncertainty: a Gaussian truncated at 0 or a Gamma of the same mean/sd.
NFV_MODELS = ("gauss", "gamma")


BACKGROUND_NAME = artefacts.BACKGROUND_NAME
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
# Components given as value +- error (published figures or scaled MC)
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
    s = pot_target / pot_generated
    return WeightedCount(count.sum_w * s, count.sum_w2 * s * s)


def combinatorial_pair_weight(
    pot: float,
    live_time_s_per_pot: float,
    window_ns: float = geometry.COMBINATORIAL_WINDOW_NS,
    downscale: int = geometry.Q1_DOWNSCALE,
) -> float:
    """Weight of one unordered pair of Q1 single-track events of a sample of ``pot`` POT.

    ``D^2 x 2 window / T``: each Q1 track stands for ``D`` tracks (the Q1/``D`` downscaling),
    so a pair for ``D^2`` pairs, and two uncorrelated tracks spread over the live time
    ``T = live_time_s_per_pot x pot`` fall within +-``window`` of each other with probability
    ``2 window / T``. Summed over all pairs, this estimates the number of genuine overlaps in
    the sample (the live time per POT comes with the Q1 sample's metadata).

    >>> round(combinatorial_pair_weight(1.4e15, 4.0e-19), 4)  # the tiny Q1 sample
    0.0143
    """
    if not (pot > 0 and live_time_s_per_pot > 0 and window_ns > 0 and downscale >= 1):
        raise InputError(
            "combinatorial weight: need POT > 0, live time > 0, window > 0 and downscale >= 1"
            f" (got {pot!r}, {live_time_s_per_pot!r}, {window_ns!r}, {downscale!r})"
        )
    live_s = live_time_s_per_pot * pot
    return float(downscale) ** 2 * 2.0 * window_ns * 1e-9 / live_s


def total_summary(components: Sequence[Component]) -> dict[str, Any]:
    """Summary of the sum of components (pseudo-experiment by pseudo-experiment)."""
    if not components:
        raise InputError("no background component")
    total = np.sum([c.samples for c in components], axis=0)
    return {
        **summarise_samples(total),
        "components": {c.name: c.summary() for c in components},
    }


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def read_background(results_dir: str | os.PathLike) -> dict[str, Any]:
    """Read ``DIR/background/background.json`` and check its structure (docs/artefacts.md)."""
    path = artefacts.background_path(results_dir)
    data = atomic.read_json(path, "run `na62dump background` first")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected an object of channels")
    for channel, regions in data.items():
        if channel.startswith("_"):
            continue
        for region in REGIONS:
            entry = regions.get(region) if isinstance(regions, dict) else None
            if not isinstance(entry, dict):
                raise InputError(f"{path}: {channel}: missing region {region!r}")
            for key in ("median", "k"):
                v = entry.get(key)
                if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                    raise InputError(f"{path}: {channel}.{region}.{key} invalid: {v!r}")
    return data


# --------------------------------------------------------------------------------------------
# Counts from processor outputs (docs/artefacts.md, Stage 2)
# --------------------------------------------------------------------------------------------
def cutflow_count(output: Mapping[str, Any], step: str, what: str) -> WeightedCount:
    """The weighted count at cutflow ``step`` of one dataset's processor output.

    The cutflow holds the unweighted count ``n`` and the sum of weights ``W``; a background
    sample has one weight per event (``N_POT / pot`` of its dataset), so ``sum w^2 = W^2 / n``
    exactly.
    """
    cf = output.get("cutflow") if isinstance(output, Mapping) else None
    try:
        names = list(cf["names"])
        i = names.index(step)
        n, w = float(cf["unweighted"][i]), float(cf["weighted"][i])
    except (TypeError, KeyError) as err:
        raise InputError(f"{what}: processor output has no cutflow") from err
    except ValueError as err:
        raise InputError(f"{what}: cutflow has no step {step!r} (has {names})") from err
    if not (math.isfinite(n) and math.isfinite(w)) or n < 0 or w < 0:
        raise InputError(f"{what}: cutflow step {step!r} is not a valid count ({n}, {w})")
    return WeightedCount(w, w * w / n if n > 0 else 0.0)


def _step(state: str, name: str, multi_state: bool) -> str:
    return f"{state}:{name}" if multi_state else name


def _pre_region_step(output: Mapping[str, Any], state: str, multi_state: bool) -> str:
    """The last cutflow step before the regions: ``veto`` or, for neutrals, ``neutrals``."""
    neutrals = _step(state, "neutrals", multi_state)
    return neutrals if neutrals in output["cutflow"]["names"] else _step(state, "veto",
                                                                        multi_state)


def prompt_inputs_from_outputs(
    nominal: Mapping[str, Any],
    no_veto: Mapping[str, Any],
    state: str,
    *,
    multi_state: bool = False,
    what: str = "prompt",
) -> PromptInputs:
    """Prompt-MC counts of one final state from two runs of its processor on the prompt MC.

    ``nominal``: the published selection; ``no_veto``: the same with the LAV and ANTI0 vetoes
    switched off. ``in_fv`` is the full selection but the vetoes and the region (vertex in FV,
    PID, and for neutral final states the neutral content), ``after_vetoes`` the same with the
    vetoes, and the regions are the CR and SR counts of the run without vetoes.
    """
    ref = _pre_region_step(no_veto, state, multi_state)
    return PromptInputs(
        in_fv=cutflow_count(no_veto, ref, f"{what} (no vetoes)"),
        after_vetoes=cutflow_count(nominal, _pre_region_step(nominal, state, multi_state),
                                   what),
        regions={
            r: cutflow_count(no_veto, _step(state, r, multi_state), f"{what} (no vetoes)")
            for r in REGIONS
        },
        source=what,
    )


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


# --------------------------------------------------------------------------------------------
# Combinatorial pseudo-events
# --------------------------------------------------------------------------------------------
#: Time branches of each collection, shifted together when a track is moved in time.
_TIME_BRANCHES = {
    "Track": (("chodTime", "hasChod"), ("na48chodTime", "hasNa48chod")),
    "Cluster": (("time", None),),
    "MUV3": (("time", None),),
    "LAV": (("time", None),),
    "ANTI0": (("time", None),),
}
#: CHOD coincidence of the H2 trigger emulation (ns), as in the detector simulation.
H2_COINCIDENCE_NS = 5.0


def single_track_events(branches: Mapping[str, Any]) -> dict[str, Any]:
    """The Q1-triggered events with exactly one track, from ntuple branches (docs/ntuple.md)."""
    import awkward as ak

    n_track = ak.to_numpy(branches["nTrack"])
    keep = np.asarray(branches["trig_Q1"], dtype=bool) & (n_track == 1)
    return {k: v[keep] for k, v in branches.items()}


def _track_time(branches, idx):
    import awkward as ak

    na48 = ak.to_numpy(ak.firsts(branches["Track_na48chodTime"][idx]))
    has48 = ak.to_numpy(ak.firsts(branches["Track_hasNa48chod"][idx]))
    chod = ak.to_numpy(ak.firsts(branches["Track_chodTime"][idx]))
    return np.where(has48, na48, chod).astype(float)


def combinatorial_pseudo_events(
    singles: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    max_pairs: int = 500_000,
    window_ns: float = geometry.COMBINATORIAL_WINDOW_NS,
) -> tuple[dict[str, Any], float]:
    """Pseudo-events made of two single-track Q1 events, and the number of pairs each stands for.

    Only opposite-charge pairs are made (a vertex needs opposite charges, so the others can
    never be selected): all of them if there are at most ``max_pairs``, else ``max_pairs``
    drawn uniformly (with replacement; the second return value, total opposite-charge pairs /
    drawn pairs, then scales each pseudo-event's weight). The second event of a pair
    is moved in time, all of its detector times together, so that its track lies at a time
    offset uniform in +-``window_ns`` from the first track (uncorrelated tracks overlapping
    within the window). The two events' collections are concatenated; the H2 trigger is
    emulated from the two tracks' CHOD signals (coincident within :data:`H2_COINCIDENCE_NS`,
    trigger time their mean; CHOD signals without a track are not in the ntuple and do not
    enter). The result is a dict of ntuple branches (docs/ntuple.md, no truth) that the
    channel processors read like any sample.
    """
    import awkward as ak

    n = len(singles["trig_Q1"])
    if n < 2:
        raise InputError(f"combinatorial: {n} single-track Q1 event(s), need at least 2")
    charge = ak.to_numpy(ak.firsts(singles["Track_charge"]))
    pos, neg = np.flatnonzero(charge > 0), np.flatnonzero(charge < 0)
    total = pos.size * neg.size
    if total == 0:
        raise InputError("combinatorial: no pair of opposite-charge single tracks")
    if total <= max_pairs:
        i, j = (a.ravel() for a in np.meshgrid(pos, neg, indexing="ij"))
        per_pair = 1.0
    else:
        i = pos[rng.integers(0, pos.size, max_pairs)]
        j = neg[rng.integers(0, neg.size, max_pairs)]
        per_pair = total / max_pairs
    t_i, t_j = _track_time(singles, i), _track_time(singles, j)
    shift = (t_i - t_j) + rng.uniform(-window_ns, window_ns, i.size)
    out: dict[str, Any] = {}
    for coll, time_fields in _TIME_BRANCHES.items():
        fields = [k for k in singles if k.startswith(coll + "_")]
        shifted = {f"{coll}_{t}": has for t, has in time_fields}
        for key in fields:
            a, b = singles[key][i], singles[key][j]
            if key in shifted:
                moved = b + shift
                has = shifted[key]
                b = ak.where(singles[f"{coll}_{has}"][j], moved, b) if has else moved
            out[key] = ak.concatenate([a, b], axis=1)
    chod_i = ak.to_numpy(ak.firsts(singles["Track_chodTime"][i])).astype(float)
    chod_j = ak.to_numpy(ak.firsts(singles["Track_chodTime"][j])).astype(float) + shift
    has_i = ak.to_numpy(ak.firsts(singles["Track_hasChod"][i]))
    has_j = ak.to_numpy(ak.firsts(singles["Track_hasChod"][j]))
    out["run"] = np.asarray(singles["run"])[i]
    out["burst"] = np.asarray(singles["burst"])[i]
    out["event"] = np.arange(i.size, dtype=np.int64)
    out["trig_H2"] = has_i & has_j & (np.abs(chod_i - chod_j) < H2_COINCIDENCE_NS)
    out["trig_Q1"] = np.zeros(i.size, dtype=bool)
    out["trig_control"] = np.zeros(i.size, dtype=bool)
    out["trigger_time"] = np.where(out["trig_H2"], 0.5 * (chod_i + chod_j), t_i)
    return out, per_pair


# --------------------------------------------------------------------------------------------
# Published fall-backs (1.4e17 POT), used only when the sample to estimate from is missing
# --------------------------------------------------------------------------------------------
#: {final state: {component: {region: (value, error)}}} from shared/ANALYSIS.md.
PUBLISHED_COMPONENTS = {
    "mumu": {"combinatorial": {"CR": (0.17, 0.02), "SR": (0.016, 0.002)}},
    "pipi": {"upstream": {"CR": (0.013, 0.007), "SR": (0.007, 0.005)}},
    "pipigamma": {"upstream": {"CR": (0.031, 0.016), "SR": (0.007, 0.004)}},
}
#: Channels whose combinatorial background is estimated from the Q1 control sample.
COMBINATORIAL_CHANNELS = ("ee", "mumu")


def _seeded(seed: int, *names: str) -> np.random.Generator:
    """An independent generator per (channel, component): results do not depend on which
    other channels were processed."""
    import zlib

    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def _fileset_of(dataset) -> dict[str, dict[str, Any]]:
    files = dataset.existing_files()
    if not files:
        return {}
    return {dataset.name: {"files": {f: dataset.tree for f in files},
                           "metadata": {"dataset": dataset.name, **dataset.metadata}}}


def _run(proc, fileset, executor: str, chunksize: int):
    from na62dump import runner

    with runner.open_executor(executor) as exe:
        out, _ = runner.run_processor(fileset, proc, exe, chunksize=chunksize)
    return out


def _read_branches(files: Sequence[str], tree: str) -> dict[str, Any]:
    import awkward as ak
    import uproot

    from na62dump.simulation.writer import COLLECTIONS, EVENT_BRANCHES

    names = list(EVENT_BRANCHES) + ["nTrack"] + [
        f"{c}_{f}" for c, fields in COLLECTIONS.items() for f in fields
    ]
    parts = []
    for path in files:
        try:
            with uproot.open(path) as f:
                parts.append(f[tree].arrays(names, library="ak"))
        except Exception as err:
            raise InputError(f"{path}: cannot read tree {tree!r} ({err})") from err
    arr = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    return {k: arr[k] for k in names}


def combinatorial_output(q1_dataset, channel: str, work_dir: Path, rng, *, n_pot: float,
                         max_pairs: int, executor: str = "iterative", chunksize: int = 200_000):
    """Run ``channel``'s processor on pseudo-events from the Q1 control sample.

    Returns the processor output of the pseudo-event dataset (weighted to ``n_pot``) and
    bookkeeping, or None if the Q1 sample has no files or fewer than two single tracks.
    """
    from na62dump.simulation.writer import write_ntuple
    from processors import PROCESSORS

    files = q1_dataset.existing_files()
    if not files:
        return None
    meta = q1_dataset.metadata
    singles = single_track_events(_read_branches(files, q1_dataset.tree))
    if len(singles["trig_Q1"]) < 2:
        logger.warning("%s: fewer than 2 single-track Q1 events, no combinatorial estimate",
                       q1_dataset.name)
        return None
    pseudo, per_pair = combinatorial_pseudo_events(
        singles, rng, max_pairs=max_pairs,
        window_ns=float(meta.get("window_ns", geometry.COMBINATORIAL_WINDOW_NS)),
    )
    pot = float(meta.get("pot", 0.0))
    weight = combinatorial_pair_weight(
        pot, float(meta.get("live_time_s_per_pot", 0.0)),
        window_ns=float(meta.get("window_ns", geometry.COMBINATORIAL_WINDOW_NS)),
        downscale=int(meta.get("q1_downscale", geometry.Q1_DOWNSCALE)),
    ) * per_pair * n_pot / pot
    path = write_ntuple(work_dir / f"combinatorial_{q1_dataset.name}.root", pseudo)
    fileset = {"combinatorial": {"files": {str(path): "events"}, "metadata": {
        "dataset": "combinatorial", "kind": "combinatorial", "weight": weight}}}
    out = _run(PROCESSORS[channel](), fileset, executor, chunksize)["combinatorial"]
    info = {"q1_single_tracks": len(singles["trig_Q1"]), "pseudo_events": len(pseudo["run"]),
            "pair_weight": weight}
    return out, info


def hist_record(h) -> dict[str, Any]:
    """A 1D (or ``state`` x 1D) weighted ``hist.Hist`` as plain lists for a JSON artefact:
    ``{"edges", "values", "variances", "label"}``, the ``state`` axis summed.

    Read back with :func:`hist_from_record`.

    >>> import hist
    >>> h = hist.Hist.new.Reg(4, 0, 2, name="mass").Weight()
    >>> h.fill(mass=[0.1, 0.6, 0.6], weight=[1.0, 2.0, 2.0])  # doctest: +ELLIPSIS
    Hist(...)
    >>> rec = hist_record(h)
    >>> rec["values"], rec["variances"]
    ([1.0, 4.0, 0.0, 0.0], [1.0, 8.0, 0.0, 0.0])
    >>> hist_from_record(rec).values().tolist()
    [1.0, 4.0, 0.0, 0.0]
    """
    if "state" in h.axes.name:
        h = h[{"state": sum}]
    variances = h.variances()
    return {"edges": h.axes[0].edges.tolist(), "values": h.values().tolist(),
            "variances": (variances if variances is not None else h.values()).tolist(),
            "label": h.axes[0].label}


def hist_from_record(record: Mapping[str, Any]):
    """The weighted ``hist.Hist`` of a :func:`hist_record`."""
    import hist

    edges = np.asarray(record["edges"], dtype=float)
    h = hist.Hist(hist.axis.Variable(edges, name="mass", label=record.get("label", "")),
                  storage=hist.storage.Weight())
    h.view().value = np.asarray(record["values"], dtype=float)
    h.view().variance = np.asarray(record["variances"], dtype=float)
    return h


def estimate_backgrounds(
    results_dir: str | os.PathLike,
    campaign,
    *,
    n_pe: int = DEFAULT_PSEUDO_EXPERIMENTS,
    seed: int = 2021,
    prior: tuple[float, float] = UNIFORM_PRIOR,
    nfv_model: Literal["gauss", "gamma"] = "gamma",
    max_pairs: int = 500_000,
    executor: str = "iterative",
) -> dict[str, Any]:
    """Every channel's expected background in the CR and SR (the ``background.json`` content).

    Reads the stage-2 outputs in ``results_dir`` (``run/<channel>.coffea``) and the campaign
    (dataset kinds, files, POT). Per final state, the components are: ``prompt`` (the
    prompt MC of the campaign, re-run without vetoes for the region factors), ``combinatorial``
    (ee, mu+mu-: Q1 pseudo-events through the processor) and ``upstream_<name>`` (pi+pi- and
    hadronic: the processed upstream samples). A component whose sample is missing falls back
    to the published value where there is one (flagged ``"source": "published"``); the e+e-
    prompt then uses the published MC counts. Everything is expressed at the POT of the
    campaign's pseudo-data (``n_pot``), whose value is recorded in ``_meta``.
    """
    from na62dump import runner
    from processors import PROCESSORS

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"{results_dir}: no results directory (run `na62dump run` first)")
    if n_pe < 1000:
        raise InputError(f"--pseudo-experiments {n_pe}: at least 1000 are needed")
    data = [d for d in campaign.datasets if d.kind == "pseudo_data"]
    n_pot = float(data[0].metadata.get("pot", geometry.N_POT)) if data else geometry.N_POT
    scale = n_pot / geometry.N_POT  # processors weight MC to geometry.N_POT
    by_kind: dict[str, list] = {}
    for d in campaign.datasets:
        by_kind.setdefault(d.kind, []).append(d)

    result: dict[str, Any] = {}
    mass_hists: dict[str, dict[str, dict]] = {}
    channels_done = []
    with tempfile.TemporaryDirectory(dir=results_dir, prefix=".background-") as tmp:
        for channel, proc_cls in PROCESSORS.items():
            if not runner.output_path(results_dir, channel).is_file():
                logger.info("%s: no stage-2 output, skipped", channel)
                continue
            channels_done.append(channel)
            outputs = runner.load_output(results_dir, channel)
            states = [s.name for s in proc_cls.states]
            multi = len(states) > 1
            comps: dict[str, dict[str, list[Component]]] = {
                s: {r: [] for r in REGIONS} for s in states
            }

            # prompt
            prompt_sets = [d for d in by_kind.get("prompt", []) if d.name in outputs]
            no_veto_out = {}
            for d in prompt_sets:
                fs = _fileset_of(d)
                if fs:
                    cuts = proc_cls.cuts_class().model_copy(
                        update={"veto_lav": False, "veto_anti0": False})
                    no_veto_out[d.name] = _run(proc_cls(cuts=cuts), fs, executor,
                                               200_000)[d.name]
            for s in states:
                for d in prompt_sets:
                    if d.name not in no_veto_out:
                        continue
                    inputs = prompt_inputs_from_outputs(
                        outputs[d.name], no_veto_out[d.name], s, multi_state=multi,
                        what=f"{channel} {d.name} {s}")
                    inputs = PromptInputs(
                        in_fv=_scaled(inputs.in_fv, scale),
                        after_vetoes=_scaled(inputs.after_vetoes, scale),
                        regions={r: _scaled(c, scale) for r, c in inputs.regions.items()},
                        source=inputs.source)
                    for r in REGIONS:
                        comps[s][r].append(_prompt_component(
                            inputs, r, n_pe, _seeded(seed, s, "prompt", d.name, r),
                            nfv_model, prior, mc_weight=_mc_weight(d, n_pot),
                            source=f"MC dataset {d.name}"))
                if not prompt_sets or not no_veto_out:
                    if s == "ee":
                        pub = PromptInputs(
                            in_fv=_scaled(PUBLISHED_EE_PROMPT.in_fv, n_pot / geometry.N_POT),
                            after_vetoes=PUBLISHED_EE_PROMPT.after_vetoes,
                            regions=PUBLISHED_EE_PROMPT.regions,
                            source=PUBLISHED_EE_PROMPT.source)
                        for r in REGIONS:
                            comps[s][r].append(_prompt_component(
                                pub, r, n_pe, _seeded(seed, s, "prompt", r), nfv_model, prior,
                                source="published"))

            # combinatorial
            if channel in COMBINATORIAL_CHANNELS:
                q1 = by_kind.get("q1_control", [])
                res = (combinatorial_output(q1[0], channel, Path(tmp),
                                            _seeded(seed, channel, "pairs"), n_pot=n_pot,
                                            max_pairs=max_pairs, executor=executor)
                       if q1 else None)
                if res is not None:  # its mass spectrum, for the control mass plots
                    mass_hists.setdefault(channel, {})["combinatorial"] = hist_record(
                        res[0]["hists"]["mass"])
                for s in states:
                    for r in REGIONS:
                        rng = _seeded(seed, s, "combinatorial", r)
                        if res is not None:
                            out, info = res
                            c = cutflow_count(out, _step(s, r, multi), f"{channel} comb.")
                            comps[s][r].append(mc_count_component(
                                "combinatorial", c, n_pe, rng, weight=info["pair_weight"],
                                source="Q1 pseudo-events", **info))
                        elif "combinatorial" in PUBLISHED_COMPONENTS.get(s, {}):
                            v, e = PUBLISHED_COMPONENTS[s]["combinatorial"][r]
                            comps[s][r].append(count_component(
                                "combinatorial", v * scale, e * scale, n_pe, rng,
                                source="published"))

            # upstream
            ups = [d for d in by_kind.get("upstream", []) if d.name in outputs]
            for s in states:
                for r in REGIONS:
                    for d in ups:
                        c = cutflow_count(outputs[d.name], _step(s, r, multi),
                                          f"{channel} {d.name}")
                        c = _scaled(c, scale)
                        name = d.name if d.name.startswith("upstream") else f"upstream_{d.name}"
                        comps[s][r].append(mc_count_component(
                            name, c, n_pe, _seeded(seed, s, d.name, r),
                            weight=_mc_weight(d, n_pot), source=f"MC dataset {d.name}"))
                    if not ups and "upstream" in PUBLISHED_COMPONENTS.get(s, {}):
                        v, e = PUBLISHED_COMPONENTS[s]["upstream"][r]
                        comps[s][r].append(count_component(
                            "upstream", v * scale, e * scale, n_pe,
                            _seeded(seed, s, "upstream", r), source="published"))

            for s in states:
                if not any(comps[s][r] for r in REGIONS):
                    logger.warning("%s: no background sample and no published value", s)
                    continue
                result[s] = {r: total_summary(comps[s][r]) if comps[s][r] else
                             {**summarise_samples(np.zeros(1)), "components": {}}
                             for r in REGIONS}
    if not channels_done:
        raise InputError(f"{results_dir}: no stage-2 output (run `na62dump run` first)")
    if mass_hists:
        result["_mass_hists"] = mass_hists
    result["_meta"] = {
        "n_pot": n_pot,
        "pseudo_experiments": n_pe,
        "seed": seed,
        "prior": list(prior),
        "n_in_fv_model": nfv_model,
        "channels": channels_done,
        "published_inputs_ee_prompt": published_prompt_check(n_pe, seed, prior, nfv_model),
    }
    return result


def _mc_weight(dataset, n_pot: float) -> float:
    """Per-event weight of a background MC dataset at ``n_pot`` (its ``pot`` metadata)."""
    pot = dataset.metadata.get("pot")
    return n_pot / float(pot) if pot else 1.0


def _scaled(c: WeightedCount, s: float) -> WeightedCount:
    return WeightedCount(c.sum_w * s, c.sum_w2 * s * s)


def _prompt_component(inputs, region, n_pe, rng, nfv_model, prior, mc_weight=None,
                      **info) -> Component:
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
                                      _seeded(seed, "published", r), nfv_model=nfv_model,
                                      prior=prior)
        c, lo, hi = PUBLISHED_EE_PROMPT_RESULT[r]
        out[r] = {**summarise_samples(x),
                  "published": {"central": c, "interval68": [c - lo, c + hi]}}
    return out


def background_record(results_dir: str | os.PathLike, campaign, *, n_pe: int, seed: int,
                      prior: tuple[float, float], max_pairs: int, nfv_model: str = "gamma",
                      executor: str = "iterative") -> dict[str, Any]:
    """The provenance record of the background stage (:mod:`na62dump.provenance`): its
    options and seed, and the digest of the run set's record it reads."""
    return provenance.record(
        "background", campaign=campaign,
        options={"pseudo_experiments": int(n_pe), "prior": list(prior),
                 "max_pairs": int(max_pairs), "nfv_model": nfv_model, "executor": executor},
        seeds={"background": int(seed)},
        inputs={"run": provenance.input_digest(artefacts.run_dir(results_dir))})


def write_background(results_dir: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write the background set ``DIR/background/`` (``background.json``, and its
    ``"_provenance"`` record as ``provenance.json``), replacing the previous set whole."""
    with artefacts.StageSet(artefacts.background_dir(results_dir)) as staging:
        atomic.write_json(staging / BACKGROUND_NAME, payload)
        if payload.get("_provenance"):
            provenance.write_record(staging, payload["_provenance"])
    return artefacts.background_path(results_dir)
