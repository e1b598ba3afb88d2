import awkward as ak
import pytest

from na62dump.selection import vetoes


@pytest.mark.parametrize(
    ("hit", "expected"),
    [
        ((0.0, 0.199, 0.0), True),
        ((0.0, 0.201, 0.0), False),  # 200 mm
        ((0.0, 0.1, 4.9), True),
        ((0.0, 0.1, -5.1), False),  # 5 ns
    ],
)
def test_anti0_spatial_and_time_window(hit, expected):
    anti0 = ak.Array([[{"x": hit[0], "y": hit[1], "time": hit[2]}]])
    out = vetoes.anti0_vetoed(ak.Array([[0.0]]), ak.Array([[0.0]]), ak.Array([[0.0]]), anti0,
                              0.2, 5.0)  # fmt: skip
    assert out.tolist() == [[expected]]


def test_lav_any_station_in_time():
    lav = ak.Array([[{"station": 1, "time": 20.0}, {"station": 12, "time": -4.0}], []])
    out = vetoes.lav_vetoed(ak.Array([[0.0, 12.0], [0.0]]), lav, 5.0)
    assert out.tolist() == [[True, False], [False]]
