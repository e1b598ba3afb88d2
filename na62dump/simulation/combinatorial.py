"""Combinatorial pseudo-events: pairs of uncorrelated single tracks from the Q1 control sample.

The combinatorial background of e+e- and mu+mu- is two uncorrelated halo-muon tracks that
happen to overlap in time and form a vertex (``shared/ANALYSIS.md``, "Backgrounds"). It is
estimated the published way, from the Q1 control sample (single tracks, downscaled by
``geometry.Q1_DOWNSCALE``): every opposite-charge pair of its single-track events (or
``max_pairs`` random ones) becomes one pseudo-event, the second event moved in time to
within the coincidence window of the first (:func:`combinatorial_pseudo_events`), weighted for
the window and the downscaling (:func:`combinatorial_pair_weight`).

The pseudo-events are a dataset of the campaign like any other (kind ``combinatorial``,
generator ``combinatorial`` with the parameters ``source``, the Q1 dataset, and optionally
``max_pairs``): ``na62dump simulate`` makes them from the source's files once those are written
(:func:`combinatorial_sample`), ``na62dump run`` selects them with the channel processors. The
pair weight goes into ``Truth_weight`` and the dataset's ``pot`` is the source's, so the
processors' usual Monte Carlo scaling (``Truth_weight x N_POT / pot``,
:func:`processors.base.dataset_scale`) expresses them at the analysis exposure.

>>> round(combinatorial_pair_weight(1.4e15, 4.0e-19), 4)  # the tiny Q1 sample
0.0143
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from na62dump import geometry
from na62dump.errors import InputError

logger = logging.getLogger(__name__)

#: Pairs drawn at most per sample (all pairs below that; ``max_pairs`` of the recipe).
DEFAULT_MAX_PAIRS = 500_000


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
    """
    if not (pot > 0 and live_time_s_per_pot > 0 and window_ns > 0 and downscale >= 1):
        raise InputError(
            "combinatorial weight: need POT > 0, live time > 0, window > 0 and downscale >= 1"
            f" (got {pot!r}, {live_time_s_per_pot!r}, {window_ns!r}, {downscale!r})"
        )
    live_s = live_time_s_per_pot * pot
    return float(downscale) ** 2 * 2.0 * window_ns * 1e-9 / live_s


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
    max_pairs: int = DEFAULT_MAX_PAIRS,
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


def read_branches(files: Sequence[str], tree: str) -> dict[str, Any]:
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

def combinatorial_sample(
    files: Sequence[str],
    tree: str,
    source_metadata: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> dict[str, Any]:
    """The pseudo-events of a Q1 control sample (its ``files``) that fire the H2 trigger (the
    others can never be selected), as ntuple branches with truth.

    ``source_metadata``: the Q1 dataset's metadata (``pot``, ``live_time_s_per_pot`` and
    optionally ``window_ns``, ``q1_downscale``). Every pseudo-event gets ``Truth_weight`` =
    :func:`combinatorial_pair_weight` x the pairs it stands for: the expected number of genuine
    overlaps it represents in the source sample (the processors scale it to the exposure with
    the source's POT). The other truth fields are zero but ``Truth_mode``
    (``Production.COMBINATORIAL``): a pseudo-event has no generated particle.
    """
    from na62dump.codes import Production
    from na62dump.simulation.writer import TRUTH_BRANCHES

    if not files:
        raise InputError("combinatorial: the source Q1 sample has no file")
    singles = single_track_events(read_branches(files, tree))
    window = float(source_metadata.get("window_ns", geometry.COMBINATORIAL_WINDOW_NS))
    pseudo, per_pair = combinatorial_pseudo_events(singles, rng, max_pairs=max_pairs,
                                                   window_ns=window)
    weight = combinatorial_pair_weight(
        float(source_metadata.get("pot", 0.0)),
        float(source_metadata.get("live_time_s_per_pot", 0.0)),
        window_ns=window,
        downscale=int(source_metadata.get("q1_downscale", geometry.Q1_DOWNSCALE)),
    ) * per_pair
    # only the pseudo-events that fire the H2 trigger can be selected (about half): the
    # others are not written, as for every background sample
    fired = np.asarray(pseudo["trig_H2"], dtype=bool)
    pseudo = {k: v[fired] for k, v in pseudo.items()}
    n = len(pseudo["run"])
    for name, dtype in TRUTH_BRANCHES.items():
        pseudo[name] = np.zeros(n, dtype)
    pseudo["Truth_mode"] = np.full(n, int(Production.COMBINATORIAL), np.int8)
    pseudo["Truth_weight"] = np.full(n, weight, np.float64)
    logger.info("combinatorial: %d single tracks -> %d pseudo-events (%d fire H2) of weight "
                "%.4g", len(singles["trig_Q1"]), fired.size, n, weight)
    return pseudo
