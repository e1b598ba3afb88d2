"""Selection cuts as data: one typed, documented, immutable object per analysis channel.

Defaults are the published values (``shared/ANALYSIS.md``, "Event selection"); values the
publications do not give are marked *approximation* in their description and documented here,
so that a study changes them without touching a processor::

    from na62dump.selection.config import EECuts
    from processors.ee import EEProcessor
    proc = EEProcessor(cuts=EECuts(p_min_gev=12.0))

The objects are frozen pydantic models: unknown field names are rejected (a typo is an
error, not a silently ignored cut), values are validated, and they pickle (they travel to dask
workers). ``cuts.model_copy(update={...})`` derives a variant.

The channel objects share their building blocks by inheritance: :class:`TrackCuts` (per-track
quality, acceptance, isolation, timing), :class:`AssociationCuts` (LKr cluster and MUV3
association), :class:`PIDCuts`, :class:`VertexCuts`, :class:`VetoCuts` and
:class:`RegionCuts`.

>>> c = EECuts(p_min_gev=12.0)
>>> c.p_min_gev, c.sr_shape, c.veto_anti0
(12.0, 'ellipse', True)
>>> MuMuCuts().veto_anti0
False
>>> import pickle; pickle.loads(pickle.dumps(c)) == c
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from na62dump import geometry
from na62dump.finalstates import ANALYSES

#: Particle masses (GeV), PDG 2024.
M_ELECTRON = 0.51099895e-3
M_MUON = 0.1056583755
M_PION = 0.13957039
M_KAON = 0.493677
M_PI0 = 0.1349768
M_ETA = 0.547862
M_KSHORT = 0.497611
#: Mass hypothesis of the tracks for each PID requirement (``FinalState.pid``).
TRACK_MASS = {"electron": M_ELECTRON, "muon": M_MUON, "pion": M_PION, "kaon": M_KAON}


class _Cuts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class TrackCuts(_Cuts):
    """Per-track requirements (published: p > 10 GeV, acceptance, isolation, 5 ns timing)."""

    p_min_gev: float = Field(10.0, gt=0, description="minimum track momentum (GeV), published")
    p_max_gev: float = Field(
        400.0, gt=0, description="maximum track momentum (GeV): the beam energy, no published cut"
    )
    chi2_max: float = Field(
        20.0, gt=0, description="maximum track-fit chi2/ndf (approximation, not published)"
    )
    n_chambers_min: int = Field(
        3, ge=2, le=4, description="minimum STRAW chambers with hits (3: all reconstructed tracks)"
    )
    isolation_straw1_m: float = Field(
        0.015,
        ge=0,
        description="minimum distance to any other track at the first STRAW chamber (m); "
        "approximation, the publications say 'isolated' without a number",
    )
    isolation_lkr_m: float = Field(
        0.10,
        ge=0,
        description="minimum distance to any other track at the LKr front plane (m); "
        "approximation (shower separation)",
    )
    trigger_window_ns: float = Field(
        geometry.TRIGGER_WINDOW_NS,
        gt=0,
        description="|t_track - t_trigger| (ns), published 5 ns; t_track = NA48-CHOD time if "
        "present, else CHOD time",
    )


class AssociationCuts(_Cuts):
    """Track association to LKr clusters (E/p) and to MUV3 signals."""

    lkr_match_distance_m: float = Field(
        0.05,
        gt=0,
        description="maximum distance between the extrapolated track and the LKr cluster (m); "
        "approximation",
    )
    lkr_match_time_ns: float = Field(
        5.0, gt=0, description="|t_cluster - t_track| for the E/p cluster (ns); approximation"
    )
    lkr_energy_min_gev: float = Field(
        1.0, ge=0, description="minimum associated cluster energy (GeV), published 1 GeV"
    )
    muv3_radius_const_m: float = Field(
        0.15,
        gt=0,
        description="MUV3 search radius R(p) = const + ms / p: constant term (m), about the "
        "tile half-diagonal; approximation",
    )
    muv3_radius_ms_m_gev: float = Field(
        1.5,
        ge=0,
        description="multiple-scattering term of the MUV3 search radius (m GeV); approximation",
    )
    muv3_time_ns: float = Field(5.0, gt=0, description="|t_MUV3 - t_track| (ns), published")


class PIDCuts(_Cuts):
    """Particle identification (published: E/p windows, MUV3; RICH for kaons)."""

    muon_eop_max: float = Field(0.2, gt=0, description="muon: E/p below this (published)")
    electron_eop_max: float = Field(1.05, gt=0, description="electron: E/p below (published)")
    electron_eop_min: float = Field(
        0.95, gt=0, description="electron: (E/p)_min at p <= electron_eop_pivot_gev (published)"
    )
    electron_eop_pivot_gev: float = Field(
        150.0, gt=0, description="momentum above which (E/p)_min decreases (GeV), published"
    )
    electron_eop_slope_per_gev: float = Field(
        0.0013,
        ge=0,
        description="(E/p)_min = min - slope (p - pivot) above the pivot; our reading of the "
        "damaged source",
    )
    pion_calo_eop_min: float = Field(
        0.3,
        ge=0,
        description="pion: (E_LKr + E_MUV1+MUV2) / p above this (hadronic energy); approximation",
    )
    rich_kaon_mass_window_gev: tuple[float, float] = Field(
        (0.40, 0.60),
        description="kaon: RICH mass (from ring radius and p) in this window (GeV); approximation",
    )


class VertexCuts(_Cuts):
    """Two-track vertex: time-coincident, opposite-charge tracks with a small CDA."""

    vertex_dt_max_ns: float = Field(
        5.0,
        gt=0,
        description="|t_1 - t_2| of the two tracks (ns); approximation (the published mu+mu- "
        "event has -1.69 ns)",
    )
    vertex_cda_max_m: float = Field(
        0.02,
        gt=0,
        description="distance of closest approach between the two track lines (m); approximation",
    )


class VetoCuts(_Cuts):
    """Upstream (ANTI0) and photon (LAV) vetoes of the vertex tracks."""

    veto_lav: bool = Field(True, description="reject tracks in time with any LAV signal")
    veto_anti0: bool = Field(
        True, description="reject tracks spatially and time compatible with an ANTI0 signal"
    )
    lav_window_ns: float = Field(5.0, gt=0, description="|t_LAV - t_track| (ns), published")
    anti0_window_ns: float = Field(5.0, gt=0, description="|t_ANTI0 - t_track| (ns), published")
    anti0_distance_m: float = Field(
        0.200, gt=0, description="track-ANTI0 distance at Z = ANTI0_Z (m), published 200 mm"
    )


class RegionCuts(_Cuts):
    """Signal and control regions in the (Z_TAX, CDA_TAX) plane, and the fiducial volume.

    ``sr_shape`` ``"box"``: ``sr_z_tax_range_m[0] < Z_TAX < sr_z_tax_range_m[1]`` and
    ``CDA_TAX < sr_cda_tax_max_m``; ``"ellipse"``: ``((Z_TAX - z0)/a)^2 + (CDA_TAX/b)^2 < 1``
    with centre ``(sr_ellipse_z0_m, 0)`` and semi-axes ``sr_ellipse_axes_m = (a, b)``. The CR
    is the box ``cr_z_tax_range_m`` x ``CDA_TAX < cr_cda_tax_max_m`` minus the SR.
    """

    fv: Literal["box", "cones"] = Field(
        "box", description="fiducial volume: mu+mu- box in the vacuum tube, or e+e- cones"
    )
    fv_z_range_m: tuple[float, float] = Field(
        (geometry.FV_Z_START, geometry.FV_Z_END), description="Z range of the FV (m)"
    )
    sr_shape: Literal["box", "ellipse"] = "box"
    sr_z_tax_range_m: tuple[float, float] = Field((6.0, 40.0), description="box SR Z_TAX (m)")
    sr_cda_tax_max_m: float = Field(0.020, gt=0, description="box SR CDA_TAX max (m)")
    sr_ellipse_z0_m: float = Field(23.0, description="ellipse SR centre in Z_TAX (m)")
    sr_ellipse_axes_m: tuple[float, float] = Field(
        (11.0, 0.034), description="ellipse SR semi-axes in Z_TAX and CDA_TAX (m)"
    )
    cr_z_tax_range_m: tuple[float, float] = Field(
        (-4.0, 50.0), description="CR Z_TAX range (m), leptonic published"
    )
    cr_cda_tax_max_m: float = Field(0.150, gt=0, description="CR CDA_TAX max (m), published")


class NeutralCuts(_Cuts):
    """Photons (LKr clusters not associated to a track) and pi0/eta -> gamma gamma candidates."""

    photon_energy_min_gev: float = Field(
        1.0, ge=0, description="minimum photon cluster energy (GeV); approximation"
    )
    photon_track_distance_min_m: float = Field(
        0.15,
        ge=0,
        description="minimum distance of a photon cluster to every extrapolated track at the "
        "LKr (m); approximation",
    )
    photon_time_window_ns: float = Field(
        5.0, gt=0, description="|t_cluster - t_vertex| (ns); approximation"
    )
    photon_separation_min_m: float = Field(
        0.10,
        ge=0,
        description="minimum distance between two photon clusters at the LKr (m): the opening "
        "angle requirement; approximation",
    )
    pi0_mass_window_gev: float = Field(
        0.015, gt=0, description="|m_gg - m_pi0| (GeV); approximation"
    )
    eta_mass_window_gev: float = Field(
        0.030, gt=0, description="|m_gg - m_eta| (GeV); approximation"
    )
    extra_photons_max: int = Field(
        0,
        ge=0,
        description="photons allowed beyond those of the final state (0: exclusive final states)",
    )


class _TwoTrackCuts(TrackCuts, AssociationCuts, PIDCuts, VertexCuts, VetoCuts, RegionCuts):
    """Everything a two-track channel needs."""


class EECuts(_TwoTrackCuts):
    """e+e- (PRL 133 (2024) 111802): LAV and ANTI0 vetoes, cone FV, elliptic SR."""

    fv: Literal["box", "cones"] = "cones"
    sr_shape: Literal["box", "ellipse"] = "ellipse"
    sr_ellipse_axes_m: tuple[float, float] = (11.0, 0.034)


class MuMuCuts(_TwoTrackCuts):
    """mu+mu-: LAV veto only, box FV in the vacuum tube, box SR."""

    veto_anti0: bool = False
    fv: Literal["box", "cones"] = "box"
    sr_shape: Literal["box", "ellipse"] = "box"


class PiPiCuts(_TwoTrackCuts, NeutralCuts):
    """pi+pi-: hadronic regions, K_S window masked; no photons allowed (exclusive)."""

    fv: Literal["box", "cones"] = "box"
    sr_shape: Literal["box", "ellipse"] = "ellipse"
    sr_ellipse_axes_m: tuple[float, float] = (23.0, 0.040)
    cr_z_tax_range_m: tuple[float, float] = (-7.0, 53.0)
    kshort_window_gev: float = Field(
        0.0057, ge=0, description="|m - m_KS| masked in pi+pi- (GeV), published 3 sigma"
    )


class HadronicCuts(PiPiCuts):
    """pi+pi-gamma, pi+pi-pi0, pi+pi-pi0pi0, pi+pi-eta, K+K-, K+K-pi0."""


#: Default cut object per analysis channel (``Analysis.cuts`` of :mod:`na62dump.finalstates`).
DEFAULT_CUTS: dict[str, type[_TwoTrackCuts]] = {a.name: globals()[a.cuts] for a in ANALYSES}
