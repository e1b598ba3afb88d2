"""Fast detector response: from final-state particles to the branches of ``docs/ntuple.md``.

One call, :func:`simulate_detector`, handles all particles of all events at once (numpy over the
flat particle table, loops only over detector stations). The per-particle geometry (momentum,
slopes and time factor, LAV crossings, crossing points at the detector planes) and the time
ordering of the trigger run as numba-compiled loops over the flat particles: one pass instead
of dozens of full-array temporaries. They perform the same floating-point operations, in the
same order, as the numpy expressions in their docstrings (the results are bit-identical; the
tests compare them), and they draw no random numbers: every draw is a numpy call on the
explicit ``rng``, in a fixed order, so a seed gives the same events as before. Geometry comes from
:mod:`na62dump.geometry`; the response parameters that are not geometry (efficiencies,
calorimeter response, accidental rates) live in one documented place, :class:`DetectorConfig`.

Model, per particle (straight lines in the decay volume, thin-lens magnet):

* **Propagation.** Straight line from the origin; at ``geometry.MAGNET_KICK_Z`` charged
  particles get the horizontal kick ``q * MAGNET_PT_KICK_GEV`` (positive charges towards +X).
  Only particles with ``pz > 0`` and an origin upstream of STRAW 1 are followed.
* **Vacuum tube and LAV.** At every LAV station downstream of the origin a particle at a radius
  beyond the station's inner radius hits the station (a LAV hit if inside the lead-glass ring).
  Photons, electrons and hadrons are absorbed there (the vessel aperture); muons cross and leave
  a hit in every ring they traverse (efficiency 0.90 for a muon, 0.99 for showers).
* **Spectrometer.** A charged particle is a track if it is inside the acceptance (R < 1 m,
  outside the beam hole) of STRAW 1 and of at least ``min_chambers`` (3) of the four chambers;
  three-chamber tracks get a worse momentum resolution. Momentum (``momentum_resolution``),
  slopes and positions are smeared; the downstream line (after the kick) is given at STRAW 4.
* **RICH.** Ring radius ``f * arccos(1 / (n beta))`` for beta above threshold, smeared by
  ``RICH_RADIUS_RES``; a ring needs >= 3 detected photons out of ``rich_photons_max * sin^2
  theta / sin^2 theta_max`` (Poisson), which turns the ring off near threshold.
* **CHOD / NA48-CHOD.** One signal per charged particle in acceptance with the efficiencies
  below and Gaussian time resolutions (0.8 / 0.2 ns). The H2 trigger and the trigger time use
  every CHOD signal of the event.
* **LKr.** One cluster per particle in acceptance: electrons and photons at the LKr resolution
  (3.2%/sqrt(E) + 9%/E + 0.42%) with a low tail (upstream bremsstrahlung: a fraction of the
  showers loses 5-30%); muons a minimum-ionising deposit (~0.7 GeV); pions and kaons a
  hadronic response (a MIP-like part, a broad shower part around E/p ~ 0.5, and a tail near
  E/p ~ 1 that mimics electrons). Clusters below ``cluster_threshold_gev`` are not formed.
* **MUV1 + MUV2.** Hadronic energy of each track (the part of a hadron's energy not left in the
  LKr, smeared; muons a MIP; electrons a small leakage).
* **MUV3.** Muons above ``muv3_min_momentum_gev`` (range through the iron wall), with efficiency
  0.995; the hit is smeared by multiple scattering (``muv3_ms_m_gev / p``) and quantised to the
  tile centre. Pions punch through with probability ``punch_through_const + slope * p``;
  pions and kaons decaying to muons between the RICH and the LKr behave as muons downstream.
* **ANTI0.** One hit for every charged particle crossing Z = 102.4 m inside the hodoscope.
* **Accidentals.** Random LAV and ANTI0 hits, uniform in time over the readout window. The
  rates give the signal losses to the LAV and ANTI0 vetoes of the selection (random veto, a
  systematic of the published signal selection): LAV 2 MHz in total, i.e. 2.0% probability of
  a random LAV signal within +-5 ns; ANTI0 15 MHz spread as a Gaussian of 0.5 m around the beam
  axis, giving a ~1-2% loss of two-track events to the 200 mm / 5 ns ANTI0 match.

Time convention: all times (ns) are on the reduced clock ``t_lab - Z / c``, so a particle of
the speed of light travelling along Z keeps its time; the event reference time is 0 for
single interactions. Trigger bits: H2 = two CHOD signals within ``h2_coincidence_ns``; Q1 = at
least one CHOD signal, kept with probability ``1 / q1_downscale``; control = LKr total energy
above 1 GeV. Trigger time: mean of the first coincident H2 pair, else the earliest CHOD
signal, else the energy-weighted LKr time (0 if nothing fired).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import awkward as ak
import numba
import numpy as np
from particle import Particle

from na62dump import geometry as g
from na62dump.simulation.kinematics import (
    C_M_PER_NS,
    PDG_ELECTRON,
    PDG_KAON,
    PDG_MUON,
    PDG_PHOTON,
    PDG_PION,
    Particles,
)

log = logging.getLogger(__name__)

_CTAU_PION_M = Particle.from_pdgid(211).ctau / 1000.0
_CTAU_KAON_M = Particle.from_pdgid(321).ctau / 1000.0
_M_PION = Particle.from_pdgid(211).mass / 1000.0
_M_KAON = Particle.from_pdgid(321).mass / 1000.0
#: BR(K+ -> mu+ nu) (PDG); the other kaon decays are treated as staying hadronic
_BR_K_MUNU = 0.6356


@dataclass(frozen=True)
class DetectorConfig:
    """Response parameters that are not geometry (approximations, documented in the module)."""

    min_chambers: int = 3  #: STRAW chambers needed for a track (STRAW 1 always required)
    three_chamber_res_factor: float = 1.5  #: momentum resolution worsening with 3 chambers
    chod_efficiency: float = 0.99
    na48chod_efficiency: float = 0.99
    lav_efficiency: float = 0.99  #: photons, electrons, hadrons hitting a LAV ring
    #: muons crossing the lead glass (Cherenkov light of a MIP in one or two blocks)
    lav_muon_efficiency: float = 0.90
    anti0_efficiency: float = 0.99
    rich_photons_max: float = 20.0  #: mean detected photons of a beta = 1 ring
    rich_min_photons: int = 3
    # LKr response
    lkr_stochastic: float = 0.032  #: sigma_E/E = a/sqrt(E) (+) b/E (+) c
    lkr_noise_gev: float = 0.09
    lkr_constant: float = 0.0042
    em_tail_fraction: float = 0.02  #: electron showers with an upstream-bremsstrahlung loss
    em_tail_loss: tuple[float, float] = (0.05, 0.30)  #: uniform fractional loss range
    muon_deposit_gev: tuple[float, float, float] = (0.45, 2.0, 0.12)  #: offset + gamma(k, theta)
    hadron_mip_fraction: float = 0.30  #: hadrons crossing the LKr without a shower
    hadron_eop_mean: float = 0.50
    hadron_eop_sigma: float = 0.15
    hadron_eop_fold: float = 0.90  #: the shower part is folded below this E/p
    hadron_eop_tail: float = 0.007  #: fraction with E/p ~ N(0.97, 0.03): electron-like
    hadron_position_res: float = 0.01  #: m, hadronic cluster position resolution
    hcal_resolution: float = 0.65  #: MUV1+2 sigma_E/E = a / sqrt(E)
    electron_hcal_leak: float = 0.01  #: mean fraction of electron energy leaking into MUV1+2
    cluster_threshold_gev: float = 0.2
    # MUV3
    muv3_efficiency: float = 0.995
    muv3_min_momentum_gev: float = 3.0
    muv3_ms_m_gev: float = 0.5  #: multiple-scattering displacement sigma (m) times p (GeV)
    muv3_tile_size: float = 0.22  #: m
    punch_through_const: float = 0.004
    punch_through_slope_per_gev: float = 5.0e-5
    # trigger
    h2_coincidence_ns: float = 5.0
    control_threshold_gev: float = 1.0
    # accidental activity
    readout_half_window_ns: float = 50.0
    lav_accidental_rate_mhz: float = 2.0
    anti0_accidental_rate_mhz: float = 15.0
    anti0_accidental_sigma_m: float = 0.5


DEFAULT_CONFIG = DetectorConfig()


def _bool(n):
    return np.zeros(n, dtype=bool)


def _thin(mask, prob, rng):
    """``mask`` kept with probability ``prob`` (scalar or per element); draws only for ``mask``.

    Random numbers are drawn for the selected entries only (the cost of the response scales
    with the particles that reach a detector, not with all particles).
    """
    idx = np.flatnonzero(mask)
    p = prob if np.ndim(prob) == 0 else np.asarray(prob)[idx]
    out = np.zeros(mask.shape, dtype=bool)
    out[idx[rng.random(idx.size) < p]] = True
    return out


def _jagged(event, n_events, columns: dict[str, tuple[np.ndarray, type]]):
    """Turn flat per-object columns (any order) into jagged arrays with one list per event.

    Objects of one event keep their order (stable sort by event; no sort if already ordered).
    """
    event = np.asarray(event)
    order = None if _is_sorted(event) else np.argsort(event, kind="stable")
    counts = np.bincount(event, minlength=n_events).astype(np.int64)
    offsets = ak.index.Index64(np.concatenate([[0], np.cumsum(counts)]))

    def jag(col, dtype):
        col = np.asarray(col)
        flat = (col if order is None else col[order]).astype(dtype)
        return ak.Array(ak.contents.ListOffsetArray(offsets, ak.contents.NumpyArray(flat)))

    return counts, {name: jag(col, dtype) for name, (col, dtype) in columns.items()}


def _is_sorted(a):
    """Whether the 1-d array ``a`` is non-decreasing."""
    return a.size < 2 or bool(np.all(a[1:] >= a[:-1]))


@numba.njit(cache=True, nogil=True)
def _sort_within_events(ev_sorted, t, order):  # pragma: no cover - compiled
    """Stable insertion sort of ``order`` by ``t`` inside each run of equal ``ev_sorted``.

    ``order`` is a stable argsort by event, so the result equals ``np.lexsort((t, ev))``
    (events hold a handful of signals: insertion sort is linear in practice).
    """
    n = order.size
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and ev_sorted[stop] == ev_sorted[start]:
            stop += 1
        for i in range(start + 1, stop):
            o = order[i]
            ti = t[o]
            j = i - 1
            while j >= start and t[order[j]] > ti:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = o
        start = stop
    return order


def lkr_energy_resolution(energy, cfg: DetectorConfig = DEFAULT_CONFIG):
    """Relative LKr resolution sigma_E / E at ``energy`` (GeV)."""
    e = np.maximum(np.asarray(energy, dtype=float), 1e-3)
    return np.sqrt((cfg.lkr_stochastic / np.sqrt(e)) ** 2 + (cfg.lkr_noise_gev / e) ** 2
                   + cfg.lkr_constant**2)


#: Z of the planes whose acceptance is tested for every charged particle, in the order of the
#: rows returned by :func:`_plane_positions` (the other planes are evaluated for the particles
#: that need them, :func:`_positions_at`).
_PLANES = {
    "anti0": g.ANTI0_Z,
    "straw1": g.STRAW_Z[0],
    "straw2": g.STRAW_Z[1],
    "straw3": g.STRAW_Z[2],
    "straw4": g.STRAW_Z[3],
    "chod": g.CHOD_Z,
    "na48chod": g.NA48CHOD_Z[0],
}
_PLANE_ROW = {name: k for k, name in enumerate(_PLANES)}
_PLANE_Z = np.array(list(_PLANES.values()))
_LAV_Z = np.array([st.z for st in g.LAV_STATIONS])
_LAV_R_INNER2 = np.array([st.r_inner**2 for st in g.LAV_STATIONS])
_LAV_R_OUTER2 = np.array([st.r_outer**2 for st in g.LAV_STATIONS])


@numba.njit(cache=True, nogil=True)
def _xy_at(z, x0, y0, z0, tx, ty, txd, z_kick):  # pragma: no cover - compiled
    """Crossing point of one particle's line at plane ``z`` (upstream line before the kick).

    Same operations, in the same order, as the numpy expressions it replaces (the results are
    bit-identical): ``x0 + tx (z - z0)`` upstream of the kick plane, else ``x0 + tx (z_kick -
    z0) + txd (z - z_kick)``; ``y0 + ty (z - z0)``.
    """
    if z <= z_kick:
        x = x0 + tx * (z - z0)
    else:
        x = (x0 + tx * (z_kick - z0)) + txd * (z - z_kick)
    return x, y0 + ty * (z - z0)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _lines(px, py, pz, e, z0, charge, z_follow, pt_kick, c_m_per_ns):  # pragma: no cover
    """Per particle, one pass: momentum, velocity, whether it is followed, slopes, time factor.

    ``p = |p|``; ``beta = p / E`` (1 if E <= 0); followed if ``pz > 0`` and ``z0 < z_follow``;
    upstream slopes ``tx, ty`` and downstream x slope ``txd = (px + q pt_kick) / pz`` (0 if not
    followed); ``path_factor = (sqrt(1 + tx^2 + ty^2) / max(beta, 1e-9) - 1) / c``. The same
    operations, in the same order, as the numpy expressions they replaced (bit-identical).
    """
    n = px.size
    p = np.empty(n)
    beta = np.empty(n)
    follow = np.empty(n, dtype=np.bool_)
    tx = np.empty(n)
    ty = np.empty(n)
    txd = np.empty(n)
    path_factor = np.empty(n)
    for i in range(n):
        p[i] = np.sqrt(px[i] * px[i] + py[i] * py[i] + pz[i] * pz[i])
        beta[i] = p[i] / e[i] if e[i] > 0 else 1.0
        follow[i] = pz[i] > 0 and z0[i] < z_follow
        if follow[i]:
            tx[i] = px[i] / pz[i]
            ty[i] = py[i] / pz[i]
            txd[i] = (px[i] + float(charge[i]) * pt_kick) / pz[i]
        else:
            tx[i] = 0.0
            ty[i] = 0.0
            txd[i] = 0.0
        path_factor[i] = (np.sqrt(1.0 + tx[i] * tx[i] + ty[i] * ty[i]) / max(beta[i], 1e-9)
                          - 1.0) / c_m_per_ns
    return p, beta, follow, tx, ty, txd, path_factor


@numba.njit(cache=True, nogil=True)
def _lav_crossings(x0, y0, z0, tx, ty, txd, follow, z_end, absorbing, z_kick,
                   st_z, r_in2, r_out2):  # pragma: no cover - compiled
    """LAV geometry of every particle, in one pass (see the module doc for the model).

    Returns ``ring`` (stations x particles, bool: the particle reaches the station inside its
    lead-glass ring) and ``z_stop`` (where it ends: ``z_end``, or the first station at which
    an absorbed species is beyond the station's inner radius; ``-inf`` if not followed).
    """
    n = x0.size
    ring = np.zeros((st_z.size, n), dtype=np.bool_)
    z_stop = np.empty(n)
    for i in range(n):
        if not follow[i]:
            z_stop[i] = -np.inf
            continue
        zs = z_end[i]
        for s in range(st_z.size):
            z = st_z[s]
            if z0[i] < z and zs > z:
                x, y = _xy_at(z, x0[i], y0[i], z0[i], tx[i], ty[i], txd[i], z_kick)
                r2 = x * x + y * y
                if r2 >= r_in2[s]:
                    if r2 < r_out2[s]:
                        ring[s, i] = True
                    if absorbing[i]:
                        zs = z
        z_stop[i] = zs
    return ring, z_stop


@numba.njit(cache=True, nogil=True)
def _plane_positions(rows, x0, y0, z0, tx, ty, txd, z_kick, planes):  # pragma: no cover
    """Crossing points ``(x, y)``, each ``(planes, rows)``, of the lines of particles ``rows``."""
    xs = np.empty((planes.size, rows.size))
    ys = np.empty((planes.size, rows.size))
    for k in range(planes.size):
        for j in range(rows.size):
            i = rows[j]
            xs[k, j], ys[k, j] = _xy_at(planes[k], x0[i], y0[i], z0[i], tx[i], ty[i], txd[i],
                                        z_kick)
    return xs, ys


@numba.njit(cache=True, nogil=True)
def _positions_at(z, rows, x0, y0, z0, tx, ty, txd, z_kick):  # pragma: no cover - compiled
    """Crossing points ``(x, y)`` at plane ``z`` of the particles ``rows`` only."""
    xs = np.empty(rows.size)
    ys = np.empty(rows.size)
    for j in range(rows.size):
        i = rows[j]
        xs[j], ys[j] = _xy_at(z, x0[i], y0[i], z0[i], tx[i], ty[i], txd[i], z_kick)
    return xs, ys


def simulate_detector(
    particles: Particles,
    n_events: int,
    rng: np.random.Generator,
    *,
    cfg: DetectorConfig = DEFAULT_CONFIG,
    q1_downscale: int = g.Q1_DOWNSCALE,
    accidentals: bool = True,
) -> dict[str, np.ndarray | ak.Array]:
    """Detector response of ``n_events`` events whose final-state particles are ``particles``.

    Returns the event-level trigger branches and the ``Track``, ``Cluster``, ``MUV3``, ``LAV``
    and ``ANTI0`` collections of ``docs/ntuple.md`` (jagged arrays keyed by branch name plus
    no ``nX`` counters: the writer derives them), without ``run``/``burst``/``event`` and
    without truth.

    ``q1_downscale`` is the Q1 downscaling applied here (pass 1 for a sample generated already
    thinned by the downscaling); ``accidentals=False`` switches off the random activity.
    """
    ev = particles.event
    n = len(particles)
    pdg = particles.pdg
    charged = particles.charge != 0
    is_mu = pdg == PDG_MUON
    is_e = pdg == PDG_ELECTRON
    is_gamma = pdg == PDG_PHOTON
    is_had = (pdg == PDG_PION) | (pdg == PDG_KAON)
    px, py, pz, e = particles.px, particles.py, particles.pz, particles.e
    # reduced time at plane z: t0 + (z - z0) * path_factor
    p, beta, follow, tx, ty, txd, path_factor = _lines(
        px, py, pz, e, particles.z, particles.charge, g.STRAW_Z[0], g.MAGNET_PT_KICK_GEV,
        C_M_PER_NS)
    line = (particles.x, particles.y, particles.z, tx, ty, txd, g.MAGNET_KICK_Z)
    ic = np.flatnonzero(charged & follow)
    xs, ys = _plane_positions(ic, *line, _PLANE_Z)

    def inside(plane, predicate, *args):
        """Charged followed particles whose line passes ``predicate`` at ``plane`` (mask)."""
        k = _PLANE_ROW[plane]
        mask = _bool(n)
        mask[ic] = predicate(xs[k], ys[k], *args)
        return mask

    def time_at(z, sel):
        return particles.t[sel] + (z - particles.z[sel]) * path_factor[sel]

    # ---- LAV stations and absorption in the vessel aperture --------------------------------
    ring, z_stop = _lav_crossings(*line[:6], follow, particles.z_end, ~is_mu, g.MAGNET_KICK_Z,
                                  _LAV_Z, _LAV_R_INNER2, _LAV_R_OUTER2)
    lav_ev, lav_st, lav_t = [], [], []
    for st, ring_st in zip(g.LAV_STATIONS, ring, strict=True):
        idx = np.flatnonzero(ring_st)
        eff = np.where(is_mu[idx], cfg.lav_muon_efficiency, cfg.lav_efficiency)
        hit = idx[rng.random(idx.size) < eff]
        lav_ev.append(ev[hit])
        lav_st.append(np.full(hit.size, st.index))
        lav_t.append(time_at(st.z, hit) + rng.normal(0.0, g.LAV_TIME_RES_NS, hit.size))

    def reaches(z):
        return follow & (z_stop > z)

    # ---- ANTI0 ------------------------------------------------------------------------------
    a_hit = np.flatnonzero(_thin(
        charged & (pz > 0) & (particles.z < g.ANTI0_Z) & (particles.z_end > g.ANTI0_Z)
        & inside("anti0", g.in_anti0_acceptance),
        cfg.anti0_efficiency, rng,
    ))
    na = a_hit.size
    xa, ya = _positions_at(g.ANTI0_Z, a_hit, *line)
    anti0 = {
        "ev": ev[a_hit],
        "x": xa + rng.normal(0.0, g.ANTI0_POSITION_RES, na),
        "y": ya + rng.normal(0.0, g.ANTI0_POSITION_RES, na),
        "t": time_at(g.ANTI0_Z, a_hit) + rng.normal(0.0, g.ANTI0_TIME_RES_NS, na),
    }

    # ---- STRAW spectrometer -----------------------------------------------------------------
    n_ch = np.zeros(n, dtype=np.int8)
    first = _bool(n)
    for k, zc in enumerate(g.STRAW_Z):
        ok = charged & reaches(zc) & inside(f"straw{k + 1}", g.in_straw_acceptance, k)
        n_ch += ok
        if k == 0:
            first = ok
    track = first & (n_ch >= cfg.min_chambers)
    it = np.flatnonzero(track)
    nt = it.size
    pt_ = p[it]
    res = g.momentum_resolution(pt_) * np.where(n_ch[it] == 4, 1.0, cfg.three_chamber_res_factor)
    p_reco = pt_ * (1.0 + res * rng.standard_normal(nt))
    sig_th = np.hypot(g.SLOPE_RES_CONST, g.SLOPE_RES_MS_GEV / pt_)
    tx_r = tx[it] + sig_th * rng.standard_normal(nt)
    ty_r = ty[it] + sig_th * rng.standard_normal(nt)
    norm = p_reco / np.sqrt(1.0 + tx_r**2 + ty_r**2)
    x1, y1 = _positions_at(g.STRAW_Z[0], it, *line)
    x4, y4 = _positions_at(g.STRAW_Z[3], it, *line)
    ndf = 2 * n_ch[it].astype(int) - 4
    tracks = {
        "ev": ev[it],
        "charge": particles.charge[it],
        "px": norm * tx_r,
        "py": norm * ty_r,
        "pz": norm,
        "x": x1 + g.POSITION_RES * rng.standard_normal(nt),
        "y": y1 + g.POSITION_RES * rng.standard_normal(nt),
        "z": np.full(nt, g.STRAW_Z[0]),
        "xDown": x4 + g.POSITION_RES * rng.standard_normal(nt),
        "yDown": y4 + g.POSITION_RES * rng.standard_normal(nt),
        "txDown": txd[it] + sig_th * rng.standard_normal(nt),
        "tyDown": ty[it] + sig_th * rng.standard_normal(nt),
        "chi2": rng.chisquare(ndf) / ndf,
        "nChambers": n_ch[it],
    }

    # ---- RICH -------------------------------------------------------------------------------
    n_index = 1.0 + g.RICH_N_MINUS_1
    cos_c = 1.0 / (n_index * np.maximum(beta[it], 1e-9))
    above = cos_c < 1.0
    theta = np.arccos(np.clip(cos_c, -1.0, 1.0))
    theta_max = np.arccos(1.0 / n_index)
    n_phot = rng.poisson(cfg.rich_photons_max * (np.sin(theta) / np.sin(theta_max)) ** 2)
    xr, yr = _positions_at(g.RICH_Z, it, *line)
    in_rich = (xr**2 + yr**2 < g.STRAW_R_MAX**2) & (z_stop[it] > g.RICH_Z)
    tracks["hasRich"] = above & in_rich & (n_phot >= cfg.rich_min_photons)
    tracks["richRadius"] = np.where(
        tracks["hasRich"],
        g.RICH_FOCAL_LENGTH * theta + g.RICH_RADIUS_RES * rng.standard_normal(nt),
        0.0,
    )

    # ---- decays in flight of pions and kaons between the RICH and the LKr --------------------
    length = g.LKR_Z - g.RICH_Z
    cand = np.flatnonzero(is_had & reaches(g.RICH_Z))
    kaon = pdg[cand] == PDG_KAON
    ctau = np.where(kaon, _CTAU_KAON_M, _CTAU_PION_M)
    mass = np.where(kaon, _M_KAON, _M_PION)
    p_dec = -np.expm1(-length * mass / (np.maximum(p[cand], 1e-9) * ctau))
    br_mu = np.where(kaon, _BR_K_MUNU, 1.0)
    to_muon = _bool(n)
    to_muon[cand[rng.random(cand.size) < p_dec * br_mu]] = True
    p_mu = p.copy()
    p_mu[to_muon] *= rng.uniform(0.57, 1.0, int(to_muon.sum()))  # muon momentum after decay
    muon_like = is_mu | to_muon

    # ---- CHOD and NA48-CHOD (all charged particles; tracks pick their own signal) ------------
    chod = _thin(charged & reaches(g.CHOD_Z) & inside("chod", g.in_chod_acceptance),
                 cfg.chod_efficiency, rng)
    chod_t = np.zeros(n)
    chod_t[chod] = time_at(g.CHOD_Z, chod) + rng.normal(0.0, g.CHOD_TIME_RES_NS, int(chod.sum()))
    zn = g.NA48CHOD_Z[0]
    na48 = _thin(charged & reaches(zn) & inside("na48chod", g.in_na48chod_acceptance),
                 cfg.na48chod_efficiency, rng)
    na48_t = np.zeros(n)
    na48_t[na48] = time_at(zn, na48) + rng.normal(0.0, g.NA48CHOD_TIME_RES_NS, int(na48.sum()))
    tracks["hasChod"], tracks["chodTime"] = chod[it], chod_t[it]
    tracks["hasNa48chod"], tracks["na48chodTime"] = na48[it], na48_t[it]

    # ---- LKr --------------------------------------------------------------------------------
    rl = np.flatnonzero(reaches(g.LKR_Z))
    in_lkr = _bool(n)
    in_lkr[rl] = g.in_lkr_acceptance(*_positions_at(g.LKR_Z, rl, *line))
    e_lkr = np.zeros(n)
    em = in_lkr & (is_e | is_gamma)
    ne = int(em.sum())
    e_em = e[em] * (1.0 + lkr_energy_resolution(e[em], cfg) * rng.standard_normal(ne))
    tail = is_e[em] & (rng.uniform(size=ne) < cfg.em_tail_fraction)
    e_em = np.where(tail, e_em * (1.0 - rng.uniform(*cfg.em_tail_loss, ne)), e_em)
    e_lkr[em] = e_em
    off, k_shape, scale = cfg.muon_deposit_gev
    mip = in_lkr & muon_like
    e_lkr[mip] = off + rng.gamma(k_shape, scale, int(mip.sum()))
    had = in_lkr & is_had & ~to_muon
    nh = int(had.sum())
    u = rng.uniform(size=nh)
    # broad shower part, folded below hadron_eop_fold so that only the explicit tail
    # reaches the electron E/p band
    eop = np.abs(rng.normal(cfg.hadron_eop_mean, cfg.hadron_eop_sigma, nh) - 0.05) + 0.05
    eop = np.where(eop > cfg.hadron_eop_fold, 2 * cfg.hadron_eop_fold - eop, eop)
    eop = np.where(u < cfg.hadron_eop_tail, rng.normal(0.97, 0.03, nh), eop)
    is_mip = u > 1.0 - cfg.hadron_mip_fraction
    e_had = np.where(is_mip, off + rng.gamma(k_shape, scale, nh), eop * e[had])
    e_lkr[had] = np.minimum(e_had, e[had] * 1.1)
    clus = np.flatnonzero(in_lkr & (e_lkr > cfg.cluster_threshold_gev))
    nc = clus.size
    pos_res = np.where(is_had[clus], cfg.hadron_position_res, g.LKR_POSITION_RES)
    xl, yl = _positions_at(g.LKR_Z, clus, *line)
    clusters = {
        "ev": ev[clus],
        "energy": e_lkr[clus],
        "x": xl + pos_res * rng.standard_normal(nc),
        "y": yl + pos_res * rng.standard_normal(nc),
        "time": time_at(g.LKR_Z, clus) + rng.normal(0.0, g.LKR_TIME_RES_NS, nc),
    }

    # ---- MUV1 + MUV2 ------------------------------------------------------------------------
    xm, ym = _positions_at(g.MUV1_Z, it, *line)
    in_hcal = (z_stop[it] > g.MUV1_Z) & g.in_muv12_acceptance(xm, ym)  # follow: all tracks
    # per track only
    ml, ie, e_t = muon_like[it], is_e[it], e[it]
    e_h = np.where(is_had[it] & ~to_muon[it], np.maximum(e_t - e_lkr[it], 0.0), 0.0)
    e_h = np.where(ml, off + rng.gamma(k_shape, 2.0 * scale, nt) + 0.6, e_h)
    e_h = np.where(ie, e_t * rng.exponential(cfg.electron_hcal_leak, nt), e_h)
    e_h = e_h * (1.0 + cfg.hcal_resolution / np.sqrt(np.maximum(e_h, 0.05))
                 * rng.standard_normal(nt))
    tracks["hcalEnergy"] = np.where(in_hcal, np.maximum(e_h, 0.0), 0.0)

    # ---- MUV3 -------------------------------------------------------------------------------
    reach_lkr = reaches(g.LKR_Z)
    cand = np.flatnonzero(is_had & ~to_muon & reach_lkr)
    punch = _bool(n)
    punch[cand[rng.random(cand.size)
               < cfg.punch_through_const + cfg.punch_through_slope_per_gev * p[cand]]] = True
    m3 = _thin(reach_lkr & ((muon_like & (p_mu > cfg.muv3_min_momentum_gev)) | punch),
               cfg.muv3_efficiency, rng)
    m3 = np.flatnonzero(m3)
    x3, y3 = _positions_at(g.MUV3_Z, m3, *line)
    sig_ms = cfg.muv3_ms_m_gev / np.maximum(p_mu[m3], 0.5)
    hx = x3 + sig_ms * rng.standard_normal(m3.size)
    hy = y3 + sig_ms * rng.standard_normal(m3.size)
    inside = g.in_muv3_acceptance(hx, hy)
    tile = cfg.muv3_tile_size
    muv3 = {
        "ev": ev[m3][inside],
        "x": ((np.floor(hx / tile) + 0.5) * tile)[inside],
        "y": ((np.floor(hy / tile) + 0.5) * tile)[inside],
        "time": (time_at(g.MUV3_Z, m3)
                 + rng.normal(0.0, g.MUV3_TIME_RES_NS, m3.size))[inside],
    }

    # ---- accidentals ------------------------------------------------------------------------
    w = cfg.readout_half_window_ns
    if accidentals:
        n_lav = rng.poisson(cfg.lav_accidental_rate_mhz * 1e-3 * 2 * w, n_events)
        ev_acc = np.repeat(np.arange(n_events), n_lav)
        lav_ev.append(ev_acc)
        lav_st.append(rng.integers(1, len(g.LAV_STATIONS) + 1, ev_acc.size))
        lav_t.append(rng.uniform(-w, w, ev_acc.size))
        n_a0 = rng.poisson(cfg.anti0_accidental_rate_mhz * 1e-3 * 2 * w, n_events)
        ev_a0 = np.repeat(np.arange(n_events), n_a0)
        s = cfg.anti0_accidental_sigma_m
        ax = np.clip(rng.normal(0.0, s, ev_a0.size), -g.ANTI0_HALF_SIZE, g.ANTI0_HALF_SIZE)
        ay = np.clip(rng.normal(0.0, s, ev_a0.size), -g.ANTI0_HALF_SIZE, g.ANTI0_HALF_SIZE)
        anti0 = {
            "ev": np.concatenate([anti0["ev"], ev_a0]),
            "x": np.concatenate([anti0["x"], ax]),
            "y": np.concatenate([anti0["y"], ay]),
            "t": np.concatenate([anti0["t"], rng.uniform(-w, w, ev_a0.size)]),
        }

    # ---- trigger ----------------------------------------------------------------------------
    trig = _trigger(ev[chod], chod_t[chod], clusters, n_events, rng, cfg, q1_downscale)

    out: dict[str, np.ndarray | ak.Array] = dict(trig)
    _, cols = _jagged(tracks["ev"], n_events, {
        "Track_charge": (tracks["charge"], np.int8),
        **{f"Track_{k}": (tracks[k], np.float32) for k in (
            "px", "py", "pz", "x", "y", "z", "xDown", "yDown", "txDown", "tyDown", "chi2")},
        "Track_nChambers": (tracks["nChambers"], np.int8),
        "Track_chodTime": (tracks["chodTime"], np.float32),
        "Track_hasChod": (tracks["hasChod"], bool),
        "Track_na48chodTime": (tracks["na48chodTime"], np.float32),
        "Track_hasNa48chod": (tracks["hasNa48chod"], bool),
        "Track_richRadius": (tracks["richRadius"], np.float32),
        "Track_hasRich": (tracks["hasRich"], bool),
        "Track_hcalEnergy": (tracks["hcalEnergy"], np.float32),
    })
    out.update(cols)
    _, cols = _jagged(clusters["ev"], n_events, {
        f"Cluster_{k}": (clusters[k], np.float32) for k in ("energy", "x", "y", "time")})
    out.update(cols)
    _, cols = _jagged(muv3["ev"], n_events, {
        f"MUV3_{k}": (muv3[k], np.float32) for k in ("x", "y", "time")})
    out.update(cols)
    _, cols = _jagged(np.concatenate(lav_ev), n_events, {
        "LAV_station": (np.concatenate(lav_st), np.int8),
        "LAV_time": (np.concatenate(lav_t), np.float32)})
    out.update(cols)
    _, cols = _jagged(anti0["ev"], n_events, {
        "ANTI0_x": (anti0["x"], np.float32), "ANTI0_y": (anti0["y"], np.float32),
        "ANTI0_time": (anti0["t"], np.float32)})
    out.update(cols)
    return out


def _trigger(hit_ev, hit_t, clusters, n_events, rng, cfg: DetectorConfig, q1_downscale):
    """Trigger bits and time from the CHOD signals and LKr clusters (see the module doc)."""
    by_event = np.argsort(hit_ev, kind="stable")
    order = _sort_within_events(hit_ev[by_event], hit_t, by_event)  # = lexsort((t, ev))
    ev_s, t_s = hit_ev[order], hit_t[order]
    n_hits = np.bincount(ev_s, minlength=n_events)
    # consecutive signals (time-ordered) of the same event closer than the coincidence window
    same = ev_s[1:] == ev_s[:-1]
    coinc = same & (np.diff(t_s) < cfg.h2_coincidence_ns)
    h2 = np.zeros(n_events, dtype=bool)
    t_h2 = np.zeros(n_events)
    idx = np.flatnonzero(coinc)
    # first coincident pair per event (ev_s[idx] is sorted)
    ev_c = ev_s[idx]
    first_pos = np.flatnonzero(np.diff(ev_c, prepend=-1))  # event indices are >= 0
    first_ev = ev_c[first_pos]
    h2[first_ev] = True
    t_h2[first_ev] = 0.5 * (t_s[idx[first_pos]] + t_s[idx[first_pos] + 1])
    first_hit = np.zeros(n_events)
    has_hit = n_hits > 0
    starts = np.cumsum(n_hits) - n_hits
    first_hit[has_hit] = t_s[starts[has_hit]]
    q1 = has_hit & (rng.uniform(size=n_events) < 1.0 / q1_downscale)
    e_tot = np.bincount(clusters["ev"], weights=clusters["energy"], minlength=n_events)
    et = np.bincount(clusters["ev"], weights=clusters["energy"] * clusters["time"],
                     minlength=n_events)
    control = e_tot > cfg.control_threshold_gev
    t_ctrl = np.where(e_tot > 0, et / np.where(e_tot > 0, e_tot, 1.0), 0.0)
    t_trig = np.where(h2, t_h2, np.where(has_hit, first_hit, np.where(control, t_ctrl, 0.0)))
    return {
        "trig_H2": h2,
        "trig_Q1": q1,
        "trig_control": control,
        "trigger_time": t_trig.astype(np.float32),
    }
