import awkward as ak
import numpy as np
import pytest

from na62dump.selection import vertex


def test_closest_approach_of_two_known_lines():
    # line 1 along x through (0, 0, 100); line 2 along y through (1, 0, 100.02)
    s, t, cda, mid = vertex.closest_approach(
        (0.0, 0.0, 100.0), (1.0, 0.0, 0.0), (1.0, 0.0, 100.02), (0.0, 1.0, 0.0)
    )
    assert cda == pytest.approx(0.02)
    assert [float(c) for c in mid] == pytest.approx([1.0, 0.0, 100.01])


def _trk(charge, vtx, slope, z0=183.508):
    x = vtx[0] + slope[0] * (z0 - vtx[2])
    y = vtx[1] + slope[1] * (z0 - vtx[2])
    return {"charge": charge, "x": x, "y": y, "z": z0, "px": 30 * slope[0],
            "py": 30 * slope[1], "pz": 30.0}  # fmt: skip


def test_vertex_of_two_tracks_from_a_point():
    v = (0.1, -0.05, 150.0)
    trk = ak.Array([[_trk(1, v, (0.004, 0.001)), _trk(-1, v, (-0.003, 0.002))]])
    pairs = vertex.two_track_vertices(trk, ak.Array([[1.0, 2.0]]), 5.0, 0.02)
    one, vtx = vertex.single_vertex(pairs)
    assert one.tolist() == [True]
    assert [vtx.x[0], vtx.y[0], vtx.z[0]] == pytest.approx(v, abs=1e-6)
    assert vtx.time[0] == pytest.approx(1.5)
    assert vtx.dt[0] == pytest.approx(-1.0)  # t(+) - t(-)
    assert vtx.cda[0] == pytest.approx(0.0, abs=1e-9)


def test_vertex_requirements_charge_time_cda_and_uniqueness():
    v = (0.0, 0.0, 150.0)
    a, b = _trk(1, v, (0.004, 0.0)), _trk(-1, v, (-0.004, 0.0))
    same = _trk(1, v, (-0.004, 0.0))
    far = _trk(-1, (0.0, 0.5, 150.0), (-0.004, 0.0))  # CDA 0.5 m with a
    third = _trk(-1, v, (0.0, 0.004))  # a second good vertex with a
    events = ak.Array([[a, b], [a, same], [a, far], [a, b], [a, b, third], [a, b, far]])
    times = ak.Array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 6.0], [0, 0, 0], [0, 0, 0]])
    pairs = vertex.two_track_vertices(events, ak.values_astype(times, np.float64), 5.0, 0.02)
    one, _ = vertex.single_vertex(pairs)
    # opposite charge ok / same charge / CDA too large / out of time / two vertices / one vertex
    assert one.tolist() == [True, False, False, False, False, True]
