"""N-1 counts of the processors (``out["nminusone"]``, docs/artefacts.md Stage 2).

The proof that the prompt background needs no second pass over the prompt MC: the N-1 count
of ``veto`` of the published selection equals, to the last bit, what a run with the LAV and
ANTI0 vetoes switched off counts at the full selection and in the CR and SR.
"""

import pytest

from na62dump import runner
from processors import PROCESSORS


def _counts(out, step):
    cf = out["cutflow"]
    i = cf["names"].index(step)
    return [cf["unweighted"][i], cf["weighted"][i]]


@pytest.mark.parametrize("channel", list(PROCESSORS))
def test_veto_nminusone_equals_the_run_without_vetoes(tiny_campaign, channel):
    proc_cls = PROCESSORS[channel]
    fileset = {k: v for k, v in tiny_campaign.fileset([channel]).items()
               if k in ("prompt", "upstream_k3pi")}
    no_veto = proc_cls.cuts_class().model_copy(update={"veto_lav": False, "veto_anti0": False})
    with runner.open_executor("iterative") as exe:
        nominal, _ = runner.run_processor(fileset, proc_cls(), exe, chunksize=50_000)
        off, _ = runner.run_processor(fileset, proc_cls(cuts=no_veto), exe, chunksize=50_000)
    multi = len(proc_cls.states) > 1
    checked = vetoed = 0
    for name in fileset:
        for state in proc_cls.states:
            s = state.name

            def step(x, s=s):
                return f"{s}:{x}" if multi else x

            last = step("neutrals") if state.neutrals else step("veto")
            n1 = nominal[name]["nminusone"][s]["veto"]
            assert n1["selected"] == _counts(off[name], last)  # bit-identical, not approx
            for region in ("CR", "SR"):
                assert n1[region] == _counts(off[name], step(region))
            checked += n1["selected"][0]
            vetoed += n1["selected"][0] - _counts(nominal[name], last)[0]
            # every cut of the state has its N-1 count, which the full selection bounds
            cuts = ["pid", "veto"] + (["neutrals"] if state.neutrals else [])
            assert list(nominal[name]["nminusone"][s]) == cuts
            full = _counts(nominal[name], last)
            for cut in cuts:
                assert nominal[name]["nminusone"][s][cut]["selected"][0] >= full[0]
        # the vetoes-off run changes nothing before the vetoes
        assert _counts(off[name], "fv") == _counts(nominal[name], "fv")
    assert checked > 0  # the prompt / K3pi samples select something without vetoes
    assert vetoed > 0  # ... that the vetoes remove: the N-1 count is not the full selection


def test_blinded_pseudo_data_has_no_nminusone(tiny_campaign):
    fileset = {k: v for k, v in tiny_campaign.fileset(["ee"]).items() if k == "data"}
    with runner.open_executor("iterative") as exe:
        blind, _ = runner.run_processor(fileset, PROCESSORS["ee"](), exe)
        opened, _ = runner.run_processor(fileset, PROCESSORS["ee"](unblind=True), exe)
    assert "nminusone" not in blind["data"]
    n1 = opened["data"]["nminusone"]["ee"]
    assert n1["veto"]["SR"][0] >= opened["data"]["regions"]["SR"]
