"""Sparse per-chunk histograms: only the filled bins, made dense once per dataset.

A chunk of a signal sample fills a few hundred bins of histograms that hold up to ~10^5 bins
per final state (the truth-binned ``accepted`` and ``resolution`` histograms, the
``pointing`` and ``vertex`` planes): 12 MB of fresh, mostly zero memory per chunk for the
hadronic processor, more time than its whole selection on the small files of the campaign.
A :class:`SparseHist` keeps the filled bins only (flat bin index over the storage with its
flow bins, sum of weights, sum of squared weights); chunks add as sparse objects, and
:meth:`SparseHist.dense` writes the sum into an empty copy of the histogram at the end.

The result is the same to the last bit as filling and adding ``hist.Hist`` objects: the bin
of every entry comes from the axes' own ``index`` (the same C++ code as ``fill``, flow bins,
NaN and transforms included), each bin sums its entries in entry order starting from 0
(``np.bincount``, as boost-histogram's weighted storage does), and the sum of two objects
adds bin by bin, left operand first (``tests/processors/test_sparse.py``).

>>> import hist
>>> h = hist.Hist(hist.axis.StrCategory(["a", "b"], name="s"),
...               hist.axis.Regular(4, 0.0, 1.0, name="x"), storage=hist.storage.Weight())
>>> part = SparseHist.fill(h, [{"s": "b", "x": np.array([0.1, 0.1, 7.0]), "weight": np.ones(3)}])
>>> total = part + SparseHist.fill(h, [{"s": "a", "x": np.array([0.6]), "weight": [2.0]}])
>>> out = total.dense(h)
>>> out["b", :].values(flow=True).tolist()  # underflow, 4 bins, overflow
[0.0, 2.0, 0.0, 0.0, 0.0, 1.0]
>>> out["a", :].values().tolist(), out["a", :].variances().tolist()
([0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 4.0, 0.0])
"""

from __future__ import annotations

import hist
import numpy as np


def empty_like(template):
    """An empty ``hist.Hist`` with the axes and storage of ``template`` (faster than
    ``template.copy()`` and a reset)."""
    return hist.Hist(*template.axes, storage=template.storage_type())


def _index(axis, values):
    """Position of ``values`` along ``axis`` in the storage with flow bins (underflow at 0)."""
    index = np.asarray(axis.index(values), dtype=np.int64)
    return index + 1 if axis.traits.underflow else index


class SparseHist:
    """The filled bins of a histogram: ``index`` (flat, over the storage shape with flow
    bins, sorted, unique), ``sumw`` and ``sumw2`` (sums of weights and squared weights)."""

    __slots__ = ("index", "sumw", "sumw2")

    def __init__(self, index, sumw, sumw2):
        self.index = index
        self.sumw = sumw
        self.sumw2 = sumw2

    @classmethod
    def _reduced(cls, flat, weights, squares, size=None):
        """Sum ``weights`` and ``squares`` per distinct ``flat`` index, each in input order.

        With ``size`` (the number of bins) and many entries, the sums are taken over all bins
        (no sort) and the bins holding an entry kept; else over the distinct indices.
        """
        if size is not None and 8 * len(flat) >= size:
            index = np.flatnonzero(np.bincount(flat, minlength=size))
            return cls(index, np.bincount(flat, weights=weights, minlength=size)[index],
                       np.bincount(flat, weights=squares, minlength=size)[index])  # fmt: skip
        index, where = np.unique(flat, return_inverse=True)
        n = len(index)
        return cls(index, np.bincount(where, weights=weights, minlength=n),
                   np.bincount(where, weights=squares, minlength=n))  # fmt: skip

    @classmethod
    def fill(cls, template, rows):
        """The bins that ``template.fill(**row)`` for each row of ``rows`` would fill, in that
        order (``template``: a ``hist.Hist`` with weighted storage; ``row``: the value of
        every axis by name, a scalar applying to every entry, and ``weight``)."""
        shape = tuple(axis.extent for axis in template.axes)  # the storage, flow bins included
        flat, weights = [], []
        for row in rows:
            weight = np.asarray(row["weight"], dtype=np.float64)
            per_axis = [_index(axis, row[axis.name]) for axis in template.axes]
            per_axis = np.broadcast_arrays(*per_axis, np.empty(len(weight), np.int8))[:-1]
            flat.append(np.ravel_multi_index(tuple(per_axis), shape))
            weights.append(weight)
        weight = np.concatenate(weights) if weights else np.zeros(0)
        flat = np.concatenate(flat) if flat else np.zeros(0, np.int64)
        return cls._reduced(flat, weight, weight * weight, size=int(np.prod(shape)))

    def __add__(self, other: SparseHist) -> SparseHist:
        if not isinstance(other, SparseHist):
            return NotImplemented
        # each bin: 0 + self + other, i.e. self + other exactly, as for dense storage
        return self._reduced(np.concatenate([self.index, other.index]),
                             np.concatenate([self.sumw, other.sumw]),
                             np.concatenate([self.sumw2, other.sumw2]))  # fmt: skip

    __iadd__ = __add__

    def dense(self, template):
        """An empty copy of ``template`` holding these bins (a new ``hist.Hist``)."""
        out = empty_like(template)
        view = out.view(flow=True)
        where = np.unravel_index(self.index, view.shape)
        view.value[where] = self.sumw
        view.variance[where] = self.sumw2
        return out

    def __repr__(self) -> str:
        return f"SparseHist({len(self.index)} bins, sum of weights {self.sumw.sum():g})"
