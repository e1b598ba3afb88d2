import pickle

import pydantic
import pytest

from na62dump.selection.config import DEFAULT_CUTS, EECuts, HadronicCuts, MuMuCuts, PiPiCuts


def test_published_defaults():
    ee, mm, had = EECuts(), MuMuCuts(), HadronicCuts()
    assert ee.p_min_gev == 10.0 and ee.trigger_window_ns == 5.0
    assert (ee.veto_lav, ee.veto_anti0, mm.veto_lav, mm.veto_anti0) == (True, True, True, False)
    assert ee.anti0_distance_m == 0.2 and ee.lav_window_ns == 5.0
    assert ee.fv == "cones" and mm.fv == "box"
    assert ee.sr_ellipse_axes_m == (11.0, 0.034) and ee.cr_z_tax_range_m == (-4.0, 50.0)
    assert mm.sr_z_tax_range_m == (6.0, 40.0) and mm.sr_cda_tax_max_m == 0.02
    assert had.sr_ellipse_axes_m == (23.0, 0.04) and had.cr_z_tax_range_m == (-7.0, 53.0)
    assert PiPiCuts().kshort_window_gev == 0.0057
    assert ee.electron_eop_min == 0.95 and ee.electron_eop_max == 1.05 and ee.muon_eop_max == 0.2


@pytest.mark.parametrize("cls", list(DEFAULT_CUTS.values()))
def test_cuts_pickle_and_are_frozen(cls):
    c = cls(p_min_gev=12.0)
    assert pickle.loads(pickle.dumps(c)) == c
    with pytest.raises(pydantic.ValidationError):
        c.p_min_gev = 3.0


def test_unknown_or_invalid_values_are_rejected():
    with pytest.raises(pydantic.ValidationError, match="p_min"):
        EECuts(p_min=12.0)
    with pytest.raises(pydantic.ValidationError):
        EECuts(p_min_gev=-1.0)
