"""Signal and control regions in the (Z_TAX, CDA_TAX) plane; the K_S mass window.

>>> from na62dump.selection.config import EECuts, MuMuCuts
>>> import numpy as np
>>> z, cda = np.array([23.0, 33.0, 45.0, 60.0]), np.array([0.0, 0.02, 0.02, 0.0])
>>> in_signal_region(z, cda, EECuts()).tolist(), in_control_region(z, cda, EECuts()).tolist()
([True, False, False, False], [False, True, True, False])
>>> in_signal_region(np.array([39.0]), np.array([0.019]), MuMuCuts()).tolist()
[True]
"""

from __future__ import annotations

import numpy as np

from na62dump.selection.config import M_KSHORT


def in_signal_region(z_tax, cda_tax, cuts):
    """Inside the channel's SR (``cuts.sr_shape``: box or ellipse, see ``RegionCuts``)."""
    if cuts.sr_shape == "ellipse":
        a, b = cuts.sr_ellipse_axes_m
        return ((z_tax - cuts.sr_ellipse_z0_m) / a) ** 2 + (cda_tax / b) ** 2 < 1.0
    lo, hi = cuts.sr_z_tax_range_m
    return (z_tax > lo) & (z_tax < hi) & (cda_tax < cuts.sr_cda_tax_max_m)


def in_control_region(z_tax, cda_tax, cuts):
    """Inside the CR box (``cr_z_tax_range_m`` x ``CDA_TAX < cr_cda_tax_max_m``), outside SR."""
    lo, hi = cuts.cr_z_tax_range_m
    box = (z_tax > lo) & (z_tax < hi) & (cda_tax < cuts.cr_cda_tax_max_m)
    return box & ~in_signal_region(z_tax, cda_tax, cuts)


def in_kshort_window(mass, window_gev):
    """``|m - m_KS| < window_gev`` (the masked K_S window of pi+pi-)."""
    return np.abs(mass - M_KSHORT) < window_gev
