import numpy as np
import pytest

from na62dump import geometry as g
from na62dump.selection import pointing, regions
from na62dump.selection.config import EECuts, HadronicCuts, MuMuCuts, PiPiCuts


def test_pointing_of_a_line_from_a_known_point():
    # line through (0.1, -0.022 + 0.03, 30) with direction (0.001, 0, 1): closest to the beam
    # line (x=0, y=-0.022) at s where x = 0 -> Z = 30 - 100 = -70, CDA = 0.03
    z_tax, cda = pointing.pointing_to_tax(0.1 + 0.001 * 120, -0.022 + 0.03, 150.0,
                                          0.001, 0.0, 1.0)  # fmt: skip
    assert z_tax == pytest.approx(30.0 - 100.0)
    assert cda == pytest.approx(0.03)


def test_pointing_from_the_beam_point():
    bx, by, bz = g.BEAM_POINT
    d = np.array([0.003, -0.002, 1.0])
    v = np.array([bx, by, bz]) + d * 120.0
    z_tax, cda = pointing.pointing_to_tax(*v, *(50 * d))
    assert z_tax == pytest.approx(bz)
    assert cda == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("cuts", "z", "cda", "sr", "cr"),
    [
        (MuMuCuts(), 6.1, 0.019, True, False),
        (MuMuCuts(), 5.9, 0.019, False, True),
        (MuMuCuts(), 39.9, 0.021, False, True),
        (MuMuCuts(), -4.1, 0.0, False, False),
        (MuMuCuts(), 49.9, 0.149, False, True),
        (MuMuCuts(), 20.0, 0.151, False, False),
        (EECuts(), 23.0, 0.0339, True, False),
        (EECuts(), 33.9, 0.001, True, False),
        (EECuts(), 33.0, 0.020, False, True),  # (10/11)^2 + (20/34)^2 > 1
        (EECuts(), 51.0, 0.0, False, False),
        (PiPiCuts(), 45.0, 0.005, True, False),
        (HadronicCuts(), 0.5, 0.030, False, True),  # (22.5/23)^2 + (30/40)^2 > 1
        (HadronicCuts(), -6.9, 0.1, False, True),
        (HadronicCuts(), 52.9, 0.1, False, True),
        (HadronicCuts(), 53.1, 0.1, False, False),
    ],
)
def test_regions(cuts, z, cda, sr, cr):
    z, cda = np.array([z]), np.array([cda])
    assert bool(regions.in_signal_region(z, cda, cuts)[0]) is sr
    assert bool(regions.in_control_region(z, cda, cuts)[0]) is cr


def test_ellipse_axes_are_configurable():
    z, cda = np.array([23.0]), np.array([0.036])
    assert not regions.in_signal_region(z, cda, EECuts())[0]
    assert regions.in_signal_region(z, cda, EECuts(sr_ellipse_axes_m=(11.0, 0.040)))[0]


def test_kshort_window():
    m = np.array([0.4976 + 0.0056, 0.4976 + 0.0058])
    assert regions.in_kshort_window(m, 0.0057).tolist() == [True, False]
