"""Dark-photon production by proton bremsstrahlung in the TAX (quasi-real A' emission).

Fermi-Weizsacker-Williams splitting function of Blumlein and Brunner (Phys. Lett. B 731 (2014)
320, arXiv:1311.3870, eq. 2-4), as written in ``shared/ANALYSIS.md``: with ``z`` the fraction of
the beam momentum carried by the A' and ``H = p_T^2 + (1 - z) M^2 + z^2 m_p^2``,

    w(z, p_T^2) = eps^2 alpha / (2 pi H) [ (1 + (1-z)^2) / z
                  - 2 z (1-z) ((2 m_p^2 + M^2) / H - 2 z^2 m_p^4 / H^2)
                  + 2 z (1-z) (1 + (1-z)^2) m_p^2 M^2 / H^2 + 2 z (1-z)^2 M^4 / H^2 ],

    dN / dz dp_T^2 = w(z, p_T^2) x sigma_pp(s') / sigma_pp(s) x |F(M^2)|^2   (per POT),

with ``s = 2 m_p E_p`` and ``s' = 2 m_p (E_p - E_A')`` (the same convention for both, so the
ratio is the suppression of the remaining proton's cross-section), ``sigma_pp`` the PDG-style fit
quoted in ANALYSIS.md. In the thick TAX (19.6 interaction lengths) every proton interacts once,
so "per pp interaction" and "per POT" coincide. Only the primary interaction is modelled.

Form factor (option ``form_factor``, :data:`FORM_FACTORS`)
-----------------------------------------------------------
``"none"`` (:data:`DEFAULT_FORM_FACTOR`, ``|F|^2 = 1``) is the published NA62 treatment
(arXiv:2312.12055): it quotes a 1% bremsstrahlung-yield uncertainty dominated by sigma_pp, and
its contours close below 0.55 GeV, which a resonant form factor would not allow.
``"vmd"`` multiplies by the time-like proton form factor of vector-meson dominance
(:func:`form_factor_sq`: x1.05 at 0.1 GeV, x4 at 0.5 GeV, x44 at 0.7 GeV, x6500 at the omega
peak), as some theory papers do (de Niverville et al. 2017; Foroughi-Abari and Ritz; Kyselov and
Ovchynnikov, arXiv:2409.11096; FORESEE): a real theory uncertainty above ~0.4 GeV, offered as a
variation. ``|F(M^2)|^2`` depends on the mass only, so it scales the rate and leaves the (z, p_T)
spectrum, and so the sampler, unchanged.

``z`` is taken as the *longitudinal* momentum fraction, ``p_z = z P_beam`` (GeV); with the
validity cuts 0.1 < z < 0.9 and p_T < 1 GeV (:class:`BremsCuts`) it differs from the fraction
of the total momentum by less than ``p_T^2 / (2 z^2 P^2) < 2e-4``.

>>> round(float(rate_per_pot(0.1)), 5)  # A' per POT at M = 100 MeV, eps = 1 (no form factor)
0.00766
>>> round(float(rate_per_pot(0.1, form_factor="vmd") / rate_per_pot(0.1)), 3)
1.049
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from na62dump import settings
from na62dump.errors import InputError
from na62dump.geometry import PROTON_MOMENTUM_GEV
from na62dump.physics.constants import ALPHA_EM
from na62dump.physics.sampling import E_BEAM_GEV, M_PROTON

log = logging.getLogger(__name__)


#: Time-like proton (Dirac) form factor in extended vector-meson dominance:
#: F(q^2) = sum_V f_V m_V^2 / (m_V^2 - q^2 - i sqrt(q^2) Gamma_V(q^2)), normalised to F(0) = 1.
#: The widths run with q^2 as a P-wave above the lightest hadronic threshold q_th (2 m_pi for
#: the rho family, 3 m_pi for the omega family; a simplification for the latter), see
#: :func:`running_width`; below threshold F is real, so F(0) = 1 exactly.
#: Couplings f_V of Faessler, Fuchs, Krivoruchenko, Martemyanov, J. Phys. G 37 (2010) 015002
#: (as used for proton bremsstrahlung by de Niverville, Chen, Pospelov, Ritz, Phys. Rev. D 95
#: (2017) 035006, app. A); masses and widths (GeV) of rho(770), rho(1450), rho(1700), omega(782),
#: omega(1420), omega(1650) from the PDG 2024 listings. Their sum is 0.999; we divide by it.
FORM_FACTOR_RESONANCES = (
    # (name, f_V, m_V, Gamma_V)
    ("rho(770)", 0.616, 0.7753, 0.1491),
    ("rho(1450)", 0.223, 1.465, 0.400),
    ("rho(1700)", -0.339, 1.720, 0.250),
    ("omega(782)", 1.011, 0.78266, 0.00868),
    ("omega(1420)", -0.881, 1.410, 0.290),
    ("omega(1650)", 0.369, 1.670, 0.315),
)
M_PI_CHARGED = 0.13957039
#: Hadronic threshold (GeV) of each resonance family in :data:`FORM_FACTOR_RESONANCES`.
_THRESHOLD = {"rho": 2.0 * M_PI_CHARGED, "omega": 3.0 * M_PI_CHARGED}


#: Form-factor treatments of :func:`rate_per_pot` (module docstring, "Form factor"); defined in
#: :mod:`na62dump.settings` so that the command line offers them without importing physics.
FORM_FACTORS = settings.BREMS_FORM_FACTORS
#: The published NA62 treatment.
DEFAULT_FORM_FACTOR = settings.DEFAULT_BREMS_FORM_FACTOR


def production_form_factor_sq(mass, form_factor: str = DEFAULT_FORM_FACTOR):
    """The factor ``|F(M^2)|^2`` that ``form_factor`` applies to the rate at ``mass`` (GeV).

    >>> float(production_form_factor_sq(0.7, "none"))
    1.0
    >>> round(float(production_form_factor_sq(0.7, "vmd")))
    44
    """
    if form_factor not in FORM_FACTORS:
        raise InputError(f"brems form factor: {form_factor!r} is not one of "
                         f"{', '.join(FORM_FACTORS)}")
    m = np.asarray(mass, dtype=float)
    return form_factor_sq(m * m) if form_factor == "vmd" else np.ones(m.shape)


@dataclass(frozen=True)
class BremsCuts:
    """Validity region of the FWW splitting function (Blumlein-Brunner): z and p_T (GeV)."""

    z_min: float = 0.1
    z_max: float = 0.9
    pt_max: float = 1.0


DEFAULT_CUTS = BremsCuts()

#: Grid used for the integral and the sampler (alias method): cells in z (linear) and in p_T^2
#: (0, then logarithmic from PT2_GRID_MIN). 1/H varies by < 5 % across a p_T^2 cell.
N_Z_CELLS = 400
N_PT2_CELLS = 300
PT2_GRID_MIN = 1.0e-5


def sigma_pp_mb(s):
    """Total pp cross-section (mb) at ``s`` (GeV^2); fit quoted in ANALYSIS.md (PDG form).

    >>> round(float(sigma_pp_mb(2 * 0.93827209 * 400.0)), 2)
    39.86
    """
    s = np.asarray(s, dtype=float)
    return 35.45 + 0.308 * np.log(s / 28.94) ** 2 - 33.34 * s**-0.545 + 42.53 * s**-0.458


def running_width(q2, m_v, gamma_v, q_threshold):
    """Energy-dependent width (GeV): ``Gamma_V (m_V^2/q^2)^(1/2) (k(q^2)/k(m_V^2))^3``.

    ``k(q^2) = q^2 - q_th^2`` stands for the squared break-up momentum; zero below threshold,
    ``Gamma_V`` at ``q^2 = m_V^2``.
    """
    q2 = np.asarray(q2, dtype=float)
    k = np.clip(q2 - q_threshold**2, 0.0, None) / (m_v**2 - q_threshold**2)
    return gamma_v * np.sqrt(m_v**2 / np.where(q2 > 0.0, q2, 1.0)) * k**1.5


def form_factor_sq(q2):
    """|F(q^2)|^2 of the proton time-like form factor at ``q2 = M^2`` (GeV^2), F(0) = 1."""
    q2 = np.asarray(q2, dtype=float)
    f = np.zeros(q2.shape, dtype=complex)
    norm = 0.0
    for name, f_v, m_v, g_v in FORM_FACTOR_RESONANCES:
        g = running_width(q2, m_v, g_v, _THRESHOLD[name.split("(")[0]])
        f = f + f_v * m_v**2 / (m_v**2 - q2 - 1j * np.sqrt(np.clip(q2, 0.0, None)) * g)
        norm += f_v
    return np.abs(f / norm) ** 2


def splitting_function(z, pt2, mass):
    """FWW splitting function w(z, p_T^2) / eps^2 (1/GeV^2), Blumlein-Brunner eq. above."""
    z = np.asarray(z, dtype=float)
    pt2 = np.asarray(pt2, dtype=float)
    mp2 = M_PROTON**2
    m2 = float(mass) ** 2
    h = pt2 + (1.0 - z) * m2 + z * z * mp2
    omz = 1.0 - z
    bracket = (
        (1.0 + omz**2) / z
        - 2.0 * z * omz * ((2.0 * mp2 + m2) / h - 2.0 * z * z * mp2 * mp2 / h**2)
        + 2.0 * z * omz * (1.0 + omz**2) * mp2 * m2 / h**2
        + 2.0 * z * omz**2 * m2 * m2 / h**2
    )
    return ALPHA_EM / (2.0 * np.pi * h) * bracket


def differential_rate(z, pt2, mass, eps=1.0, form_factor: str = DEFAULT_FORM_FACTOR):
    """dN/dz dp_T^2 (1/GeV^2) per POT: w x sigma_pp(s')/sigma_pp(s) x |F(M^2)|^2 x eps^2.

    ``|F|^2`` is :func:`production_form_factor_sq` of ``form_factor`` (1 for ``"none"``).

    Zero outside the kinematically allowed region (E_A' >= E_p); the validity cuts are *not*
    applied here (see :func:`rate_per_pot`).
    """
    z = np.asarray(z, dtype=float)
    pt2 = np.asarray(pt2, dtype=float)
    pz = z * PROTON_MOMENTUM_GEV
    e_a = np.sqrt(pz * pz + pt2 + float(mass) ** 2)
    s = 2.0 * M_PROTON * E_BEAM_GEV
    s_prime = 2.0 * M_PROTON * (E_BEAM_GEV - e_a)
    ok = s_prime > 0.0
    ratio = np.where(ok, sigma_pp_mb(np.where(ok, s_prime, s)) / sigma_pp_mb(s), 0.0)
    ff = production_form_factor_sq(float(mass), form_factor)
    return eps**2 * splitting_function(z, pt2, mass) * ratio * ff


def _check(mass, cuts: BremsCuts):
    mass = float(mass)
    if not np.isfinite(mass) or mass <= 0.0:
        raise InputError(f"brems: mass must be a positive number (GeV), got {mass!r}")
    if not (0.0 < cuts.z_min < cuts.z_max < 1.0) or not cuts.pt_max > 0.0:
        raise InputError(f"brems: invalid validity cuts {cuts!r}")
    return mass


def _table(mass: float, cuts: BremsCuts):
    """Cell integrals of dN/dz dp_T^2 (eps = 1, no form factor) on the (z, p_T^2) grid.

    Returns (z_edges, pt2_edges, cell integrals flattened z-major, their total).
    Each cell integral is its area times the mean of the density at its four corners.
    """
    z_edges = np.linspace(cuts.z_min, cuts.z_max, N_Z_CELLS + 1)
    pt2_max = cuts.pt_max**2
    lo = min(PT2_GRID_MIN, 1e-3 * pt2_max)
    pt2_edges = np.concatenate(([0.0], np.geomspace(lo, pt2_max, N_PT2_CELLS)))
    dens = differential_rate(z_edges[:, None], pt2_edges[None, :], mass)
    corner_mean = 0.25 * (dens[:-1, :-1] + dens[1:, :-1] + dens[:-1, 1:] + dens[1:, 1:])
    cells = corner_mean * np.diff(z_edges)[:, None] * np.diff(pt2_edges)[None, :]
    return z_edges, pt2_edges, cells.ravel(), float(cells.sum())


def _alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker-Vose alias table of a discrete distribution (one-off, O(N)).

    Drawing a cell then costs O(1): pick ``k`` uniformly, keep it with probability
    ``prob[k]``, else take ``alias[k]``. (A loop over grid cells, not over events.)
    """
    n = weights.size
    scaled = (weights / weights.sum() * n).tolist()
    prob = [1.0] * n
    alias = list(range(n))
    small = [i for i, w in enumerate(scaled) if w < 1.0]
    large = [i for i, w in enumerate(scaled) if w >= 1.0]
    while small and large:
        s, l = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], l
        scaled[l] += scaled[s] - 1.0
        (small if scaled[l] < 1.0 else large).append(l)
    return np.array(prob), np.array(alias, dtype=np.int64)


@functools.lru_cache(maxsize=4096)
def _total(mass: float, cuts: BremsCuts) -> float:
    """Rate per POT at eps = 1 without form factor (cached per mass: one float each)."""
    return _table(mass, cuts)[3]


@functools.lru_cache(maxsize=8)  # ~3 MB per mass: the few masses a simulation job uses
def _sampler_table(mass: float, cuts: BremsCuts):
    z_edges, pt2_edges, cells, _ = _table(mass, cuts)
    prob, alias = _alias_table(cells)
    return z_edges, pt2_edges, prob, alias


def rate_per_pot(mass, eps=1.0, cuts: BremsCuts = DEFAULT_CUTS,
                 form_factor: str = DEFAULT_FORM_FACTOR):
    """Number of A' produced by proton bremsstrahlung per POT, within ``cuts``.

    Parameters
    ----------
    mass : float or array_like
        A' mass(es) in GeV (a loop over masses; each mass's grid integral is cached).
    eps : float
        Kinetic-mixing parameter (the rate scales as eps^2).
    cuts : BremsCuts
        Validity region of the FWW approximation.
    form_factor : {"none", "vmd"}
        Proton form factor (module docstring); ``"none"`` is the published treatment.

    Returns
    -------
    float or numpy.ndarray shaped like ``mass``.
    """
    masses = np.asarray(mass, dtype=float)
    out = np.array([_total(_check(m, cuts), cuts) for m in masses.ravel()])
    out = out.reshape(masses.shape) * float(eps) ** 2
    out = out * production_form_factor_sq(masses, form_factor)
    return float(out) if out.ndim == 0 else out


def sample(mass, n, rng, cuts: BremsCuts = DEFAULT_CUTS):
    """Draw ``n`` A' lab momenta (px, py, pz) in GeV from the bremsstrahlung spectrum.

    A cell of the (z, p_T^2) grid is drawn with its probability (alias method), then the point
    uniformly inside the cell; azimuth uniform; beam along +Z, ``p_z = z P_beam``. The same
    for every form factor (a function of the mass only).

    >>> import numpy as np
    >>> px, py, pz = sample(0.1, 1000, np.random.default_rng(3))
    >>> bool(np.all((pz > 0.1 * 400) & (pz < 0.9 * 400)) and np.all(np.hypot(px, py) < 1.0))
    True
    """
    mass = _check(mass, cuts)
    z_edges, pt2_edges, prob, alias = _sampler_table(mass, cuts)
    n = int(n)
    u = rng.random((4, n))
    # alias draw from one uniform: integer part -> cell, fractional part -> keep-or-alias
    v = u[0] * prob.size
    k = np.minimum(v.astype(np.int64), prob.size - 1)
    cell = np.where(v - k < prob[k], k, alias[k])
    iz, ip = np.divmod(cell, pt2_edges.size - 1)
    z = z_edges[iz] + u[1] * (z_edges[iz + 1] - z_edges[iz])
    pt2 = pt2_edges[ip] + u[2] * (pt2_edges[ip + 1] - pt2_edges[ip])
    pt = np.sqrt(pt2)
    # azimuth phi = 2 pi u3: sin from cos, positive for phi < pi
    cos_phi = np.cos(2.0 * np.pi * u[3])
    sin_phi = np.sqrt(1.0 - cos_phi * cos_phi) * np.where(u[3] < 0.5, 1.0, -1.0)
    return pt * cos_phi, pt * sin_phi, z * PROTON_MOMENTUM_GEV
