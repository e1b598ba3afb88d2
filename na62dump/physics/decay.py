"""Decay probabilities of a long-lived particle and the reweighting of forced-decay samples.

A particle of mass ``M``, momentum component ``pz`` along the beam and proper decay length
``c tau`` flies a mean distance ``lambda_z = (pz / M) c tau`` along Z before decaying. Signal
samples force the decay uniformly in Z over ``[z_min, z_max]``; weighting each event by the
exponential density over the uniform one,

    w = (z_max - z_min) / lambda_z * exp(-(z_decay - z_prod) / lambda_z),

makes the sample mean of ``w`` (times any acceptance) the probability to decay inside
``[z_min, z_max]`` (times that acceptance), for every ``c tau``: one sample per mass serves every
coupling.

>>> import numpy as np
>>> round(float(prob_decay_in_range(100.0, 200.0, 0.0, 1e9)), 9)  # very long-lived: L / lambda
1e-07
>>> rng = np.random.default_rng(1)
>>> z = rng.uniform(100.0, 200.0, 200_000)
>>> w = forced_decay_weight(z - 0.0, 1.0, 100.0, (100.0, 200.0))  # pz/M = 1, c tau = 100 m
>>> bool(abs(w.mean() / prob_decay_in_range(100.0, 200.0, 0.0, 100.0) - 1) < 0.01)
True
"""

from __future__ import annotations

import numpy as np

#: hbar c in GeV m, to convert widths (GeV) into proper decay lengths (m).
HBAR_C_GEV_M = 1.973269804e-16
#: hbar in GeV s.
HBAR_GEV_S = 6.582119569e-25
C_M_PER_S = 299_792_458.0


def ctau_from_width(width_gev):
    """Proper decay length c tau (m) from the total width (GeV); inf for a zero width (a zero
    coupling: the particle does not decay)."""
    with np.errstate(divide="ignore"):
        return HBAR_C_GEV_M / np.asarray(width_gev, dtype=float)


def lifetime_from_width(width_gev):
    """Proper lifetime tau (s) from the total width (GeV); inf for a zero width."""
    with np.errstate(divide="ignore"):
        return HBAR_GEV_S / np.asarray(width_gev, dtype=float)


def decay_length_z(pz, mass, ctau):
    """Mean flight distance along Z, ``lambda_z = (pz / M) c tau`` (m)."""
    return np.asarray(pz, dtype=float) / np.asarray(mass, dtype=float) * np.asarray(ctau)


def prob_decay_in_range(z_min, z_max, z_prod, lambda_z):
    """Probability that a particle made at ``z_prod`` decays between ``z_min`` and ``z_max``.

    Computed as exp(-a) (1 - exp(-(b - a))) with ``expm1`` so that it stays accurate both for
    very long lifetimes (probability ~ L / lambda) and very short ones (underflow to 0).
    """
    lam = np.asarray(lambda_z, dtype=float)
    a = (np.asarray(z_min) - z_prod) / lam
    b = (np.asarray(z_max) - z_prod) / lam
    return np.exp(-a) * -np.expm1(-(b - a))


def forced_decay_weight(dz, pz_over_mass, ctau, z_range):
    """Weight of a forced-decay event for proper decay length ``ctau`` (m).

    ``dz`` is decay Z minus production Z (m), ``pz_over_mass`` the event's p_z / M, and
    ``z_range`` the (z_min, z_max) over which decays were forced uniformly. A particle that
    does not move forward (``pz <= 0``) never reaches the decay volume: its weight is 0.

    >>> forced_decay_weight([100.0, 100.0], [1.0, -1.0], 100.0, (50.0, 150.0)).round(4).tolist()
    [0.3679, 0.0]
    """
    lam = np.asarray(pz_over_mass, dtype=float) * np.asarray(ctau, dtype=float)
    length = z_range[1] - z_range[0]
    forward = lam > 0
    safe = np.where(forward, lam, 1.0)
    return np.where(forward, length / safe * np.exp(-np.asarray(dz) / safe), 0.0)


def forced_decay_weight_binned(dz_lo, dz_hi, pz_over_mass, ctau, z_range):
    """:func:`forced_decay_weight` averaged over a bin ``[dz_lo, dz_hi]`` of flight distance.

    Forced decays are uniform in Z, so inside a bin of ``dz`` the events are uniform and the
    exact bin average of the weight is ``L / (dz_hi - dz_lo) * (exp(-lo/lam) - exp(-hi/lam))``.
    Histograms of accepted events in (pz, dz) thus reweight without binning bias in ``dz``.
    Non-forward particles (``pz <= 0``) get weight 0, as in :func:`forced_decay_weight`.
    """
    lam = np.asarray(pz_over_mass, dtype=float) * np.asarray(ctau, dtype=float)
    length = z_range[1] - z_range[0]
    width = np.asarray(dz_hi, dtype=float) - np.asarray(dz_lo, dtype=float)
    forward = lam > 0
    safe = np.where(forward, lam, 1.0)
    value = length / width * np.exp(-np.asarray(dz_lo) / safe) * -np.expm1(-width / safe)
    return np.where(forward, value, 0.0)


def read_mode_tables(path, required) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Width tables of the layout ``mode mass_GeV width`` (one point a row, ``#`` comments), as
    shipped in ``na62dump/data`` (the ALP widths): ``{mode: (mass, width)}`` sorted in mass.
    An unreadable or malformed file, or one missing a mode of ``required``, is an InputError
    naming the file."""
    from pathlib import Path

    from na62dump.errors import InputError

    path = Path(path)
    rows: dict[str, list[tuple[float, float]]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror})") from None
    try:
        for line in lines:
            if line.strip() and not line.startswith("#"):
                mode, m, w = line.split()
                rows.setdefault(mode, []).append((float(m), float(w)))
    except ValueError as err:
        raise InputError(f"{path}: malformed ({err})") from None
    missing = set(required) - set(rows)
    if missing:
        raise InputError(f"{path}: modes {sorted(missing)} are missing")
    out = {}
    for mode, pts in rows.items():
        arr = np.array(sorted(pts))
        out[mode] = (arr[:, 0], arr[:, 1])
    return out
