"""NA62 beam-dump geometry (2021 setup): the single source of every detector number.

Units: metres, GeV, nanoseconds. Coordinates: origin at the (removed) T10 target, Z along the
beam, Y up, right-handed. Values come from ``shared/ANALYSIS.md`` (distilled from the NA62
publications in ``shared/seeds``); entries marked *approximation* or *our reading* are not
published numbers and are kept here so that a study can change them in one place.

The acceptance predicates below are plain numpy ufunc expressions, so they work unchanged on
numpy arrays (simulation) and on awkward arrays (selection).

>>> from na62dump import geometry as g
>>> round(g.STRAW_Z[0], 3)
183.508
>>> bool(g.in_lkr_acceptance(0.5, 0.0))
True
>>> bool(g.in_lkr_acceptance(0.1, 0.0))  # inside the beam hole
False
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------------
# Beam, target, exposure
# --------------------------------------------------------------------------------------------
PROTON_MOMENTUM_GEV = 400.0
N_POT = 1.4e17  #: protons on the TAX in the 2021 beam-dump sample
N_POT_LOGNORMAL_K = 1.2  #: log-normal shape k = exp(sigma) of the N_POT uncertainty (20%)
N_POT_RUN2_PROJECTION = 1.0e18

#: Mean proton impact point at the TAX entrance; the beam line is parallel to Z through it.
BEAM_POINT = (0.0, -0.022, 23.0)
TAX_Z_START = 23.07
TAX_Z_END = 26.32
TAX_COPPER_LENGTH = 0.8
TAX_IRON_LENGTH = 2.4
TAX_INTERACTION_LENGTHS = 19.6
#: Mean nuclear interaction length in the TAX (3.2 m / 19.6 lambda_I), used for the depth of the
#: primary interaction.
TAX_LAMBDA_I = (TAX_Z_END - TAX_Z_START) / TAX_INTERACTION_LENGTHS

# Trigger
Q1_DOWNSCALE = 20
TRIGGER_WINDOW_NS = 5.0  #: |t_track - t_trigger| for H2 tracks
COMBINATORIAL_WINDOW_NS = 10.0  #: overlap window for random track pairs

# --------------------------------------------------------------------------------------------
# Decay volume
# --------------------------------------------------------------------------------------------
ANTI0_Z = 102.4  #: approximation: upstream veto hodoscope, covers the vacuum-tube cross-section
ANTI0_HALF_SIZE = 1.08  #: approximation: square sensitive area, half side (m)
FV_Z_START = 105.0  #: approximation: start of the fiducial volume (mu+mu- box)
FV_Z_END = 180.0  #: approximation: end of the mu+mu- box
#: Range in which the signal samples force the decays (uniformly in Z); it contains every FV.
FORCED_DECAY_Z = (102.4, 181.0)

#: e+e- restricted FV: union of two cones, tips at the TAX, bases at LAV5 and at LAV8.
CONE_TIP_Z = TAX_Z_START
CONE_BASES = ((152.393, 0.5365), (180.923, 0.7675))  #: (Z base, R base)


@dataclass(frozen=True)
class LAVStation:
    index: int
    z: float  #: front plane Z (m)
    r_inner: float  #: m
    r_outer: float  #: m


LAV_STATIONS: tuple[LAVStation, ...] = tuple(
    LAVStation(i + 1, z, rin, rout)
    for i, (z, rin, rout) in enumerate(
        [
            (121.363, 0.5365, 0.9065),
            (128.973, 0.5365, 0.9065),
            (136.583, 0.5365, 0.9065),
            (144.193, 0.5365, 0.9065),
            (151.803, 0.5365, 0.9065),
            (165.313, 0.7675, 1.1375),
            (172.823, 0.7675, 1.1375),
            (180.333, 0.7675, 1.1375),
            (192.709, 0.980, 1.350),
            (203.102, 0.980, 1.350),
            (217.528, 0.980, 1.350),
            (238.313, 1.070, 1.440),
        ]
    )
)
LAV_Z = np.array([s.z for s in LAV_STATIONS])
LAV_R_INNER = np.array([s.r_inner for s in LAV_STATIONS])
LAV_R_OUTER = np.array([s.r_outer for s in LAV_STATIONS])


def vacuum_tube_radius(z):
    """Free aperture of the decay vessel at ``z`` (m): the inner radius of the next LAV.

    The vessel widens at LAV6 and LAV9; upstream of LAV1 it is taken as the LAV1 aperture.
    """
    z = np.asarray(z)
    idx = np.clip(np.searchsorted(LAV_Z, z, side="left"), 0, len(LAV_Z) - 1)
    return LAV_R_INNER[idx]


# --------------------------------------------------------------------------------------------
# Spectrometer
# --------------------------------------------------------------------------------------------
STRAW_Z = (183.508, 194.066, 204.459, 218.885)
STRAW_R_MAX = 1.0
STRAW_HOLE_HALF_SIZE = 0.0638
STRAW_HOLE_X = (0.1012, 0.1144, 0.0924, 0.0528)  #: beam-hole centres (m), Y = 0

MAGNET_Z = 196.345  #: MNP33 front plane
MAGNET_LENGTH = 1.3
MAGNET_KICK_Z = MAGNET_Z + 0.5 * MAGNET_LENGTH  #: thin-lens kick plane
MAGNET_PT_KICK_GEV = 0.270  #: horizontal kick; positive charges are bent towards +X

#: sigma_p / p = MOMENTUM_RES_CONST (+) MOMENTUM_RES_SLOPE * p[GeV] (approximation)
MOMENTUM_RES_CONST = 0.003
MOMENTUM_RES_SLOPE = 0.00005
#: track slope resolution (rad), approximation: multiple scattering in the STRAW material
SLOPE_RES_CONST = 2.0e-5
SLOPE_RES_MS_GEV = 1.0e-3  #: sigma_theta = SLOPE_RES_CONST (+) SLOPE_RES_MS_GEV / p
POSITION_RES = 1.0e-4  #: STRAW hit-position resolution at the first chamber (m)

# --------------------------------------------------------------------------------------------
# Downstream detectors
# --------------------------------------------------------------------------------------------
RICH_Z = 219.445
RICH_LENGTH = 17.0
RICH_FOCAL_LENGTH = 17.0  #: m; ring radius = f * theta_Cherenkov
RICH_N_MINUS_1 = 62.0e-6  #: neon at atmospheric pressure
RICH_RADIUS_RES = 0.0002  #: m, single-ring radius resolution (approximation)

CHOD_Z = 238.1315
CHOD_R = (0.140, 1.070)
CHOD_TIME_RES_NS = 0.8

NA48CHOD_Z = (239.009, 239.389)  #: V and H planes
NA48CHOD_R = (0.130, 1.100)
NA48CHOD_TIME_RES_NS = 0.2

LKR_Z = 241.093
LKR_R_MIN = 0.150
LKR_APOTHEM = 1.130  #: octagon
LKR_TIME_RES_NS = 0.5  #: approximation
LKR_POSITION_RES = 0.001  #: approximation (m)

MUV1_Z = 243.418
MUV2_Z = 244.435
MUV12_R_MIN = 0.130
MUV12_HALF_SIDE = 1.100

MUV3_Z = 246.800
MUV3_R_MIN = 0.103
MUV3_HALF_SIDE = 1.320
MUV3_TIME_RES_NS = 0.5  #: approximation

LAV_TIME_RES_NS = 1.0  #: approximation
ANTI0_TIME_RES_NS = 0.5  #: approximation
ANTI0_POSITION_RES = 0.01  #: approximation (m)


# --------------------------------------------------------------------------------------------
# Acceptance predicates (numpy or awkward arrays in, boolean arrays out)
# --------------------------------------------------------------------------------------------
def in_annulus(x, y, r_min, r_max):
    r2 = x * x + y * y
    return (r2 > r_min * r_min) & (r2 < r_max * r_max)


def in_square_with_hole(x, y, r_min, half_side):
    return (np.abs(x) < half_side) & (np.abs(y) < half_side) & (x * x + y * y > r_min * r_min)


def in_octagon_with_hole(x, y, r_min, apothem):
    ax, ay = np.abs(x), np.abs(y)
    inside = (ax < apothem) & (ay < apothem) & (ax + ay < np.sqrt(2.0) * apothem)
    return inside & (x * x + y * y > r_min * r_min)


def in_straw_acceptance(x, y, chamber: int):
    """Inside chamber ``chamber`` (0-3): R < 1 m and outside the square beam hole."""
    in_hole = (np.abs(x - STRAW_HOLE_X[chamber]) < STRAW_HOLE_HALF_SIZE) & (
        np.abs(y) < STRAW_HOLE_HALF_SIZE
    )
    return (x * x + y * y < STRAW_R_MAX * STRAW_R_MAX) & ~in_hole


def in_chod_acceptance(x, y):
    return in_annulus(x, y, *CHOD_R)


def in_na48chod_acceptance(x, y):
    return in_annulus(x, y, *NA48CHOD_R)


def in_lkr_acceptance(x, y):
    return in_octagon_with_hole(x, y, LKR_R_MIN, LKR_APOTHEM)


def in_muv12_acceptance(x, y):
    return in_square_with_hole(x, y, MUV12_R_MIN, MUV12_HALF_SIDE)


def in_muv3_acceptance(x, y):
    return in_square_with_hole(x, y, MUV3_R_MIN, MUV3_HALF_SIDE)


def in_anti0_acceptance(x, y):
    return (np.abs(x) < ANTI0_HALF_SIZE) & (np.abs(y) < ANTI0_HALF_SIZE)


def in_lav_acceptance(x, y, station: int):
    """Inside the lead-glass ring of LAV ``station`` (1-12)."""
    s = LAV_STATIONS[station - 1]
    return in_annulus(x, y, s.r_inner, s.r_outer)


def momentum_resolution(p):
    """Relative momentum resolution sigma_p/p of the spectrometer at momentum ``p`` (GeV)."""
    return np.hypot(MOMENTUM_RES_CONST, MOMENTUM_RES_SLOPE * p)
