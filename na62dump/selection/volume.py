"""Fiducial volumes: the mu+mu- box in the vacuum tube and the e+e- restricted (cone) FV.

>>> import numpy as np
>>> in_box_fv(np.array([0.0, 0.0, 0.7]), np.array([0.0, 0.0, 0.0]),
...           np.array([150.0, 190.0, 150.0]), (105.0, 180.0)).tolist()
[True, False, False]
"""

from __future__ import annotations

import numpy as np

from na62dump import geometry


def in_box_fv(x, y, z, z_range):
    """Z inside ``z_range`` and radius (from the nominal axis) inside the vacuum tube."""
    rho = np.sqrt(x * x + y * y)
    inside_z = (z > z_range[0]) & (z < z_range[1])
    return inside_z & (rho < geometry.vacuum_tube_radius(np.asarray(z)))


def cone_radius(z, z_lo=None):
    """Radius (m) of the e+e- restricted FV at ``z``; 0 outside the cones.

    Cone *k* has its tip at ``CONE_TIP_Z`` on the beam line and base ``CONE_BASES[k]``; it
    bounds the FV from the previous base (LAV5 for the second cone) to its own base. Our
    reading of "union of two cones": the LAV8 cone is wider than the LAV5 cone at every Z, so
    a plain union would make the LAV5 cone irrelevant; the published aim (reject interactions
    in the LAV1-5 material) needs the LAV5 cone upstream of LAV5 and the LAV8 cone downstream.
    """
    z = np.asarray(z, dtype=float)
    tip = geometry.CONE_TIP_Z
    radius = np.zeros_like(z)
    lo = -np.inf if z_lo is None else z_lo
    for z_base, r_base in geometry.CONE_BASES:
        seg = (z > lo) & (z <= z_base)
        radius = np.where(seg, r_base * (z - tip) / (z_base - tip), radius)
        lo = z_base
    return radius


def in_cone_fv(x, y, z, z_range):
    """Inside the e+e- restricted FV (cones around the beam line) and Z inside ``z_range``."""
    bx, by, _ = geometry.BEAM_POINT
    r = np.sqrt((x - bx) ** 2 + (y - by) ** 2)
    inside_z = (z > z_range[0]) & (z < z_range[1])
    return inside_z & (r < cone_radius(np.asarray(z)))


def in_fv(x, y, z, cuts):
    """Dispatch on ``cuts.fv`` (``"box"`` or ``"cones"``) with ``cuts.fv_z_range_m``."""
    if cuts.fv == "cones":
        return in_cone_fv(x, y, z, cuts.fv_z_range_m)
    return in_box_fv(x, y, z, cuts.fv_z_range_m)
