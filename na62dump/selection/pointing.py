"""Pointing to the TAX: Z_TAX and CDA_TAX of the candidate's line of flight.

The line of flight is (vertex position, total momentum direction); the beam line is parallel
to Z through ``geometry.BEAM_POINT``. Z_TAX is the Z of the point of the beam line closest to
the line of flight, CDA_TAX the distance between the two lines.

>>> z_tax, cda = pointing_to_tax(0.0, -0.022 + 0.01, 150.0, 0.0, 0.0, 1.0)  # parallel, 10 mm
>>> float(cda)
0.01

A candidate flying from (0, -0.022, 23) straight through the vertex points back exactly:

>>> z_tax, cda = pointing_to_tax(0.1, -0.022, 123.0, 0.01, 0.0, 10.0)
>>> round(float(z_tax), 6), round(float(cda), 9)
(23.0, 0.0)
"""

from __future__ import annotations

import numpy as np

from na62dump import geometry


def pointing_to_tax(vx, vy, vz, px, py, pz, beam_point=geometry.BEAM_POINT):
    """``(z_tax, cda_tax)`` in metres, for arrays of vertices and total momenta.

    Minimises the transverse distance between ``V + s p`` and the beam axis; for a momentum
    parallel to the beam (no transverse component) Z_TAX is the vertex Z.
    """
    bx, by, _ = beam_point
    wx, wy = vx - bx, vy - by
    pt2 = px * px + py * py
    safe = np.where(pt2 > 0, pt2, 1.0)
    s = np.where(pt2 > 0, -(wx * px + wy * py) / safe, 0.0)
    z_tax = vz + s * pz
    cda = np.sqrt((wx + s * px) ** 2 + (wy + s * py) ** 2)
    return z_tax, cda
