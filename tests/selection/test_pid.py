import numpy as np
import pytest

from na62dump.selection import pid
from na62dump.selection.config import M_KAON, M_PION, PIDCuts

C = PIDCuts()


def _electron(eop, p, muv3=False):
    return bool(
        pid.is_electron(
            np.array([eop]),
            np.array([p]),
            np.array([muv3]),
            C.electron_eop_min,
            C.electron_eop_max,
            C.electron_eop_pivot_gev,
            C.electron_eop_slope_per_gev,
        )[0]  # fmt: skip
    )


@pytest.mark.parametrize(
    ("eop", "p", "muv3", "expected"),
    [
        (0.96, 100.0, False, True),
        (0.94, 100.0, False, False),  # below (E/p)_min = 0.95
        (0.94, 150.0, False, False),  # at the pivot still 0.95
        (0.94, 200.0, False, True),  # (E/p)_min = 0.95 - 0.0013 * 50 = 0.885
        (0.88, 200.0, False, False),
        (1.06, 100.0, False, False),  # above 1.05
        (0.98, 100.0, True, False),  # MUV3 association
    ],
)
def test_electron_boundaries(eop, p, muv3, expected):
    assert _electron(eop, p, muv3) is expected


def test_muon():
    eop = np.array([0.1, 0.25, 0.1])
    muv3 = np.array([True, True, False])
    assert pid.is_muon(eop, muv3, 0.2).tolist() == [True, False, False]


@pytest.mark.parametrize(("mass", "p"), [(M_KAON, 75.0), (M_PION, 30.0), (M_KAON, 200.0)])
def test_rich_mass_inverts_the_ring_radius(mass, p):
    n = 1 + 62e-6
    beta = p / np.hypot(p, mass)
    radius = 17.0 * np.arccos(1 / (n * beta))
    assert pid.rich_mass(radius, p) == pytest.approx(mass, rel=1e-6)


def test_kaon_and_pion():
    p = np.array([75.0, 75.0, 30.0, 30.0])
    has_rich = np.array([True, True, True, False])
    m_rich = np.array([0.49, 0.14, 0.14, 0.0])
    no = np.zeros(4, bool)
    kaon = pid.is_kaon(has_rich, m_rich, no, no, C.rich_kaon_mass_window_gev)
    assert kaon.tolist() == [True, False, False, False]
    eop = np.array([0.4, 0.4, 0.02, 0.02])
    hcal = np.array([20.0, 20.0, 0.1, 25.0])
    pion = pid.is_pion(eop, hcal, p, no, no, kaon, C.pion_calo_eop_min)
    # kaon is not a pion; a track without hadronic energy (0.02 + 0.1/30) is not a pion
    assert pion.tolist() == [False, True, False, True]
