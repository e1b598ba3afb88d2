"""Shared, vectorised kinematics for the production samplers.

Everything here works on numpy arrays of events (no loop over events) and takes its random
numbers from an explicit :class:`numpy.random.Generator`. Units: GeV, metres.

Frames: the *lab* is the TAX rest frame with the proton beam along +Z; the *CM* frame is the
proton-nucleon centre-of-mass frame (``SQRT_S_GEV`` = 27.4 GeV for 400 GeV protons), reached by
a boost along Z with ``BETA_CM``.

>>> import numpy as np
>>> round(SQRT_S_GEV, 2)
27.43
>>> round(float(two_body_momentum(0.1349768, 0.0, 0.0)), 7)  # pi0 -> gamma gamma
0.0674884
>>> rng = np.random.default_rng(1)
>>> x, y, z = sample_production_point(5, rng)
>>> bool(np.all((z >= TAX_Z_START) & (z <= TAX_Z_END)))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from na62dump.geometry import BEAM_POINT, PROTON_MOMENTUM_GEV, TAX_LAMBDA_I, TAX_Z_END, TAX_Z_START
from na62dump.physics.constants import M_P as M_PROTON  # proton mass (GeV), PDG via particle
from na62dump.physics.decay import prob_decay_in_range

#: Beam energy (GeV) of the 400 GeV/c protons.
E_BEAM_GEV = float(np.hypot(PROTON_MOMENTUM_GEV, M_PROTON))
#: Centre-of-mass energy of a beam proton on a nucleon at rest (GeV).
SQRT_S_GEV = float(np.sqrt(2.0 * M_PROTON**2 + 2.0 * M_PROTON * E_BEAM_GEV))
#: Velocity and Lorentz factor of the proton-nucleon CM frame in the lab.
BETA_CM = PROTON_MOMENTUM_GEV / (E_BEAM_GEV + M_PROTON)
GAMMA_CM = 1.0 / np.sqrt(1.0 - BETA_CM**2)


def kallen(a, b, c):
    """Kallen triangle function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc."""
    a, b, c = (np.asarray(v, dtype=float) for v in (a, b, c))
    return a * a + b * b + c * c - 2.0 * (a * b + a * c + b * c)


def two_body_momentum(m_parent, m1, m2):
    """Momentum (GeV) of either daughter of a two-body decay in the parent rest frame.

    ``p* = sqrt(lambda(M^2, m1^2, m2^2)) / (2 M)``; 0 at and below threshold.
    """
    m_parent = np.asarray(m_parent, dtype=float)
    lam = kallen(m_parent**2, np.asarray(m1, dtype=float) ** 2, np.asarray(m2, dtype=float) ** 2)
    return np.sqrt(np.clip(lam, 0.0, None)) / (2.0 * m_parent)


def isotropic_directions(n, rng):
    """``n`` unit vectors uniform on the sphere, as three arrays (ux, uy, uz)."""
    cos_t = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin_t = np.sqrt(1.0 - cos_t * cos_t)
    return sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t


def boost(px, py, pz, e, bx, by, bz):
    """Boost four-momenta (px, py, pz, e) by velocity (bx, by, bz) (arrays, lab = rest + v).

    Returns the boosted (px, py, pz, e). A daughter at rest in a parent frame moving with
    velocity ``b`` in the lab gets the parent's velocity.
    """
    b2 = bx * bx + by * by + bz * bz
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = bx * px + by * py + bz * pz
    # (gamma - 1) / b^2 written to stay finite at b -> 0
    g2 = np.where(b2 > 0.0, (gamma - 1.0) / np.where(b2 > 0.0, b2, 1.0), 0.5)
    coef = g2 * bp + gamma * e
    return px + coef * bx, py + coef * by, pz + coef * bz, gamma * (e + bp)


def two_body_decay(px, py, pz, m_parent, m_daughter, m_other, rng):
    """Lab momentum of ``m_daughter`` from an isotropic two-body decay of moving parents.

    Parameters
    ----------
    px, py, pz : array_like
        Parent lab momenta (GeV).
    m_parent, m_daughter, m_other : float or array_like
        Masses (GeV) of the parent, of the daughter returned and of its partner.
    rng : numpy.random.Generator

    Returns
    -------
    (px, py, pz) of the daughter in the lab (GeV). Isotropy in the parent frame is exact for a
    spin-0 parent and for an unpolarised vector parent.
    """
    px, py, pz = (np.asarray(v, dtype=float) for v in (px, py, pz))
    n = px.shape[0]
    pstar = two_body_momentum(m_parent, m_daughter, m_other)
    estar = np.sqrt(pstar * pstar + np.asarray(m_daughter, dtype=float) ** 2)
    ux, uy, uz = isotropic_directions(n, rng)
    e_parent = np.sqrt(px * px + py * py + pz * pz + np.asarray(m_parent, dtype=float) ** 2)
    qx, qy, qz, _ = boost(
        pstar * ux, pstar * uy, pstar * uz, estar + 0.0 * ux,
        px / e_parent, py / e_parent, pz / e_parent,
    )
    return qx, qy, qz


@dataclass(frozen=True)
class HadronSpectrum:
    """Invariant cross-section shape ``E d^3sigma/dp^3 ~ (1 - |x_F|)^n exp(-b m_T)`` (CM frame).

    ``x_F = 2 p_L* / sqrt(s)`` and ``m_T = sqrt(p_T^2 + m^2)``. The power law in ``1 - |x_F|``
    is the counting-rule form of the *invariant* cross-section (Gunion, Brodsky, Blankenbecler,
    Phys. Rev. D 8 (1973) 287; the form in which fixed-target experiments quote it, e.g. NA27
    for charm, Aguilar-Benitez et al., Z. Phys. C 40 (1988) 321), and the exponential in
    ``m_T`` the "m_T scaling" of hadron spectra (Hagedorn; Bourquin and Gaillard, Nucl. Phys. B
    114 (1976) 334), with ``1 / b`` the inverse slope. As a density in the variables sampled,

        ``dN/dx_F dp_T^2 = (sqrt(s) / 2) dN/dp_L* dp_T^2 ~ (1 - |x_F|)^n exp(-b m_T) / E*``,

    with ``E* = sqrt(x_F^2 s / 4 + m_T^2)`` the hadron's CM energy (``d^3p / E`` is the
    invariant phase space). The ``1 / E*`` couples ``x_F`` and ``p_T`` and softens the
    longitudinal spectrum relative to ``(1 - |x_F|)^n``.
    """

    n: float  #: power of (1 - |x_F|)
    b_per_gev: float  #: slope b of exp(-b m_T), 1/GeV


def _sample_xf_power(n_power, n, rng):
    """Draw x_F from ``(1 - |x_F|)^n`` on [-1, 1] (exact inverse transform): the proposal."""
    absx = 1.0 - rng.uniform(0.0, 1.0, n) ** (1.0 / (n_power + 1.0))
    sign = np.where(rng.uniform(0.0, 1.0, n) < 0.5, -1.0, 1.0)
    return sign * absx


def sample_xf_pt(mass, spectrum: HadronSpectrum, n, rng):
    """Draw (x_F, p_T) of ``n`` hadrons of ``mass`` from the invariant ``spectrum`` (exact).

    Accept-reject on the factorised proposal ``(1 - |x_F|)^n`` x ``exp(-b m_T) dp_T^2``
    (:func:`sample_pt`) with acceptance ``m / E* <= 1`` (``E* >= m_T >= m``), which turns
    the proposal into ``(1 - |x_F|)^n exp(-b m_T) / E*`` (see :class:`HadronSpectrum`).
    Vectorised: each round draws the missing number of candidates, divided by the running
    acceptance.

    >>> import numpy as np
    >>> xf, pt = sample_xf_pt(5.279, HadronSpectrum(6.0, 6.0), 1000, np.random.default_rng(0))
    >>> xf.shape, bool(np.all(np.abs(xf) <= 1.0))
    ((1000,), True)
    """
    n = int(n)
    xf_out, pt_out = np.empty(0), np.empty(0)
    efficiency = 1.0
    half_sqrt_s = 0.5 * SQRT_S_GEV
    while xf_out.size < n:
        need = n - xf_out.size
        k = int(np.ceil(1.1 * need / efficiency)) + 16
        xf = _sample_xf_power(spectrum.n, k, rng)
        pt = sample_pt(mass, spectrum.b_per_gev, k, rng)
        mt = np.hypot(pt, mass)
        estar = np.hypot(xf * half_sqrt_s, mt)
        keep = rng.uniform(0.0, 1.0, k) * estar < mass
        efficiency = max(float(np.mean(keep)), 1e-3)
        xf_out = np.concatenate((xf_out, xf[keep]))
        pt_out = np.concatenate((pt_out, pt[keep]))
    return xf_out[:n], pt_out[:n]


def sample_pt(mass, b_per_gev, n, rng):
    """Draw p_T (GeV) from ``dN/dp_T^2 ~ exp(-b m_T)`` (exact).

    With ``dp_T^2 = 2 m_T dm_T`` the density of ``t = m_T - m >= 0`` is ``(m + t) exp(-b t)``,
    a mixture of an exponential (weight ``m b``) and a Gamma(2) (weight 1) of rate ``b``.
    """
    w_exp = mass * b_per_gev / (mass * b_per_gev + 1.0)
    t_exp = rng.exponential(1.0 / b_per_gev, n)
    t_gam = rng.gamma(2.0, 1.0 / b_per_gev, n)
    t = np.where(rng.uniform(0.0, 1.0, n) < w_exp, t_exp, t_gam)
    mt = mass + t
    return np.sqrt(np.clip(mt * mt - mass * mass, 0.0, None))


def pt_density(pt2, mass, b_per_gev):
    """Normalised density of p_T^2 (1/GeV^2) for ``exp(-b m_T)``, the marginal of :func:`sample_pt`.

    The integral of ``exp(-b m_T) dp_T^2`` over [0, inf) is ``2 exp(-b m) (m b + 1) / b^2``.
    """
    mt = np.sqrt(np.asarray(pt2, dtype=float) + mass * mass)
    norm = 2.0 * (mass * b_per_gev + 1.0) / b_per_gev**2
    return np.exp(-b_per_gev * (mt - mass)) / norm


def sample_hadron(mass, spectrum: HadronSpectrum, n, rng):
    """Lab momenta (px, py, pz) of ``n`` hadrons of ``mass`` drawn from ``spectrum``.

    ``spectrum`` is the *invariant* cross-section ``E d^3sigma/dp^3`` in the pN CM frame
    (:class:`HadronSpectrum`), drawn exactly by :func:`sample_xf_pt`. The CM longitudinal
    momentum is ``x_F sqrt(s) / 2``; it is boosted to the lab along Z; the azimuth is uniform.
    """
    xf, pt = sample_xf_pt(mass, spectrum, n, rng)
    phi = rng.uniform(0.0, 2.0 * np.pi, int(n))
    pl = 0.5 * xf * SQRT_S_GEV
    e = np.sqrt(pl * pl + pt * pt + mass * mass)
    pz = GAMMA_CM * (pl + BETA_CM * e)
    return pt * np.cos(phi), pt * np.sin(phi), pz


def sample_production_point(n, rng):
    """Primary-interaction points (x, y, z) in the TAX (m).

    Depth: exponential with the mean interaction length ``geometry.TAX_LAMBDA_I`` from the TAX
    front face, truncated at its end (the survival probability through 19.6 lambda_I, 3e-9, is
    neglected). Transverse position: the mean beam impact point ``geometry.BEAM_POINT`` (the beam
    spot, millimetres, is negligible against the 0.1-1 m scale of the acceptance).
    """
    length = TAX_Z_END - TAX_Z_START
    u = rng.uniform(0.0, 1.0, n)
    depth = -TAX_LAMBDA_I * np.log1p(-u * -np.expm1(-length / TAX_LAMBDA_I))
    z = TAX_Z_START + depth
    return np.full(n, BEAM_POINT[0]), np.full(n, BEAM_POINT[1]), z


def mean_decay_probability(pz, z_prod, mass, ctau_m, z_range):
    """Mean probability that particles decay with ``z_range[0] < z < z_range[1]`` (m).

    ``pz`` (GeV) and ``z_prod`` (m) are arrays over a production sample of particles of
    ``mass`` (GeV) with proper decay length ``ctau_m`` (m): the decay length along Z is
    ``(pz / M) c tau`` (:func:`na62dump.physics.decay.prob_decay_in_range`). Particles going
    backwards (``pz <= 0``) never reach the decay volume and count as 0. The particle's flight
    is not limited transversally here: no acceptance is applied.

    >>> import numpy as np
    >>> p = mean_decay_probability(np.array([10.0, -1.0]), np.zeros(2), 1.0, 1e9, (100.0, 200.0))
    >>> round(p * 1e8, 6)  # (1/2) x L / lambda for the forward one
    0.5
    """
    pz = np.asarray(pz, dtype=float)
    z_prod = np.asarray(z_prod, dtype=float)
    if np.isinf(ctau_m):
        return 0.0
    fwd = pz > 0.0
    lam = np.where(fwd, pz, 1.0) / float(mass) * float(ctau_m)
    with np.errstate(over="ignore", under="ignore"):
        p = np.where(fwd, prob_decay_in_range(z_range[0], z_range[1], z_prod, lam), 0.0)
    return float(np.mean(p))
