"""Registry of the event generators behind ``na62dump simulate``.

:func:`generate` turns ``(kind, params, size, rng)`` into a dict holding exactly the branches
of ``docs/ntuple.md`` (event-level numpy arrays, collections as awkward jagged arrays plus their
``nX`` counters, ``Truth_*`` for Monte Carlo kinds), NaN-free and deterministic for a given
``rng``. The writer (:mod:`na62dump.simulation.writer`) stores them.

Kinds and parameters
--------------------
``signal`` (``size`` = number of generated decays; every event is written, accepted or not)
    ``model``: ``dark_photon`` | ``alp`` | ``dark_scalar``;
    ``production``: ``brems`` | ``pi0`` | ``eta`` | ``etaprime`` | ``omega`` | ``rho`` | ``phi`` |
    ``b_meson``; ``channel``: a final state an analysis selects (``na62dump.finalstates``:
    ``ee``, ``mumu``, ``pipi``, ``pipigamma``, ... ``kkpi0``); ``mass_gev`` (above the channel
    threshold); optional ``angular``: ``isotropic`` (default) | ``transverse`` (two-body only).
    Decays are forced uniformly in Z over ``geometry.FORCED_DECAY_Z`` (``Truth_zMin/zMax``).
``prompt`` (``size`` = POT)
    optional ``channels``: list of ``ee`` | ``mumu`` | ``pipi`` | ``mupi`` (default all).
``q1_control`` (``size`` = POT)
    no parameters; single halo-muon events of the Q1 trigger (after the downscaling by 20),
    without truth (they stand for a control sample of the data).
``upstream`` (``size`` = POT)
    ``process``: ``k3pi`` | ``ks`` | ``interaction``.
``pseudo_data`` (``size`` = POT)
    no parameters; every background at its physical rate, shuffled, without truth.
``combinatorial`` (``size`` = the POT of its source)
    ``source``: the Q1 control dataset whose files it pairs (``na62dump simulate`` hands them
    over as ``source=``, after writing them); optional ``max_pairs``. Pseudo-events of two
    single tracks, the pair weight in ``Truth_weight`` (:mod:`na62dump.simulation.combinatorial`).

For the background kinds the number of events follows from the rates per POT of
:mod:`na62dump.simulation.background_gen` (Poisson-fluctuated) and only triggered events are
written.

>>> import numpy as np
>>> out = generate("signal", {"model": "dark_photon", "production": "brems", "channel": "mumu",
...                           "mass_gev": 0.4}, 20, np.random.default_rng(5))
>>> len(out["Track_px"]), int(out["run"][0])
(20, 1100)
>>> sample_metadata("signal", {"model": "dark_photon", "production": "brems",
...                            "channel": "mumu", "mass_gev": 0.4})["z_range_m"]
[102.4, 181.0]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from na62dump import geometry as g
from na62dump.codes import Channel, Production
from na62dump.errors import InputError
from na62dump.simulation import background_gen as bg
from na62dump.simulation.signal import generate_signal, validate

log = logging.getLogger(__name__)

#: events per burst number in the written files (``burst = index // EVENTS_PER_BURST``)
EVENTS_PER_BURST = 10_000
#: run number of the pseudo-data (data runs are 2021xx)
PSEUDO_DATA_RUN = 202101


@dataclass(frozen=True)
class Generator:
    """One kind of sample: what ``size`` means, its parameters, and the functions."""

    kind: str
    size_unit: str  #: "events" or "pot"
    params: tuple[str, ...]  #: accepted parameter names
    required: tuple[str, ...]
    make: Callable[[Mapping[str, Any], float, np.random.Generator], dict]
    metadata: Callable[[Mapping[str, Any]], dict]
    truth: bool
    #: made from the files of another dataset (``params["source"]``), handed to ``make`` as
    #: ``source={"files", "tree", "metadata"}``
    needs_source: bool = False


def _signal(params, size, rng):
    return generate_signal(params["model"], params["production"], params["channel"],
                           params["mass_gev"], int(size), rng,
                           angular=params.get("angular", "isotropic"))


def _signal_meta(params):
    model, mode, ch, m = validate(params["model"], params["production"], params["channel"],
                                  params["mass_gev"])
    return {
        "z_range_m": [float(g.FORCED_DECAY_Z[0]), float(g.FORCED_DECAY_Z[1])],
        "model_code": int(model),
        "production_code": int(mode),
        "channel_code": int(ch),
        "mass_gev": m,
    }


def _prompt_channels(params):
    chans = params.get("channels", list(bg.PROMPT_CHANNELS))
    if isinstance(chans, str):
        chans = [chans]
    bad = [c for c in chans if c not in bg.PROMPT_CHANNELS]
    if bad:
        raise InputError(f"prompt parameter 'channels': {bad} not in {bg.PROMPT_CHANNELS}")
    return tuple(chans)


def _bkg_meta(mode):
    def meta(params):
        return {"production_code": int(mode), "size_unit": "pot"}
    return meta


def _q1_meta(params):
    return {
        "production_code": int(Production.COMBINATORIAL),
        "size_unit": "pot",
        "q1_downscale": g.Q1_DOWNSCALE,
        "window_ns": g.COMBINATORIAL_WINDOW_NS,
        "live_time_s_per_pot": bg.HALO.live_time_s_per_pot,
    }


def _upstream_meta(params):
    code = {"k3pi": Production.UPSTREAM_K3PI, "ks": Production.UPSTREAM_KS,
            "interaction": Production.UPSTREAM_INTERACTION}.get(params.get("process"))
    if code is None:
        raise InputError(f"upstream parameter 'process': {params.get('process')!r} is not one "
                         f"of {bg.UPSTREAM_PROCESSES}")
    return {"production_code": int(code), "size_unit": "pot"}


def _combinatorial(params, size, rng, source):
    from na62dump.simulation.combinatorial import DEFAULT_MAX_PAIRS, combinatorial_sample

    out = combinatorial_sample(source["files"], source["tree"], source["metadata"], rng,
                               max_pairs=int(params.get("max_pairs", DEFAULT_MAX_PAIRS)))
    for key in ("run", "burst", "event"):  # numbered like every sample (generate)
        out.pop(key)
    return out


def _combinatorial_meta(params):
    max_pairs = params.get("max_pairs", 1)
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1:
        raise InputError(f"combinatorial parameter 'max_pairs': {max_pairs!r} is not a "
                         "positive integer")
    if not isinstance(params.get("source"), str):
        raise InputError("combinatorial parameter 'source': the name of the Q1 control dataset")
    return {"production_code": int(Production.COMBINATORIAL), "size_unit": "pot",
            "source": params["source"]}


GENERATORS: dict[str, Generator] = {
    "signal": Generator("signal", "events", ("model", "production", "channel", "mass_gev",
                                             "angular"),
                        ("model", "production", "channel", "mass_gev"), _signal, _signal_meta,
                        True),
    "prompt": Generator("prompt", "pot", ("channels",), (),
                        lambda p, s, r: bg.prompt_sample(s, r, channels=_prompt_channels(p)),
                        _bkg_meta(Production.PROMPT), True),
    "q1_control": Generator("q1_control", "pot", (), (),
                            lambda p, s, r: bg.q1_control_sample(s, r), _q1_meta, False),
    "upstream": Generator("upstream", "pot", ("process",), ("process",),
                          lambda p, s, r: bg.upstream_sample(p["process"], s, r),
                          _upstream_meta, True),
    "pseudo_data": Generator("pseudo_data", "pot", (), (),
                             lambda p, s, r: bg.pseudo_data_sample(s, r),
                             lambda p: {"size_unit": "pot"}, False),
    "combinatorial": Generator("combinatorial", "pot", ("source", "max_pairs"), ("source",),
                               _combinatorial, _combinatorial_meta, True, needs_source=True),
}


def _check(kind: str, params: Mapping[str, Any]) -> Generator:
    if kind not in GENERATORS:
        raise InputError(f"generator kind {kind!r} is not one of {sorted(GENERATORS)}")
    gen = GENERATORS[kind]
    params = params or {}
    unknown = sorted(set(params) - set(gen.params))
    if unknown:
        raise InputError(f"{kind} generator: unknown parameter(s) {unknown}; accepted: "
                         f"{list(gen.params)}")
    missing = [k for k in gen.required if k not in params]
    if missing:
        raise InputError(f"{kind} generator: missing parameter(s) {missing}")
    return gen


def sample_metadata(kind: str, params: Mapping[str, Any]) -> dict:
    """What the processors and yields need about a sample that the files do not hold."""
    gen = _check(kind, params)
    return {"kind": kind, "size_unit": gen.size_unit, **gen.metadata(params or {})}


def generate(kind: str, params: Mapping[str, Any], size: int | float,
             rng: np.random.Generator,
             source: Mapping[str, Any] | None = None) -> dict[str, np.ndarray | ak.Array]:
    """Generate one sample of ``kind`` (see the module documentation for ``params``).

    ``source``: for kinds made from another dataset's files (``combinatorial``), that
    dataset's ``{"files": [...], "tree": ..., "metadata": {...}}``.
    """
    gen = _check(kind, params)
    if gen.needs_source and source is None:
        raise InputError(f"{kind} generator: needs the files of its source dataset "
                         f"{params.get('source')!r}")
    params = dict(params or {})
    try:
        size_f = float(size)
    except (TypeError, ValueError) as err:
        raise InputError(f"{kind} generator: size {size!r} is not a number") from err
    if not np.isfinite(size_f) or size_f < 0:
        raise InputError(f"{kind} generator: size {size!r} must be a finite number >= 0")
    if gen.size_unit == "events" and size_f != int(size_f):
        raise InputError(f"{kind} generator: size {size!r} must be a whole number of events")
    if kind == "signal":
        _signal_meta(params)  # validates before any work
        if params.get("angular", "isotropic") not in ("isotropic", "transverse"):
            raise InputError(f"signal parameter 'angular': {params['angular']!r} is not "
                             "'isotropic' or 'transverse'")
        if params.get("angular") == "transverse" and len(
                Channel.from_name(params["channel"]).daughters) != 2:
            raise InputError("signal parameter 'angular': 'transverse' needs a two-body channel")
    out = gen.make(params, size_f, rng, source) if gen.needs_source else gen.make(
        params, size_f, rng)
    n = len(out["trig_H2"])
    run = _run_number(kind, params)
    idx = np.arange(n, dtype=np.int64)
    branches = {
        "run": np.full(n, run, np.int32),
        "burst": (idx // EVENTS_PER_BURST).astype(np.int32),
        "event": idx,
    }
    branches.update(out)
    return branches


def _run_number(kind, params) -> int:
    """Signal MC: 1000 + 100 model + production code; background MC: 1000 + mode; data 202101."""
    if kind == "pseudo_data":
        return PSEUDO_DATA_RUN
    if kind == "signal":
        meta = _signal_meta(params)
        return 1000 + 100 * meta["model_code"] + meta["production_code"]
    if kind in ("q1_control", "combinatorial"):  # control data, and pairs of it
        return PSEUDO_DATA_RUN
    if kind == "upstream":
        return 1000 + _upstream_meta(params)["production_code"]
    return 1000 + int(Production.PROMPT)
