"""The flat fast path (numpy + offsets) against the straightforward awkward selection.

Every ``*_flat`` function must give exactly what its awkward reference gives, on random
jagged inputs with empty events, single elements and crowded events (positions drawn in a
small area so that associations, vetoes and vertices actually happen).
"""

import awkward as ak
import numpy as np
import pytest

from na62dump import geometry as g
from na62dump.selection import association, flat, neutrals, tracks, vertex, vetoes
from na62dump.selection.config import M_ETA, M_PI0, HadronicCuts
from na62dump.selection.flat import FlatCollection, offsets_from_counts

N_EVENTS = 400


def _collection(rng, max_count, fields):
    """(jagged awkward record array, FlatCollection) with ``fields``: name -> sampler(n)."""
    counts = rng.integers(0, max_count + 1, N_EVENTS)
    n = int(counts.sum())
    values = {k: sampler(n) for k, sampler in fields.items()}
    jagged = ak.unflatten(ak.zip(values), counts)
    return jagged, FlatCollection(offsets_from_counts(counts), values)


def _tracks(rng, max_count=4):
    u = rng.uniform
    return _collection(rng, max_count, {
        "charge": lambda n: rng.choice(np.array([-1, 1], np.int8), n),
        "x": lambda n: u(-0.05, 0.05, n), "y": lambda n: u(-0.05, 0.05, n),
        "z": lambda n: np.full(n, g.STRAW_Z[0]),
        "px": lambda n: u(-0.3, 0.3, n), "py": lambda n: u(-0.3, 0.3, n),
        "pz": lambda n: u(10.0, 80.0, n),
        "xDown": lambda n: u(-0.3, 0.3, n), "yDown": lambda n: u(-0.3, 0.3, n),
        "txDown": lambda n: u(-0.005, 0.005, n), "tyDown": lambda n: u(-0.005, 0.005, n),
    })  # fmt: skip


def _signals(rng, max_count=4, energy=False):
    fields = {
        "x": lambda n: rng.uniform(-0.4, 0.4, n),
        "y": lambda n: rng.uniform(-0.4, 0.4, n),
        "time": lambda n: rng.uniform(-8.0, 8.0, n),
    }
    if energy:
        fields["energy"] = lambda n: rng.uniform(0.0, 30.0, n)
    return _collection(rng, max_count, fields)


def _flat(jagged):
    return ak.to_numpy(ak.flatten(jagged))


@pytest.fixture
def rng():
    return np.random.default_rng(20240917)


def test_cartesian_and_combinations_follow_awkward_order(rng):
    counts = rng.integers(0, 5, 50)
    off = offsets_from_counts(counts)
    items = ak.unflatten(np.arange(counts.sum()), counts)
    _, a, b = flat.cartesian(off[:-1], off[1:], off[:-1], off[1:])
    pairs = ak.flatten(ak.flatten(ak.cartesian([items, items], axis=1, nested=True), axis=2))
    assert (a.tolist(), b.tolist()) == (ak.to_list(pairs["0"]), ak.to_list(pairs["1"]))
    _, a, b = flat.combinations(off[:-1], off[1:])
    pairs = ak.flatten(ak.combinations(items, 2, axis=1))
    assert (a.tolist(), b.tolist()) == (ak.to_list(pairs["0"]), ak.to_list(pairs["1"]))


def test_group_reductions(rng):
    counts = rng.integers(0, 5, 200)
    values = rng.integers(0, 3, counts.sum()).astype(float)  # many ties
    group = np.repeat(np.arange(200), counts)
    jag = ak.unflatten(values, counts)
    local = ak.fill_none(ak.argmin(jag, axis=1), -1).to_numpy()
    starts = offsets_from_counts(counts)[:-1]
    expected = np.where(local >= 0, starts + local, -1)
    assert flat.group_argmin(values, group, 200).tolist() == expected.tolist()
    assert flat.group_min(values, group, 200).tolist() == ak.to_list(
        ak.fill_none(ak.min(jag, axis=1), np.inf)
    )
    mask = values > 1
    assert flat.group_any(mask, group, 200).tolist() == ak.to_list(ak.any(jag > 1, axis=1))


def test_take_events_is_awkward_indexing(rng):
    jagged, coll = _tracks(rng)
    for events in (np.flatnonzero(rng.random(N_EVENTS) < 0.3), np.array([], np.int64),
                   np.arange(N_EVENTS), np.array([5, 2, 2])):  # fmt: skip
        sub = coll.take(events)
        expected = jagged[events]
        assert sub.counts.tolist() == ak.num(expected).tolist()
        for k in ("px", "charge", "xDown"):
            assert sub[k].tolist() == ak.flatten(expected[k]).tolist()
            assert sub[k].dtype == coll[k].dtype


def test_isolation_distance(rng):
    jag, fc = _tracks(rng)
    x, y = tracks.extrapolate_down(jag, g.LKR_Z)
    expected = _flat(tracks.nearest_other_distance(x, y))
    got = tracks.nearest_other_distance_flat(*tracks.extrapolate_down(fc, g.LKR_Z), fc.offsets)
    assert got.tolist() == expected.tolist()


def test_lkr_energy_and_muv3_association(rng):
    jag, fc = _tracks(rng)
    cl_jag, cl = _signals(rng, energy=True)
    mu_jag, mu = _signals(rng)
    x, y = tracks.extrapolate_down(jag, g.LKR_Z)
    t = ak.unflatten(rng.uniform(-5, 5, len(fc.x)), fc.counts)
    p = tracks.momentum(jag)
    args = (0.15, 5.0, 1.0)
    energy, index = association.lkr_energy(x, y, t, cl_jag, *args)
    fx, fy, ft = _flat(x), _flat(y), _flat(t)
    e_flat, i_flat = association.lkr_energy_flat(fx, fy, ft, fc.event, cl, *args)
    assert e_flat.tolist() == _flat(energy).tolist()
    local = _flat(index)
    expected = np.where(local >= 0, cl.starts[fc.event] + local, -1)
    assert i_flat.tolist() == expected.tolist()
    assert np.count_nonzero(i_flat >= 0) > 50  # the test exercises associations

    mu_args = (0.15, 1.5, 5.0)
    has = association.muv3_associated(x, y, t, p, mu_jag, *mu_args)
    has_flat = association.muv3_associated_flat(fx, fy, ft, _flat(p), fc.event, mu, *mu_args)
    assert has_flat.tolist() == _flat(has).tolist()
    assert 50 < np.count_nonzero(has_flat) < len(has_flat)


def test_vetoes(rng):
    _, fc = _tracks(rng)
    a0_jag, a0 = _signals(rng)
    lav_jag, lav = _signals(rng)
    x, y, t = (rng.uniform(-0.3, 0.3, len(fc.x)) for _ in range(3))
    jx, jy, jt = (ak.unflatten(a, fc.counts) for a in (x, y, t))
    expected = _flat(vetoes.anti0_vetoed(jx, jy, jt, a0_jag, 0.2, 5.0))
    got = vetoes.anti0_vetoed_flat(x, y, t, fc.event, a0, 0.2, 5.0)
    assert got.tolist() == expected.tolist() and 0 < got.sum() < len(got)
    expected = _flat(vetoes.lav_vetoed(jt, lav_jag, 1.0))
    got = vetoes.lav_vetoed_flat(t, fc.event, lav, 1.0)
    assert got.tolist() == expected.tolist() and 0 < got.sum() < len(got)


def test_single_vertex(rng):
    jag, fc = _tracks(rng, max_count=5)
    time = rng.uniform(-4, 4, len(fc.x))
    good = rng.uniform(size=len(fc.x)) < 0.8
    jt, jgood = ak.unflatten(time, fc.counts), ak.unflatten(good, fc.counts)
    pairs = vertex.two_track_vertices(jag[jgood], jt[jgood], 5.0, 0.05)
    has_one, vtx = vertex.single_vertex(pairs)
    got_one, got = vertex.single_vertex_flat(fc, time, good, 5.0, 0.05)
    assert got_one.tolist() == ak.to_list(has_one)
    assert 20 < got_one.sum() < N_EVENTS
    ref = vtx[has_one]
    for k in ("x", "y", "z", "cda", "time", "dt"):
        assert got[k].tolist() == ak.to_list(ref[k]), k
    assert (fc.charge[got["i1"]] > 0).all()
    assert got["event"].tolist() == np.flatnonzero(got_one).tolist()
    # the flat indices point to the same tracks as the awkward local indices among the good
    sel_index = ak.local_index(jag.x)[jgood]
    local_i1 = ak.to_numpy(sel_index[has_one][ak.unflatten(ref.i1, 1)][:, 0])
    assert got["i1"].tolist() == (fc.starts[got["event"]] + local_i1).tolist()


def _photon_inputs(rng):
    cuts = HadronicCuts(photon_track_distance_min_m=0.05, photon_separation_min_m=0.02)
    _, trk = _tracks(rng, max_count=3)
    tx, ty = tracks.extrapolate_down(trk, g.LKR_Z)
    cl_jag, cl = _collection(rng, 6, {
        "x": lambda n: rng.uniform(-0.4, 0.4, n), "y": lambda n: rng.uniform(-0.4, 0.4, n),
        "time": lambda n: rng.uniform(-6.0, 6.0, n),
        "energy": lambda n: rng.uniform(0.5, 30.0, n),
    })  # fmt: skip
    has_vtx = rng.uniform(size=N_EVENTS) < 0.8
    vtx = {
        "x": np.where(has_vtx, rng.uniform(-0.1, 0.1, N_EVENTS), np.nan),
        "y": np.where(has_vtx, rng.uniform(-0.1, 0.1, N_EVENTS), np.nan),
        "z": np.where(has_vtx, rng.uniform(110.0, 170.0, N_EVENTS), np.nan),
        "time": np.where(has_vtx, rng.uniform(-1.0, 1.0, N_EVENTS), np.nan),
    }
    ref = neutrals.photon_candidates(cl_jag, ak.unflatten(tx, trk.counts),
                                     ak.unflatten(ty, trk.counts), ak.zip(vtx), cuts)  # fmt: skip
    got = neutrals.photon_candidates_flat(cl, tx, ty, trk.offsets, vtx, cuts)
    return cuts, ref, got


def test_photon_candidates_and_pairs(rng):
    cuts, ref, got = _photon_inputs(rng)
    assert got.counts.tolist() == ak.to_list(ak.num(ref.E))
    for k in ("E", "px", "py", "pz", "x", "y", "time"):
        assert got[k].tolist() == _flat(ref[k]).tolist(), k
    pairs = neutrals.gamma_gamma_pairs(ref, cuts.photon_separation_min_m)
    fpairs = neutrals.gamma_gamma_pairs_flat(got, cuts.photon_separation_min_m)
    for k in ("E", "px", "py", "pz", "mass"):
        assert fpairs[k].tolist() == _flat(pairs[k]).tolist(), k


@pytest.mark.parametrize("state", ["pipi", "pipigamma", "pipipi0", "pipieta", "pipipi0pi0"])
def test_neutral_system(rng, state):
    cuts, ref, got = _photon_inputs(rng)
    # wide windows and extra photons allowed, so that every state finds systems
    cuts = cuts.model_copy(update={"pi0_mass_window_gev": 0.5, "eta_mass_window_gev": 0.5,
                                   "extra_photons_max": 3})  # fmt: skip
    expected = neutrals.neutral_system(state, ref, cuts, M_PI0, M_ETA)
    found, system = neutrals.neutral_system_flat(state, got, cuts, M_PI0, M_ETA)
    present = ~ak.to_numpy(ak.is_none(expected, axis=0))
    assert found.tolist() == present.tolist()
    assert 0 < found.sum()
    for k in ("E", "px", "py", "pz"):
        assert system[k].tolist() == ak.to_list(ak.fill_none(expected[k], 0.0)), k
