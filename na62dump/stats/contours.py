"""Exclusion contours: iso-CLs polylines on a (mass, coupling) grid.

``contours(mass, coupling, cls, level=0.1)`` returns the lines where CLs crosses ``level``
(``1 - cl``), computed by contourpy (matplotlib's contouring engine) with marching squares in
(mass, log10 coupling) and returned in (mass, coupling) units. Every returned polyline is
either **closed** (first point == last point) or **open with both ends on the grid boundary**
(an excluded region that extends beyond the scanned grid); :func:`is_closed_or_on_boundary`
checks it. Points with NaN CLs are masked (treated as outside the grid).

>>> import numpy as np
>>> m = np.linspace(0.1, 0.5, 21); eps = np.geomspace(1e-8, 1e-4, 41)
>>> mm, ee = np.meshgrid(m, np.log10(eps), indexing="ij")
>>> cls = np.where((np.abs(ee + 6) < 1.0) & (np.abs(mm - 0.3) < 0.1), 0.01, 0.5)
>>> lines = contours(m, eps, cls)
>>> len(lines), bool(np.allclose(lines[0][0], lines[0][-1]))
(1, True)
"""

from __future__ import annotations

import numpy as np

from na62dump.errors import InputError

__all__ = ["contours", "is_closed_or_on_boundary", "iso_field", "iso_level"]


def iso_field(cls):
    """``log(-ln CLs)``: the field whose level lines are the CLs contours (module docstring),
    decreasing in CLs; CLs = 1 (no signal) maps to a very low value, not -inf.

    >>> round(float(iso_field(0.1) - iso_level(0.1)), 12)
    0.0
    """
    z = np.asarray(cls, dtype=float)
    return np.log(-np.log(np.clip(z, 1e-300, 1.0 - 1e-15)))


def iso_level(level: float) -> float:
    """The value of :func:`iso_field` on the ``CLs = level`` contour (excluded above it)."""
    if not 0.0 < level < 1.0:
        raise InputError(f"contour level must be in (0, 1), got {level!r}")
    return float(np.log(-np.log(level)))


def contours(mass, coupling, cls, level: float = 0.1, *, log_coupling: bool = True):
    """Polylines ``[(n_i, 2) arrays of (mass, coupling)]`` where ``cls == level``.

    Parameters
    ----------
    mass : array (n_mass,)
        Increasing grid of masses.
    coupling : array (n_coupling,)
        Increasing grid of couplings (> 0 with ``log_coupling``).
    cls : array (n_mass, n_coupling)
        CLs values.
    level : float
        Contour level (0.1 for 90% CL).
    log_coupling : bool
        Interpolate in log10 of the coupling (default; the grids are logarithmic).
    """
    import contourpy

    x = np.asarray(mass, dtype=float)
    y = np.asarray(coupling, dtype=float)
    z = np.asarray(cls, dtype=float)
    if z.shape != (len(x), len(y)):
        raise InputError(f"cls has shape {z.shape}; expected (n_mass, n_coupling) = "
                         f"({len(x)}, {len(y)})")
    if np.any(np.diff(x) <= 0) or np.any(np.diff(y) <= 0):
        raise InputError("mass and coupling grids must be strictly increasing")
    if log_coupling:
        if np.any(y <= 0):
            raise InputError("couplings must be > 0 with log_coupling=True")
        y = np.log10(y)
    if len(x) < 2 or len(y) < 2:
        return []
    u0 = iso_level(level)
    gen = contourpy.contour_generator(x, y, np.ma.masked_invalid(iso_field(z).T),
                                      line_type=contourpy.LineType.Separate)
    lines = []
    for line in gen.lines(u0):
        pts = np.array(line, dtype=float)
        if log_coupling:
            pts[:, 1] = 10.0 ** pts[:, 1]
        lines.append(pts)
    return lines


def is_closed_or_on_boundary(line, mass, coupling, rtol: float = 1e-9) -> bool:
    """True if ``line`` is closed or both its ends lie on the boundary of the grid."""
    line = np.asarray(line, dtype=float)
    x = np.asarray(mass, dtype=float)
    y = np.asarray(coupling, dtype=float)
    if np.allclose(line[0], line[-1], rtol=rtol, atol=0):
        return True

    def on_edge(p):
        return (np.isclose(p[0], x[0], rtol=rtol) or np.isclose(p[0], x[-1], rtol=rtol)
                or np.isclose(p[1], y[0], rtol=rtol) or np.isclose(p[1], y[-1], rtol=rtol))

    return bool(on_edge(line[0]) and on_edge(line[-1]))
