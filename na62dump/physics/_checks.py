"""Argument checks shared by the physics models (raise :class:`~na62dump.errors.InputError`).

>>> check_mass([0.1, 0.2], (0.001, 2.0), "mass").tolist()
[0.1, 0.2]
>>> check_mass(3.0, (0.001, 2.0), "mass")
Traceback (most recent call last):
...
na62dump.errors.InputError: mass: 3 GeV is outside the model's validity range [0.001, 2] GeV
"""

from __future__ import annotations

import numpy as np

from na62dump.errors import InputError


def _as_float_array(value, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what}: cannot be read as a number ({value!r})") from err
    if np.isnan(arr).any():
        raise InputError(f"{what}: NaN is not allowed")
    return arr


def check_mass(mass, valid_range: tuple[float, float], what: str = "mass") -> np.ndarray:
    """Return ``mass`` (GeV) as a float array, or raise if NaN or outside ``valid_range``.

    The range is closed: both ends are valid.
    """
    arr = _as_float_array(mass, what)
    lo, hi = valid_range
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        first = float(arr[bad].flat[0])
        raise InputError(
            f"{what}: {first:g} GeV is outside the model's validity range [{lo:g}, {hi:g}] GeV"
        )
    return arr


def check_nonnegative(value, what: str) -> np.ndarray:
    """Return ``value`` as a float array, or raise if NaN, infinite or negative."""
    arr = _as_float_array(value, what)
    if not np.isfinite(arr).all():
        raise InputError(f"{what}: infinite values are not allowed")
    if (arr < 0).any():
        first = float(arr[arr < 0].flat[0])
        raise InputError(f"{what}: must be >= 0, got {first:g}")
    return arr
