import awkward as ak
import pytest

from na62dump.selection import association


def _clusters(*items):
    return ak.Array([[{"x": x, "y": y, "time": t, "energy": e} for x, y, t, e in items]])


def test_closest_cluster_in_window():
    cl = _clusters((0.50, 0.0, 0.0, 30.0), (0.53, 0.0, 0.0, 10.0), (0.60, 0.0, 0.0, 50.0))
    e, idx = association.lkr_energy(
        ak.Array([[0.52, 1.0]]), ak.Array([[0.0, 0.0]]), ak.Array([[0.0, 0.0]]), cl,
        max_distance=0.05, max_dt=5.0, min_energy=1.0,
    )  # fmt: skip
    assert e.tolist() == [[10.0, 0.0]]
    assert idx.tolist() == [[1, -1]]


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        ((0.5, 0.0, 4.9, 20.0), 20.0),  # in time
        ((0.5, 0.0, 5.1, 20.0), 0.0),  # out of time
        ((0.5, 0.0, 0.0, 0.9), 0.0),  # below 1 GeV
        ((0.56, 0.0, 0.0, 20.0), 0.0),  # too far
    ],
)
def test_association_windows(cluster, expected):
    e, _ = association.lkr_energy(
        ak.Array([[0.5]]), ak.Array([[0.0]]), ak.Array([[0.0]]), _clusters(cluster),
        max_distance=0.05, max_dt=5.0, min_energy=1.0,
    )  # fmt: skip
    assert e.tolist() == [[expected]]


def test_no_clusters_gives_zero():
    empty = ak.Array([[{"x": 0.0, "y": 0.0, "time": 0.0, "energy": 1.0}]])[:, :0]
    e, idx = association.lkr_energy(
        ak.Array([[0.5]]), ak.Array([[0.0]]), ak.Array([[0.0]]), empty, 0.05, 5.0, 1.0
    )
    assert e.tolist() == [[0.0]] and idx.tolist() == [[-1]]


def test_muv3_radius_depends_on_momentum():
    muv3 = ak.Array([[{"x": 0.5 + 0.25, "y": 0.0, "time": 0.0}]])
    x, y, t = ak.Array([[0.5, 0.5]]), ak.Array([[0.0, 0.0]]), ak.Array([[0.0, 0.0]])
    # R(10 GeV) = 0.15 + 1.5/10 = 0.30 > 0.25; R(50 GeV) = 0.18 < 0.25
    p = ak.Array([[10.0, 50.0]])
    assert association.muv3_associated(x, y, t, p, muv3, 0.15, 1.5, 5.0).tolist() == [[True, False]]
    late = ak.Array([[{"x": 0.5, "y": 0.0, "time": 5.5}]])
    assert association.muv3_associated(x, y, t, p, late, 0.15, 1.5, 5.0).tolist() == [
        [False, False]
    ]
