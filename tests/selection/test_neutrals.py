import awkward as ak
import numpy as np
import pytest

from na62dump import geometry as g
from na62dump.selection import neutrals
from na62dump.selection.config import M_ETA, M_PI0, HadronicCuts

VTX = {"x": 0.0, "y": 0.0, "z": 150.0, "time": 0.0}


def _clusters_for(mass, energy=10.0, z_vtx=150.0, extra=()):
    """Two equal-energy photons from (0, 0, z_vtx) with invariant mass ``mass``."""
    half = np.arcsin(mass / (2 * energy))  # m = 2 E sin(theta / 2), symmetric
    r = np.tan(half) * (g.LKR_Z - z_vtx)
    items = [(r, 0.0, 0.0, energy), (-r, 0.0, 0.0, energy), *extra]
    return ak.Array([[{"x": x, "y": y, "time": t, "energy": e} for x, y, t, e in items]])


def _photons(clusters, tracks_xy=((0.9, 0.9),)):
    tx = ak.Array([[p[0] for p in tracks_xy]])
    ty = ak.Array([[p[1] for p in tracks_xy]])
    vtx = ak.Array([VTX])
    return neutrals.photon_candidates(clusters, tx, ty, vtx, HadronicCuts())


def test_pi0_mass_from_two_clusters_seen_from_the_vertex():
    ph = _photons(_clusters_for(M_PI0))
    pairs = neutrals.gamma_gamma_pairs(ph, 0.1)
    assert pairs.mass[0][0] == pytest.approx(M_PI0, rel=1e-9)
    assert ph.E[0].tolist() == [10.0, 10.0]


def test_photon_selection_time_energy_and_track_distance():
    extra = ((0.5, 0.5, 10.0, 5.0), (0.5, -0.5, 0.0, 0.5), (0.85, 0.9, 0.0, 5.0))
    ph = _photons(_clusters_for(M_PI0, extra=extra))
    # out of time, below 1 GeV and close to the track are dropped
    assert ak.num(ph.E, axis=1).tolist() == [2]


@pytest.mark.parametrize(
    ("state", "mass", "found"),
    [
        ("pipipi0", M_PI0, True),
        ("pipipi0", M_PI0 + 0.02, False),
        ("pipieta", M_ETA, True),
        ("pipieta", M_PI0, False),
        ("pipigamma", M_PI0, False),  # two photons: not exactly one
        ("pipi", M_PI0, False),
    ],
)
def test_neutral_system_per_state(state, mass, found):
    energy = 10.0 if mass < 0.3 else 30.0
    ph = _photons(_clusters_for(mass, energy=energy))
    sys_ = neutrals.neutral_system(state, ph, HadronicCuts(), M_PI0, M_ETA)
    assert (not ak.is_none(sys_, axis=0)[0]) is found
    if found:
        m = neutrals.invariant_mass(sys_.E, sys_.px, sys_.py, sys_.pz)[0]
        assert m == pytest.approx(mass, rel=1e-9)


def test_two_pi0_pairing_is_the_best_disjoint_one():
    a = _clusters_for(M_PI0, energy=10.0)[0].tolist()
    b = [dict(c, y=c["x"], x=0.0) for c in _clusters_for(M_PI0, energy=20.0)[0].tolist()]
    # rotate the second pair by 90 degrees: four photons, one correct pairing
    ph = _photons(ak.Array([a + b]))
    sys_ = neutrals.neutral_system("pipipi0pi0", ph, HadronicCuts(), M_PI0, M_ETA)
    assert sys_.E[0] == pytest.approx(60.0)
    assert neutrals.neutral_system("pipipi0", ph, HadronicCuts(), M_PI0, M_ETA)[0] is None


def test_pipigamma_takes_the_most_energetic_photon():
    cl = ak.Array([[{"x": 0.5, "y": 0.0, "time": 0.0, "energy": 7.0}]])
    ph = _photons(cl)
    sys_ = neutrals.neutral_system("pipigamma", ph, HadronicCuts(), M_PI0, M_ETA)
    assert sys_.E[0] == pytest.approx(7.0)
