"""Jagged combinatorics on flat numpy arrays with offsets (the processors' fast path).

A jagged collection (tracks, clusters, MUV3 tiles, ...) is stored as flat numpy arrays, one
per field, plus ``offsets`` (length ``n_events + 1``): the elements of event ``i`` are
``offsets[i]:offsets[i + 1]``. The functions here build *index* arrays of element pairs
(the flat equivalent of ``ak.cartesian`` and ``ak.combinations``) and reduce per group
(``ak.any``, ``ak.min``, ``ak.argmin``) with a handful of numpy calls per chunk, whatever
the chunk size: no awkward fixed cost per operation, no Python loop over events.

The physics functions of :mod:`na62dump.selection` have ``*_flat`` variants built on these;
the tests compare them with the awkward versions on random inputs.

>>> import numpy as np
>>> starts, stops = np.array([0, 2, 2]), np.array([2, 2, 5])
>>> group, a, b = combinations(starts, stops)
>>> group.tolist(), a.tolist(), b.tolist()
([0, 2, 2, 2], [0, 2, 2, 3], [1, 3, 4, 4])
>>> group_argmin(np.array([3.0, 1.0, 1.0, 2.0]), group, 3).tolist()
[0, -1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def offsets_from_counts(counts):
    """Offsets (``n + 1`` entries, starting at 0) of lists of lengths ``counts``."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def cartesian(starts_a, stops_a, starts_b, stops_b):
    """All pairs ``(a, b)`` with ``a`` in ``starts_a[g]:stops_a[g]`` and ``b`` in
    ``starts_b[g]:stops_b[g]``, for every group ``g``.

    Returns ``(group, a, b)``: flat arrays of the group and of the two (global) element
    indices, group by group, ``a`` major, like ``ak.cartesian(..., nested=True)`` flattened.

    >>> g, a, b = cartesian(np.array([0, 1]), np.array([1, 3]), np.array([0, 5]),
    ...                     np.array([2, 6]))
    >>> g.tolist(), a.tolist(), b.tolist()
    ([0, 0, 1, 1], [0, 0, 1, 2], [0, 1, 5, 5])
    """
    na = np.asarray(stops_a) - np.asarray(starts_a)
    nb = np.asarray(stops_b) - np.asarray(starts_b)
    n = na * nb
    group = np.repeat(np.arange(len(n)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    nb_g = nb[group]
    return group, np.asarray(starts_a)[group] + k // nb_g, np.asarray(starts_b)[group] + k % nb_g


def combinations(starts, stops):
    """All pairs ``a < b`` inside each group, in the order of ``ak.combinations(..., 2)``."""
    group, a, b = cartesian(starts, stops, starts, stops)
    keep = a < b
    return group[keep], a[keep], b[keep]


def group_any(mask, group, n_groups):
    """Per group: is any ``mask`` true (``False`` for empty groups)."""
    return np.bincount(group[mask], minlength=n_groups) > 0


def group_min(values, group, n_groups, fill=np.inf):
    """Per group: the minimum of ``values`` (``fill`` for empty groups).

    ``group`` must be sorted (as it comes out of :func:`cartesian`).
    """
    values = np.asarray(values)
    floating = np.issubdtype(values.dtype, np.floating)
    out = np.full(n_groups, fill, dtype=values.dtype if floating else np.float64)
    if len(values):
        first = np.ones(len(group), bool)
        first[1:] = group[1:] != group[:-1]
        out[group[first]] = np.minimum.reduceat(values, np.flatnonzero(first))
    return out


def group_argmin(values, group, n_groups):
    """Per group: the position in ``values`` of its first minimum, or -1 for empty groups.

    ``group`` must be sorted (pairs come out of :func:`cartesian` group by group); ties go to
    the first element, as with ``ak.argmin``.
    """
    out = np.full(n_groups, -1, dtype=np.int64)
    if len(values) == 0:
        return out
    order = np.lexsort((values, group))  # stable: equal values keep their order
    g = group[order]
    first = np.ones(len(g), bool)
    first[1:] = g[1:] != g[:-1]
    out[g[first]] = order[first]
    return out


@dataclass
class FlatCollection:
    """A jagged collection as flat field arrays plus ``offsets`` (``n_events + 1``).

    Fields are reachable as attributes (``tracks.px``), so the per-element selection
    functions (``tracks.passes_quality``, ``timing.track_time``, ...) take it unchanged.

    >>> c = FlatCollection(np.array([0, 2, 2, 3]), {"x": np.array([1.0, 2.0, 3.0])})
    >>> c.x.tolist(), c.counts.tolist(), c.event.tolist()
    ([1.0, 2.0, 3.0], [2, 0, 1], [0, 0, 2])
    """

    offsets: np.ndarray
    fields: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name):
        return self.fields[name]

    @property
    def counts(self):
        """Number of elements per event."""
        return np.diff(self.offsets)

    @property
    def starts(self):
        """First element of each event."""
        return self.offsets[:-1]

    @property
    def stops(self):
        """One past the last element of each event."""
        return self.offsets[1:]

    @property
    def event(self):
        """Event index of every element."""
        return np.repeat(np.arange(len(self.offsets) - 1), self.counts)

    def take(self, events):
        """The collection of the events ``events`` (indices, in the order given): what
        ``array[events]`` is for a jagged awkward array.

        >>> c = FlatCollection(np.array([0, 2, 2, 3]), {"x": np.array([1.0, 2.0, 3.0])})
        >>> s = c.take(np.array([0, 2]))
        >>> s.offsets.tolist(), s.x.tolist()
        ([0, 2, 3], [1.0, 2.0, 3.0])
        """
        events = np.asarray(events, dtype=np.int64)
        counts = self.counts[events]
        offsets = offsets_from_counts(counts)
        element = np.arange(offsets[-1]) + np.repeat(self.offsets[:-1][events] - offsets[:-1],
                                                     counts)  # fmt: skip
        return FlatCollection(offsets, {k: a[element] for k, a in self.fields.items()})
