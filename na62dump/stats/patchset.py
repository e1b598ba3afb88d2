"""Likelihoods in the HEPData convention: a background-only workspace and a pyhf PatchSet.

One pair per model and channel (or combination of channels; for the model-independent ALP
per final state): the background-only workspace holds, per channel, the SR as one bin
(background and observed count; with no signal the mass binning carries no information) and
the measurement ``NA62_<model>_<name>`` (unique, so that ``pyhf combine`` of two channels
works). Each patch of the PatchSet (pyhf's ``patchset.json`` schema, version 1.0.0) is one
hypothesis ``(mass, coupling)``, for the ALP ``(mass, tau_a, BR x BR)``: it replaces the
channels where the hypothesis has signal by their mass-binned form at ``M``
(:func:`na62dump.stats.workspace.build_channel_workspace`: signal Gaussian, background shape,
observed candidates in their mass bins) with the signal samples at the hypothesis' own
expected yields per production mode, so **mu = 1 is that hypothesis** (``mu`` = signal
strength, dimensionless). The POI bounds of each patch are ``[0, max(10, S_max / N_exp)]``
with ``S_max`` the largest total yield the limit scan tests (:data:`na62dump.stats.scan.S_GRID`),
so every yield the scan tests lies inside them.

Interpolation codes: the workspaces use only ``normsys`` modifiers. The project's fits
(:class:`na62dump.stats.toys.FastModel`) use ``code1`` (``k**alpha``, the log-normal of the
published systematic pdfs); pyhf's default for ``Workspace.model()`` and ``pyhf cls`` is
``code4``, equal to ``k**alpha`` for ``|alpha| >= 1`` and a polynomial inside. The difference
is not measurable in the results: at dark photon e+e- M = 172.3 MeV, eps = 2.40e-7 (N_exp =
0.80) of the default run, the asymptotic CLs is 0.2109845 with either code (docs/statistics.md;
the tests check the agreement on the tiny chain), so the patchsets keep pyhf's defaults and a
plain pyhf user needs no ``modifier_settings``.

Hypotheses with a total yield below :data:`PATCH_MIN_YIELD` events are left out (their CLs is
above ``exp(-PATCH_MIN_YIELD) > 0.99``: no test can exclude them).

The pyhf schema requires ``metadata.references.hepdata`` (an INSPIRE id ``insNNNNNNN``):
:func:`build_patchset` sets it when given one (``na62dump hepdata --inspire``), and otherwise
leaves ``references`` empty (the file is then schema-valid except for that key;
:func:`apply_patch` applies a patch either way).

API
---
``build_patchset(n_exp, sigma_m_gev, backgrounds, observed, mass_gev, couplings, *,
coupling_name, measurement, systematics=None, metadata=None, hepdata_record=None) ->
(background_only_spec, patchset_dict or None)``; ``apply_patch(bkg_spec, patchset, mass_gev,
coupling) -> (spec, patch_metadata)``; ``validate_patchset(bkg_spec, patchset)``;
``write_patchset(directory, prefix, bkg_spec, patchset) -> (path_bkg, path_patchset)``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from na62dump.errors import InputError
from na62dump.stats.workspace import (
    POI,
    blinded_workspace,
    build_channel_workspace,
    validate_workspace,
)

__all__ = [
    "PATCH_MIN_YIELD",
    "apply_patch",
    "background_only_channel",
    "build_patchset",
    "patch_name",
    "poi_upper_bound",
    "validate_patchset",
    "write_patchset",
]

#: Hypotheses with fewer expected signal events than this get no patch (CLs > 0.99).
PATCH_MIN_YIELD = 1.0e-2
#: Smallest upper POI bound of a patch (mu = 1 is the hypothesis).
MU_BOUND_MIN = 10.0
#: The test statistic and toy treatment of the limits (metadata of every patchset).
TREATMENT = {
    "poi": "mu: signal strength; mu = 1 is the hypothesis (mass, coupling) of the patch "
           "(its expected signal yield n_exp_total events), mu = 0 the background only",
    "test_statistic": "qtilde (pyhf), 0 <= mu_hat <= mu; CLs at 90% CL",
    "toys": "published treatment (NA62, PRL 133 (2024) 111802, Sec. V and App. B): nuisance "
            "parameters fitted to the data under each hypothesis, main-measurement toys "
            "Poisson around that fit, auxiliary data not randomised; the empty data set "
            "enters exactly (na62dump.stats.toys). pyhf's toybased calculator randomises the "
            "auxiliary data and asymptotics are invalid at b << 1: see docs/statistics.md",
    "interpolation": "pyhf defaults (normsys code4); the project's own fits use code1 "
                     "(log-normal k**alpha, equal to code4 for |alpha| >= 1); the CLs agree "
                     "to < 1e-6 (docs/statistics.md); no histosys",
}


def patch_name(mass_gev: float, j: int | tuple[int, ...]) -> str:
    """Patch name of mass ``mass_gev`` and coupling index ``j`` (a tuple with several coupling
    axes, e.g. the ALP's lifetime and BR x BR; ``[a-zA-Z0-9_]`` only).

    >>> patch_name(0.1668, 7), patch_name(0.5, (3, 12))
    ('m166p80_c07', 'm500p00_c03_12')
    """
    idx = (j,) if isinstance(j, int | np.integer) else tuple(j)
    return f"m{1000 * mass_gev:.2f}".replace(".", "p") + "_c" + "_".join(f"{k:02d}" for k in idx)


def poi_upper_bound(n_exp_total: float) -> float:
    """Upper bound of ``mu`` for a hypothesis of ``n_exp_total`` events: every total yield the
    scan tests (up to ``S_GRID[-1]`` events) lies inside.

    >>> poi_upper_bound(2.0), poi_upper_bound(100.0)
    (100.0, 10.0)
    """
    from na62dump.stats.scan import S_GRID

    return float(max(MU_BOUND_MIN, S_GRID[-1] / n_exp_total))


def background_only_channel(channel: str, background: Mapping, observed) -> tuple[dict, dict]:
    """``(channel, observation)`` of the SR as one bin with the background only."""
    lo, hi = _range(channel)
    spec = build_channel_workspace(0.5 * (lo + hi), 1.0, hi - lo, background,
                                   _count(observed), channel, binning="counting")
    ch = spec["channels"][0]
    ch = {"name": ch["name"], "samples": [s for s in ch["samples"] if s["name"] == "background"]}
    return ch, spec["observations"][0]


def _range(channel: str):
    from na62dump.stats.workspace import channel_config

    return channel_config(channel).mass_range_gev


def _count(observed) -> int:
    if isinstance(observed, int | np.integer) and not isinstance(observed, bool):
        return int(observed)
    return int(np.size(observed))


def build_patchset(n_exp: Mapping, sigma_m_gev: Mapping, backgrounds: Mapping,
                   observed: Mapping, mass_gev, couplings, *,
                   coupling_name: str | tuple[str, ...],
                   measurement: str, systematics: Mapping | None = None,
                   metadata: Mapping | None = None,
                   hepdata_record: str | None = None,
                   blinded: bool = False) -> tuple[dict, dict]:
    """Background-only workspace and PatchSet over the grid ``mass_gev x couplings``; the
    PatchSet is None when no hypothesis carries >= :data:`PATCH_MIN_YIELD` signal events
    inside a channel's mass range (nothing to publish).

    ``n_exp``: ``{channel: {production_mode: array (n_mass, n_coupling)}}`` expected events;
    ``sigma_m_gev``: ``{channel: array (n_mass, n_coupling) or (n_mass,)}`` (GeV). With
    several coupling axes (the ALP: lifetime and BR x BR), ``coupling_name`` is the tuple of
    their names, ``couplings`` the tuple of their grids and the arrays have shape
    ``(n_mass, *grid lengths)``; a hypothesis is then ``(mass, *couplings)``. ``backgrounds``,
    ``observed``, ``systematics``: as for
    :func:`na62dump.stats.workspace.build_channel_workspace` (one entry per channel).
    ``measurement`` names the measurement (unique per model and channel). ``blinded``: the
    workspace and every patch carry the background-only Asimov observations and the
    measurement name is marked (:func:`na62dump.stats.workspace.blinded_workspace`).

    >>> m, eps = np.array([0.1, 0.2]), np.array([1e-7, 1e-6])
    >>> n = {"ee": {"brems": np.array([[0.001, 3.0], [2.0, 0.5]])}}
    >>> bkg, ps = build_patchset(n, {"ee": np.full((2, 2), 0.002)},
    ...                          {"ee": {"median": 0.0094, "k": 4.0}}, {"ee": 0}, m, eps,
    ...                          coupling_name="eps", measurement="NA62_dark_photon_ee")
    >>> [p["metadata"]["name"] for p in ps["patches"]], ps["metadata"]["labels"]
    (['m100p00_c01', 'm200p00_c00', 'm200p00_c01'], ['mass_gev', 'eps'])
    >>> spec, meta = apply_patch(bkg, ps, 0.2, 1e-7)
    >>> round(sum(spec["channels"][0]["samples"][0]["data"]), 6), meta["n_exp_total"]
    (2.0, 2.0)
    """
    import pyhf

    masses = np.atleast_1d(np.asarray(mass_gev, dtype=float))
    names = (coupling_name,) if isinstance(coupling_name, str) else tuple(coupling_name)
    axes = [np.atleast_1d(np.asarray(a, dtype=float))
            for a in ((couplings,) if isinstance(coupling_name, str) else couplings)]
    if len(axes) != len(names):
        raise InputError(f"build_patchset: {len(names)} coupling names {names} for "
                         f"{len(axes)} coupling grids")
    grid = tuple(len(a) for a in axes)
    channels = list(n_exp)
    if not channels:
        raise InputError("build_patchset: n_exp is empty")
    if not measurement.replace("_", "").isalnum():
        raise InputError(f"measurement name {measurement!r}: use [a-zA-Z0-9_] only")
    modes = {c: {m: np.asarray(v, dtype=float) for m, v in n_exp[c].items()} for c in channels}
    for c in channels:
        for m, v in modes[c].items():
            if v.shape != (len(masses), *grid):
                raise InputError(f"n_exp[{c!r}][{m!r}] has shape {v.shape}; expected "
                                 f"{(len(masses), *grid)}")
    bkg_channels, bkg_obs = zip(*(background_only_channel(c, backgrounds[c], observed[c])
                                  for c in channels), strict=True)
    bkg_spec = {
        "channels": list(bkg_channels),
        "observations": list(bkg_obs),
        "measurements": [{"name": measurement, "config": {
            "poi": POI, "parameters": [{"name": POI, "bounds": [[0.0, MU_BOUND_MIN]]}]}}],
        "version": "1.0.0",
    }
    if blinded:
        bkg_spec = blinded_workspace(bkg_spec)
    patches = []
    # per (channel, mass, resolution): the mass-binned channel at 1 event per production mode
    # (bins, signal and background fractions, observations: independent of the coupling),
    # scaled to each hypothesis' yields by _at_yields; the ALP's (tau, BR x BR) points at one
    # mass share one
    templates: dict[tuple, tuple[dict, dict]] = {}
    for i, mass in enumerate(masses):
        for j in np.ndindex(*grid):
            per_ch = {c: {m: float(v[(i, *j)]) for m, v in modes[c].items() if v[(i, *j)] > 0}
                      for c in channels}
            total = sum(sum(d.values()) for d in per_ch.values())
            if not total >= PATCH_MIN_YIELD:
                continue
            ops = []
            for k, c in enumerate(channels):
                lo, hi = _range(c)
                if not per_ch[c] or not lo < mass < hi:
                    continue  # this channel stays background only at this hypothesis
                sig = np.asarray(sigma_m_gev[c], dtype=float)
                s_ij = float(sig[(i, *j)] if sig.ndim > 1 else sig[i])
                if (c, i, s_ij) not in templates:
                    spec = build_channel_workspace(mass, dict.fromkeys(modes[c], 1.0), s_ij,
                                                   backgrounds[c], observed[c], c, systematics)
                    if blinded:
                        spec = blinded_workspace(spec)
                    templates[c, i, s_ij] = spec["channels"][0], spec["observations"][0]
                channel, observation = templates[c, i, s_ij]
                ops.append({"op": "replace", "path": f"/channels/{k}",
                            "value": _at_yields(channel, per_ch[c])})
                ops.append({"op": "replace", "path": f"/observations/{k}",
                            "value": observation})
            if not ops:
                continue
            ops.append({"op": "replace", "path": "/measurements/0/config/parameters/0",
                        "value": {"name": POI, "bounds": [[0.0, poi_upper_bound(total)]]}})
            patches.append({"metadata": {
                "name": patch_name(mass, j[0] if len(j) == 1 else j),
                "values": [float(mass), *(float(a[k]) for a, k in zip(axes, j, strict=True))],
                "n_exp_total": total,
                "n_exp": {c: d for c, d in per_ch.items() if d}}, "patch": ops})
    if not patches:  # no hypothesis with >= PATCH_MIN_YIELD events inside a channel's range
        return bkg_spec, None
    meta = {
        "description": f"{measurement}: signal hypotheses (mass_gev, {', '.join(names)}) as "
                       "patches of the background-only workspace; mu = 1 is the hypothesis",
        "digests": {"sha256": pyhf.utils.digest(bkg_spec)},
        "labels": ["mass_gev", *names],
        "references": {"hepdata": hepdata_record} if hepdata_record else {},
        **TREATMENT,
        **dict(metadata or {}),
    }
    patchset = {"metadata": meta, "patches": patches, "version": "1.0.0"}
    if hepdata_record:
        validate_patchset(bkg_spec, patchset)
    return bkg_spec, patchset


def _at_yields(channel: Mapping, yields: Mapping[str, float]) -> dict:
    """``channel`` (built at 1 event per production mode) with each ``signal_<mode>`` sample
    scaled to ``yields[mode]`` events and the modes without yield left out: the channel
    :func:`na62dump.stats.workspace.build_channel_workspace` builds at ``yields`` (the same
    numbers, ``y * fraction`` per bin)."""
    samples = []
    for sample in channel["samples"]:
        mode = sample["name"].removeprefix("signal_")
        if sample["name"] == mode:  # the background
            samples.append(sample)
        elif mode in yields:
            samples.append({**sample, "data": [yields[mode] * x for x in sample["data"]]})
    return {**channel, "samples": samples}


def validate_patchset(bkg_spec: Mapping, patchset: Mapping):
    """Check ``patchset`` against pyhf's schema and its digest against ``bkg_spec``; returns
    the :class:`pyhf.patchset.PatchSet`."""
    import pyhf

    try:
        ps = pyhf.PatchSet(dict(patchset))
        ps.verify(validate_workspace(bkg_spec))
    except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.PatchSetVerificationError,
            pyhf.exceptions.InvalidPatchSet) as err:
        raise InputError(f"invalid patchset: {err}") from err
    return ps


def apply_patch(bkg_spec: Mapping, patchset: Mapping, mass_gev: float,
                coupling: float | tuple[float, ...], rtol: float = 1e-6) -> tuple[dict, dict]:
    """The workspace of hypothesis ``(mass_gev, coupling)`` (``coupling`` a tuple with
    several coupling axes, in the order of the patchset's labels): ``bkg_spec`` with its
    patch applied (RFC 6902, as :meth:`pyhf.patchset.Patch.apply`), validated by pyhf."""
    import jsonpatch

    want = np.array([mass_gev, *np.atleast_1d(coupling)], dtype=float)
    for p in patchset.get("patches", []):
        values = np.asarray(p["metadata"]["values"], dtype=float)
        if values.shape == want.shape and np.allclose(values, want, rtol=rtol, atol=0):
            spec = jsonpatch.apply_patch(copy.deepcopy(dict(bkg_spec)), p["patch"])
            validate_workspace(spec)
            return spec, dict(p["metadata"])
    point = ", ".join(f"{c:g}" for c in np.atleast_1d(coupling))
    raise InputError(f"no patch for mass {mass_gev} GeV, coupling ({point}) (points "
                     f"below {PATCH_MIN_YIELD} signal events have none)")


def write_patchset(directory: str | os.PathLike, prefix: str, bkg_spec: Mapping,
                   patchset: Mapping) -> tuple[Path, Path]:
    """Write ``<prefix>_bkgonly.json`` and ``<prefix>_patchset.json`` atomically."""
    from na62dump.atomic import write_json

    validate_workspace(bkg_spec)
    d = Path(directory)
    return (write_json(d / f"{prefix}_bkgonly.json", bkg_spec, indent=1, sort_keys=True),
            write_json(d / f"{prefix}_patchset.json", patchset, indent=None))
