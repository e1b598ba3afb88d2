"""Iso-CLs contours: closed, or ending on the grid boundary; bad input."""

import numpy as np
import pytest

from na62dump.errors import InputError
from na62dump.stats.contours import contours, is_closed_or_on_boundary

MASS = np.linspace(0.1, 0.5, 21)
EPS = np.geomspace(1e-8, 1e-4, 41)


def _island(center_mass, center_log_eps, half_width):
    mm, le = np.meshgrid(MASS, np.log10(EPS), indexing="ij")
    r = np.hypot((mm - center_mass) / 0.1, (le - center_log_eps) / 1.0)
    return np.minimum(0.1 * np.exp(2.3 * (r - half_width)), 1.0)  # 0.1 on r = half_width


def test_island_inside_the_grid_gives_one_closed_line():
    lines = contours(MASS, EPS, _island(0.3, -6.0, 1.0))
    assert len(lines) == 1
    line = lines[0]
    assert np.allclose(line[0], line[-1])
    assert is_closed_or_on_boundary(line, MASS, EPS)
    # The line is where CLs = 0.1: on the ellipse, in (mass, log10 eps).
    r = np.hypot((line[:, 0] - 0.3) / 0.1, np.log10(line[:, 1]) + 6.0)
    assert np.allclose(r, 1.0, atol=0.05)


def test_region_cut_by_the_grid_edge_ends_on_the_boundary():
    lines = contours(MASS, EPS, _island(0.1, -6.0, 1.0))
    assert len(lines) == 1
    line = lines[0]
    assert not np.allclose(line[0], line[-1])
    assert is_closed_or_on_boundary(line, MASS, EPS)
    assert np.isclose(line[0, 0], MASS[0]) and np.isclose(line[-1, 0], MASS[0])


def test_nothing_excluded_gives_no_line():
    assert contours(MASS, EPS, np.full((21, 41), 0.5)) == []


def test_open_line_inside_the_grid_is_detected():
    line = np.array([[0.2, 1e-6], [0.3, 2e-6]])
    assert not is_closed_or_on_boundary(line, MASS, EPS)


@pytest.mark.parametrize(
    "mass, eps, cls, match",
    [
        (MASS, EPS, np.ones((3, 3)), "shape"),
        (MASS[::-1], EPS, np.ones((21, 41)), "increasing"),
        (MASS, np.linspace(-1, 1, 41), np.ones((21, 41)), "> 0"),
    ],
)
def test_bad_input(mass, eps, cls, match):
    with pytest.raises(InputError, match=match):
        contours(mass, eps, cls)
