"""Background generators: halo muons, their interactions, upstream decays, and pseudo-data.

No NA62 data are public, so the backgrounds of the 2021 beam-dump searches are modelled with a
few documented ingredients, normalised per proton on target (POT) so that the published
selection applied to them behaves as the publications describe (numbers in
``shared/ANALYSIS.md``; the check that runs the channel processors on these samples is
``python -m tests.simulation.physics_check``):

**Halo muons** (:class:`HaloConfig`). Muons from the dump reach the decay volume from
everywhere but the TAX, swept by the beam-line magnets. Each is defined on the plane
``Z = z_plane`` (upstream of ANTI0) by a position drawn from a Gaussian beam halo displaced in
X by the sweeping (towards +X for mu+, -X for mu-), a slope that makes it appear to come from a
broad source region far upstream (``x / lever_arm`` plus a Gaussian spread) and a momentum
``p_min + Exp(p_mean)``. These are *effective* values: the rate :data:`HaloConfig.rate_per_pot`
counts only the halo muons that head for the detector (about 1/10 of them leave a track), and
:data:`HaloConfig.live_time_s_per_pot` is the effective time over which they spread, chosen
together so that the genuine overlaps give the published mu+mu- numbers (about 26 selected
events outside the control region, 0.17 in the CR). The real experiment recorded millions of
single-muon triggers; we simulate only the Q1 events and overlaps that feed the analyses.

**Prompt** (:class:`PromptConfig`): a halo muon interacts in material (the LAV1-5 lead-glass
rings near their inner edge, the vacuum window / ANTI0 region at 102.4-105 m, the upstream
beam-line material) and makes a pair (e+e-, mu+mu-, pi+pi-, or mu+ pi-) carrying a fraction of
its energy along its direction, plus a few wide-angle photons; the scattered muon leaves at a
large angle. The incoming muon is followed up to the interaction point, so it crosses ANTI0 and
(for LAV interactions) the LAV ring itself. Rates per POT are tuned so that the published
selection finds about 60 e+e- vertices in the FV before the vetoes, about 1% of them surviving
the LAV and ANTI0 vetoes.

**Combinatorial**: two halo muons overlapping within ``geometry.COMBINATORIAL_WINDOW_NS``,
``N = rate^2 POT window / live_time`` pairs; **Q1 control**: single halo muons thinned by the Q1
downscaling (only events with a trigger are written).

**Upstream** (hadronic channels): ``k3pi`` (K+ -> pi+pi+pi- of beam kaons that crossed ANTI0,
decaying in the decay volume; a lost pi+ makes a pi+pi- pair), ``ks`` (K_S -> pi+pi- from
interactions upstream of ANTI0) and ``interaction`` (halo-muon inelastic interactions in the
ANTI0 / window material giving pi+pi- and sometimes a photon).

**Pseudo-data**: all of the above at the requested POT (Poisson counts), in one shuffled
sample without truth, as data would be.

Calibration (channel processors with the published cuts, at 1.4e17 POT, from samples at 10x
that exposure; ``python -m tests.simulation.physics_check --pot-factor 10``):

========================================  ==========================  ====================
quantity                                  this simulation             published
========================================  ==========================  ====================
prompt e+e- in FV after PID, no vetoes    58-61                       59.9 +- 6.7
  ... surviving LAV and ANTI0             0.3-0.5 (0.5-0.9%)          0.72 (1.2 +2.0-0.8%)
pseudo-data mu+mu- outside CR             24-26                       26.3 +- 3.4
pseudo-data mu+mu- CR / SR                0.2-0.5 / 0                 0.17 / 0.016
Q1 pseudo-pairs (combinatorial)  mu+mu-   CR 0.10, SR 0.02            CR 0.17, SR 0.016
upstream K3pi pi+pi- in FV, no vetoes     ~5                          5.6 +- 2.8
pseudo-data e+e-, pi+pi-, hadronic CR/SR  0 / 0                       0 / 0 (observed)
========================================  ==========================  ====================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import awkward as ak
import numpy as np
from scipy import stats

from na62dump import geometry as g
from na62dump.codes import Channel, Model, Production
from na62dump.errors import InputError
from na62dump.ntuple import TRUTH_FIELDS
from na62dump.simulation.detector import DEFAULT_CONFIG, DetectorConfig, simulate_detector
from na62dump.simulation.kinematics import (
    M_E,
    M_K,
    M_KS,
    M_MU,
    M_PI,
    PDG_MUON,
    PDG_PHOTON,
    SPECIES,
    Particles,
    four_momentum,
    phase_space_decay,
    two_body_decay,
)

log = logging.getLogger(__name__)

_CTAU_KS_M = 0.026844  # PDG c tau of the K_S (m)
_BR_KS_PIPI = 0.6920  # PDG; only this K_S mode is simulated


@dataclass(frozen=True)
class HaloConfig:
    """Effective halo-muon model (see the module documentation). Units m, GeV, s."""

    z_plane: float = 95.0  #: Z where the muons are defined (upstream of ANTI0)
    x_shift: float = 0.3  #: mean X displacement by the sweeping magnets, sign of the charge
    sigma_xy: float = 0.3  #: Gaussian spread of the position at z_plane
    #: slope = x / lever_arm: negative, the muons that stay in the vacuum tube down to the
    #: spectrometer are those focused towards the axis (converging 60 m downstream)
    lever_arm: float = -60.0
    slope_sigma: float = 0.002  #: extra Gaussian slope spread (rad)
    p_min: float = 8.0
    p_mean: float = 35.0
    mu_plus_fraction: float = 0.55
    #: effective halo muons per POT heading for the detector
    rate_per_pot: float = 7.14e-13
    #: effective live time per POT (s), over which the muons spread in time (0.042 s for the
    #: 2021 exposure): with ``rate_per_pot`` it gives ~2400 genuine overlaps per 1.4e17 POT,
    #: ~1% of which pass the mu+mu- selection (about 24 events outside the CR)
    live_time_s_per_pot: float = 2.97e-19


@dataclass(frozen=True)
class PromptConfig:
    """Halo-muon interactions in material. Rates are per POT, per final state."""

    rate_per_pot: dict[str, float] = field(default_factory=lambda: {
        "ee": 4.9e-14, "mumu": 8.2e-15, "pipi": 3.0e-16, "mupi": 3.0e-16})
    #: relative weights of the interaction sites: LAV1..LAV5 rings, window, upstream
    site_weights: dict[str, float] = field(default_factory=lambda: {
        "lav": 0.6, "window": 0.25, "upstream": 0.15})
    lav_edge_depth: float = 0.03  #: m, exponential depth of the interactions inside a ring
    window_z: tuple[float, float] = (g.ANTI0_Z, 105.0)
    upstream_z: tuple[float, float] = (96.0, g.ANTI0_Z)
    energy_fraction: tuple[float, float] = (0.2, 0.8)  #: uniform share of the muon energy
    pair_pt_sigma: float = 0.04  #: GeV, pair transverse momentum relative to the muon
    scatter_angle: float = 0.1  #: rad, Gaussian angle of the outgoing muon
    photons_mean: float = 0.3  #: mean number of wide-angle photons per interaction
    #: fraction of LAV-ring interactions whose muon entered the vessel through its wall
    #: downstream of ANTI0 (halo at large radius), so that it left no ANTI0 signal
    wall_entry_fraction: float = 0.7
    photon_energy_mean: float = 0.5
    photon_angle: tuple[float, float] = (0.005, 0.08)
    #: e+e- pair mass: Landau (location, scale) in GeV (NA62 e+e- background shape)
    ee_mass_landau: tuple[float, float] = (0.01486, 0.00348)
    mumu_mass_slope: float = 0.10  #: GeV, exponential above threshold
    pipi_mass_slope: float = 0.15


@dataclass(frozen=True)
class UpstreamConfig:
    """Upstream backgrounds of the hadronic channels; rates per POT."""

    rate_per_pot: dict[str, float] = field(default_factory=lambda: {
        "k3pi": 1.7e-16, "ks": 1.6e-15, "interaction": 3.2e-15})
    kaon_momentum: tuple[float, float] = (75.0, 1.0)  #: GeV, beam kaons through the achromat
    kaon_z: float = 100.0
    kaon_decay_z: tuple[float, float] = (g.ANTI0_Z, 180.0)
    kaon_spot: float = 0.01  #: m
    kaon_divergence: float = 1.0e-4  #: rad
    ks_z: tuple[float, float] = (97.0, g.ANTI0_Z)
    ks_p_min: float = 10.0
    ks_p_mean: float = 25.0
    interaction_z: tuple[float, float] = (g.ANTI0_Z - 0.5, 105.0)
    photon_fraction: float = 0.3  #: upstream interactions with an extra photon in the pair


HALO = HaloConfig()
PROMPT = PromptConfig()
UPSTREAM = UpstreamConfig()
PROMPT_CHANNELS = ("ee", "mumu", "pipi", "mupi")
UPSTREAM_PROCESSES = ("k3pi", "ks", "interaction")


# ---------------------------------------------------------------------------------------------
# Event-set helper: particles + truth of one component
# ---------------------------------------------------------------------------------------------
@dataclass
class EventSet:
    """Particles of ``n`` events with their per-event truth and Q1 downscaling."""

    n: int
    particles: Particles
    truth: dict[str, np.ndarray]
    q1_downscale: np.ndarray

    @classmethod
    def concat(cls, sets):
        sets = [s for s in sets if s.n]
        if not sets:
            return cls(0, Particles.empty(), _empty_truth(0), np.ones(0))
        offsets = np.cumsum([0] + [s.n for s in sets[:-1]])
        return cls(
            n=sum(s.n for s in sets),
            particles=Particles.concat([s.particles.shift_events(o)
                                        for s, o in zip(sets, offsets, strict=True)]),
            truth={k: np.concatenate([s.truth[k] for s in sets]) for k in sets[0].truth},
            q1_downscale=np.concatenate([s.q1_downscale for s in sets]),
        )


def _empty_truth(n):
    return {k: np.zeros(n) for k in _TRUTH_FIELDS}


#: The truth record's fields (the ntuple contract, na62dump.ntuple).
_TRUTH_FIELDS = tuple(TRUTH_FIELDS)


def _truth(n, mode, channel, p4, prod, decay, z_range, parent_mass=0.0):
    m2 = p4[:, 3] ** 2 - np.sum(p4[:, :3] ** 2, axis=1)
    return {
        "model": np.full(n, int(Model.NONE)),
        "mode": np.full(n, int(mode)),
        "channel": np.full(n, int(channel)),
        "mass": np.sqrt(np.clip(m2, 0.0, None)),
        "parentMass": np.full(n, parent_mass),
        "px": p4[:, 0], "py": p4[:, 1], "pz": p4[:, 2],
        "prodX": prod[:, 0], "prodY": prod[:, 1], "prodZ": prod[:, 2],
        "decayX": decay[:, 0], "decayY": decay[:, 1], "decayZ": decay[:, 2],
        "zMin": np.full(n, z_range[0]), "zMax": np.full(n, z_range[1]),
        "weight": np.ones(n),
    }


# ---------------------------------------------------------------------------------------------
# Halo muons
# ---------------------------------------------------------------------------------------------
def sample_halo_muons(n, rng, cfg: HaloConfig = HALO):
    """``n`` halo muons on the plane ``cfg.z_plane``: charge, position (n, 3), four-momentum."""
    charge = np.where(rng.uniform(size=n) < cfg.mu_plus_fraction, 1, -1).astype(np.int8)
    x = charge * cfg.x_shift + cfg.sigma_xy * rng.standard_normal(n)
    y = cfg.sigma_xy * rng.standard_normal(n)
    tx = x / cfg.lever_arm + cfg.slope_sigma * rng.standard_normal(n)
    ty = y / cfg.lever_arm + cfg.slope_sigma * rng.standard_normal(n)
    p = cfg.p_min + rng.exponential(cfg.p_mean, n)
    pz = p / np.sqrt(1.0 + tx * tx + ty * ty)
    pos = np.stack([x, y, np.full(n, cfg.z_plane)], axis=-1)
    return charge, pos, four_momentum(tx * pz, ty * pz, pz, M_MU)


def halo_single(n, rng, *, q1_downscale=1.0, t_spread_ns=0.0, cfg: HaloConfig = HALO,
                with_truth=True):
    """``n`` events of one halo muon each (time uniform in +-``t_spread_ns``)."""
    charge, pos, p4 = sample_halo_muons(n, rng, cfg)
    t = rng.uniform(-t_spread_ns, t_spread_ns, n) if t_spread_ns else np.zeros(n)
    parts = Particles.from_p4(np.arange(n), PDG_MUON, charge, p4, pos, t)
    truth = _truth(n, Production.COMBINATORIAL, Channel.MUMU, p4, pos, pos,
                   (cfg.z_plane, cfg.z_plane)) if with_truth else _empty_truth(n)
    return EventSet(n, parts, truth, np.full(n, float(q1_downscale)))


def halo_overlaps(n, rng, cfg: HaloConfig = HALO):
    """``n`` events with two uncorrelated halo muons within the combinatorial window."""
    c1, pos1, p1 = sample_halo_muons(n, rng, cfg)
    c2, pos2, p2 = sample_halo_muons(n, rng, cfg)
    dt = rng.uniform(-g.COMBINATORIAL_WINDOW_NS, g.COMBINATORIAL_WINDOW_NS, n)
    ev = np.arange(n)
    parts = Particles.concat([
        Particles.from_p4(ev, PDG_MUON, c1, p1, pos1, 0.0),
        Particles.from_p4(ev, PDG_MUON, c2, p2, pos2, dt),
    ])
    truth = _truth(n, Production.COMBINATORIAL, Channel.MUMU, p1 + p2, pos1, pos2,
                   (cfg.z_plane, cfg.z_plane))
    return EventSet(n, parts, truth, np.full(n, float(g.Q1_DOWNSCALE)))


def expected_overlaps(pot, cfg: HaloConfig = HALO):
    """Expected genuine halo-muon pairs within the window: ``rate^2 POT window / live``."""
    return cfg.rate_per_pot**2 * pot * g.COMBINATORIAL_WINDOW_NS * 1e-9 / cfg.live_time_s_per_pot


def combinatorial_pair_weight(pot, cfg: HaloConfig = HALO):
    """Weight of one (unordered) pseudo-pair of Q1 single-track events at ``pot``.

    ``D^2 * 2 window / T`` with ``D`` the Q1 downscaling and ``T = live_time_s_per_pot * POT``:
    the probability that two muons fall within +-window of each other, times the D^2 muons each
    Q1 pair stands for. With ``N_Q1`` events the pair sum estimates :func:`expected_overlaps`
    times the pair selection efficiency (:func:`na62dump.simulation.combinatorial.
    combinatorial_pair_weight` with this configuration's live time).
    """
    from na62dump.simulation.combinatorial import combinatorial_pair_weight as weight

    return weight(pot, cfg.live_time_s_per_pot)


# ---------------------------------------------------------------------------------------------
# Prompt: halo-muon interactions in material
# ---------------------------------------------------------------------------------------------
def _interaction_points(n, rng, cfg: PromptConfig, halo: HaloConfig, site=None):
    """Interaction point (n, 3) and incoming muon (charge, origin on the halo plane, p4)."""
    charge, pos, p4 = sample_halo_muons(n, rng, halo)
    tx, ty = p4[:, 0] / p4[:, 2], p4[:, 1] / p4[:, 2]
    names = list(cfg.site_weights)
    w = np.array([cfg.site_weights[k] for k in names])
    kind = (np.full(n, names.index(site)) if site is not None
            else rng.choice(len(names), n, p=w / w.sum()))
    z = np.empty(n)
    x = np.empty(n)
    y = np.empty(n)
    # LAV1-5: a point near the inner edge of the ring; the muon is moved to pass there
    lav = kind == names.index("lav") if "lav" in names else np.zeros(n, bool)
    nl = int(lav.sum())
    st = rng.integers(0, 5, nl)
    r = g.LAV_R_INNER[st] + rng.exponential(cfg.lav_edge_depth, nl)
    phi = rng.uniform(0.0, 2.0 * np.pi, nl)
    z[lav] = g.LAV_Z[st] + 0.01
    x[lav], y[lav] = r * np.cos(phi), r * np.sin(phi)
    for name, zr in (("window", cfg.window_z), ("upstream", cfg.upstream_z)):
        if name not in names:
            continue
        sel = kind == names.index(name)
        z[sel] = rng.uniform(zr[0], zr[1], int(sel.sum()))
        x[sel] = pos[sel, 0] + tx[sel] * (z[sel] - halo.z_plane)
        y[sel] = pos[sel, 1] + ty[sel] * (z[sel] - halo.z_plane)
    # incoming muon starts upstream of the interaction on its own line (on the halo plane, or
    # for a fraction of the LAV interactions 1 m before, having crossed the vessel wall)
    wall = lav & (rng.uniform(size=n) < cfg.wall_entry_fraction)
    z0 = np.where(wall, z - 1.0, np.minimum(halo.z_plane, z - 1.0))
    origin = np.stack([x - tx * (z - z0), y - ty * (z - z0), z0], axis=-1)
    return np.stack([x, y, z], axis=-1), charge, origin, p4


def _pair_masses(channel, n, rng, cfg: PromptConfig):
    if channel == "ee":
        loc, scale = cfg.ee_mass_landau
        m = stats.landau.rvs(loc=loc, scale=scale, size=n, random_state=rng)
        return np.clip(m, 2 * M_E + 1e-4, 0.3)
    if channel == "mumu":
        return 2 * M_MU + 1e-4 + rng.exponential(cfg.mumu_mass_slope, n)
    if channel == "pipi":
        return 2 * M_PI + 1e-4 + rng.exponential(cfg.pipi_mass_slope, n)
    return M_MU + M_PI + 1e-4 + rng.exponential(cfg.pipi_mass_slope, n)


def _daughter_species(channel):
    return {"ee": ("e+", "e-"), "mumu": ("mu+", "mu-"), "pipi": ("pi+", "pi-"),
            "mupi": ("mu+", "pi-")}[channel]


def prompt_events(channel, n, rng, *, cfg: PromptConfig = PROMPT, halo: HaloConfig = HALO,
                  mode=Production.PROMPT, site=None, photon_in_pair=0.0):
    """``n`` halo-muon interactions making a ``channel`` pair (see the module documentation)."""
    vtx, charge, origin, mu_p4 = _interaction_points(n, rng, cfg, halo, site)
    ev = np.arange(n)
    e_mu = mu_p4[:, 3]
    frac = rng.uniform(*cfg.energy_fraction, n)
    m_pair = _pair_masses(channel, n, rng, cfg)
    u_mu = mu_p4[:, :3] / np.linalg.norm(mu_p4[:, :3], axis=1, keepdims=True)
    # pair momentum along the muon with a small transverse kick
    p_pair = frac * e_mu
    kick = cfg.pair_pt_sigma * rng.standard_normal((n, 3))
    kick -= np.sum(kick * u_mu, axis=1, keepdims=True) * u_mu
    pvec = p_pair[:, None] * u_mu + kick
    pair = four_momentum(pvec[:, 0], pvec[:, 1], pvec[:, 2], m_pair)
    names = _daughter_species(channel)
    if channel == "mupi":  # the pion has the charge opposite to the muon
        sign = charge
    else:
        sign = np.ones(n, np.int8)
    d1, d2 = two_body_decay(pair, SPECIES[names[0]][1], SPECIES[names[1]][1], rng)
    parts = [
        Particles.from_p4(ev, SPECIES[names[0]][0], sign * SPECIES[names[0]][2], d1, vtx, 0.0),
        Particles.from_p4(ev, SPECIES[names[1]][0], sign * SPECIES[names[1]][2], d2, vtx, 0.0),
        # the incoming muon up to the interaction point
        Particles.from_p4(ev, PDG_MUON, charge, mu_p4, origin, 0.0, z_end=vtx[:, 2]),
    ]
    if channel != "mupi":  # the scattered muon leaves at a large angle
        p_out = (1.0 - frac) * e_mu
        th = np.abs(cfg.scatter_angle * rng.standard_normal(n))
        d = _tilt(u_mu, th, rng)
        parts.append(Particles.from_p4(ev, PDG_MUON, charge,
                                       four_momentum(*(p_out[:, None] * d).T, M_MU), vtx, 0.0))
    n_gam = rng.poisson(cfg.photons_mean, n)
    if photon_in_pair:
        n_gam = n_gam + (rng.uniform(size=n) < photon_in_pair)
    ev_g = np.repeat(ev, n_gam)
    ng = ev_g.size
    th = rng.uniform(*cfg.photon_angle, ng)
    dg = _tilt(u_mu[ev_g], th, rng)
    eg = rng.exponential(cfg.photon_energy_mean, ng) + 0.05
    parts.append(Particles.from_p4(ev_g, PDG_PHOTON, 0, np.concatenate(
        [eg[:, None] * dg, eg[:, None]], axis=1), vtx[ev_g], 0.0))
    z_range = {"lav": (g.LAV_Z[0], g.LAV_Z[4])}.get(site, (cfg.upstream_z[0], g.LAV_Z[4] + 0.3))
    truth = _truth(n, mode, Channel.from_name(channel), d1 + d2, vtx, vtx, z_range)
    return EventSet(n, Particles.concat(parts), truth, np.full(n, float(g.Q1_DOWNSCALE)))


def _tilt(u, theta, rng):
    """Unit vectors at polar angle ``theta`` (uniform azimuth) around the unit vectors ``u``."""
    n = u.shape[0]
    ref = np.where(np.abs(u[:, 0:1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    a = np.cross(u, ref)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = np.cross(u, a)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    s = np.sin(theta)[:, None]
    return (np.cos(theta)[:, None] * u + s * np.cos(phi)[:, None] * a
            + s * np.sin(phi)[:, None] * b)


# ---------------------------------------------------------------------------------------------
# Upstream backgrounds of the hadronic channels
# ---------------------------------------------------------------------------------------------
def k3pi_events(n, rng, cfg: UpstreamConfig = UPSTREAM):
    """Beam K+ (or K-) decaying to three charged pions in the decay volume."""
    ev = np.arange(n)
    p = cfg.kaon_momentum[0] + cfg.kaon_momentum[1] * rng.standard_normal(n)
    tx = cfg.kaon_divergence * rng.standard_normal(n)
    ty = cfg.kaon_divergence * rng.standard_normal(n)
    pz = p / np.sqrt(1 + tx * tx + ty * ty)
    kaon = four_momentum(tx * pz, ty * pz, pz, M_K)
    x0 = cfg.kaon_spot * rng.standard_normal(n)
    y0 = cfg.kaon_spot * rng.standard_normal(n)
    zd = rng.uniform(*cfg.kaon_decay_z, n)
    origin = np.stack([x0, y0, np.full(n, cfg.kaon_z)], axis=-1)
    vtx = np.stack([x0 + tx * (zd - cfg.kaon_z), y0 + ty * (zd - cfg.kaon_z), zd], axis=-1)
    pions = phase_space_decay(kaon, [M_PI, M_PI, M_PI], rng)
    parts = [Particles.from_p4(ev, 321, 1, kaon, origin, 0.0, z_end=zd)]
    for i, q in enumerate((1, 1, -1)):
        parts.append(Particles.from_p4(ev, 211, q, pions[:, i], vtx, 0.0))
    truth = _truth(n, Production.UPSTREAM_K3PI, Channel.PIPI, kaon, origin, vtx,
                   cfg.kaon_decay_z, parent_mass=M_K)
    return EventSet(n, Particles.concat(parts), truth, np.full(n, float(g.Q1_DOWNSCALE)))


def ks_events(n, rng, cfg: UpstreamConfig = UPSTREAM, halo: HaloConfig = HALO):
    """K_S -> pi+pi- from halo-muon interactions upstream of ANTI0 (real K_S lifetime)."""
    ev = np.arange(n)
    charge, mpos, mu = sample_halo_muons(n, rng, halo)
    z_int = rng.uniform(*cfg.ks_z, n)
    tx, ty = mu[:, 0] / mu[:, 2], mu[:, 1] / mu[:, 2]
    prod = np.stack([mpos[:, 0] + tx * (z_int - halo.z_plane),
                     mpos[:, 1] + ty * (z_int - halo.z_plane), z_int], axis=-1)
    p = cfg.ks_p_min + rng.exponential(cfg.ks_p_mean, n)
    d = _tilt(mu[:, :3] / np.linalg.norm(mu[:, :3], axis=1, keepdims=True),
              np.abs(0.003 * rng.standard_normal(n)), rng)
    ks = four_momentum(*(p[:, None] * d).T, M_KS)
    flight = rng.exponential(p / M_KS * _CTAU_KS_M)
    vtx = prod + flight[:, None] * d
    t_dec = flight * (ks[:, 3] / p - 1.0) / 0.299792458
    p1, p2 = two_body_decay(ks, M_PI, M_PI, rng)
    origin = np.stack([mpos[:, 0], mpos[:, 1], np.minimum(halo.z_plane, z_int - 1)], axis=-1)
    origin[:, 0] = prod[:, 0] - tx * (z_int - origin[:, 2])
    origin[:, 1] = prod[:, 1] - ty * (z_int - origin[:, 2])
    parts = [
        Particles.from_p4(ev, PDG_MUON, charge, mu, origin, 0.0, z_end=z_int),
        Particles.from_p4(ev, 211, 1, p1, vtx, t_dec),
        Particles.from_p4(ev, 211, -1, p2, vtx, t_dec),
    ]
    truth = _truth(n, Production.UPSTREAM_KS, Channel.PIPI, ks, prod, vtx, cfg.ks_z,
                   parent_mass=M_KS)
    return EventSet(n, Particles.concat(parts), truth, np.full(n, float(g.Q1_DOWNSCALE)))


def upstream_events(process, n, rng, cfg: UpstreamConfig = UPSTREAM):
    """``n`` events of upstream ``process`` (k3pi | ks | interaction)."""
    if process == "k3pi":
        return k3pi_events(n, rng, cfg)
    if process == "ks":
        return ks_events(n, rng, cfg)
    if process == "interaction":
        pc = PromptConfig(window_z=cfg.interaction_z, site_weights={"window": 1.0})
        return prompt_events("pipi", n, rng, cfg=pc, mode=Production.UPSTREAM_INTERACTION,
                             site="window", photon_in_pair=cfg.photon_fraction)
    raise InputError(f"upstream parameter 'process': {process!r} is not one of "
                     f"{UPSTREAM_PROCESSES}")


# ---------------------------------------------------------------------------------------------
# Sample builders (POT in, branches out)
# ---------------------------------------------------------------------------------------------
def _poisson(mean, rng):
    if not np.isfinite(mean) or mean < 0:
        raise InputError(f"size: expected number of events {mean!r} is not a finite number >= 0")
    return int(rng.poisson(mean))


def _respond(es: EventSet, rng, *, truth: bool, keep_triggered: bool,
             detector: DetectorConfig = DEFAULT_CONFIG):
    out = simulate_detector(es.particles, es.n, rng, cfg=detector, q1_downscale=es.q1_downscale)
    if truth:
        f4 = np.float32
        for k in _TRUTH_FIELDS:
            dtype = np.int8 if k in ("model", "mode", "channel") else f4
            out[f"Truth_{k}"] = es.truth[k].astype(dtype)
    if keep_triggered:
        keep = out["trig_H2"] | out["trig_Q1"] | out["trig_control"]
        out = select_events(out, keep)
    return out


def select_events(branches, mask):
    """Keep (or reorder, with an index array) the events of a dict of branches."""
    return {k: v[mask] if isinstance(v, ak.Array) else np.asarray(v)[mask]
            for k, v in branches.items()}


#: Events generated and passed through the detector at once (bounds the memory of large
#: background samples; the result does not depend on it except through the random stream).
CHUNK_EVENTS = 100_000


def _concat_branches(outs):
    return {k: ak.concatenate([o[k] for o in outs]) if isinstance(outs[0][k], ak.Array)
            else np.concatenate([o[k] for o in outs]) for k in outs[0]}


def _triggered(jobs, rng, *, truth: bool):
    """Run ``jobs`` (``(n, make)`` with ``make(m) -> EventSet``) in chunks; triggered events."""
    outs = []
    for n, make in jobs:
        for start in range(0, n, CHUNK_EVENTS):
            es = make(min(CHUNK_EVENTS, n - start))
            outs.append(_respond(es, rng, truth=truth, keep_triggered=True))
    if not outs:
        outs = [_respond(EventSet.concat([]), rng, truth=truth, keep_triggered=True)]
    return _concat_branches(outs)


def prompt_sample(pot, rng, *, channels=PROMPT_CHANNELS, cfg: PromptConfig = PROMPT,
                  truth=True):
    """Prompt events at ``pot`` (Poisson counts per final state); triggered events only."""
    counts = [_poisson(cfg.rate_per_pot[ch] * pot, rng) for ch in channels]
    jobs = [(n, lambda m, ch=ch: prompt_events(ch, m, rng, cfg=cfg))
            for ch, n in zip(channels, counts, strict=True)]
    return _triggered(jobs, rng, truth=truth)


def upstream_sample(process, pot, rng, *, cfg: UpstreamConfig = UPSTREAM, truth=True):
    """Upstream ``process`` events at ``pot``; triggered events only."""
    if process not in UPSTREAM_PROCESSES:
        raise InputError(f"upstream parameter 'process': {process!r} is not one of "
                         f"{UPSTREAM_PROCESSES}")
    n = _poisson(cfg.rate_per_pot[process] * pot, rng)
    return _triggered([(n, lambda m: upstream_events(process, m, rng, cfg))], rng, truth=truth)


def q1_control_sample(pot, rng, *, cfg: HaloConfig = HALO):
    """Single halo-muon Q1 events at ``pot``: ``rate * POT / D`` muons, Q1 already thinned."""
    n = _poisson(cfg.rate_per_pot * pot / g.Q1_DOWNSCALE, rng)
    return _triggered([(n, lambda m: halo_single(m, rng, q1_downscale=1.0, cfg=cfg,
                                                 with_truth=False))], rng, truth=False)


def expected_counts(pot) -> dict[str, float]:
    """Expected numbers of *generated* events per component at ``pot`` (before triggering).

    Keys: ``prompt_<channel>``, ``upstream_<process>``, ``overlaps`` (genuine halo pairs) and
    ``q1_single`` (single halo muons after the Q1 downscaling).
    """
    if not np.isfinite(pot) or pot < 0:
        raise InputError(f"size: {pot!r} POT is not a finite number >= 0")
    out = {f"prompt_{c}": PROMPT.rate_per_pot[c] * pot for c in PROMPT_CHANNELS}
    out.update({f"upstream_{p}": UPSTREAM.rate_per_pot[p] * pot for p in UPSTREAM_PROCESSES})
    out["overlaps"] = expected_overlaps(pot)
    out["q1_single"] = HALO.rate_per_pot * pot / g.Q1_DOWNSCALE
    return out


def pseudo_data_sample(pot, rng):
    """Background-only pseudo-data at ``pot``: every component, shuffled, without truth."""
    mean = expected_counts(pot)
    jobs = [(_poisson(mean[f"prompt_{ch}"], rng), lambda m, ch=ch: prompt_events(ch, m, rng))
            for ch in PROMPT_CHANNELS]
    jobs += [(_poisson(mean[f"upstream_{p}"], rng), lambda m, p=p: upstream_events(p, m, rng))
             for p in UPSTREAM_PROCESSES]
    jobs.append((_poisson(mean["overlaps"], rng), lambda m: halo_overlaps(m, rng)))
    jobs.append((_poisson(mean["q1_single"], rng),
                 lambda m: halo_single(m, rng, q1_downscale=1.0, with_truth=False)))
    out = _triggered(jobs, rng, truth=False)
    return select_events(out, rng.permutation(len(out["trig_H2"])))
