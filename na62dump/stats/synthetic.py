"""Synthetic but physical expected dark-photon yields, for tests and benchmarks of the scans.

NOT the analysis yields (those come from the processed signal samples, ``na62dump.yields``).
Here ``N_exp(M, eps) = N_POT * P_prod * eps^2 * P_D(M, eps) * BR(A' -> f) * A``, with

- ``P_prod = 7.7e-3`` A' per POT per eps^2 (the bremsstrahlung yield at 100 MeV, ANALYSIS.md,
  held constant in M: a simplification);
- ``P_D`` from :func:`na62dump.physics.decay.prob_decay_in_range` between
  :data:`na62dump.geometry.FV_Z_START` and :data:`~na62dump.geometry.FV_Z_END`, production
  at the TAX (Z = 23 m), a fixed momentum ``momentum_gev`` along Z and the dark photon
  ``c tau`` of :func:`na62dump.physics.dark_photon.ctau_m`;
- the branching ratio of :func:`na62dump.physics.dark_photon.branching_ratios` and a constant
  acceptance ``acceptance``.

>>> import numpy as np
>>> n = synthetic_dark_photon_yields(np.array([0.3]), np.array([1e-8, 1e-6, 1e-3]), "ee")
>>> bool(n[0, 1] > n[0, 0] and n[0, 1] > n[0, 2])  # long-lived / decays early: few events
True
"""

from __future__ import annotations

import numpy as np

from na62dump import geometry
from na62dump.physics import dark_photon
from na62dump.physics.decay import decay_length_z, prob_decay_in_range

#: A' per proton on target per eps^2 (bremsstrahlung at 100 MeV, held constant in M).
PRODUCTION_PER_EPS2 = 7.7e-3
#: Z (m) of the production point (TAX entrance, ANALYSIS.md).
Z_PRODUCTION = 23.0


def synthetic_dark_photon_yields(mass_gev, eps, channel: str, *, n_pot: float = 1.4e17,
                                 momentum_gev: float = 100.0,
                                 acceptance: float = 0.1) -> np.ndarray:
    """Expected events, shape (n_mass, n_eps), of ``channel`` (``"ee"`` or ``"mumu"``)."""
    m = np.asarray(mass_gev, dtype=float)[:, None]
    e = np.asarray(eps, dtype=float)[None, :]
    lam = decay_length_z(momentum_gev, m, dark_photon.ctau_m(m, e))
    p_d = prob_decay_in_range(geometry.FV_Z_START, geometry.FV_Z_END, Z_PRODUCTION, lam)
    br = dark_photon.branching_ratios(m)[channel]
    return n_pot * PRODUCTION_PER_EPS2 * e**2 * p_d * br * acceptance
