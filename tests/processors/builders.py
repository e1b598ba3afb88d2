"""Hand-built events with known answers, written with the project's ntuple writer.

A *decay* is a vertex and a list of daughters (charge, momentum, species); :func:`event_branches`
turns a list of decays into the branches of ``docs/ntuple.md`` with ideal detector signals
(straight lines, thin-lens magnet kick, every detector in time at t = 0), so that each test
knows exactly what the selection must find.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from na62dump import geometry as g
from na62dump.simulation.writer import COLLECTIONS, empty_branches, write_ntuple


@dataclass
class Daughter:
    charge: int
    p: tuple[float, float, float]
    kind: str = "e"  #: "e", "mu", "pi", "K" or "gamma"
    time: float = 0.0


@dataclass
class Event:
    vertex: tuple[float, float, float]
    daughters: list[Daughter]
    trig_H2: bool = True
    lav_times: list[float] = field(default_factory=list)
    anti0: list[tuple[float, float, float]] = field(default_factory=list)  #: (x, y, time)
    truth: dict | None = None


def _line(vertex, p, z):
    vx, vy, vz = vertex
    return vx + p[0] / p[2] * (z - vz), vy + p[1] / p[2] * (z - vz)


def _downstream(vertex, p, charge):
    xk, yk = _line(vertex, p, g.MAGNET_KICK_Z)
    tx = p[0] / p[2] + charge * g.MAGNET_PT_KICK_GEV / p[2]
    ty = p[1] / p[2]
    dz = g.STRAW_Z[3] - g.MAGNET_KICK_Z
    return xk + tx * dz, yk + ty * dz, tx, ty


def event_branches(events: list[Event], truth: bool = False) -> dict:
    """Branches of ``events`` in the ntuple contract (ideal detector)."""
    n = len(events)
    b = empty_branches(n, truth=truth)
    cols = {c: {f: [[] for _ in range(n)] for f in COLLECTIONS[c]} for c in COLLECTIONS}
    for i, ev in enumerate(events):  # test fixture: a handful of events
        for d in ev.daughters:
            pmag = float(np.linalg.norm(d.p))
            if d.kind == "gamma":
                x, y = _line(ev.vertex, d.p, g.LKR_Z)
                for f, val in (("energy", pmag), ("x", x), ("y", y), ("time", d.time)):
                    cols["Cluster"][f][i].append(val)
                continue
            x1, y1 = _line(ev.vertex, d.p, g.STRAW_Z[0])
            xd, yd, tx, ty = _downstream(ev.vertex, d.p, d.charge)
            mass = {"e": 0.000511, "mu": 0.10566, "pi": 0.13957, "K": 0.49368}[d.kind]
            beta = pmag / np.hypot(pmag, mass)
            n_rich = 1 + g.RICH_N_MINUS_1
            has_rich = n_rich * beta > 1 + 1e-9
            radius = g.RICH_FOCAL_LENGTH * np.arccos(1 / (n_rich * beta)) if has_rich else 0.0
            track = {
                "charge": d.charge, "px": d.p[0], "py": d.p[1], "pz": d.p[2],
                "x": x1, "y": y1, "z": g.STRAW_Z[0], "xDown": xd, "yDown": yd,
                "txDown": tx, "tyDown": ty, "chi2": 1.0, "nChambers": 4,
                "chodTime": d.time, "hasChod": True, "na48chodTime": d.time, "hasNa48chod": True,
                "richRadius": radius, "hasRich": bool(has_rich),
                "hcalEnergy": 0.6 * pmag if d.kind in ("pi", "K") else 0.0,
            }  # fmt: skip
            for f, val in track.items():
                cols["Track"][f][i].append(val)
            lx = xd + tx * (g.LKR_Z - g.STRAW_Z[3])
            ly = yd + ty * (g.LKR_Z - g.STRAW_Z[3])
            e_lkr = {"e": pmag, "mu": 0.7, "pi": 0.4 * pmag, "K": 0.4 * pmag}[d.kind]
            for f, val in (("energy", e_lkr), ("x", lx), ("y", ly), ("time", d.time)):
                cols["Cluster"][f][i].append(val)
            if d.kind == "mu":
                mx = xd + tx * (g.MUV3_Z - g.STRAW_Z[3])
                my = yd + ty * (g.MUV3_Z - g.STRAW_Z[3])
                for f, val in (("x", mx), ("y", my), ("time", d.time)):
                    cols["MUV3"][f][i].append(val)
        for t in ev.lav_times:
            cols["LAV"]["station"][i].append(3)
            cols["LAV"]["time"][i].append(t)
        for x, y, t in ev.anti0:
            for f, val in (("x", x), ("y", y), ("time", t)):
                cols["ANTI0"][f][i].append(val)
        if truth and ev.truth:
            for k, val in ev.truth.items():
                b["Truth_" + k][i] = val
    for c, fields in cols.items():
        for f, lists in fields.items():
            b[f"{c}_{f}"] = ak.values_astype(ak.Array(lists), COLLECTIONS[c][f])
    b["trig_H2"] = np.array([ev.trig_H2 for ev in events])
    b["run"][:] = 1000
    return b


def write_raw(path, branches: dict):
    """Write ``branches`` with ``uproot`` ``mktree`` *without* the writer's contract checks."""
    import uproot

    data = {k: v for k, v in branches.items() if not (k.startswith("n") and k[1:] in COLLECTIONS)}
    types = {k: (v.type.content if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
    with uproot.recreate(path) as f:
        f.mktree("events", types, counter_name=lambda name: "n" + name.split("_")[0])
        f["events"].extend(data)
    return path


def write_tree(path, data: dict) -> str:
    """``data`` (``{event branch: numpy array, collection: zipped record array}``) as the tree
    ``events``, NanoAOD-style names (``nX``, ``X_field``), by plain uproot ``mktree``: no
    check of the contract, so a test can write what a foreign ntuple could look like."""
    import uproot

    with uproot.recreate(path) as f:
        t = f.mktree(
            "events",
            {k: v.dtype if isinstance(v, np.ndarray) else v.type.content for k, v in data.items()},
            counter_name=lambda c: f"n{c}",
            field_name=lambda c, field: f"{c}_{field}",
        )
        t.extend(data)
    return str(path)


def write_events(path, events: list[Event], truth: bool = False, drop: tuple[str, ...] = ()):
    """Write ``events`` to ``path`` (``drop``: branches to leave out, to test error messages)."""
    b = event_branches(events, truth=truth)
    if drop:
        return write_raw(path, {k: v for k, v in b.items() if k not in drop})
    return write_ntuple(path, b)


def decay_from_tax(
    z_vertex, mass_gev, p_gev, theta_decay=np.pi / 2, charge_kind="e", offset=(0, 0)
):
    """Two-body decay of a particle flying from the TAX beam point to Z = ``z_vertex``.

    ``offset`` displaces the vertex transversely (m) without changing the momentum direction,
    which moves CDA_TAX by the same amount. Returns (vertex, [Daughter, Daughter]).
    """
    bx, by, bz = g.BEAM_POINT
    direction = np.array([0.02 / (z_vertex - bz), 0.01 / (z_vertex - bz), 1.0])
    direction /= np.linalg.norm(direction)
    vertex = np.array([bx, by, bz]) + direction * (z_vertex - bz) / direction[2]
    vertex[:2] += offset
    m_d = {"e": 0.000511, "mu": 0.10566, "pi": 0.13957, "K": 0.49368}[charge_kind]
    q = np.sqrt(mass_gev**2 / 4 - m_d**2)
    e_tot = np.hypot(p_gev, mass_gev)
    gamma, bg = e_tot / mass_gev, p_gev / mass_gev
    # rest frame daughter along an axis perpendicular-ish to the flight, then boost along z'
    ct, st = np.cos(theta_decay), np.sin(theta_decay)
    out = []
    for sign, charge in ((1, 1), (-1, -1)):
        pl = gamma * sign * q * ct + bg * np.hypot(q, m_d)
        pt = sign * q * st
        # rotate (pt along x', pl along direction)
        ex = np.cross([0, 1, 0], direction)
        ex /= np.linalg.norm(ex)
        p = pl * direction + pt * ex
        out.append(Daughter(charge, tuple(float(c) for c in p), charge_kind))
    return tuple(float(c) for c in vertex), out
