"""Dark-photon production in decays of light neutral mesons made in the TAX.

Only the *primary* proton-nucleon interaction is modelled; in the 19.6 interaction lengths of
the TAX it happens for every proton (probability 1 - exp(-19.6)), so multiplicities per
interaction are multiplicities per POT. Mesons from the hadronic cascade are softer and are
neglected (NA62 uses Pythia 8 primary interactions too, ref. [34] of arXiv:2312.12055).

Branching ratios (eps = kinetic mixing, M = A' mass):

- pseudoscalars P = pi0, eta, eta' (Batell, Pospelov, Ritz, Phys. Rev. D 80 (2009) 095024):
  ``BR(P -> gamma A') = 2 eps^2 (1 - M^2/m_P^2)^3 BR(P -> gamma gamma)``;
- vectors V -> P A' with P the lightest radiative partner (omega -> pi0, rho0 -> pi0,
  phi -> eta): ``BR(V -> P A') = eps^2 BR(V -> P gamma) lambda^(3/2)(m_V^2, m_P^2, M^2) /
  (m_V^2 - m_P^2)^3``. As M -> 0 the Kallen function ``lambda`` tends to ``(m_V^2 - m_P^2)^2``,
  so the ratio tends to ``eps^2 BR(V -> P gamma)``, as it must. Transition form factors are
  set to 1, as in these formulas (*known weakness*: the eta transition form factor,
  ~ (1 - M^2 / Lambda^2)^-2 with Lambda ~ 0.72 GeV, would raise the eta rate by ~40 % at
  M = 0.3 GeV; not included).

Multiplicities and spectra (per POT, i.e. per inelastic primary interaction): a Pythia 8.3
run with the soft-QCD settings of ALPINIST's public 400 GeV tables (all soft-QCD processes,
``pdf:pHardSet = 2``, 400 GeV/c p on p at rest), shipped as counts in lab cells of
(log10 p, log10 theta) per species in ``na62dump/data/light_mesons_pythia8_pp400.txt``; the
generator, its settings and seed are in ``tools/generate_light_mesons.cc``. ALPINIST's
own meson lists (``ALP_production/tab_mesons/softQCD/*_ok.txt``) are not in its public
snapshot (only their cross-section logs are), hence the rerun. Each meson is counted once
whether it comes from the string or from a decay (pi0 from eta, omega, K0S; eta from eta'),
and elastic events are left out of the normalisation (the proton then interacts further down
the TAX). The spectrum is sampled cell by cell (:func:`sample_meson`: a cell drawn with its
count as weight, then log10 p and log10 theta uniform inside it, azimuth uniform).
The photons these mesons give are checked against ALPINIST's Pythia 8.2 photon table
(``na62dump/data/alpinist_photons_pp400.txt``) by :func:`photon_check`. NA62 assigns 20 % to
meson production (arXiv:2312.12055, app. A).

Cascade mesons and the nuclear target (Cu/Fe rather than p) are not modelled (see above).

>>> round(float(br_to_aprime(0.0, "pi0")), 4)  # 2 BR(pi0 -> gamma gamma) at M -> 0
1.9765
>>> float(br_to_aprime(0.2, "pi0"))  # above threshold
0.0
>>> round(float(rate_per_pot(0.1, "eta", eps=1e-3)) * 1e6, 3)
0.414
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from na62dump.errors import InputError
from na62dump.physics import constants as c
from na62dump.physics.sampling import kallen, two_body_decay

log = logging.getLogger(__name__)

#: BR(P -> gamma gamma), PDG 2022 (R. L. Workman et al., PTEP 2022 083C01).
BR_PI0_GAMMAGAMMA = 0.98823
BR_ETA_GAMMAGAMMA = 0.3936
BR_ETAP_GAMMAGAMMA = 0.02307

_DATA = Path(__file__).resolve().parent.parent / "data"
#: Pythia 8.3 light-meson table (see the module docstring and the file's header).
MESON_TABLE_FILE = _DATA / "light_mesons_pythia8_pp400.txt"
#: ALPINIST's Pythia 8.2 table of photons from light-meson decays (reference of photon_check).
PHOTON_TABLE_FILE = _DATA / "alpinist_photons_pp400.txt"


@dataclass(frozen=True)
class MesonTable:
    """Lab spectrum of one species: counts in cells of (log10 p/GeV, log10 theta/rad)."""

    multiplicity: float  #: per POT (per inelastic 400 GeV p p interaction)
    mean_energy: float  #: GeV, mean lab energy
    log10_p_edges: np.ndarray
    log10_theta_edges: np.ndarray
    cells: np.ndarray  #: (k, 2) int, (i_p, i_theta) of the non-empty cells
    cumulative: np.ndarray  #: (k,) cumulative counts of those cells
    n_inelastic: int  #: inelastic events of the run (the normalisation)
    n_generated: int  #: all events, elastic included


def _bad_table(path, why):
    return InputError(f"{path}: {why}")


@functools.cache
def _tables(path: Path = MESON_TABLE_FILE) -> dict[str, MesonTable]:
    """Parse the shipped light-meson table (once per process)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise _bad_table(path, f"cannot be read ({err.strerror})") from None
    meta: dict[str, list[str]] = {}
    rows: dict[str, list[tuple[int, int, int]]] = {}
    species: dict[str, tuple[int, float]] = {}
    try:
        for line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            f = line.split()
            if f[0] == "species":
                species[f[1]] = (int(f[3]), float(f[4]))
            elif f[0] in ("n_generated", "n_elastic", "n_inelastic", "log10_p_bins",
                          "log10_theta_bins"):
                meta[f[0]] = f[1:]
            else:
                rows.setdefault(f[0], []).append((int(f[1]), int(f[2]), int(f[3])))
        n_inel = int(meta["n_inelastic"][0])
        n_gen = int(meta["n_generated"][0])
        np_, lo_p, hi_p = meta["log10_p_bins"]
        nt_, lo_t, hi_t = meta["log10_theta_bins"]
    except (KeyError, IndexError, ValueError) as err:
        raise _bad_table(path, f"malformed ({err!r})") from None
    p_edges = np.linspace(float(lo_p), float(hi_p), int(np_) + 1)
    t_edges = np.linspace(float(lo_t), float(hi_t), int(nt_) + 1)
    out = {}
    for name, (total, mean_e) in species.items():
        arr = np.array(rows.get(name, []), dtype=np.int64).reshape(-1, 3)
        if arr[:, 2].sum() != total or total <= 0:
            raise _bad_table(path, f"{name}: cell counts do not add up to {total}")
        out[name] = MesonTable(total / n_inel, mean_e, p_edges, t_edges, arr[:, :2],
                               np.cumsum(arr[:, 2]), n_inel, n_gen)
    return out


@dataclass(frozen=True)
class MesonSource:
    """One meson species as a source of A': its decay to the A', yield and spectrum."""

    name: str
    mass: float  #: GeV
    kind: str  #: "pseudoscalar" (P -> gamma A') or "vector" (V -> P A')
    partner: str  #: the other daughter of the A' decay mode
    partner_mass: float  #: GeV (0 for the photon)
    br_radiative: float  #: BR(P -> gamma gamma) or BR(V -> P gamma)

    @property
    def table(self) -> MesonTable:
        """Multiplicity and lab spectrum from the shipped Pythia table."""
        return _tables()[self.name]

    @property
    def multiplicity(self) -> float:
        """Mesons per POT (primary interaction of a 400 GeV proton)."""
        return self.table.multiplicity

    @property
    def threshold(self) -> float:
        """Largest A' mass (GeV) the decay allows."""
        return self.mass - self.partner_mass


MESON_SOURCES: dict[str, MesonSource] = {
    s.name: s
    for s in (
        MesonSource("pi0", c.M_PI0, "pseudoscalar", "gamma", 0.0, BR_PI0_GAMMAGAMMA),
        MesonSource("eta", c.M_ETA, "pseudoscalar", "gamma", 0.0, BR_ETA_GAMMAGAMMA),
        MesonSource("etaprime", c.M_ETAP, "pseudoscalar", "gamma", 0.0, BR_ETAP_GAMMAGAMMA),
        MesonSource("omega", c.M_OMEGA, "vector", "pi0", c.M_PI0, c.BR_OMEGA_PI0GAMMA),
        MesonSource("rho", c.M_RHO, "vector", "pi0", c.M_PI0, c.BR_RHO_PI0GAMMA),
        MesonSource("phi", c.M_PHI, "vector", "eta", c.M_ETA, c.BR_PHI_ETAGAMMA),
    )
}
#: Meson names, in the order of ``na62dump.codes.Production``.
MESONS: tuple[str, ...] = tuple(MESON_SOURCES)


def source(meson: str) -> MesonSource:
    """The :class:`MesonSource` called ``meson`` (one of :data:`MESONS`)."""
    try:
        return MESON_SOURCES[meson]
    except KeyError:
        raise InputError(f"unknown meson {meson!r}; expected one of {', '.join(MESONS)}") from None


def multiplicity(meson: str) -> float:
    """Mesons per POT (primary interaction of a 400 GeV proton), from the Pythia table."""
    return source(meson).multiplicity


def _mass_array(mass):
    try:
        m = np.asarray(mass, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"mass: cannot be read as a number ({mass!r})") from err
    if np.isnan(m).any() or (m < 0).any():
        raise InputError(f"mass: must be a non-negative number (GeV), got {mass!r}")
    return m


def br_to_aprime(mass, meson: str, eps=1.0):
    """BR(meson -> A' + partner) at A' mass ``mass`` (GeV, array or scalar); 0 above threshold."""
    src = source(meson)
    m = _mass_array(mass)
    open_ = m < src.threshold
    if src.kind == "pseudoscalar":
        shape = np.clip(1.0 - m**2 / src.mass**2, 0.0, None) ** 3
        br = 2.0 * shape * src.br_radiative
    else:
        lam = np.clip(kallen(src.mass**2, src.partner_mass**2, m**2), 0.0, None)
        br = src.br_radiative * lam**1.5 / (src.mass**2 - src.partner_mass**2) ** 3
    out = np.where(open_, br, 0.0) * float(eps) ** 2
    return float(out) if out.ndim == 0 else out


def rate_per_pot(mass, meson: str, eps=1.0):
    """A' per POT from ``meson`` decays: multiplicity x BR(meson -> A' X)."""
    return multiplicity(meson) * br_to_aprime(mass, meson, eps)


def sample_meson(meson: str, n, rng):
    """Lab momenta (px, py, pz) in GeV of ``n`` mesons from the primary interaction.

    A cell of the shipped Pythia table is drawn with its count as weight (inverse transform of
    the cumulative counts), then log10 p and log10 theta uniformly inside it and the azimuth
    uniformly; theta runs over [0, pi], so backward mesons keep their direction.

    >>> import numpy as np
    >>> px, py, pz = sample_meson("eta", 3, np.random.default_rng(0))
    >>> pz.shape
    (3,)
    """
    tab = source(meson).table
    n = int(n)
    pick = np.searchsorted(tab.cumulative, rng.uniform(0.0, tab.cumulative[-1], n), side="right")
    ip, it = tab.cells[pick, 0], tab.cells[pick, 1]
    dp = tab.log10_p_edges[1] - tab.log10_p_edges[0]
    dt = tab.log10_theta_edges[1] - tab.log10_theta_edges[0]
    p = 10.0 ** (tab.log10_p_edges[ip] + dp * rng.uniform(0.0, 1.0, n))
    theta = 10.0 ** (tab.log10_theta_edges[it] + dt * rng.uniform(0.0, 1.0, n))
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    pt = p * np.sin(theta)
    return pt * np.cos(phi), pt * np.sin(phi), p * np.cos(theta)


def sample(mass, meson: str, n, rng):
    """Draw ``n`` A' lab momenta (px, py, pz) in GeV from ``meson`` decays.

    The meson is drawn from its spectrum, then decays isotropically in its rest frame
    (P -> gamma A' from a spin-0 parent; V -> P A' from an unpolarised vector), and the A' is
    boosted to the lab.

    >>> import numpy as np
    >>> px, py, pz = sample(0.05, "pi0", 4, np.random.default_rng(1))
    >>> pz.shape
    (4,)
    """
    src = source(meson)
    m = float(_mass_array(mass))
    if not m < src.threshold:
        raise InputError(
            f"mass: {m:g} GeV is above the {meson} -> {src.partner} A' threshold "
            f"({src.threshold:.4f} GeV)"
        )
    ppx, ppy, ppz = sample_meson(meson, n, rng)
    return two_body_decay(ppx, ppy, ppz, src.mass, m, src.partner_mass, rng)


#: Cuts of :func:`photon_check`: photons that can reach the decay volume (the 1 m radius of
#: the fiducial volume seen from the TAX about 100-200 m upstream, and the energies NA62 selects).
PHOTON_CHECK_THETA_MAX = 6e-3
PHOTON_CHECK_E_MIN_GEV = 20.0
#: Normalisation of ALPINIST's photon table: per generated Pythia 8.2 soft-QCD event, elastic
#: ones included. Its run's cross-section log (jjerhot/ALPINIST, commit a0dbe27,
#: ALP_production/tab_mesons/softQCD/softQCD_100kevts_pp_400GeV_8.2_pSet2_pom_xs.txt) gives
#: sigma_tot = 39.85 mb of which 6.585 mb elastic; per POT (per inelastic interaction, as
#: here) the table is multiplied by sigma_tot / sigma_inel.
ALPINIST_SIGMA_TOT_MB = 39.85
ALPINIST_SIGMA_EL_MB = 6.585


@functools.cache
def reference_photons_per_pot(theta_max: float = PHOTON_CHECK_THETA_MAX,
                              e_min_gev: float = PHOTON_CHECK_E_MIN_GEV) -> float:
    """Photons per POT from light-meson decays with theta < ``theta_max``, E > ``e_min_gev``.

    Integral of ALPINIST's Pythia 8.2 table (:data:`PHOTON_TABLE_FILE`), read as ALPINIST
    reads it: dN/dlog10 p dlog10 p_T linear between the grid nodes, zero outside. The
    integral is a midpoint sum on a grid 16 times finer than the nodes in each variable,
    with ``theta = arcsin(p_T / p)``; then per generated event -> per POT
    (:data:`ALPINIST_SIGMA_TOT_MB`).
    """
    from scipy.interpolate import RegularGridInterpolator

    try:
        lp, lt, dens = np.loadtxt(PHOTON_TABLE_FILE, comments="#", unpack=True)
    except (OSError, ValueError) as err:
        raise InputError(f"{PHOTON_TABLE_FILE}: cannot be read as a table ({err})") from None
    up, ut = np.unique(lp), np.unique(lt)
    grid = np.zeros((up.size, ut.size))
    grid[np.searchsorted(up, lp), np.searchsorted(ut, lt)] = dens
    interp = RegularGridInterpolator((up, ut), grid, bounds_error=False, fill_value=0.0)
    sub = 16
    fp = np.linspace(up[0], up[-1], (up.size - 1) * sub + 1)
    ft = np.linspace(ut[0], ut[-1], (ut.size - 1) * sub + 1)
    mp, mt = 0.5 * (fp[1:] + fp[:-1]), 0.5 * (ft[1:] + ft[:-1])
    gp, gt = np.meshgrid(mp, mt, indexing="ij")
    p, pt = 10.0**gp, 10.0**gt
    keep = (pt < p) & (p > e_min_gev)
    keep &= np.arcsin(np.clip(pt / p, 0.0, 1.0)) < theta_max
    cell = (fp[1] - fp[0]) * (ft[1] - ft[0])
    total = float(np.sum(interp(np.stack([gp[keep], gt[keep]], axis=-1))) * cell)
    sigma_inel = ALPINIST_SIGMA_TOT_MB - ALPINIST_SIGMA_EL_MB
    return total * ALPINIST_SIGMA_TOT_MB / sigma_inel


def photon_check(rng, n: int = 200_000, theta_max: float = PHOTON_CHECK_THETA_MAX,
                 e_min_gev: float = PHOTON_CHECK_E_MIN_GEV) -> dict[str, float]:
    """Photons per POT from pi0 and eta -> gamma gamma in the cuts, ours against Pythia 8.2.

    ``n`` pi0 and ``n`` eta are drawn from the shipped spectra (:func:`sample_meson`) and
    decayed isotropically to two photons with the project's two-body decay
    (:func:`na62dump.physics.sampling.two_body_decay`); each photon with theta < ``theta_max``
    and E > ``e_min_gev`` counts multiplicity x BR(gamma gamma) / n. The reference is
    :func:`reference_photons_per_pot` (ALPINIST's table holds all photons from light-meson
    decays, so the few from omega -> pi0 gamma, eta -> pi pi gamma, Dalitz decays, eta' and
    baryon decays are in it and not here: a few per cent, see the tests).

    Returns a dict: ``pi0``, ``eta`` and ``total`` (ours), ``reference``, ``ratio``
    (total / reference), ``theta_max``, ``e_min_gev``, ``n``.
    """
    out: dict[str, float] = {}
    for name, br in (("pi0", BR_PI0_GAMMAGAMMA), ("eta", BR_ETA_GAMMAGAMMA)):
        src = source(name)
        px, py, pz = sample_meson(name, n, rng)
        gx, gy, gz = two_body_decay(px, py, pz, src.mass, 0.0, 0.0, rng)
        count = 0
        for qx, qy, qz in ((gx, gy, gz), (px - gx, py - gy, pz - gz)):
            e = np.sqrt(qx * qx + qy * qy + qz * qz)
            theta = np.arctan2(np.hypot(qx, qy), qz)
            count += int(np.count_nonzero((theta < theta_max) & (e > e_min_gev)))
        out[name] = src.multiplicity * br * count / n
    out["total"] = out["pi0"] + out["eta"]
    out["reference"] = reference_photons_per_pot(theta_max, e_min_gev)
    out["ratio"] = out["total"] / out["reference"]
    out.update(theta_max=float(theta_max), e_min_gev=float(e_min_gev), n=float(n))
    return out
