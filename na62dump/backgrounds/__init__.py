"""Stage 3: expected backgrounds per channel and region, from the run's artefacts.

Three sources (``shared/ANALYSIS.md``, "Backgrounds"):

Prompt
    Secondaries of halo muons interacting in material, estimated from a prompt MC sample with
    the published frequentist + Bayesian method:
    ``N_bkg = N_inFV x (1 - eta_veto) x (1 - eta_region)``
    (:mod:`na62dump.backgrounds.posterior`).
Combinatorial
    Random pairs of uncorrelated single tracks (halo muons) within a time window: the
    pseudo-events of the ``combinatorial`` dataset, made by ``na62dump simulate`` from the Q1
    control sample (:mod:`na62dump.simulation.combinatorial`) and selected by ``na62dump run``
    like any sample.
Upstream
    Hadronic backgrounds from processed upstream samples (K3pi, K_S, interactions).

This module is the orchestration: which components each final state gets, from which
artefacts. The statistics (weighted counts, beta posteriors, pseudo-experiments, summaries)
are in :mod:`na62dump.backgrounds.posterior`.

From the artefacts of ``na62dump run`` (:func:`estimate_backgrounds`)
--------------------------------------------------------------------
Only ``DIR/run/<channel>.coffea`` and ``DIR/summary.json`` are read, never the campaign or a
ROOT file: the dataset kinds and POT come from ``summary.json``'s ``datasets`` record
(``kind``, ``metadata.pot``), the counts from the processor outputs.

- prompt: the prompt MC's counts of the published selection: ``after_vetoes`` is the full
  selection but the region (cutflow), ``in_fv`` and the region counts are the N-1 counts of
  the vetoes (``nminusone[state]["veto"]``: the selection with the LAV and ANTI0 vetoes
  switched off, at ``selected`` and in the CR/SR) (:func:`prompt_inputs_from_outputs`). With no
  MC vertex in the FV the sample only bounds the background, at about one MC weight;
- combinatorial (e+e-, mu+mu-, :data:`COMBINATORIAL_CHANNELS`): the CR/SR counts of the
  ``combinatorial`` datasets;
- upstream (the final states with a published upstream background: pi+pi-, pi+pi-gamma):
  the processed upstream samples' CR/SR counts;
- an MC count of ``k`` events of weight ``w`` becomes ``w x Gamma(k + 1, 1)`` pseudo-experiments
  (:func:`~na62dump.backgrounds.posterior.mc_count_component`); components add
  pseudo-experiment by pseudo-experiment;
- a sample the artefacts lack is an error saying what is missing and how to get it; only
  with ``published=True`` (``--published-background``) does a missing sample fall back to the
  published value where there is one (:data:`~na62dump.backgrounds.posterior.PUBLISHED_COMPONENTS`,
  :data:`~na62dump.backgrounds.posterior.PUBLISHED_EE_PROMPT`), flagged ``"source":
  "published"`` and recorded in ``_meta.published_background``;
- everything is scaled to the POT of the pseudo-data (``_meta.n_pot``; the processors weight
  MC to ``geometry.N_POT``).

Every random number comes from a generator seeded per channel and component
(:func:`~na62dump.backgrounds.posterior.seeded`), so that one channel's numbers do not depend
on which others were processed.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from na62dump import artefacts, atomic, geometry, provenance
from na62dump.backgrounds.posterior import (
    JEFFREYS_PRIOR,
    NFV_MODELS,
    PUBLISHED_COMPONENTS,
    PUBLISHED_EE_PROMPT,
    REGIONS,
    UNIFORM_PRIOR,
    Component,
    PromptInputs,
    WeightedCount,
    count_component,
    mc_count_component,
    prompt_component,
    published_prompt_check,
    seeded,
    summarise_samples,
    total_summary,
)
from na62dump.errors import InputError
from na62dump.finalstates import ANALYSES
from na62dump.settings import DEFAULT_PSEUDO_EXPERIMENTS

__all__ = [
    "BACKGROUND_NAME", "COMBINATORIAL_CHANNELS", "JEFFREYS_PRIOR", "NFV_MODELS", "REGIONS",
    "UNIFORM_PRIOR", "cutflow_count", "estimate_backgrounds", "hist_from_record",
    "hist_record", "nminusone_count", "prompt_inputs_from_outputs", "read_background",
    "write_background",
]  # fmt: skip

logger = logging.getLogger(__name__)

BACKGROUND_NAME = artefacts.BACKGROUND_NAME

#: Channels whose combinatorial background is estimated from the Q1 control sample (the
#: analyses with ``combinatorial`` final states in na62dump.finalstates).
COMBINATORIAL_CHANNELS = tuple(a.name for a in ANALYSES if a.combinatorial)

#: How to get a missing sample, said by every "missing" error.
_HOW = ("add one to datasets.yaml, `na62dump simulate` and `na62dump run` it, or pass "
        "--published-background to use the published value")


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


def background_record(results_dir: str | os.PathLike, *, n_pe: int, seed: int,
                      prior: tuple[float, float], nfv_model: str = "gamma",
                      published: bool = False) -> dict[str, Any]:
    """The provenance record of the background stage (:mod:`na62dump.provenance`): its
    options and seed, and the digest of the run set's record it reads (it reads nothing
    else: no campaign, no ROOT file)."""
    return provenance.record(
        "background",
        options={"pseudo_experiments": int(n_pe), "prior": list(prior),
                 "nfv_model": nfv_model, "published_background": bool(published)},
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


def hist_record(h, scale: float = 1.0) -> dict[str, Any]:
    """A 1D (or ``state`` x 1D) weighted ``hist.Hist`` as plain lists for a JSON artefact:
    ``{"edges", "values", "variances", "label"}``, the ``state`` axis summed, every weight
    multiplied by ``scale``.

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
    values = h.values()
    variances = h.variances()
    variances = variances if variances is not None else values
    if scale != 1.0:
        values, variances = values * scale, variances * scale * scale
    return {"edges": h.axes[0].edges.tolist(), "values": values.tolist(),
            "variances": variances.tolist(), "label": h.axes[0].label}


def hist_from_record(record: Mapping[str, Any]):
    """The weighted ``hist.Hist`` of a :func:`hist_record`."""
    import hist

    edges = np.asarray(record["edges"], dtype=float)
    h = hist.Hist(hist.axis.Variable(edges, name="mass", label=record.get("label", "")),
                  storage=hist.storage.Weight())
    h.view().value = np.asarray(record["values"], dtype=float)
    h.view().variance = np.asarray(record["variances"], dtype=float)
    return h


def _count(n: float, w: float, what: str) -> WeightedCount:
    """``[events, weighted]`` of a sample of one weight per event as a :class:`WeightedCount`
    (``sum w^2 = W^2 / n``)."""
    n, w = float(n), float(w)
    if not (math.isfinite(n) and math.isfinite(w)) or n < 0 or w < 0:
        raise InputError(f"{what}: not a valid count ({n}, {w})")
    return WeightedCount(w, w * w / n if n > 0 else 0.0)


def nminusone_count(output: Mapping[str, Any], state: str, cut: str, where: str,
                    what: str) -> WeightedCount:
    """The N-1 count of ``cut`` of ``state`` (every cut of the state's selection but that one)
    at ``where`` (``"selected"``, ``"CR"`` or ``"SR"``) of one dataset's processor output."""
    n1 = output.get("nminusone") if isinstance(output, Mapping) else None
    if not isinstance(n1, Mapping):
        raise InputError(f"{what}: processor output has no N-1 counts (made by an older "
                         "na62dump, or blinded pseudo-data): run `na62dump run` again")
    try:
        n, w = n1[state][cut][where]
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{what}: no N-1 count of {cut!r} at {where!r} for state "
                         f"{state!r}") from err
    return _count(n, w, f"{what}: N-1 count of {cut!r} at {where!r}")


def prompt_inputs_from_outputs(
    output: Mapping[str, Any],
    state: str,
    *,
    multi_state: bool = False,
    what: str = "prompt",
) -> PromptInputs:
    """Prompt-MC counts of one final state from its processor output on the prompt MC.

    ``in_fv`` is the full selection but the vetoes and the region (vertex in FV, PID, and for
    neutral final states the neutral content): the N-1 count of ``veto`` at ``selected``;
    ``after_vetoes`` the same with the vetoes (the cutflow's last step before the regions);
    the regions are the CR and SR counts without the vetoes (N-1 counts of ``veto`` in the
    regions). These are what a second run with the LAV and ANTI0 vetoes switched off counts,
    to the last bit (``tests/processors/test_nminusone.py``).
    """
    return PromptInputs(
        in_fv=nminusone_count(output, state, "veto", "selected", what),
        after_vetoes=cutflow_count(output, _pre_region_step(output, state, multi_state), what),
        regions={r: nminusone_count(output, state, "veto", r, what) for r in REGIONS},
        source=what,
    )


# --------------------------------------------------------------------------------------------
# The run's artefacts
# --------------------------------------------------------------------------------------------
def _mc_weight(meta: Mapping[str, Any], n_pot: float) -> float:
    """Per-event weight of a background MC dataset at ``n_pot`` (its ``pot`` metadata)."""
    pot = meta.get("pot")
    return n_pot / float(pot) if pot else 1.0


def _missing(path: Path, what: str, channel: str, kind: str) -> InputError:
    return InputError(f"{path}: no {what} output for channel {channel!r} (a dataset of kind "
                      f"{kind!r} reading {channel}): {_HOW}")


def estimate_backgrounds(
    results_dir: str | os.PathLike,
    *,
    n_pe: int = DEFAULT_PSEUDO_EXPERIMENTS,
    seed: int = 2021,
    prior: tuple[float, float] = UNIFORM_PRIOR,
    nfv_model: Literal["gauss", "gamma"] = "gamma",
    published: bool = False,
) -> dict[str, Any]:
    """Every channel's expected background in the CR and SR (the ``background.json`` content).

    Reads the artefacts of ``na62dump run`` in ``results_dir`` only (``run/<channel>.coffea``
    and ``summary.json``; module docstring). Per final state, the components are ``prompt``,
    ``combinatorial`` (e+e-, mu+mu-) and ``upstream_<name>`` (pi+pi- and hadronic). A missing
    sample is an :class:`InputError` saying what is missing, unless ``published``: then the
    published value is used where there is one (flagged ``"source": "published"``). Everything
    is expressed at the POT of the pseudo-data (``n_pot``), recorded in ``_meta``.
    """
    from na62dump import runner
    from processors import PROCESSORS

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"{results_dir}: no results directory (run `na62dump run` first)")
    if n_pe < 1000:
        raise InputError(f"--pseudo-experiments {n_pe}: at least 1000 are needed")
    summary = runner.read_summary(results_dir)
    summary_path = artefacts.summary_path(results_dir)
    records, channels_run = summary["datasets"], summary.get("channels")
    if not isinstance(channels_run, dict) or not channels_run:
        raise InputError(f"{summary_path}: no channel was run (run `na62dump run` first)")
    kinds = {name: r.get("kind") for name, r in records.items()}
    meta = {name: r.get("metadata") or {} for name, r in records.items()}
    data = [name for name, kind in kinds.items() if kind == "pseudo_data"]
    n_pot = float(meta[data[0]].get("pot", geometry.N_POT)) if data else geometry.N_POT
    scale = n_pot / geometry.N_POT  # processors weight MC to geometry.N_POT

    result: dict[str, Any] = {}
    mass_hists: dict[str, dict[str, dict]] = {}
    channels_done = []
    for channel, proc_cls in PROCESSORS.items():
        if channel not in channels_run:
            logger.info("%s: not run, skipped", channel)
            continue
        channels_done.append(channel)
        outputs = runner.load_output(results_dir, channel)
        of_kind = {k: [n for n in records if kinds[n] == k and n in outputs]
                   for k in ("prompt", "combinatorial", "upstream")}
        states = [s.name for s in proc_cls.states]
        multi = len(states) > 1
        comps: dict[str, dict[str, list[Component]]] = {
            s: {r: [] for r in REGIONS} for s in states
        }

        # prompt
        if not of_kind["prompt"] and not published:
            raise _missing(summary_path, "prompt MC", channel, "prompt")
        for s in states:
            for d in of_kind["prompt"]:
                inputs = prompt_inputs_from_outputs(outputs[d], s, multi_state=multi,
                                                    what=f"{channel} {d} {s}")
                inputs = PromptInputs(
                    in_fv=inputs.in_fv.scaled(scale),
                    after_vetoes=inputs.after_vetoes.scaled(scale),
                    regions={r: c.scaled(scale) for r, c in inputs.regions.items()},
                    source=inputs.source)
                for r in REGIONS:
                    comps[s][r].append(prompt_component(
                        inputs, r, n_pe, seeded(seed, s, "prompt", d, r), nfv_model, prior,
                        mc_weight=_mc_weight(meta[d], n_pot), source=f"MC dataset {d}"))
            if not of_kind["prompt"] and s == "ee":  # published (asked for)
                pub = PromptInputs(
                    in_fv=PUBLISHED_EE_PROMPT.in_fv.scaled(scale),
                    after_vetoes=PUBLISHED_EE_PROMPT.after_vetoes,
                    regions=PUBLISHED_EE_PROMPT.regions,
                    source=PUBLISHED_EE_PROMPT.source)
                for r in REGIONS:
                    comps[s][r].append(prompt_component(
                        pub, r, n_pe, seeded(seed, s, "prompt", r), nfv_model, prior,
                        source="published"))

        # combinatorial
        if channel in COMBINATORIAL_CHANNELS:
            if not of_kind["combinatorial"] and not published:
                raise _missing(summary_path, "combinatorial pseudo-event", channel,
                               "combinatorial")
            for d in of_kind["combinatorial"]:  # its mass spectrum, for the control plots
                rec = hist_record(outputs[d]["hists"]["mass"], scale)
                old = mass_hists.setdefault(channel, {}).get("combinatorial")
                if old is not None:
                    rec["values"] = np.add(old["values"], rec["values"]).tolist()
                    rec["variances"] = np.add(old["variances"], rec["variances"]).tolist()
                mass_hists[channel]["combinatorial"] = rec
            for s in states:
                for r in REGIONS:
                    rng = seeded(seed, s, "combinatorial", r)
                    for d in of_kind["combinatorial"]:
                        c = cutflow_count(outputs[d], _step(s, r, multi), f"{channel} {d}")
                        events = cutflow_count(outputs[d], "all", f"{channel} {d}")
                        name = d if d.startswith("combinatorial") else f"combinatorial_{d}"
                        comps[s][r].append(mc_count_component(
                            name, c.scaled(scale), n_pe, rng,
                            weight=events.sum_w2 / events.sum_w * scale if events.sum_w else 0,
                            source=f"Q1 pseudo-events, dataset {d}",
                            pseudo_events=int(round(events.n_eff))))
                    if (not of_kind["combinatorial"]
                            and "combinatorial" in PUBLISHED_COMPONENTS.get(s, {})):
                        v, e = PUBLISHED_COMPONENTS[s]["combinatorial"][r]
                        comps[s][r].append(count_component(
                            "combinatorial", v * scale, e * scale, n_pe, rng,
                            source="published"))

        # upstream: the final states with a published upstream background need a sample
        needs_upstream = any("upstream" in PUBLISHED_COMPONENTS.get(s, {}) for s in states)
        if needs_upstream and not of_kind["upstream"] and not published:
            raise _missing(summary_path, "upstream MC", channel, "upstream")
        for s in states:
            for r in REGIONS:
                for d in of_kind["upstream"]:
                    c = cutflow_count(outputs[d], _step(s, r, multi), f"{channel} {d}")
                    name = d if d.startswith("upstream") else f"upstream_{d}"
                    comps[s][r].append(mc_count_component(
                        name, c.scaled(scale), n_pe, seeded(seed, s, d, r),
                        weight=_mc_weight(meta[d], n_pot), source=f"MC dataset {d}"))
                if not of_kind["upstream"] and "upstream" in PUBLISHED_COMPONENTS.get(s, {}):
                    v, e = PUBLISHED_COMPONENTS[s]["upstream"][r]
                    comps[s][r].append(count_component(
                        "upstream", v * scale, e * scale, n_pe,
                        seeded(seed, s, "upstream", r), source="published"))

        for s in states:
            if not any(comps[s][r] for r in REGIONS):
                logger.warning("%s: no background sample and no published value", s)
                continue
            result[s] = {r: total_summary(comps[s][r]) if comps[s][r] else
                         {**summarise_samples(np.zeros(1)), "components": {}}
                         for r in REGIONS}
    if not channels_done:
        raise InputError(f"{summary_path}: no channel of the run has a processor")
    if mass_hists:
        result["_mass_hists"] = mass_hists
    result["_meta"] = {
        "n_pot": n_pot,
        "pseudo_experiments": n_pe,
        "seed": seed,
        "prior": list(prior),
        "n_in_fv_model": nfv_model,
        "channels": channels_done,
        "published_background": bool(published),
        "published_inputs_ee_prompt": published_prompt_check(n_pe, seed, prior, nfv_model),
    }
    return result
