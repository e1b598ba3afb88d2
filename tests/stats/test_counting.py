"""The independent one-bin calculation and counting_upper_limit."""

import math

import numpy as np
import pytest

from na62dump.errors import InputError
from na62dump.stats import counting_upper_limit
from na62dump.stats.counting import combined_log_normal_k, counting_cls

LN10 = math.log(10.0)  # 90% CL limit with n = 0, b -> 0: CLs = exp(-s) = 0.1
EE_K = combined_log_normal_k([1.2, 1.029, 1.01])  # N_POT, efficiency, brems production


def test_zero_observed_no_background_is_2p30_exact():
    assert counting_upper_limit(0, 1e-6, toys="exact") == pytest.approx(LN10, rel=1e-3)


def test_zero_observed_no_background_is_2p30_with_toys():
    assert counting_upper_limit(0, 1e-6, toys=20000, rng=7) == pytest.approx(LN10, rel=0.01)


def test_cls_is_exp_minus_s_without_background():
    for s in (0.5, 1.5, 3.0):
        res = counting_cls(s, 0, 1e-9, method="exact")
        assert res["cls"] == pytest.approx(math.exp(-s), rel=1e-6)
        assert res["clb"] == pytest.approx(1.0, abs=1e-6)


def test_asymptotic_formulae_are_wrong_for_zero_background():
    s_asym = counting_upper_limit(0, 1e-6)
    # Documented: about 1.35 events instead of 2.30.
    assert 1.2 < s_asym < 1.5


def test_published_ee_nuisances_weaken_the_limit():
    s_up = counting_upper_limit(0, 0.0094, signal_rel_unc=EE_K - 1, background_k=4.0,
                                toys="exact")
    assert 2.4 < s_up < 2.6
    assert s_up > counting_upper_limit(0, 0.0094, background_k=4.0, toys="exact")


def test_toys_agree_with_exact_enumeration():
    kw = dict(signal_rel_unc=0.1, background_k=1.3)
    exact = counting_upper_limit(3, 1.5, toys="exact", **kw)
    toys = counting_upper_limit(3, 1.5, toys=8000, rng=3, **kw)
    assert toys == pytest.approx(exact, rel=0.03)


def test_one_observed_event_weakens_the_limit():
    assert counting_upper_limit(1, 0.016, background_k=1.125, toys="exact") > 3.5


def test_larger_background_with_zero_observed_keeps_limit_finite_and_positive():
    s_up = counting_upper_limit(0, 3.0, background_k=1.2, toys="exact")
    assert 0.5 < s_up < 2.4  # CLs protects against the downward fluctuation


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((-1, 0.1), {}),
        ((1.5, 0.1), {}),
        ((0, 0.0), {}),
        ((0, float("nan")), {}),
        ((0, 0.1), {"signal_rel_unc": -0.1}),
        ((0, 0.1), {"background_k": 0.5}),
        ((0, 0.1), {"cl": 1.2}),
        ((0, 0.1), {"toys": 0}),
    ],
)
def test_bad_input_raises_input_error(args, kwargs):
    with pytest.raises(InputError):
        counting_upper_limit(*args, **kwargs)


def test_seeded_toys_are_reproducible():
    a = counting_upper_limit(0, 0.01, toys=2000, rng=np.random.default_rng(5))
    b = counting_upper_limit(0, 0.01, toys=2000, rng=np.random.default_rng(5))
    assert a == b
