"""Particle identification: electron, muon and pion from E/p and MUV3, kaon from the RICH.

All inputs are arrays of per-track quantities: ``eop`` the associated LKr energy over the
momentum (0 without a cluster), ``has_muv3`` the MUV3 association, ``p`` the momentum (GeV).

>>> import numpy as np
>>> electron_eop_min(np.array([100.0, 250.0]), 0.95, 150.0, 0.0013).round(3).tolist()
[0.95, 0.82]
>>> is_electron(np.array([0.97, 0.90]), np.array([50.0, 50.0]), np.array([False, False]),
...             0.95, 1.05, 150.0, 0.0013).tolist()
[True, False]
"""

from __future__ import annotations

import numpy as np

from na62dump import geometry


def electron_eop_min(p, eop_min, pivot_gev, slope_per_gev):
    """(E/p)_min: ``eop_min`` up to ``pivot_gev``, then ``eop_min - slope (p - pivot)``."""
    return eop_min - slope_per_gev * np.maximum(p - pivot_gev, 0.0)


def is_electron(eop, p, has_muv3, eop_min, eop_max, pivot_gev, slope_per_gev):
    """No MUV3 association and (E/p)_min(p) < E/p < eop_max."""
    lo = electron_eop_min(p, eop_min, pivot_gev, slope_per_gev)
    return ~has_muv3 & (eop > lo) & (eop < eop_max)


def is_muon(eop, has_muv3, eop_max):
    """MUV3 association and E/p < eop_max."""
    return has_muv3 & (eop < eop_max)


def rich_mass(radius, p, n_minus_1=geometry.RICH_N_MINUS_1, focal_m=geometry.RICH_FOCAL_LENGTH):
    """Mass (GeV) from the Cherenkov ring radius (m) and the momentum (GeV).

    theta = radius / f, cos(theta) = 1 / (n beta), so m = p sqrt(n^2 cos^2(theta) - 1);
    0 where the ring is larger than the one of a massless particle.

    >>> from na62dump.selection.config import M_KAON
    >>> import numpy as np
    >>> n, p = 1 + 62e-6, 75.0
    >>> beta = p / np.hypot(p, M_KAON)
    >>> r = 17.0 * np.arccos(1 / (n * beta))
    >>> round(float(rich_mass(r, p)), 6)
    0.493677
    """
    n = 1.0 + n_minus_1
    cos = np.cos(radius / focal_m)
    m2 = p * p * (n * n * cos * cos - 1.0)
    return np.sqrt(np.maximum(m2, 0.0))


def is_kaon(has_rich, mass_rich, has_muv3, electron, mass_window):
    """RICH ring with a mass in ``mass_window``, no MUV3 association, not an electron."""
    lo, hi = mass_window
    return has_rich & (mass_rich > lo) & (mass_rich < hi) & ~has_muv3 & ~electron


def is_pion(eop, hcal_energy, p, has_muv3, electron, kaon, calo_eop_min):
    """No MUV3 association, not an electron, not a RICH kaon, and hadronic energy deposited.

    Hadronic energy: ``(E_LKr + E_MUV1+MUV2) / p > calo_eop_min``.
    """
    return ~has_muv3 & ~electron & ~kaon & ((eop * p + hcal_energy) / p > calo_eop_min)
