import awkward as ak
import numpy as np
import pytest

from na62dump import geometry as g
from na62dump.selection import timing, tracks
from na62dump.selection.config import TrackCuts


def _track(**kw):
    base = dict(
        charge=1, px=0.0, py=0.0, pz=50.0, x=0.3, y=0.2, z=g.STRAW_Z[0],
        xDown=0.4, yDown=0.2, txDown=0.0, tyDown=0.0, chi2=1.0, nChambers=4,
    )  # fmt: skip
    base.update(kw)
    return base


def test_extrapolations_follow_the_lines():
    t = ak.Array([_track(px=0.1, pz=50.0, xDown=0.4, txDown=0.01)])
    x_up, y_up = tracks.extrapolate_up(t, g.STRAW_Z[0] - 50.0)
    assert x_up[0] == pytest.approx(0.3 - 0.1)
    assert y_up[0] == pytest.approx(0.2)
    x_dn, _ = tracks.extrapolate_down(t, g.LKR_Z)
    assert x_dn[0] == pytest.approx(0.4 + 0.01 * (g.LKR_Z - g.STRAW_Z[3]))


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, True),
        ({"pz": 9.9}, False),  # p < 10 GeV
        ({"pz": 10.1}, True),
        ({"chi2": 25.0}, False),
        ({"nChambers": 2}, False),
    ],
)
def test_quality(kw, expected):
    assert bool(tracks.passes_quality(ak.Array([_track(**kw)]), TrackCuts())[0]) is expected


def test_quality_threshold_is_configurable():
    t = ak.Array([_track(pz=11.0)])
    assert not bool(tracks.passes_quality(t, TrackCuts(p_min_gev=12.0))[0])


@pytest.mark.parametrize(
    ("x_down", "expected"),
    [(0.4, True), (0.0, False), (0.05, False), (1.08, False), (1.05, True)],
)
def test_acceptance(x_down, expected):
    # parallel track at constant x: inside every detector for 0.15 < x < 1.07 (CHOD outer)
    t = ak.Array([_track(xDown=x_down, yDown=0.0)])
    assert bool(tracks.in_acceptance(t)[0]) is expected


def test_isolation_uses_straw1_and_lkr_distances():
    cuts = TrackCuts(isolation_straw1_m=0.015, isolation_lkr_m=0.10)
    far = [_track(x=0.3, xDown=0.4), _track(x=-0.3, xDown=-0.4)]
    close_straw = [_track(x=0.3, xDown=0.4), _track(x=0.31, xDown=-0.4)]
    close_lkr = [_track(x=0.3, xDown=0.4), _track(x=-0.3, xDown=0.45)]
    alone = [_track()]
    out = tracks.isolated(ak.Array([far, close_straw, close_lkr, alone]), cuts).tolist()
    assert out == [[True, True], [False, False], [False, False], [True]]


def test_track_time_prefers_na48chod_and_trigger_window():
    t = ak.Array(
        [
            {"hasChod": True, "chodTime": 4.0, "hasNa48chod": True, "na48chodTime": 6.0},
            {"hasChod": True, "chodTime": 4.0, "hasNa48chod": False, "na48chodTime": 0.0},
            {"hasChod": False, "chodTime": 0.0, "hasNa48chod": True, "na48chodTime": 1.0},
        ]
    )
    assert timing.track_time(t).tolist() == [6.0, 4.0, 1.0]
    # 5 ns window around trigger time 0; no CHOD signal -> rejected
    assert timing.in_trigger_time(t, 0.0, 5.0).tolist() == [False, True, False]
    assert np.all(timing.in_trigger_time(t, 2.0, 5.0).tolist() == [True, True, False])
