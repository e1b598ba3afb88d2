"""Relativistic kinematics for the fast simulation: masses, boosts, two-body and n-body decays.

Everything is vectorised over events: four-momenta are float64 arrays of shape ``(..., 4)``
ordered ``(px, py, pz, E)`` in GeV. Particles flowing into the detector response are held in a
flat :class:`Particles` table (one row per particle, ``event`` the index of its event).

Masses come from the PDG tables of the ``particle`` package (converted from MeV to GeV).

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> parent = np.array([[0.0, 0.0, 50.0, np.hypot(50.0, 0.4)]] * 3)
>>> d1, d2 = two_body_decay(parent, M_MU, M_MU, rng)
>>> np.allclose(invariant_mass(d1 + d2), 0.4)
True
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numba
import numpy as np
from particle import Particle

#: speed of light (m/ns)
C_M_PER_NS = 0.299792458


def _mass_gev(pdgid: int) -> float:
    return Particle.from_pdgid(pdgid).mass / 1000.0


#: PDG identifiers of the final-state species the detector response knows.
PDG_ELECTRON, PDG_MUON, PDG_PION, PDG_KAON, PDG_PHOTON = 11, 13, 211, 321, 22
PDG_PI0, PDG_ETA, PDG_KS = 111, 221, 310

M_E = _mass_gev(11)
M_MU = _mass_gev(13)
M_PI = _mass_gev(211)
M_K = _mass_gev(321)
M_PI0 = _mass_gev(111)
M_ETA = _mass_gev(221)
M_KS = _mass_gev(310)
M_PROTON = _mass_gev(2212)

#: mass (GeV) and charge of the daughters named in ``na62dump.codes.Channel.daughters``
SPECIES = {
    "e+": (PDG_ELECTRON, M_E, +1),
    "e-": (PDG_ELECTRON, M_E, -1),
    "mu+": (PDG_MUON, M_MU, +1),
    "mu-": (PDG_MUON, M_MU, -1),
    "pi+": (PDG_PION, M_PI, +1),
    "pi-": (PDG_PION, M_PI, -1),
    "K+": (PDG_KAON, M_K, +1),
    "K-": (PDG_KAON, M_K, -1),
    "gamma": (PDG_PHOTON, 0.0, 0),
    "pi0": (PDG_PI0, M_PI0, 0),
    "eta": (PDG_ETA, M_ETA, 0),
}

#: BR(pi0 -> gamma gamma) and BR(eta -> gamma gamma) (PDG); only these modes are simulated
BR_PI0_GG = 0.98823
BR_ETA_GG = 0.3936


# ---------------------------------------------------------------------------------------------
# Four-vector helpers
# ---------------------------------------------------------------------------------------------
def four_momentum(px, py, pz, mass):
    """Stack ``(px, py, pz, E)`` with ``E = sqrt(p^2 + m^2)``; shape ``(..., 4)``."""
    px, py, pz = (np.asarray(a, dtype=float) for a in (px, py, pz))
    e = np.sqrt(px * px + py * py + pz * pz + np.asarray(mass, dtype=float) ** 2)
    return np.stack(np.broadcast_arrays(px, py, pz, e), axis=-1)


def invariant_mass(p4):
    """Invariant mass of ``(..., 4)`` four-momenta (negative m^2 from rounding clipped to 0)."""
    p4 = np.asarray(p4)
    m2 = p4[..., 3] ** 2 - np.sum(p4[..., :3] ** 2, axis=-1)
    return np.sqrt(np.clip(m2, 0.0, None))


def boost(p4, beta):
    """Lorentz-boost four-momenta ``p4 (..., 4)`` by velocity ``beta (..., 3)`` (broadcast).

    The daughter momenta of a decay at rest become lab momenta with ``beta = p_parent /
    E_parent``. Equivalent to ``vector``'s ``boost_beta3`` (cross-checked in the tests) but
    written on plain stacked arrays so that (events, daughters, 4) blocks boost in one call.

    >>> import numpy as np
    >>> p = boost(np.array([0.0, 0.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.6]))
    >>> np.round(p, 6).tolist()
    [0.0, 0.0, 0.75, 1.25]
    """
    p4 = np.asarray(p4, dtype=float)
    beta = np.asarray(beta, dtype=float)
    if p4.ndim == 3 and beta.shape == (p4.shape[0], 1, 3):
        # (events, daughters, 4) blocks, one velocity per event: no broadcast copies
        return _boost_groups(p4, beta[:, 0, :])
    shape = np.broadcast_shapes(p4.shape[:-1], beta.shape[:-1])
    p4 = np.broadcast_to(p4, (*shape, 4)).reshape(-1, 4)
    beta = np.broadcast_to(beta, (*shape, 3)).reshape(-1, 3)
    return _boost_rows(p4, beta).reshape(*shape, 4)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _boost_one(p4, bx, by, bz, out):  # pragma: no cover - compiled
    """Boost one four-momentum ``p4 (4,)`` by ``(bx, by, bz)`` into ``out (4,)``."""
    b2 = bx * bx + by * by + bz * bz
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = bx * p4[0] + by * p4[1] + bz * p4[2]
    # (gamma - 1) / b^2 written stably for b -> 0
    g2 = gamma * gamma / (1.0 + gamma) if b2 > 0 else 0.0
    e = p4[3]
    c = g2 * bp + gamma * e
    out[0] = p4[0] + c * bx
    out[1] = p4[1] + c * by
    out[2] = p4[2] + c * bz
    out[3] = gamma * (e + bp)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _boost_rows(p4, beta):  # pragma: no cover - compiled
    """:func:`boost` of rows ``p4 (m, 4)`` by ``beta (m, 3)``, one pass."""
    out = np.empty((p4.shape[0], 4))
    for i in range(p4.shape[0]):
        _boost_one(p4[i], beta[i, 0], beta[i, 1], beta[i, 2], out[i])
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _boost_groups(p4, beta):  # pragma: no cover - compiled
    """:func:`boost` of ``p4 (m, k, 4)`` by one velocity per row, ``beta (m, 3)``."""
    out = np.empty(p4.shape)
    for i in range(p4.shape[0]):
        for j in range(p4.shape[1]):
            _boost_one(p4[i, j], beta[i, 0], beta[i, 1], beta[i, 2], out[i, j])
    return out


def beta_of(p4):
    """Velocity vector ``p / E`` of four-momenta ``(..., 4)``."""
    p4 = np.asarray(p4, dtype=float)
    return p4[..., :3] / p4[..., 3:4]


def random_directions(n, rng: np.random.Generator, cos_theta=None):
    """Unit vectors ``(n, 3)``, isotropic unless ``cos_theta`` (n,) is given (phi uniform)."""
    if cos_theta is None:
        cos_theta = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin_theta = np.sqrt(np.clip(1.0 - cos_theta * cos_theta, 0.0, None))
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=-1)


def two_body_momentum(m_parent, m1, m2):
    """Daughter momentum in the rest frame of a two-body decay (0 below threshold)."""
    m_parent = np.asarray(m_parent, dtype=float)
    lam = (m_parent**2 - (m1 + m2) ** 2) * (m_parent**2 - (m1 - m2) ** 2)
    return np.sqrt(np.clip(lam, 0.0, None)) / (2.0 * m_parent)


def sample_cos_transverse(n, rng: np.random.Generator):
    """cos(theta) distributed as 1 + cos^2(theta) (transversely polarised vector -> f fbar).

    Inverse transform of the cubic CDF ``(3c + c^3 + 4) / 8`` by Cardano's formula.
    """
    u = rng.uniform(0.0, 1.0, n)
    q = 4.0 - 8.0 * u  # c^3 + 3c + q = 0
    s = np.sqrt(q * q / 4.0 + 1.0)
    return np.cbrt(-q / 2.0 + s) + np.cbrt(-q / 2.0 - s)


def two_body_decay(parent, m1, m2, rng: np.random.Generator, *, angular="isotropic"):
    """Decay ``parent (n, 4)`` into two daughters of masses ``m1``, ``m2``; lab four-momenta.

    ``angular``: ``"isotropic"`` in the rest frame (scalars, pseudoscalars, unpolarised
    vectors), or ``"transverse"`` for ``1 + cos^2`` about the flight direction (a transversely
    polarised vector to fermions).
    """
    parent = np.atleast_2d(np.asarray(parent, dtype=float))
    n = parent.shape[0]
    m_parent = invariant_mass(parent)
    p_star = two_body_momentum(m_parent, m1, m2)
    if angular == "isotropic":
        u = random_directions(n, rng)
    elif angular == "transverse":
        u = _rotate_to(random_directions(n, rng, sample_cos_transverse(n, rng)), beta_of(parent))
    else:
        raise ValueError(f"angular must be 'isotropic' or 'transverse', got {angular!r}")
    p3 = p_star[:, None] * u
    d1 = np.concatenate([p3, np.sqrt(p_star**2 + m1 * m1)[:, None]], axis=-1)
    d2 = np.concatenate([-p3, np.sqrt(p_star**2 + m2 * m2)[:, None]], axis=-1)
    beta = beta_of(parent)
    return boost(d1, beta), boost(d2, beta)


def _rotate_to(u, axis):
    """Rotate vectors ``u (n, 3)`` given about +Z into the frame whose Z is ``axis (n, 3)``.

    Rodrigues' formula for the rotation taking e_z to the unit axis a, with k = e_z x a:
    R v = c v + k x v + k (k . v) (1 - c) / |k|^2, c = a_z.
    """
    a = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    c = a[:, 2]
    kx, ky = -a[:, 1], a[:, 0]
    s2 = kx * kx + ky * ky
    f = np.where(s2 > 1e-30, (1.0 - c) / np.where(s2 > 1e-30, s2, 1.0), 0.0)
    vx, vy, vz = u[:, 0], u[:, 1], u[:, 2]
    kv = kx * vx + ky * vy
    return np.stack(
        [
            c * vx + ky * vz + f * kx * kv,
            c * vy - kx * vz + f * ky * kv,
            c * vz + kx * vy - ky * vx,
        ],
        axis=-1,
    )


# ---------------------------------------------------------------------------------------------
# n-body phase space (Raubold-Lynch, as TGenPhaseSpace), unweighted by accept-reject
# ---------------------------------------------------------------------------------------------
def _phase_space_wmax(m_parent, masses):
    """Maximal Raubold-Lynch weight (TGenPhaseSpace) per event, for the accept-reject step."""
    masses = np.asarray(masses, dtype=float)
    emmax = m_parent - masses.sum() + masses[0]
    emmin = np.zeros(m_parent.shape[0])
    wmax = np.ones(m_parent.shape[0])
    for i in range(1, len(masses)):
        emmin = emmin + masses[i - 1]
        emmax = emmax + masses[i]
        wmax = wmax * two_body_momentum(emmax, emmin, masses[i])
    return wmax


def _phase_space_weights(m_parent, masses, rng, wmax=None):
    """One Raubold-Lynch configuration per event: intermediate masses, momenta and weight.

    ``wmax``: :func:`_phase_space_wmax` of ``m_parent`` if already known.
    """
    n = m_parent.shape[0]
    k = len(masses)
    masses = np.asarray(masses, dtype=float)
    t = m_parent - masses.sum()
    r = np.sort(rng.uniform(0.0, 1.0, (n, k - 2)), axis=1)
    cum = np.cumsum(masses)
    inv = np.empty((n, k))
    inv[:, 0] = masses[0]
    inv[:, 1 : k - 1] = cum[1 : k - 1] + r * t[:, None]
    inv[:, k - 1] = m_parent
    pd = two_body_momentum(inv[:, 1:], inv[:, :-1], masses[1:])  # (n, k-1)
    if wmax is None:
        wmax = _phase_space_wmax(m_parent, masses)
    return inv, pd, np.prod(pd, axis=1) / wmax


def phase_space_decay(parent, masses, rng: np.random.Generator):
    """Decay each ``parent (n, 4)`` into ``len(masses)`` daughters uniformly in phase space.

    Returns lab four-momenta of shape ``(n, len(masses), 4)``. Raubold-Lynch configurations
    are generated for all events at once and accepted with probability ``w / w_max``; events
    not yet accepted are redrawn (a loop over rounds, not over events).
    """
    parent = np.atleast_2d(np.asarray(parent, dtype=float))
    n = parent.shape[0]
    k = len(masses)
    masses = np.asarray(masses, dtype=float)
    if k == 2:
        d1, d2 = two_body_decay(parent, masses[0], masses[1], rng)
        return np.stack([d1, d2], axis=1)
    m_parent = invariant_mass(parent)
    if np.any(m_parent <= masses.sum()):
        raise ValueError("phase_space_decay: parent mass below the sum of daughter masses")
    inv = np.empty((n, k))
    pd = np.empty((n, k - 1))
    todo = np.arange(n)
    wmax = _phase_space_wmax(m_parent, masses)
    while todo.size:
        inv_t, pd_t, w = _phase_space_weights(m_parent[todo], masses, rng, wmax[todo])
        ok = rng.uniform(0.0, 1.0, todo.size) < w
        inv[todo[ok]] = inv_t[ok]
        pd[todo[ok]] = pd_t[ok]
        todo = todo[~ok]
    out = np.zeros((n, k, 4))
    # the first two daughters back to back in the rest frame of their pair
    u = random_directions(n, rng)
    p3 = pd[:, 0, None] * u
    out[:, 0, :3], out[:, 1, :3] = p3, -p3
    out[:, 0, 3] = np.sqrt(pd[:, 0] ** 2 + masses[0] ** 2)
    out[:, 1, 3] = np.sqrt(pd[:, 0] ** 2 + masses[1] ** 2)
    for i in range(2, k):
        # the subsystem (0..i-1) of mass inv[:, i-1] recoils against daughter i in the frame
        # of inv[:, i]
        u = random_directions(n, rng)
        p = pd[:, i - 1]
        e_sub = np.sqrt(p * p + inv[:, i - 1] ** 2)
        beta_sub = (p / e_sub)[:, None] * u
        out[:, :i] = boost(out[:, :i], beta_sub[:, None, :])
        out[:, i, :3] = -p[:, None] * u
        out[:, i, 3] = np.sqrt(p * p + masses[i] ** 2)
    return boost(out, beta_of(parent)[:, None, :])


# ---------------------------------------------------------------------------------------------
# Flat particle table handed to the detector response
# ---------------------------------------------------------------------------------------------
@dataclass
class Particles:
    """Final-state particles of many events, one row each (float64 unless stated).

    Attributes: ``event`` (int64 index of the event), ``pdg`` (abs PDG id: 11, 13, 211, 321,
    22), ``charge`` (int8), ``px, py, pz, e`` (GeV), ``x, y, z`` origin point (m), ``t`` time
    at the origin (ns, on the reduced clock ``t_lab - z / c`` of :mod:`.detector`), ``z_end``
    the Z where the particle ends (``inf`` for final-state particles; an incoming halo muon
    ends at its interaction point).
    """

    event: np.ndarray
    pdg: np.ndarray
    charge: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    t: np.ndarray
    z_end: np.ndarray | None = None

    def __post_init__(self):
        if self.z_end is None:
            self.z_end = np.full(self.event.shape[0], np.inf)

    def __len__(self) -> int:
        return self.event.shape[0]

    @classmethod
    def from_p4(cls, event, pdg, charge, p4, origin, t, z_end=np.inf):
        """Build from four-momenta ``(n, 4)`` and origins ``(n, 3)``; scalars broadcast."""
        p4 = np.asarray(p4, dtype=float)
        origin = np.asarray(origin, dtype=float)
        n = p4.shape[0]
        return cls(
            event=np.broadcast_to(np.asarray(event, dtype=np.int64), (n,)).copy(),
            pdg=np.broadcast_to(np.asarray(pdg, dtype=np.int32), (n,)).copy(),
            charge=np.broadcast_to(np.asarray(charge, dtype=np.int8), (n,)).copy(),
            px=p4[:, 0].copy(),
            py=p4[:, 1].copy(),
            pz=p4[:, 2].copy(),
            e=p4[:, 3].copy(),
            x=origin[:, 0].copy(),
            y=origin[:, 1].copy(),
            z=origin[:, 2].copy(),
            t=np.broadcast_to(np.asarray(t, dtype=float), (n,)).copy(),
            z_end=np.broadcast_to(np.asarray(z_end, dtype=float), (n,)).copy(),
        )

    @classmethod
    def concat(cls, parts, *, sort: bool = False):
        """Concatenate tables; with ``sort`` order the rows by event (stable).

        The detector response does not need the rows ordered, so by default they are not.
        """
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        cols = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        if not sort:
            return cls(**cols)
        order = np.argsort(cols["event"], kind="stable")
        return cls(**{k: v[order] for k, v in cols.items()})

    @classmethod
    def empty(cls):
        z = np.zeros(0)
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8),
                   z, z, z, z, z, z, z, z, z)

    def shift_events(self, offset: int) -> Particles:
        """The same particles with ``offset`` added to their event index."""
        cols = {f.name: getattr(self, f.name) for f in fields(self)}
        cols["event"] = cols["event"] + offset
        return type(self)(**cols)

    def select(self, mask):
        return type(self)(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    @property
    def p4(self):
        return np.stack([self.px, self.py, self.pz, self.e], axis=-1)


def decay_neutral_mesons(particles: Particles, rng: np.random.Generator) -> Particles:
    """Replace pi0 and eta rows of ``particles`` by their two photons (others pass through).

    Only the gamma gamma modes are simulated (the mesons decay at their production point: c tau
    of 25 nm and 0.15 pm); the normalisation per produced pi0/eta, ``BR_PI0_GG``/``BR_ETA_GG``,
    belongs to the yields. The photons are appended after the other rows.
    """
    meson = (particles.pdg == PDG_PI0) | (particles.pdg == PDG_ETA)
    if not meson.any():
        return particles
    idx = np.flatnonzero(meson)
    keep = ~meson
    n_keep, n_m = len(particles) - idx.size, idx.size
    p4 = np.stack([particles.px[idx], particles.py[idx], particles.pz[idx], particles.e[idx]],
                  axis=-1)
    g1, g2 = two_body_decay(p4, 0.0, 0.0, rng)

    def column(name, photon1=None, photon2=None, dtype=np.float64):
        # kept rows, then the first photons, then the second; dtypes as Particles.concat of
        # the kept rows and two Particles.from_p4 tables would give
        col = getattr(particles, name)
        out = np.empty(n_keep + 2 * n_m, np.result_type(col.dtype, dtype))
        np.compress(keep, col, out=out[:n_keep])
        if photon1 is None:  # a property of the meson: both photons inherit it
            photon1 = photon2 = col[idx]
        out[n_keep : n_keep + n_m] = photon1
        out[n_keep + n_m :] = photon2
        return out

    return Particles(
        event=column("event", dtype=np.int64),
        pdg=column("pdg", PDG_PHOTON, PDG_PHOTON, np.int32),
        charge=column("charge", 0, 0, np.int8),
        px=column("px", g1[:, 0], g2[:, 0]),
        py=column("py", g1[:, 1], g2[:, 1]),
        pz=column("pz", g1[:, 2], g2[:, 2]),
        e=column("e", g1[:, 3], g2[:, 3]),
        x=column("x"),
        y=column("y"),
        z=column("z"),
        t=column("t"),
        z_end=column("z_end", np.inf, np.inf),
    )
