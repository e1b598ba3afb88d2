"""Sparse per-chunk histograms give, bit for bit, what filling and adding ``hist.Hist`` gives."""

import numpy as np
import pytest

from processors import PROCESSORS
from processors.base import templates
from processors.sparse import SparseHist, empty_like

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e-300, 1e300])


def _values(axis, n, rng):
    """Values along ``axis``: spread over and beyond its range, its edges, NaN and infinities."""
    if axis.name == "state":
        return str(rng.choice(list(axis)))
    if axis.name == "pid":
        return bool(rng.integers(2))
    edges = axis.edges
    inside = rng.uniform(edges[0] - 0.2 * (edges[-1] - edges[0]), edges[-1] * 1.2, n)
    exact = rng.choice(edges, n // 4)
    return rng.permutation(np.concatenate([inside, exact, SPECIAL]))[:n]


def _rows(template, rng, n_rows=5):
    rows = []
    for _ in range(n_rows):
        n = int(rng.integers(0, 60)) + len(SPECIAL)
        row = {a.name: _values(a, n, rng) for a in template.axes}
        row["weight"] = rng.choice([1.0, 0.1, 1e-7, 3.7], n) * rng.uniform(0.5, 2.0, n)
        rows.append(row)
    return rows


def _same(a, b):
    va, vb = a.view(flow=True), b.view(flow=True)
    return a.axes == b.axes and np.array_equal(va.value, vb.value) and np.array_equal(
        va.variance, vb.variance
    )


@pytest.mark.parametrize("channel", list(PROCESSORS))
def test_sparse_fills_and_sums_are_the_dense_ones_to_the_last_bit(channel):
    rng = np.random.default_rng(7)
    names = tuple(s.name for s in PROCESSORS[channel].states)
    for group in templates(names):
        for name, template in group.items():
            chunks = [_rows(template, rng) for _ in range(4)]
            dense_total = sparse_total = None
            for rows in chunks:
                dense = empty_like(template)
                for row in rows:
                    dense.fill(**row)
                sparse = SparseHist.fill(template, rows)
                assert _same(sparse.dense(template), dense), (channel, name)
                dense_total = dense if dense_total is None else dense_total + dense
                sparse_total = sparse if sparse_total is None else sparse_total + sparse
            assert _same(sparse_total.dense(template), dense_total), (channel, name)
            # the templates themselves are never filled
            assert template.view(flow=True).value.sum() == 0


def test_no_entries_and_in_place_sum():
    template = templates(("ee",))[0]["mass"]
    empty = SparseHist.fill(template, [])
    assert len(empty.index) == 0 and empty.dense(template).sum().value == 0
    one = SparseHist.fill(template, [{"state": "ee", "mass": [0.1, 0.1], "weight": [1.0, 2.0]}])
    total = empty
    total += one
    total += one
    h = total.dense(template)
    assert h["ee", 0.1j].value == 6.0 and h["ee", 0.1j].variance == 10.0
    assert len(one.index) == 1 and one.sumw.tolist() == [3.0]  # operands left as they were


def test_unknown_category_is_an_error():
    template = templates(("ee",))[0]["mass"]
    with pytest.raises(KeyError):
        SparseHist.fill(template, [{"state": "mumu", "mass": [0.1], "weight": [1.0]}])
