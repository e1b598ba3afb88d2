"""Detector response: acceptance, magnet kick, PID observables, vetoes, trigger."""

import awkward as ak
import numpy as np
import pytest

from na62dump import geometry as g
from na62dump.simulation import kinematics as k
from na62dump.simulation.detector import DetectorConfig, simulate_detector

NO_ACC = dict(accidentals=False)


def _single(pdg, charge, p, n=2000, x=0.0, y=0.3, z=150.0, tx=0.0, ty=0.0, mass=None):
    """``n`` events with one particle each, from (x, y, z) with slopes (tx, ty)."""
    mass = {11: k.M_E, 13: k.M_MU, 211: k.M_PI, 321: k.M_K, 22: 0.0}[pdg] if mass is None \
        else mass
    pz = np.full(n, p) / np.sqrt(1 + tx * tx + ty * ty)
    p4 = k.four_momentum(tx * pz, ty * pz, pz, mass)
    origin = np.tile([x, y, z], (n, 1))
    return k.Particles.from_p4(np.arange(n), pdg, charge, p4, origin, 0.0)


def test_output_is_the_ntuple_contract():
    from na62dump.ntuple import COLLECTIONS, EVENT_BRANCHES

    out = simulate_detector(_single(13, 1, 30.0, n=10), 10, np.random.default_rng(1))
    expected = {b for b in EVENT_BRANCHES if b not in ("run", "burst", "event")}
    expected |= {f"{c}_{f}" for c, fields in COLLECTIONS.items() for f in fields}
    assert set(out) == expected
    for v in out.values():
        flat = ak.to_numpy(ak.flatten(v)) if isinstance(v, ak.Array) else v
        assert not np.any(np.isnan(flat.astype(float)))


def test_track_through_beam_hole_is_lost():
    rng = np.random.default_rng(2)
    # along the beam axis: inside the hole of every chamber
    out = simulate_detector(_single(13, 1, 50.0, n=200, y=0.0, x=0.08), 200, rng, **NO_ACC)
    assert ak.sum(ak.num(out["Track_px"])) == 0
    out = simulate_detector(_single(13, 1, 50.0, n=200, y=0.4), 200, rng, **NO_ACC)
    assert ak.all(ak.num(out["Track_px"]) == 1)


def test_track_outside_chambers_is_lost():
    out = simulate_detector(_single(13, 1, 50.0, n=100, y=0.3, ty=0.03), 100,
                            np.random.default_rng(3), **NO_ACC)
    assert ak.sum(ak.num(out["Track_px"])) == 0


@pytest.mark.parametrize("charge", [1, -1])
def test_magnet_kick_sign(charge):
    p = 40.0
    out = simulate_detector(_single(13, charge, p, n=500), 500, np.random.default_rng(4),
                            **NO_ACC)
    tx_down = ak.to_numpy(ak.flatten(out["Track_txDown"]))
    expected = charge * g.MAGNET_PT_KICK_GEV / p
    assert np.sign(np.mean(tx_down)) == charge
    assert abs(np.mean(tx_down) - expected) < 0.02 * abs(expected)
    # the downstream line at STRAW 4 is displaced by the kick over the lever arm
    x_down = ak.to_numpy(ak.flatten(out["Track_xDown"]))
    lever = g.STRAW_Z[3] - g.MAGNET_KICK_Z
    assert abs(np.mean(x_down) - expected * lever) < 1e-3


def test_momentum_resolution():
    p = 50.0
    out = simulate_detector(_single(211, 1, p, n=5000), 5000, np.random.default_rng(5),
                            **NO_ACC)
    px, py, pz = (ak.to_numpy(ak.flatten(out[f"Track_{c}"])) for c in ("px", "py", "pz"))
    prec = np.sqrt(px**2 + py**2 + pz**2)
    rel = prec / p - 1
    assert abs(np.mean(rel)) < 3e-4
    assert np.std(rel) == pytest.approx(g.momentum_resolution(p), rel=0.1)


def _eop(out, p):
    """E/p of the (single) LKr cluster of single-particle events; 0 without cluster."""
    e = ak.to_numpy(ak.fill_none(ak.firsts(out["Cluster_energy"]), 0.0))
    return e / p


def test_lkr_response_by_species():
    rng = np.random.default_rng(6)
    p = 30.0
    e = _eop(simulate_detector(_single(11, -1, p), 2000, rng, **NO_ACC), p)
    assert np.median(e) == pytest.approx(1.0, abs=0.01)
    assert 0.005 < np.std(e[e > 0.9]) < 0.03
    assert 0.005 < np.mean(e < 0.95) < 0.05  # bremsstrahlung tail
    mu = _eop(simulate_detector(_single(13, -1, p), 2000, rng, **NO_ACC), p)
    assert np.all(mu < 0.2) and 0.5 < np.mean(mu) * p < 1.0
    pi = _eop(simulate_detector(_single(211, -1, p, n=20000), 20000, rng, **NO_ACC), p)
    assert 0.3 < np.mean(pi) < 0.6
    misid = np.mean((pi > 0.95) & (pi < 1.05))
    assert 0.001 < misid < 0.01


def test_muv3_for_muons_not_pions():
    rng = np.random.default_rng(7)
    mu = simulate_detector(_single(13, 1, 20.0, n=5000), 5000, rng, **NO_ACC)
    assert np.mean(ak.to_numpy(ak.num(mu["MUV3_x"])) > 0) > 0.98
    pi = simulate_detector(_single(211, 1, 20.0, n=20000), 20000, rng, **NO_ACC)
    frac = np.mean(ak.to_numpy(ak.num(pi["MUV3_x"])) > 0)
    assert 0.005 < frac < 0.05  # punch-through and decays in flight


def test_rich_separates_kaons_from_pions():
    rng = np.random.default_rng(8)
    for p in (60.0, 80.0):
        rk = ak.to_numpy(ak.flatten(simulate_detector(_single(321, 1, p), 2000, rng,
                                                      **NO_ACC)["Track_richRadius"]))
        rp = ak.to_numpy(ak.flatten(simulate_detector(_single(211, 1, p), 2000, rng,
                                                      **NO_ACC)["Track_richRadius"]))
        rk, rp = rk[rk > 0], rp[rp > 0]
        assert len(rk) > 100 and len(rp) > 1000
        assert np.max(rk) < np.min(rp)
    # below the kaon threshold (~44 GeV) there is no kaon ring at 30 GeV
    out = simulate_detector(_single(321, 1, 30.0, n=500), 500, rng, **NO_ACC)
    assert not ak.any(out["Track_hasRich"])


def test_lav_hit_and_absorption_of_photons():
    rng = np.random.default_rng(9)
    # a photon from Z = 110 m at 6 mrad: at LAV1 (121 m) R = 0.066 + ... hits LAV2-5 ring
    out = simulate_detector(_single(22, 0, 5.0, n=1000, y=0.0, z=110.0, ty=0.04), 1000, rng,
                            **NO_ACC)
    n_lav = ak.to_numpy(ak.num(out["LAV_station"]))
    assert np.mean(n_lav == 1) > 0.97
    assert ak.sum(ak.num(out["Cluster_energy"])) == 0


def test_anti0_hit_for_charged_crossing():
    rng = np.random.default_rng(10)
    out = simulate_detector(_single(13, 1, 50.0, n=1000, y=0.3, z=95.0), 1000, rng, **NO_ACC)
    assert np.mean(ak.to_numpy(ak.num(out["ANTI0_x"])) == 1) > 0.98
    y = ak.to_numpy(ak.flatten(out["ANTI0_y"]))
    assert abs(np.mean(y) - 0.3) < 2e-3


def test_accidental_random_veto_rates():
    cfg = DetectorConfig()
    n = 20000
    out = simulate_detector(k.Particles.empty(), n, np.random.default_rng(11), cfg=cfg)
    t = out["LAV_time"]
    p_lav = np.mean(ak.to_numpy(ak.any(np.abs(t) < 5.0, axis=1)))
    assert 0.01 < p_lav < 0.03
    ta = out["ANTI0_time"]
    near = (np.abs(ta) < 5.0) & (np.hypot(out["ANTI0_x"], out["ANTI0_y"]) < 0.2)
    p_a0 = np.mean(ak.to_numpy(ak.any(near, axis=1)))
    assert 0.005 < p_a0 < 0.03
    assert not np.any(out["trig_H2"])


def test_trigger_bits_and_time():
    rng = np.random.default_rng(12)
    n = 3000
    p4 = k.four_momentum(np.zeros(2 * n), np.zeros(2 * n), np.full(2 * n, 40.0), k.M_MU)
    origin = np.tile([0.0, 0.0, 150.0], (2 * n, 1))
    origin[:n, 1], origin[n:, 1] = 0.3, -0.3
    ev = np.concatenate([np.arange(n), np.arange(n)])
    t = np.concatenate([np.zeros(n), np.full(n, 2.0)])
    parts = k.Particles.from_p4(ev, 13, np.repeat([1, -1], n), p4, origin, t)
    out = simulate_detector(k.Particles.concat([parts]), n, rng, **NO_ACC)
    assert np.mean(out["trig_H2"]) > 0.97
    assert np.mean(out["trigger_time"][out["trig_H2"]]) == pytest.approx(1.0, abs=0.05)
    # Q1: one CHOD signal, downscaled by 20
    assert 0.03 < np.mean(out["trig_Q1"]) < 0.07
    # single muons: no H2; the control trigger needs more than a MIP in the LKr
    single = simulate_detector(_single(13, 1, 40.0, n=2000), 2000, rng, **NO_ACC)
    assert not np.any(single["trig_H2"]) and np.mean(single["trig_control"]) < 0.1
    elec = simulate_detector(_single(11, 1, 40.0, n=200), 200, rng, **NO_ACC)
    assert np.mean(elec["trig_control"]) > 0.95


def test_deterministic():
    parts = _single(211, 1, 30.0, n=300)
    a = simulate_detector(parts, 300, np.random.default_rng(13))
    b = simulate_detector(parts, 300, np.random.default_rng(13))
    for key in a:
        assert ak.all(a[key] == b[key]) if isinstance(a[key], ak.Array) else \
            np.array_equal(a[key], b[key])


def test_event_time_order_equals_lexsort():
    """The numba ordering of the trigger equals np.lexsort((t, ev)), ties included."""
    from na62dump.simulation.detector import _sort_within_events

    rng = np.random.default_rng(4)
    for size in (0, 1, 7, 5000):
        ev = rng.integers(0, max(size // 3, 1), size)
        t = np.round(rng.normal(0.0, 2.0, size), 1)  # many exact ties
        by_event = np.argsort(ev, kind="stable")
        order = _sort_within_events(ev[by_event], t, by_event)
        assert np.array_equal(order, np.lexsort((t, ev)))


def test_plane_crossings_equal_the_numpy_lines():
    """The compiled crossing points are bit-identical to the straight-line formulas."""
    from na62dump.simulation.detector import _plane_positions

    rng = np.random.default_rng(5)
    n = 1000
    x0, y0 = rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)
    z0 = rng.uniform(100.0, 180.0, n)
    tx, ty, txd = (rng.normal(0, 0.01, n) for _ in range(3))
    planes = np.array([g.ANTI0_Z, g.STRAW_Z[0], g.LKR_Z, g.MUV3_Z])
    rows = np.arange(n)
    xs, ys = _plane_positions(rows, x0, y0, z0, tx, ty, txd, g.MAGNET_KICK_Z, planes)
    for k_, z in enumerate(planes):
        if z <= g.MAGNET_KICK_Z:
            x = x0 + tx * (z - z0)
        else:
            x = x0 + tx * (g.MAGNET_KICK_Z - z0) + txd * (z - g.MAGNET_KICK_Z)
        assert np.array_equal(xs[k_], x)
        assert np.array_equal(ys[k_], y0 + ty * (z - z0))


def test_compiled_lines_equal_the_numpy_formulas():
    """Momentum, velocity, slopes and time factor of the compiled pass are bit-identical to
    the documented numpy expressions (zero energy, backward and late particles included)."""
    from na62dump.simulation.detector import _lines

    rng = np.random.default_rng(6)
    n = 2000
    px, py = rng.normal(0, 0.3, n), rng.normal(0, 0.3, n)
    pz = rng.normal(20.0, 30.0, n)
    e = np.sqrt(px * px + py * py + pz * pz + 0.14**2) * (rng.random(n) > 0.05)
    z0 = rng.uniform(100.0, 200.0, n)
    charge = rng.integers(-1, 2, n).astype(np.int8)
    p, beta, follow, tx, ty, txd, pf = _lines(px, py, pz, e, z0, charge, g.STRAW_Z[0],
                                              g.MAGNET_PT_KICK_GEV, k.C_M_PER_NS)
    p_ = np.sqrt(px * px + py * py + pz * pz)
    beta_ = np.where(e > 0, p_ / np.where(e > 0, e, 1.0), 1.0)
    follow_ = (pz > 0) & (z0 < g.STRAW_Z[0])
    pz_safe = np.where(follow_, pz, 1.0)
    tx_, ty_ = np.where(follow_, px / pz_safe, 0.0), np.where(follow_, py / pz_safe, 0.0)
    txd_ = np.where(follow_, (px + charge * g.MAGNET_PT_KICK_GEV) / pz_safe, 0.0)
    pf_ = (np.sqrt(1.0 + tx_ * tx_ + ty_ * ty_) / np.maximum(beta_, 1e-9) - 1.0) / k.C_M_PER_NS
    for ours, ref in ((p, p_), (beta, beta_), (follow, follow_), (tx, tx_), (ty, ty_),
                      (txd, txd_), (pf, pf_)):
        assert np.array_equal(ours, ref)
    assert not follow_.all() and follow_.any()
