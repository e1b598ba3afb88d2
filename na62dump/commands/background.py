"""``na62dump background``: expected backgrounds per channel and region (stage 3).

Reads the artefacts of ``na62dump run`` only, ``DIR/run/<channel>.coffea`` and
``DIR/run/summary.json`` (never the campaign or a ROOT file), and writes
``DIR/background/background.json`` (docs/artefacts.md): per final state and region the median
and log-normal ``k`` the limits use, the mean, the 68% and 90% intervals and the components
(prompt, combinatorial, upstream). A sample the run lacks (no prompt MC, no combinatorial
pseudo-events, no upstream sample where one is needed) is an error saying so;
``--published-background`` takes the published value instead, flagged in the output. Method:
:mod:`na62dump.backgrounds`.
Examples::

    na62dump background                               # results/
    na62dump background --results out --pseudo-experiments 100000
    na62dump background --results out --published-background
"""

from __future__ import annotations

import argparse
import logging

from na62dump import settings
from na62dump.commands._args import check_writable_dir, int_at_least

logger = logging.getLogger(__name__)


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``background`` to the ``na62dump`` subcommands."""
    p = subparsers.add_parser(
        "background",
        help="estimate the backgrounds per channel and region (stage 3)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--results", metavar="DIR", default="results",
                   help="results directory of `na62dump run` (default: %(default)s)")
    p.add_argument("--pseudo-experiments", type=int_at_least(1000), metavar="N",
                   default=settings.DEFAULT_PSEUDO_EXPERIMENTS,
                   help="pseudo-experiments per estimate (default: %(default)s)")
    p.add_argument("--seed", type=int_at_least(0), default=2021, metavar="N",
                   help="seed of the pseudo-experiments and pairings (default: %(default)s)")
    p.add_argument("--prior", choices=("uniform", "jeffreys"), default="uniform",
                   help="beta prior of the rejection factors (default: %(default)s)")
    p.add_argument("--published-background", action="store_true",
                   help="use the published value of a component whose sample the run lacks "
                        "(flagged \"source\": \"published\" in background.json)")
    p.set_defaults(func=main)
    return p


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def main(args: argparse.Namespace) -> int:
    """Estimate the backgrounds and write ``DIR/background/background.json``."""
    from na62dump import backgrounds

    check_writable_dir(args.results, "--results")  # the background set goes there
    prior = backgrounds.UNIFORM_PRIOR if args.prior == "uniform" else backgrounds.JEFFREYS_PRIOR
    result = backgrounds.estimate_backgrounds(
        args.results, n_pe=args.pseudo_experiments, seed=args.seed, prior=prior,
        published=args.published_background,
    )
    result["_provenance"] = backgrounds.background_record(
        args.results, n_pe=args.pseudo_experiments, seed=args.seed, prior=prior,
        published=args.published_background)
    path = backgrounds.write_background(args.results, result)
    print(f"{'state':<11} {'region':<6} {'median':>9} {'k':>6} {'68% interval':<22} components")
    for state, regions in result.items():
        if state.startswith("_"):
            continue
        for region, e in regions.items():
            lo, hi = e["interval68"]
            comps = ", ".join(
                f"{n} {_fmt(c['median'])}" + (" (published)" if c.get("source") == "published"
                                              else "")
                for n, c in e["components"].items()
            )
            interval = f"[{_fmt(lo)}, {_fmt(hi)}]"
            print(f"{state:<11} {region:<6} {_fmt(e['median']):>9} {e['k']:>6.2f} "
                  f"{interval:<22} {comps}")
    check = result["_meta"]["published_inputs_ee_prompt"]
    for region, e in check.items():
        pub = e["published"]
        print(f"e+e- prompt on the published inputs, {region}: median {_fmt(e['median'])} "
              f"[{_fmt(e['interval68'][0])}, {_fmt(e['interval68'][1])}]; published "
              f"{_fmt(pub['central'])} [{_fmt(pub['interval68'][0])}, "
              f"{_fmt(pub['interval68'][1])}]")
    print(f"written: {path}")
    return 0
