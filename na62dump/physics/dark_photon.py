r"""Minimal dark photon A' (kinetic mixing eps): partial widths, branching ratios, lifetime.

Formulas (GeV units, alpha = alpha(0) = 1/137.036, see :mod:`na62dump.physics.constants`)::

    Gamma(A' -> l+ l-)  = (alpha eps^2 M / 3) (1 + 2 m_l^2/M^2) sqrt(1 - 4 m_l^2/M^2)
    Gamma(A' -> F)      = (alpha eps^2 M / 3) R_F(M^2)          (F hadronic)

with R_F = sigma(e+e- -> F) / sigma_pt and sigma_pt = 4 pi alpha^2 / (3 s) the point-like
mu-pair cross-section (no muon-mass factor): see :mod:`na62dump.physics.vmd` for the per-state
VMD description and the convention, which is DarkCast's (Ilten, Soreq, Williams, Xue,
JHEP 06 (2018) 004). tau+ tau- is open only above 3.55 GeV, outside :data:`MASS_RANGE_GEV`.

Every width is eps^2 times a function of M only: the mass factors are computed once per mass
and broadcast against eps^2, so a (1000 x 1000) grid costs one VMD evaluation on 1000 masses.
``mass`` and ``eps`` follow numpy broadcasting (pass ``mass[:, None]`` and ``eps[None, :]``
for a grid).

Keys of the width / branching-ratio dictionaries: :data:`STATES` = ``ee``, ``mumu``, the
hadronic states of :data:`na62dump.physics.vmd.HADRONIC_STATES` and their sum ``hadrons``
(which is *not* part of the sum of the other keys). Keys that equal a
:attr:`na62dump.codes.Channel.key` mean exactly that final state.

Examples
--------
>>> round(float(ctau_m(0.1, 1e-6)), 3)   # DarkCast: 0.811 m
0.811
>>> br = branching_ratios(0.1)
>>> float(br["ee"]), float(br["mumu"])
(1.0, 0.0)
>>> import numpy as np
>>> total_width(np.array([0.1, 0.5])[:, None], np.array([1e-6, 1e-5])[None, :]).shape
(2, 2)
"""

from __future__ import annotations

import logging

import numpy as np

from na62dump.physics import constants as C
from na62dump.physics import vmd
from na62dump.physics._checks import check_mass, check_nonnegative
from na62dump.physics.decay import ctau_from_width, lifetime_from_width

log = logging.getLogger(__name__)

#: Validity range of the model (GeV): just above the e+e- threshold (at 2 m_e exactly every
#: width vanishes) up to the end of the R description, :data:`na62dump.physics.vmd.E_MAX`.
MASS_RANGE_GEV = (2.0 * C.M_E * (1.0 + 1e-9), vmd.E_MAX)

LEPTONIC_STATES = ("ee", "mumu")
#: Final states whose widths add up to the total width (``hadrons`` is their hadronic sum).
STATES = (*LEPTONIC_STATES, *vmd.HADRONIC_STATES)


def _check_mass(mass) -> np.ndarray:
    return check_mass(mass, MASS_RANGE_GEV, "mass")


def lepton_width_factor(mass, m_lepton):
    """(1 + 2 m_l^2/M^2) sqrt(1 - 4 m_l^2/M^2), 0 below threshold (Gamma_ll / (alpha eps^2 M/3))."""
    x = (m_lepton / np.asarray(mass, dtype=float)) ** 2
    return np.where(x < 0.25, (1.0 + 2.0 * x) * np.sqrt(np.maximum(1.0 - 4.0 * x, 0.0)), 0.0)


def _unit_widths(mass: np.ndarray) -> dict[str, np.ndarray]:
    """Partial widths (GeV) at eps = 1 for already checked masses (every key of STATES)."""
    pref = C.ALPHA_EM * mass / 3.0
    out = {
        "ee": pref * lepton_width_factor(mass, C.M_E),
        "mumu": pref * lepton_width_factor(mass, C.M_MU),
    }
    for key, r in vmd.r_all(mass).items():
        out[key] = pref * r
    return out


def _with_hadrons(widths: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    widths["hadrons"] = sum(widths[k] for k in vmd.HADRONIC_STATES)
    return widths


def partial_widths(mass, eps) -> dict[str, np.ndarray]:
    """Partial widths Gamma(A' -> f) in GeV, broadcasting ``mass`` (GeV) against ``eps``.

    Returns one array per key of :data:`STATES` plus ``hadrons``.

    >>> w = partial_widths(0.3, 1e-6)
    >>> round(float(w["ee"]) * 1e16, 3)   # alpha eps^2 M / 3 (1 + ...) in 1e-16 GeV
    7.297
    """
    m = _check_mass(mass)
    e2 = check_nonnegative(eps, "eps") ** 2
    unit = _unit_widths(m)
    return _with_hadrons({k: v * e2 for k, v in unit.items()})


def total_width(mass, eps):
    """Total width (GeV), ``mass`` broadcast against ``eps``."""
    m = _check_mass(mass)
    e2 = check_nonnegative(eps, "eps") ** 2
    return sum(_unit_widths(m).values()) * e2


def branching_ratios(mass) -> dict[str, np.ndarray]:
    """Branching ratios (independent of eps), keys of :data:`STATES` plus ``hadrons``.

    The sum over :data:`STATES` is 1 at every mass.
    """
    m = _check_mass(mass)
    unit = _unit_widths(m)
    tot = sum(unit.values())
    return _with_hadrons({k: v / tot for k, v in unit.items()})


def ctau_m(mass, eps):
    """Proper decay length c tau in metres (inf for eps = 0)."""
    return ctau_from_width(total_width(mass, eps))


def lifetime_s(mass, eps):
    """Proper lifetime tau in seconds (inf for eps = 0)."""
    return lifetime_from_width(total_width(mass, eps))


def r_ratio(mass):
    """Inclusive R = sigma(e+e- -> hadrons)/sigma_pt at sqrt(s) = ``mass`` (GeV), checked range."""
    return vmd.r_ratio(_check_mass(mass))


def r_exclusive(mass) -> dict[str, np.ndarray]:
    """R per hadronic final state (keys :data:`na62dump.physics.vmd.HADRONIC_STATES`)."""
    return vmd.r_all(_check_mass(mass))
