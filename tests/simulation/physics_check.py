"""Self-check of the simulation's background normalisation with the published selection.

Generates samples with :func:`na62dump.simulation.generators.generate`, writes them with the
campaign writer, runs the channel processors (coffea, iterative executor, unblinded) and
prints, per channel, the counts scaled to the 2021 exposure (``geometry.N_POT``):
vertices in the FV after PID before the vetoes, after the vetoes, outside the CR/SR, in the CR
and in the SR. Usage (numbers in the simulation report)::

    .venv/bin/python -m tests.simulation.physics_check --pot-factor 30 --seed 7

``selected_counts`` is also used by ``test_background_gen.py`` on small samples.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from coffea import processor

from na62dump import geometry
from na62dump.runner import run_processor
from na62dump.simulation.generators import generate
from na62dump.simulation.writer import write_ntuple


def _processors():
    from processors.ee import EEProcessor
    from processors.hadronic import HadronicProcessor
    from processors.mumu import MuMuProcessor
    from processors.pipi import PiPiProcessor

    return {"ee": EEProcessor, "mumu": MuMuProcessor, "pipi": PiPiProcessor,
            "hadronic": HadronicProcessor}


def selected_counts(kind, params, pot, seed, channels=("ee", "mumu", "pipi"), workdir=None):
    """Counts per channel scaled to ``geometry.N_POT``: {channel: {step: count}}."""
    rng = np.random.default_rng(seed)
    branches = generate(kind, params, pot, rng)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / f"{kind}.root"
        write_ntuple(path, branches)
        meta = {"kind": "prompt" if kind == "pseudo_data" else kind, "pot": pot}
        fileset = {kind: {"files": {str(path): "events"}, "metadata": meta}}
        out = {}
        for ch in channels:
            proc = _processors()[ch](unblind=True)
            res, _ = run_processor(fileset, proc, processor.IterativeExecutor())
            cf = res[kind]["cutflow"]
            scale = geometry.N_POT / pot
            counts = dict(zip(cf["names"], cf["unweighted"], strict=True))
            prefix = "" if ch != "hadronic" else "pipigamma:"
            fv_pid = counts[f"{prefix}pid"]
            veto = counts[f"{prefix}veto"]
            cr, sr = counts[f"{prefix}CR"], counts[f"{prefix}SR"]
            out[ch] = {
                "raw_pid": fv_pid,
                "raw_veto": veto,
                "fv_pid": fv_pid * scale,
                "after_veto": veto * scale,
                "outside_cr": (veto - cr - sr) * scale,
                "CR": cr * scale,
                "SR": sr * scale,
            }
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pot-factor", type=float, default=10.0,
                    help="simulate this many times the 2021 exposure for statistics")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    pot = geometry.N_POT * args.pot_factor
    samples = [
        ("prompt", {}),
        ("upstream", {"process": "k3pi"}),
        ("upstream", {"process": "ks"}),
        ("upstream", {"process": "interaction"}),
    ]
    for kind, params in samples:
        res = selected_counts(kind, params, pot, args.seed)
        for ch, c in res.items():
            print(f"{kind:9s} {params!s:26s} {ch:5s} " + " ".join(
                f"{k}={v:.3g}" for k, v in c.items()))
    # pseudo-data at the 2021 exposure, and the overlaps at higher statistics
    for factor in (1.0, args.pot_factor):
        res = selected_counts("pseudo_data", {}, geometry.N_POT * factor, args.seed + 1)
        for ch, c in res.items():
            print(f"pseudo_data x{factor:<5g} {ch:5s} " + " ".join(
                f"{k}={v:.3g}" for k, v in c.items()))


if __name__ == "__main__":
    main()
