import numpy as np
import pytest

from na62dump import geometry as g
from na62dump.selection import volume


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ((0.0, 0.0, 150.0), True),
        ((0.0, 0.0, 104.0), False),  # upstream of the FV
        ((0.0, 0.0, 181.0), False),
        ((0.53, 0.0, 150.0), True),  # inside LAV5 aperture 0.5365
        ((0.55, 0.0, 150.0), False),
        ((0.70, 0.0, 170.0), True),  # wider tube downstream of LAV5 (0.7675)
    ],
)
def test_box_fv(point, expected):
    x, y, z = (np.array([c]) for c in point)
    assert bool(volume.in_box_fv(x, y, z, (g.FV_Z_START, g.FV_Z_END))[0]) is expected


def test_cone_radius_at_the_bases_and_apex():
    (z5, r5), (z8, r8) = g.CONE_BASES
    assert volume.cone_radius(np.array([z5]))[0] == pytest.approx(r5)
    assert volume.cone_radius(np.array([z8]))[0] == pytest.approx(r8)
    z = 0.5 * (g.CONE_TIP_Z + z5)
    assert volume.cone_radius(np.array([z]))[0] == pytest.approx(0.5 * r5)
    # just downstream of LAV5 the LAV8 cone applies
    z = z5 + 1.0
    expected = r8 * (z - g.CONE_TIP_Z) / (z8 - g.CONE_TIP_Z)
    assert volume.cone_radius(np.array([z]))[0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("dr", "z", "expected"),
    [
        (0.40, 140.0, True),  # LAV5 cone radius at 140 m: 0.485
        (0.50, 140.0, False),
        (0.55, 160.0, True),  # LAV8 cone at 160 m: 0.666
        (0.70, 160.0, False),
        (0.10, 103.0, False),  # Z outside the FV range
    ],
)
def test_cone_fv_is_around_the_beam_line(dr, z, expected):
    bx, by, _ = g.BEAM_POINT
    x, y, zz = np.array([bx]), np.array([by + dr]), np.array([z])
    assert bool(volume.in_cone_fv(x, y, zz, (g.FV_Z_START, g.FV_Z_END))[0]) is expected
