"""B mesons made by 400 GeV protons in the TAX, and their two-body decays B -> K(*) X.

Used by the ALP (:mod:`na62dump.physics.alp`) and dark-scalar (:mod:`na62dump.physics.scalar`)
models, both produced in b -> s transitions.

Yield: :data:`B_PER_POT` counts B+, B0 and their antiparticles (the states with a
``B -> K(*) X`` mode) per proton on the TAX, derived once here::

    pairs / POT = A^(1/3) sigma(pp -> b bbar) / sigma_pp
                = 63.546^(1/3) x 2.63 nb / 39.85 mb             = 2.63e-7 b bbar pairs per POT
    B / POT     = 2 x (f_u + f_d) x pairs / POT
                = 2 x (0.408 + 0.408) x 2.63e-7                  = 4.30e-7 B+, B0, B-, B0bar

- ``sigma(pp -> b bbar) = 2.63 +- 0.76 nb`` at E_p = 400 GeV (sqrt(s) = 27.4 GeV) and
  ``sigma_pp = 39.85 mb`` (PDG fit), both as collected in ALPINIST (github jjerhot/ALPINIST,
  ``ALP_production/general/exotic_constants.py``, commit 4cfc064; the b bbar figure from
  arXiv:2407.08673);
- the dump is thick (19.6 interaction lengths): every proton interacts once, with the inelastic
  cross-section of a nucleus, ``sigma_pA ~ A^(2/3) sigma_pN``, while a hard process such as
  b bbar production scales as ``A sigma_pN``; the ratio gains ``A^(1/3)`` (= 3.99 for copper,
  A = 63.546, the first 0.8 m of the TAX and ALPINIST's NA62 target; iron, A = 55.85, gives
  3.82, 4 % less);
- each pair gives two b hadrons; a fraction ``f_u = f_d = 0.408 +- 0.007`` of b quarks
  hadronise to B+ (B-) and to B0 (B0bar) (PDG 2024, review "b-hadron production fractions",
  Z-decay values; HFLAV). B_s and b baryons have no B -> K X mode and are not counted.

Normalisation: a branching ratio ``BR(B -> K(*) X)`` multiplying :data:`B_PER_POT` is the
average over B+ and B0 (and their antiparticles), which are made in equal numbers (f_u = f_d):
for the ALP it is the model-independent parameter of the NA62 interpretation (arXiv:2312.12055,
Fig. 5); for the dark scalar it is the mean of the B+ and B0 branching ratios
(:func:`na62dump.physics.scalar.br_b_to_sx`). Uncertainty: 29 % from sigma(b bbar)
(0.76 / 2.63), the A dependence (Cu/Fe, 4 %) and f_u (2 %) adding little
(:data:`B_PER_POT_REL_UNC`).

Spectrum (*approximation*): ``dN/dx_F dp_T^2 ~ (1 - |x_F|)^n exp(-b m_T)`` in the pN CM frame
with n = 6 (our choice: heavy-quark production close to threshold, softer in x_F than open
charm, for which NA27 measured n of about 5 at 400 GeV, Aguilar-Benitez et al., Z. Phys. C 40
(1988) 321) and
the light-hadron m_T slope b = 6 GeV^-1 (then <p_T^2> = 1.8 GeV^2, close to 2 m_B / b).

Decays ``B -> K_X X`` are isotropic in the B frame (spin-0 parent, exact). The excited kaons
K_X of :data:`KAONS` are taken at their pole masses (narrow-width approximation).

>>> round(kx_threshold("K+"), 4)
4.7857
>>> import numpy as np
>>> px, py, pz = sample_b_to_kx(1.0, 3, np.random.default_rng(0))
>>> pz.shape
(3,)
"""

from __future__ import annotations

import logging

import numpy as np
from particle import Particle

from na62dump.errors import InputError
from na62dump.physics.sampling import HadronSpectrum, sample_hadron, two_body_decay

log = logging.getLogger(__name__)

#: Inputs of :data:`B_PER_POT` (module docstring): sigma(pp -> b bbar) and sigma_pp at 400 GeV
#: (mb), the mass number of the TAX copper and the b -> B+ (= b -> B0) fragmentation fraction.
SIGMA_BB_MB = 2.63e-6
SIGMA_BB_REL_UNC = 0.76 / 2.63
SIGMA_PP_MB = 39.85
A_TAX = 63.546
F_U = 0.408
#: b bbar pairs per POT.
BB_PAIRS_PER_POT = A_TAX ** (1.0 / 3.0) * SIGMA_BB_MB / SIGMA_PP_MB
#: B+, B0 and antiparticles per POT (see the module docstring).
B_PER_POT = 2.0 * (F_U + F_U) * BB_PAIRS_PER_POT
#: Relative uncertainty of B_PER_POT: sigma(b bbar) (+) A dependence (Cu vs Fe, 1 - (55.85 /
#: 63.546)^(1/3)) (+) f_u (0.007 / 0.408), in quadrature.
B_PER_POT_REL_UNC = float(
    (SIGMA_BB_REL_UNC**2 + (1.0 - (55.85 / A_TAX) ** (1.0 / 3.0)) ** 2 + (0.007 / F_U) ** 2)
    ** 0.5
)

#: Masses (GeV) and lifetimes (s) of the parents, from the ``particle`` package (PDG tables;
#: looked up by PDG id, a dict access, ``from_name`` scans the whole table).
M_B_CHARGED = Particle.from_pdgid(521).mass * 1e-3
M_B0 = Particle.from_pdgid(511).mass * 1e-3
TAU_B_CHARGED_S = Particle.from_pdgid(521).lifetime * 1e-9
TAU_B0_S = Particle.from_pdgid(511).lifetime * 1e-9

#: Kaon in the final state -> (kaon mass, parent name, parent mass), in GeV. The excited states
#: K_X (PDG ids in :data:`_KAON_PDG`) are those of B -> K_X S in Boiarska et al., JHEP 11 (2019)
#: 162, arXiv:1904.10447, app. C; masses from the ``particle`` package (PDG 2024).
_KAON_PDG: dict[str, int] = {
    "K+": 321, "K0": 311, "K*+": 323, "K*0": 313,
    "K0*(700)+": 9000321, "K0*(700)0": 9000311, "K0*(1430)+": 10321, "K0*(1430)0": 10311,
    "K*(1410)+": 100323, "K*(1410)0": 100313, "K*(1680)+": 30323, "K*(1680)0": 30313,
    "K1(1270)+": 10323, "K1(1270)0": 10313, "K1(1400)+": 20323, "K1(1400)0": 20313,
    "K2*(1430)+": 325, "K2*(1430)0": 315,
}
KAONS: dict[str, tuple[float, str, float]] = {
    name: (Particle.from_pdgid(pdg).mass * 1e-3, *(("B+", M_B_CHARGED) if name.endswith("+")
                                                   else ("B0", M_B0)))
    for name, pdg in _KAON_PDG.items()
}

#: B-meson spectrum in the pN CM frame (approximation, see the module docstring).
B_SPECTRUM = HadronSpectrum(n=6.0, b_per_gev=6.0)


def _kaon(kaon: str):
    try:
        return KAONS[kaon]
    except KeyError:
        raise InputError(f"unknown kaon {kaon!r}; expected one of {', '.join(KAONS)}") from None


def kx_threshold(kaon: str = "K+") -> float:
    """Largest X mass (GeV) allowed in ``B -> kaon X``."""
    m_k, _, m_b = _kaon(kaon)
    return m_b - m_k


def sample_b(n, rng, parent: str = "B+"):
    """Lab momenta (px, py, pz) in GeV of ``n`` B mesons (``parent`` "B+" or "B0")."""
    mass = {"B+": M_B_CHARGED, "B0": M_B0}.get(parent)
    if mass is None:
        raise InputError(f"unknown B meson {parent!r}; expected 'B+' or 'B0'")
    return sample_hadron(mass, B_SPECTRUM, int(n), rng)


def draw_kaons(weights, n, rng):
    """Draw the kaon of ``n`` events with probability proportional to ``weights`` (a mapping
    ``{KAONS key: weight >= 0}``); returns ``(names, index)`` with ``names[index[i]]`` the kaon
    of event i. A single kaon uses no random numbers."""
    names = list(weights)
    for k in names:
        _kaon(k)
    w = np.asarray([float(weights[k]) for k in names])
    if not names or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise InputError(f"kaon weights must be >= 0 with a positive sum, got {dict(weights)}")
    if len(names) == 1:
        return names, np.zeros(int(n), dtype=int)
    return names, rng.choice(len(names), size=int(n), p=w / w.sum())


def sample_b_to_kx(mass_x, n, rng, kaon="K+"):
    """Draw ``n`` lab momenta (px, py, pz) in GeV of X from ``B -> kaon X`` decays.

    Parameters
    ----------
    mass_x : float
        Mass of X (GeV), below :func:`kx_threshold` of every kaon drawn.
    n : int
    rng : numpy.random.Generator
    kaon : str or mapping
        A key of :data:`KAONS` (it fixes the parent, B+ or B0), or a mapping ``{kaon: weight}``:
        each event then draws its kaon (and parent) with probability proportional to the
        weight (the B momenta are drawn per parent species, the decays vectorised).
    """
    try:
        m = float(mass_x)
    except (TypeError, ValueError) as err:
        raise InputError(f"mass: cannot be read as a number ({mass_x!r})") from err
    weights = {kaon: 1.0} if isinstance(kaon, str) else dict(kaon)
    for k, wk in weights.items():
        m_k, parent, m_b = _kaon(k)
        if float(wk) > 0 and not 0.0 <= m < m_b - m_k:
            raise InputError(
                f"mass: {m:g} GeV is outside [0, {m_b - m_k:.4f}) GeV allowed in "
                f"{parent} -> {k} X"
            )
    n = int(n)
    names, idx = draw_kaons(weights, n, rng)
    m_kaon = np.asarray([KAONS[k][0] for k in names])[idx]
    is_b0 = np.asarray([KAONS[k][1] == "B0" for k in names])[idx]
    bx, by, bz = (np.empty(n) for _ in range(3))
    for parent, sel in (("B+", ~is_b0), ("B0", is_b0)):
        if sel.any():
            bx[sel], by[sel], bz[sel] = sample_b(int(sel.sum()), rng, parent)
    m_parent = np.where(is_b0, M_B0, M_B_CHARGED)
    return two_body_decay(bx, by, bz, m_parent, m, m_kaon, rng)
