"""Shared two-track logic of the channel processors (coffea ``ProcessorABC``).

A channel processor is a :class:`TwoTrackProcessor` with a cut object (``cuts``) and one or
more final *states* (:class:`State`: a mass hypothesis for the two tracks, the PID they must
pass, whether neutrals enter). Per chunk, columnar, no event loop:

1. per track (:func:`good_tracks`): time, quality, acceptance, trigger timing, isolation;
2. per event: the H2 trigger, >= 2 selected tracks, exactly one two-track vertex, the FV;
   for the two tracks of that vertex only (:func:`vertex_track_table`): E/p, MUV3
   association, PID flags, veto flags;
3. per state: PID of both tracks, vetoes (LAV and/or ANTI0, from the cuts), neutrals
   (hadronic), the X candidate (tracks + neutrals), its pointing to the TAX and its region.

The work is done on flat numpy arrays with offsets (:func:`na62dump.schema.flat_collection`,
:mod:`na62dump.selection.flat`): the awkward building blocks of :mod:`na62dump.selection` cost
~0.1-3 ms per operation whatever the chunk size, which dominated the small chunks of the
campaign; their ``*_flat`` twins give the same results to the last bit (``tests/selection/
test_flat.py``).

Everything after the trigger runs on the events that fired it (:meth:`FlatCollection.take`).
Named cuts go into a :class:`Selection` (a dict of per-event masks with the ``add``/``all`` of
coffea's ``PackedSelection``, without its per-call cost). A chunk fills sparse histograms
(:class:`processors.sparse.SparseHist`, the filled bins only), made dense once per dataset in
``postprocess`` from the histogram templates (:func:`templates`, built once per process). The
output per dataset follows ``docs/artefacts.md`` ("Stage 2"). :meth:`TwoTrackProcessor.branches`
lists the branches a chunk reads (what the runner has coffea preload).

Dataset metadata (``events.metadata``, from the fileset): ``dataset``, ``kind`` (``signal``,
``prompt``, ``q1_control``, ``upstream``, ``pseudo_data``, ...) and optionally ``weight`` or
``pot`` (see :func:`dataset_scale`) and ``trigger`` (``"H2"`` by default, ``"Q1"`` for
``q1_control``).

The cutflow's ``weighted`` column, per kind:

- ``signal``: the sum of ``Truth_weight`` (the generation weight, 1 unless a sampler used
  importance weights); the coupling-dependent decay probability is applied later, from the
  truth-binned ``signal`` histograms;
- ``pseudo_data``: event counts (weight 1);
- every other Monte Carlo kind: ``Truth_weight`` times the dataset scale: ``metadata["weight"]``
  if given, else ``geometry.N_POT / metadata["pot"]`` (the POT scaling of the sample to the
  1.4e17 POT of 2021) if given, else 1.

N-1 counts (``out["nminusone"]``, :meth:`TwoTrackProcessor._nminusone`): per state and per
named cut after the common steps, the events passing every other cut, at the full selection
and in the CR and SR; what the prompt background's region factors need, from the same pass
(the N-1 count of ``veto`` is the selection with the vetoes switched off). Not for blinded
pseudo-data.

Blinding: for ``pseudo_data`` built without ``unblind=True``, an event whose selected
candidate (full selection except the region) falls in the SR or the CR (or, in pi+pi-, the
K_S mass window) is *masked*: it is left out of each final state's last selection step (the
count of selected candidates) and of every histogram filled with selected candidates, no SR or
CR count is made and ``regions`` holds ``None``. The earlier steps (``all`` up to the step
before the last) count every event, masked ones included, as the files do: a count from which
the masked events had been removed at every step would give their number by subtraction from
the entries of the files (which the manifests and the run report state). So the number of
masked events enters only the difference between the last two steps, together with the
rejection of the last cut, which nothing written while blind states (no N-1 counts are made for
blinded pseudo-data). Monte Carlo is never blinded.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import awkward as ak
import hist
import numpy as np
from coffea import processor

from na62dump import codes, finalstates, geometry
from na62dump.errors import InputError
from na62dump.schema import (
    COLLECTION_FIELDS,
    COLLECTIONS,
    check_branches,
    check_finite,
    flat_collection,
    flat_field,
)
from na62dump.selection import (
    association,
    neutrals,
    pid,
    pointing,
    regions,
    timing,
    tracks,
    vertex,
    vetoes,
    volume,
)
from na62dump.selection.config import M_ETA, M_PI0, TRACK_MASS
from na62dump.selection.flat import FlatCollection
from processors.sparse import SparseHist, empty_like

log = logging.getLogger(__name__)

#: State-independent steps of the cutflow after ``all``, in order.
COMMON_STEPS = ("trigger", "two_tracks", "vertex", "fv")

#: Fields read of the collections where not all are needed (the others: every field).
READ_FIELDS = {"LAV": ("time",)}
#: Truth fields read: the generation weight (every Monte Carlo kind) and, for signal, what
#: the truth-binned histograms need.
TRUTH_WEIGHT = "weight"
TRUTH_READ = ("pz", "decayZ", "prodZ", "mass")

#: Dataset kinds the processors know; ``pseudo_data`` is the only one that is blinded.
KINDS = codes.KINDS


@dataclass(frozen=True)
class State:
    """A final state: name, track mass hypothesis (GeV), required track PID, neutrals."""

    name: str
    track_mass: float
    pid: str  #: "electron", "muon", "pion" or "kaon" (both tracks)
    neutrals: bool = False  #: apply the exclusive neutral content of ``name``
    kshort_mask: bool = False  #: mask the K_S window (pi+pi-)

    @classmethod
    def of(cls, fs: finalstates.FinalState) -> State:
        """The selection of a registry final state (:mod:`na62dump.finalstates`)."""
        return cls(fs.key, TRACK_MASS[fs.pid], fs.pid, neutrals=fs.neutrals is not None,
                   kshort_mask=fs.kshort_mask)


def analysis_states(channel: str) -> tuple[State, ...]:
    """The :class:`State` of each final state analysis channel ``channel`` selects."""
    return tuple(State.of(fs) for fs in finalstates.states_of(channel))


# ---------------------------------------------------------------------------------------------
# Histogram templates
# ---------------------------------------------------------------------------------------------
def _axes(states):
    return {
        "state": hist.axis.StrCategory(list(states), name="state", label="final state"),
        "mass": hist.axis.Regular(400, 0.0, 2.0, name="mass", label="m [GeV]"),
        "z_tax": hist.axis.Regular(200, -50.0, 150.0, name="z_tax", label="Z_TAX [m]"),
        "cda_tax": hist.axis.Regular(100, 0.0, 0.5, name="cda_tax", label="CDA_TAX [m]"),
        "z_vtx": hist.axis.Regular(100, 95.0, 195.0, name="z_vtx", label="Z_vertex [m]"),
        "rho_vtx": hist.axis.Regular(60, 0.0, 1.2, name="rho_vtx", label="R_vertex [m]"),
        "pid": hist.axis.Boolean(name="pid", label="PID required"),
        "p": hist.axis.Regular(100, 0.0, 400.0, name="p", label="track p [GeV]"),
        "eop": hist.axis.Regular(120, 0.0, 1.2, name="eop", label="E/p"),
        "dt": hist.axis.Regular(100, -5.0, 5.0, name="dt", label="t+ - t- [ns]"),
    }


#: Truth binning of the signal histograms: p_z log-spaced 0.01-400 GeV (meson-decay production
#: makes many soft particles; p_z < 0.01 GeV, backward ones included, lands in the underflow,
#: which is why ``signal["n_generated"]`` also records the total), fine flight distance.
PZ_AXIS = hist.axis.Regular(92, 0.01, 400.0, transform=hist.axis.transform.log, name="pz",
                            label="truth p_z [GeV]")  # fmt: skip
DZ_AXIS = hist.axis.Regular(220, 60.0, 170.0, name="dz", label="truth Z_decay - Z_prod [m]")
PZ_COARSE = hist.axis.Regular(23, 0.01, 400.0, transform=hist.axis.transform.log, name="pz",
                              label="truth p_z [GeV]")  # fmt: skip
DZ_COARSE = hist.axis.Regular(11, 60.0, 170.0, name="dz", label="truth Z_decay - Z_prod [m]")
MREL_AXIS = hist.axis.Regular(120, -0.3, 0.3, name="mrel", label="(m_reco - M) / M")


def build_templates(states):
    """Empty histograms of one dataset (``hists``) and of the signal truth (``signal``).

    The processors take theirs from :func:`templates` (built once per process and final-state
    list, shared, never filled: fills go into :class:`SparseHist` objects)."""
    a = _axes(states)
    w = hist.storage.Weight()
    hists = {
        "mass": hist.Hist(a["state"], a["mass"], storage=w),
        "pointing": hist.Hist(a["state"], a["z_tax"], a["cda_tax"], storage=w),
        "vertex": hist.Hist(a["state"], a["z_vtx"], a["rho_vtx"], a["pid"], storage=w),
        "momentum": hist.Hist(a["state"], a["p"], storage=w),
        "eop": hist.Hist(a["state"], a["eop"], storage=w),
        "dt": hist.Hist(a["state"], a["dt"], storage=w),
    }
    signal = {
        "generated": hist.Hist(PZ_AXIS, DZ_AXIS, storage=w),
        "accepted": hist.Hist(a["state"], PZ_AXIS, DZ_AXIS, storage=w),
        "resolution": hist.Hist(a["state"], PZ_COARSE, DZ_COARSE, MREL_AXIS, storage=w),
    }
    return hists, signal


@functools.cache
def templates(states: tuple[str, ...]):
    """:func:`build_templates` of ``states``, built once per process.

    The processors look their templates up here instead of holding them: coffea pickles the
    processor for every chunk, and the empty histograms are megabytes (11 MB for hadronic).
    """
    return build_templates(list(states))


# ---------------------------------------------------------------------------------------------
# Per-track quantities (flat numpy arrays, see na62dump.selection.flat)
# ---------------------------------------------------------------------------------------------
def good_tracks(trk, trigger_time, cuts):
    """Track time (ns) and the ``good`` selection of every track (flat arrays).

    ``trk``: the ``Track`` collection as a :class:`~na62dump.selection.flat.FlatCollection`;
    ``trigger_time``: one value per event. Good: quality, acceptance, in time with the
    trigger, isolated.
    """
    t = timing.track_time(trk)
    per_track_trigger = np.repeat(trigger_time, trk.counts)
    good = (
        tracks.passes_quality(trk, cuts)
        & tracks.in_acceptance(trk)
        & timing.in_trigger_time(trk, per_track_trigger, cuts.trigger_window_ns)
        & tracks.isolated_flat(trk, cuts)
    )
    return t, good


def vertex_track_table(trk, t, index, event, cols, cuts):
    """Kinematics, E/p, MUV3 association, PID and veto flags of the tracks ``index`` (flat
    indices, ``event`` their event): computed only for the tracks of a selected vertex."""
    sub = FlatCollection(np.array([0, len(index)]), {k: a[index] for k, a in trk.fields.items()})
    t = t[index]
    px, py, pz = (sub[k].astype(np.float64) for k in ("px", "py", "pz"))
    p = np.sqrt(px**2 + py**2 + pz**2)
    lkr_x, lkr_y = tracks.extrapolate_down(sub, geometry.LKR_Z)
    muv3_x, muv3_y = tracks.extrapolate_down(sub, geometry.MUV3_Z)
    e_lkr, _ = association.lkr_energy_flat(
        lkr_x, lkr_y, t, event, cols["Cluster"],
        cuts.lkr_match_distance_m, cuts.lkr_match_time_ns, cuts.lkr_energy_min_gev,
    )  # fmt: skip
    eop = e_lkr / p
    has_muv3 = association.muv3_associated_flat(
        muv3_x, muv3_y, t, p, event, cols["MUV3"],
        cuts.muv3_radius_const_m, cuts.muv3_radius_ms_m_gev, cuts.muv3_time_ns,
    )  # fmt: skip
    electron = pid.is_electron(
        eop, p, has_muv3, cuts.electron_eop_min, cuts.electron_eop_max,
        cuts.electron_eop_pivot_gev, cuts.electron_eop_slope_per_gev,
    )  # fmt: skip
    muon = pid.is_muon(eop, has_muv3, cuts.muon_eop_max)
    m_rich = pid.rich_mass(sub.richRadius, p)
    kaon = pid.is_kaon(sub.hasRich, m_rich, has_muv3, electron, cuts.rich_kaon_mass_window_gev)
    pion = pid.is_pion(eop, sub.hcalEnergy, p, has_muv3, electron, kaon, cuts.pion_calo_eop_min)
    a0x, a0y = tracks.extrapolate_up(sub, geometry.ANTI0_Z)
    anti0 = vetoes.anti0_vetoed_flat(a0x, a0y, t, event, cols["ANTI0"], cuts.anti0_distance_m,
                                     cuts.anti0_window_ns)  # fmt: skip
    lav = vetoes.lav_vetoed_flat(t, event, cols["LAV"], cuts.lav_window_ns)
    return {
        "px": px, "py": py, "pz": pz, "p": p, "eop": eop, "muv3": has_muv3,
        "electron": electron, "muon": muon, "pion": pion, "kaon": kaon,
        "lav_veto": lav, "anti0_veto": anti0,
    }  # fmt: skip


def _scatter(values, rows, n, fill):
    """An array of ``n`` values, ``fill`` except ``values`` at ``rows``."""
    out = np.full(n, fill, dtype=type(fill))
    out[rows] = values
    return out


class Fills:
    """Histogram fills collected per histogram, then made at once as a :class:`SparseHist`
    (the filled bins only), histograms without entries left out.

    A chunk touches a few hundred bins of histograms of up to ~10^5 bins per state; dense
    copies of them (megabytes of fresh memory per chunk) cost more than the selection on the
    small files of the campaign. :func:`finalize` makes each dataset's sum dense. Entries
    keep their order, so the result is the same to the last bit as filling ``hist.Hist``
    objects call by call (``tests/processors/test_sparse.py``).

    >>> import hist
    >>> f = Fills()
    >>> f.add("h", state="a", x=np.array([0.5, 1.5]), weight=np.ones(2))
    >>> f.add("h", state="b", x=np.array([0.5]), weight=np.ones(1))
    >>> t = hist.Hist(hist.axis.StrCategory(["a", "b"], name="state"),
    ...               hist.axis.Regular(2, 0, 2, name="x"), storage=hist.storage.Weight())
    >>> f.into({"h": t, "empty": t})["h"].dense(t).values().tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """

    def __init__(self):
        self._rows: dict[str, list[dict]] = {}

    def add(self, name, **args):
        """Queue a fill of histogram ``name`` (``weight`` is required: it sets the length)."""
        self._rows.setdefault(name, []).append(args)

    def into(self, templates):
        """``{name: SparseHist}`` of the ``templates`` (``{name: Hist}``) that receive
        entries; :func:`finalize` restores the others, empty."""
        out = {}
        for name, rows in self._rows.items():
            rows = [r for r in rows if len(r["weight"])]
            if rows:
                out[name] = SparseHist.fill(templates[name], rows)
        return out


class Selection(dict):
    """Named per-event boolean masks: a dict with the ``add`` and ``all`` of coffea's
    ``PackedSelection`` (which costs ~0.3 ms per call, a lot on small chunks).

    >>> sel = Selection()
    >>> sel.add("a", [True, True, False]); sel.add("b", [True, False, True])
    >>> sel.all("a", "b").tolist(), sel.all("b").tolist()
    ([True, False, False], [True, False, True])
    """

    def add(self, name, mask):
        """Record the mask ``name`` (one boolean per event)."""
        self[name] = np.asarray(mask, dtype=bool)

    def all(self, *names):
        """Events passing every named mask."""
        return np.logical_and.reduce([self[n] for n in names])


def trigger_branch(meta):
    """The trigger bit a dataset is selected with: ``metadata["trigger"]`` if given, else Q1
    for ``q1_control`` samples and H2 for everything else."""
    default = "Q1" if meta.get("kind") == "q1_control" else "H2"
    return f"trig_{meta.get('trigger', default)}"


def dataset_scale(meta):
    """Scale of a background Monte Carlo sample (see the module docstring)."""
    if meta.get("weight") is not None:
        return float(meta["weight"])
    if meta.get("pot"):
        return geometry.N_POT / float(meta["pot"])
    return 1.0


# ---------------------------------------------------------------------------------------------
# The processor
# ---------------------------------------------------------------------------------------------
class TwoTrackProcessor(processor.ProcessorABC):
    """Base of the channel processors; subclasses set ``channel``, ``cuts_class``, ``states``.

    Parameters
    ----------
    cuts : the channel's cut object (default: the published values).
    unblind : fill and count the SR and CR of pseudo-data (recorded in the output).
    """

    channel: str = ""
    cuts_class: type = type(None)
    states: tuple[State, ...] = ()

    def __init__(self, cuts=None, unblind: bool = False):
        if cuts is None:
            cuts = self.cuts_class()
        if not isinstance(cuts, self.cuts_class):
            raise InputError(
                f"{type(self).__name__}: cuts must be a {self.cuts_class.__name__}, "
                f"got {type(cuts).__name__}"
            )
        self.cuts = cuts
        self.unblind = bool(unblind)

    @property
    def _hists(self):
        """Empty per-dataset histograms (shared templates, see :func:`templates`)."""
        return templates(tuple(s.name for s in self.states))[0]

    @property
    def _signal(self):
        """Empty signal-truth histograms (shared templates, see :func:`templates`)."""
        return templates(tuple(s.name for s in self.states))[1]

    def branches(self, meta) -> tuple[str, ...]:
        """The ntuple branches :meth:`process` reads for a dataset with metadata ``meta``.

        The runner has coffea preload exactly these in one bulk read per chunk; the processor
        tests check that a chunk reads nothing else and all of them. The input checks
        (:func:`na62dump.runner.required_branches`) ask for the whole ntuple contract.
        """
        kind = meta.get("kind")
        out = [trigger_branch(meta), "trigger_time"]
        for c in COLLECTIONS:
            out += [f"n{c}", *(f"{c}_{f}" for f in READ_FIELDS.get(c, COLLECTION_FIELDS[c]))]
        if kind != "pseudo_data":  # Monte Carlo (a missing Truth record is not read)
            out.append(f"Truth_{TRUTH_WEIGHT}")
        if kind in ("signal", None):
            out += [f"Truth_{f}" for f in TRUTH_READ]
        if kind == "pseudo_data" and self.unblind:  # the candidate table
            out += ["run", "burst", "event"]
        return tuple(out)

    # -- helpers ---------------------------------------------------------------------------
    def _prefix(self, state, step):
        return step if len(self.states) == 1 else f"{state.name}:{step}"

    # -- processing --------------------------------------------------------------------------
    def process(self, events):
        """Select one chunk; returns ``{dataset: output}`` (see the module docstring)."""
        meta = dict(events.metadata)
        dataset = meta.get("dataset", "unknown")
        kind = meta.get("kind", "signal" if "Truth" in events.fields else "pseudo_data")
        if kind not in KINDS:
            raise InputError(f"dataset {dataset!r}: unknown kind {kind!r} (known: {KINDS})")
        is_signal = kind == "signal"
        blind = kind == "pseudo_data" and not self.unblind
        source = meta.get("filename", dataset)
        check_branches(events, truth=is_signal, source=source)
        cols = {c: flat_collection(events, c, fields=READ_FIELDS.get(c)) for c in COLLECTIONS}
        # every float branch this chunk reads (the truth weight included): NaN/inf is bad input
        check_finite(events, source=source, collections=cols,
                     branches=self.branches({**meta, "kind": kind}))  # fmt: skip

        weight = self._weights(events, kind, meta)
        trigger = flat_field(events[trigger_branch({**meta, "kind": kind})]).astype(bool)
        # Everything after the trigger runs on the events that fired it (a fifth of a signal
        # sample): the same values in the same order as on the whole chunk, a fraction of
        # the work.
        fired = np.flatnonzero(trigger)
        cols = {c: coll.take(fired) for c, coll in cols.items()}
        sel, v, lkr_xy = self._two_track_selection(flat_field(events.trigger_time)[fired], cols)
        per_state = self._states(cols, sel, v, lkr_xy)
        keep = np.ones(len(fired), bool)  # per fired event: not masked by the blinding
        if blind:
            for d in per_state.values():
                keep &= ~d["masked"]

        w_fired = weight[fired]
        out = {
            "kind": {kind},
            "cutflow": self._cutflow(trigger, fired, sel, per_state, weight, w_fired, keep,
                                     blind),  # fmt: skip
            "hists": self._fill_hists(sel, per_state, v, w_fired, keep),
        }
        if not blind:  # blinded pseudo-data: N-1 counts would open the regions
            out["nminusone"] = self._nminusone(sel, per_state, w_fired)
        if is_signal:
            out["signal"] = self._fill_signal(events.Truth, fired, per_state, weight)
        if kind == "pseudo_data" and not blind:
            count = {s.name: {"CR": int(np.count_nonzero(d["cr"])),
                              "SR": int(np.count_nonzero(d["sr"]))}
                     for s, d in per_state.items()}  # fmt: skip
            out["regions"] = {r: sum(c[r] for c in count.values()) for r in ("CR", "SR")}
            if len(self.states) > 1:
                out["regions_by_state"] = count
            out["candidates"] = self._candidates(events, fired, per_state, v)
        return {dataset: out}

    @staticmethod
    def _weights(events, kind, meta):
        """Per-event weight of the cutflow's ``weighted`` column and of the histograms."""
        n = len(events)
        if kind == "pseudo_data":
            return np.ones(n)
        has_truth = "Truth" in events.fields
        gen = flat_field(events.Truth[TRUTH_WEIGHT]).astype(float) if has_truth else np.ones(n)
        return gen * (1.0 if kind == "signal" else dataset_scale(meta))

    def _two_track_selection(self, trigger_time, cols):
        """Tracks, the single vertex, FV and vetoes (state independent) of the events that
        fired the trigger (``cols``: their collections; ``trigger_time``: theirs).

        Returns the :class:`Selection` (``"trigger"`` true for all of them), ``v`` (per-event
        vertex and vertex-track arrays, NaN / False without a single vertex) and the tracks'
        LKr positions (for photons). Track association and PID are computed only for the two
        tracks of a single vertex.
        """
        cuts = self.cuts
        trk = cols["Track"]
        n = len(trk.offsets) - 1
        t, good = good_tracks(trk, trigger_time, cuts)
        has_one, vtx = vertex.single_vertex_flat(trk, t, good, cuts.vertex_dt_max_ns,
                                                 cuts.vertex_cda_max_m)  # fmt: skip
        rows = vtx["event"]
        v = {k: _scatter(vtx[k], rows, n, np.nan) for k in ("x", "y", "z", "time", "dt")}
        v["rho"] = np.hypot(v["x"], v["y"])
        both = vertex_track_table(trk, t, np.concatenate([vtx["i1"], vtx["i2"]]),
                                  np.concatenate([rows, rows]), cols, cuts)  # fmt: skip
        n_vtx = len(rows)
        for i, part in ((1, slice(0, n_vtx)), (2, slice(n_vtx, None))):
            for k, a in both.items():
                fill = False if a.dtype == bool else np.nan
                v[f"{k}{i}"] = _scatter(a[part], rows, n, fill)

        sel = Selection()
        sel.add("trigger", np.ones(n, bool))
        sel.add("two_tracks", np.bincount(trk.event[good], minlength=n) >= 2)
        sel.add("vertex", has_one)
        sel.add("fv", np.asarray(volume.in_fv(v["x"], v["y"], v["z"], cuts)) & has_one)
        vetoed = np.zeros(n, bool)
        for flag, field in ((cuts.veto_lav, "lav_veto"), (cuts.veto_anti0, "anti0_veto")):
            if flag:
                vetoed |= v[f"{field}1"] | v[f"{field}2"]
        sel.add("veto", ~vetoed & has_one)
        lkr_xy = tracks.extrapolate_down(trk, geometry.LKR_Z)
        return sel, v, lkr_xy

    def _states(self, cols, sel, v, lkr_xy):
        """Per state: PID, neutrals, the X candidate, its pointing and region."""
        cuts = self.cuts
        photons = pairs = None
        if any(s.neutrals for s in self.states):
            photons = neutrals.photon_candidates_flat(cols["Cluster"], *lkr_xy,
                                                      cols["Track"].offsets, v, cuts)  # fmt: skip
            if any(sum(neutrals.NEUTRAL_CONTENT[s.name][1:]) for s in self.states):
                pairs = neutrals.gamma_gamma_pairs_flat(photons, cuts.photon_separation_min_m)
        has_one = sel.all("vertex")
        per_state = {}
        for s in self.states:
            ok_pid = v[f"{s.pid}1"] & v[f"{s.pid}2"]
            sel.add(f"pid_{s.name}", ok_pid)
            steps = [*COMMON_STEPS, f"pid_{s.name}", "veto"]
            m2 = s.track_mass**2
            e = np.sqrt(v["p1"] ** 2 + m2) + np.sqrt(v["p2"] ** 2 + m2)
            px, py, pz = (v[f"{k}1"] + v[f"{k}2"] for k in ("px", "py", "pz"))
            if s.neutrals:
                found, system = neutrals.neutral_system_flat(s.name, photons, cuts, M_PI0, M_ETA,
                                                             pairs)  # fmt: skip
                sel.add(f"neutrals_{s.name}", found & has_one)
                steps.append(f"neutrals_{s.name}")
                e = e + system["E"]
                px, py, pz = px + system["px"], py + system["py"], pz + system["pz"]
            mass = neutrals.invariant_mass(e, px, py, pz)
            with np.errstate(invalid="ignore", divide="ignore"):
                z_tax, cda = pointing.pointing_to_tax(v["x"], v["y"], v["z"], px, py, pz)
            selected = sel.all(*steps)
            in_sr = regions.in_signal_region(z_tax, cda, cuts)
            in_cr = regions.in_control_region(z_tax, cda, cuts)
            sr = selected & in_sr
            cr = selected & in_cr
            masked = sr | cr
            if s.kshort_mask:
                masked = masked | (
                    selected & regions.in_kshort_window(mass, cuts.kshort_window_gev)
                )
            per_state[s] = dict(steps=steps, selected=selected, sr=sr, cr=cr, masked=masked,
                                mass=mass, z_tax=z_tax, cda=cda, pid=ok_pid, in_sr=in_sr,
                                in_cr=in_cr)  # fmt: skip
        return per_state

    def _cutflow(self, trigger, fired, sel, per_state, weight, w_fired, keep, blind):
        """``{step: [events, weighted]}``: ``all`` and ``trigger`` over the chunk (``weight``),
        the later steps over the ``fired`` events (``w_fired``, ``sel``, ``per_state``); the
        blinding (``keep``: not masked) applies to each state's last step only (module
        docstring)."""
        cf = {}

        def count(name, mask, w=w_fired, keep=keep):
            m = mask & keep
            cf[name] = np.array([float(np.count_nonzero(m)), float(w[m].sum())])

        every = np.ones(len(weight), bool)
        every_fired = np.ones(len(fired), bool)
        count("all", every, weight, every)
        count("trigger", trigger, weight, every)
        for i, step in enumerate(COMMON_STEPS[1:], start=2):
            count(step, sel.all(*COMMON_STEPS[:i]), keep=every_fired)
        for s, d in per_state.items():
            n_common = len(COMMON_STEPS)
            state_steps = d["steps"][n_common:]
            for k, step in enumerate(state_steps):
                last = k == len(state_steps) - 1  # the selected candidates: blinded
                count(self._prefix(s, step.split("_")[0]),
                      sel.all(*d["steps"][: n_common + k + 1]),
                      keep=keep if last else every_fired)
            if not blind:
                count(self._prefix(s, "CR"), d["cr"])
                count(self._prefix(s, "SR"), d["sr"])
        return cf

    @staticmethod
    def _nminusone(sel, per_state, w_fired):
        """N-1 counts ``{state: {cut: {"selected" | "CR" | "SR": [events, weighted]}}}``.

        For every named cut of a state after the common steps (``pid``, ``veto`` and, with
        neutrals, ``neutrals``): the events of the ``fired`` ones (weights ``w_fired``)
        passing every step of the state's selection but that cut, at the full selection
        (``selected``) and in the CR and SR. The N-1 count of ``veto`` is what a run with the
        LAV and ANTI0 vetoes switched off counts at the full selection and in the regions (the
        prompt background's region factors, :mod:`na62dump.backgrounds`); not computed for
        blinded pseudo-data.
        """
        n_common = len(COMMON_STEPS)
        out = {}
        for s, d in per_state.items():
            per_cut = {}
            for step in d["steps"][n_common:]:
                others = sel.all(*(x for x in d["steps"] if x != step))
                per_cut[step.split("_")[0]] = {
                    name: np.array([float(np.count_nonzero(m)), float(w_fired[m].sum())])
                    for name, m in (("selected", others), ("CR", others & d["in_cr"]),
                                    ("SR", others & d["in_sr"]))
                }  # fmt: skip
            out[s.name] = per_cut
        return out

    def _fill_hists(self, sel, per_state, v, weight, keep):
        fills = Fills()
        # before the state selection: every event, as the cutflow counts it (see _cutflow)
        vtx_mask = sel.all("trigger", "two_tracks", "vertex")
        for s, d in per_state.items():
            m = keep & d["selected"]
            w = weight[m]
            fills.add("mass", state=s.name, mass=d["mass"][m], weight=w)
            fills.add("pointing", state=s.name, z_tax=d["z_tax"][m], cda_tax=d["cda"][m], weight=w)
            fills.add("dt", state=s.name, dt=v["dt"][m], weight=w)
            for i in (1, 2):
                fills.add("momentum", state=s.name, p=v[f"p{i}"][m], weight=w)
                fills.add("eop", state=s.name, eop=v[f"eop{i}"][m], weight=w)
            for with_pid, mv in ((False, vtx_mask), (True, vtx_mask & d["pid"])):
                fills.add("vertex", state=s.name, z_vtx=v["z"][mv], rho_vtx=v["rho"][mv],
                          pid=with_pid, weight=weight[mv])  # fmt: skip
        return fills.into(self._hists)

    def _fill_signal(self, truth, fired, per_state, weight):
        """Truth histograms: ``generated`` of every event, ``accepted`` and ``resolution``
        of the ``fired`` events in the SR of each state."""
        tpz, tdz, tprod, tmass = (flat_field(truth[k]).astype(float) for k in TRUTH_READ)
        tdz = tdz - tprod
        fills = Fills()
        fills.add("generated", pz=tpz, dz=tdz, weight=weight)
        tpz, tdz, tmass, w_fired = tpz[fired], tdz[fired], tmass[fired], weight[fired]
        for s, d in per_state.items():
            m = d["sr"]
            fills.add("accepted", state=s.name, pz=tpz[m], dz=tdz[m], weight=w_fired[m])
            mrel = (d["mass"][m] - tmass[m]) / tmass[m]
            fills.add("resolution", state=s.name, pz=tpz[m], dz=tdz[m], mrel=mrel,
                      weight=w_fired[m])  # fmt: skip
        sig = fills.into(self._signal)
        sig["n_generated"] = float(weight.sum())
        return sig

    def _candidates(self, events, fired, per_state, v):
        """The unblinded SR and CR candidates (of the ``fired`` events) as a list of records
        (columnar, then listed)."""
        ids = {k: flat_field(events[k]).astype(int)[fired] for k in ("run", "burst", "event")}
        tables = []
        for s, d in per_state.items():
            for region, mask in (("SR", d["sr"]), ("CR", d["cr"])):
                n = int(np.count_nonzero(mask))
                tables.append(ak.zip({
                    **{k: a[mask] for k, a in ids.items()},
                    "state": [s.name] * n, "region": [region] * n,
                    "mass": d["mass"][mask], "z_tax": d["z_tax"][mask],
                    "cda_tax": d["cda"][mask], "dt": v["dt"][mask],
                }))  # fmt: skip
        return [row for t in tables for row in t.to_list()]

    def postprocess(self, accumulator):
        """Turn the accumulated chunks into the ``docs/artefacts.md`` layout (idempotent)."""
        for out in accumulator.values():
            finalize(out, self)
        return accumulator


def _dense(filled, template):
    """The final ``hist.Hist`` of a histogram: ``filled`` made dense (a sum of chunks'
    :class:`SparseHist`), as it is (already final), or empty (never filled)."""
    if isinstance(filled, SparseHist):
        return filled.dense(template)
    return empty_like(template) if filled is None else filled


def finalize(out, proc):
    """Convert one dataset's accumulated output to its final form (in place, idempotent)."""
    kind = out.get("kind")
    if isinstance(kind, set):
        out["kind"] = kind = sorted(kind)[0] if len(kind) == 1 else ",".join(sorted(kind))
    for group, templates in (("hists", proc._hists), ("signal", proc._signal)):
        if group in out:  # chunks leave out the histograms they did not fill (Fills.into)
            filled = out[group]
            out[group] = {k: _dense(filled.get(k), h) for k, h in templates.items()}
            out[group].update({k: x for k, x in filled.items() if k not in templates})
    cf = out["cutflow"]
    if isinstance(cf, dict) and "names" not in cf:
        names = list(cf)
        out["cutflow"] = {
            "names": names,
            "unweighted": [int(round(cf[k][0])) for k in names],
            "weighted": [float(cf[k][1]) for k in names],
        }
    if "nminusone" in out:
        out["nminusone"] = {
            state: {cut: {where: [int(round(c[0])), float(c[1])] for where, c in counts.items()}
                    for cut, counts in cuts.items()}
            for state, cuts in out["nminusone"].items()
        }  # fmt: skip
    if kind == "pseudo_data":
        out["unblinded"] = bool(proc.unblind)
        if not proc.unblind:
            out["regions"] = {"CR": None, "SR": None}
            out.setdefault("candidates", [])
    else:
        out.setdefault("unblinded", False)
    return out
