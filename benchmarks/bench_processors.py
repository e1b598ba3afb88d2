"""Throughput of each channel processor next to a bare ``uproot`` read of the same branches.

For every channel, on the same files and in the same run:

- **bare read**: ``uproot.iterate`` over the files, exactly the branches the processor reads
  (taken from coffea's metrics of a warm-up run), in steps of the chunk size, into awkward
  arrays: the floor any columnar analysis of these files pays;
- **processor**: the channel's processor run by ``runner.run_processor`` (coffea's
  ``processor.Runner``) with the ``IterativeExecutor`` (one process, one core): file opening,
  NanoEvents with the branches preloaded, the selection, the histograms, the merge;
- **coffea floor**: the same run with a processor that reads the same branches the same way
  (:class:`ReadOnly`: NanoEvents, ``flat_collection``) and computes nothing: what coffea's
  per-chunk machinery costs on top of the bare read (opening, form building, NanoEvents,
  materialising each column, the merge), the best any processor can do in this framework;
- **input check**: ``runner.check_fileset``, which ``na62dump run`` does once per file before
  any processing (shared by all channels, spread over the workers); reported separately, and
  in the ``with check`` ratio.

All are timed ``--repeat`` times, interleaved (one round: bare read, check, processor,
floor), after one warm-up run, in CPU seconds of this process (``time.process_time``: other
jobs on a shared machine count less). Rates are events per CPU second (one core) at the
median time; ratios are the medians of the ratios within a round, which the machine's drifts
affect least. The goal is processor rate >= 0.6 x bare-read rate.

Input: the files of the campaign (``--preset``, default ``default``) when they exist (for each
channel: the pseudo-data, the prompt sample and the first ``--signal-datasets`` signal
datasets of the channel, at most ``--max-files`` files each), else samples generated here into
a temporary directory with :mod:`na62dump.simulation.generators` and the ntuple writer: per
channel a signal sample of ``--events`` events in files of ``--events-per-file`` events, plus
pseudo-data. ``--profile`` prints a ``cProfile`` summary of one processor run per channel.

Run::

    .venv/bin/python benchmarks/bench_processors.py                 # campaign or generated
    .venv/bin/python benchmarks/bench_processors.py --generate --events-per-file 30000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np
import uproot
from coffea import processor

from na62dump import runner
from na62dump.schema import COLLECTIONS, flat_collection, flat_field
from na62dump.simulation.generators import generate, sample_metadata
from na62dump.simulation.writer import write_ntuple
from processors.base import READ_FIELDS

GOAL = 0.6

#: The signal sample generated per channel when no campaign file exists: a dark photon from
#: proton bremsstrahlung at a mass inside each search's range.
SIGNALS = {
    "ee": {"model": "dark_photon", "production": "brems", "channel": "ee", "mass_gev": 0.1},
    "mumu": {"model": "dark_photon", "production": "brems", "channel": "mumu", "mass_gev": 0.4},
    "pipi": {"model": "dark_photon", "production": "brems", "channel": "pipi", "mass_gev": 0.6},
    "hadronic": {
        "model": "dark_photon", "production": "brems", "channel": "pipipi0", "mass_gev": 0.9,
    },
}  # fmt: skip
#: Pseudo-data generated alongside (protons on target).
PSEUDO_DATA_POT = 1.4e16


def campaign_filesets(
    preset: str, data_dir: str | None, max_files: int, n_signal: int
) -> dict[str, dict] | None:
    """Per channel, a fileset of existing campaign files, or None if there are none."""
    try:
        from na62dump.simulation.campaign import load_campaign

        campaign = load_campaign(preset=preset, data_dir=data_dir)
    except Exception as err:  # no usable campaign: generate instead
        print(f"# campaign {preset!r} not usable ({err}); generating input", file=sys.stderr)
        return None
    out = {}
    for channel in SIGNALS:
        fileset = campaign.fileset(channels=[channel])
        chosen, n_sig = {}, 0
        for name, entry in fileset.items():
            kind = entry["metadata"].get("kind")
            files = dict(list(entry["files"].items())[:max_files])
            if not files or kind not in ("signal", "pseudo_data", "prompt"):
                continue
            if kind == "signal":
                if n_sig >= n_signal:
                    continue
                n_sig += 1
            chosen[name] = {**entry, "files": files}
        if not n_sig:
            return None
        out[channel] = chosen
    return out


def generated_filesets(root: Path, events: int, per_file: int) -> dict[str, dict]:
    """Per channel, a fileset of freshly generated signal and pseudo-data files."""
    rng = np.random.default_rng(20211)
    data = write_ntuple(
        root / "pseudo_data.root", generate("pseudo_data", {}, PSEUDO_DATA_POT, rng)
    )
    data_entry = {
        "files": {str(data): "events"},
        "metadata": sample_metadata("pseudo_data", {}),
    }
    out = {}
    for channel, params in SIGNALS.items():
        files = {}
        for i, start in enumerate(range(0, events, per_file)):
            n = min(per_file, events - start)
            path = write_ntuple(root / f"signal_{channel}_{i}.root",
                                generate("signal", params, n, rng))  # fmt: skip
            files[str(path)] = "events"
        out[channel] = {
            f"signal_{channel}": {"files": files, "metadata": sample_metadata("signal", params)},
            "pseudo_data": data_entry,
        }
    return out


def bare_read(fileset: dict, branches: list[str], chunksize: int) -> int:
    """Read ``branches`` (those a file has: truth only in Monte Carlo) of every file in steps
    of ``chunksize`` entries into awkward arrays; return the number of events."""
    n = 0
    for entry in fileset.values():
        for path, tree in entry["files"].items():
            with uproot.open(path) as handle:
                t = handle[tree]
                present = [b for b in branches if b in t]
                for arrays in t.iterate(present, step_size=chunksize, library="ak"):
                    n += len(arrays)
    return n


def check(fileset: dict) -> tuple[dict, dict]:
    """``runner.check_fileset`` as ``na62dump run`` calls it: (checked fileset, file info)."""
    info: dict = {}
    branches = {n: runner.required_branches(e["metadata"]) for n, e in fileset.items()}
    checked, _ = runner.check_fileset(fileset, branches, _cache=info)
    return checked, info


class ReadOnly(processor.ProcessorABC):
    """Reads what ``proc`` reads (``proc.branches(meta)``), as it reads it, and computes
    nothing: the coffea floor of a processor."""

    def __init__(self, proc):
        self.proc = proc

    def process(self, events):
        meta = dict(events.metadata)
        counters = {f"n{c}" for c in COLLECTIONS}
        for branch in self.proc.branches(meta):
            group, _, field = branch.partition("_")
            if group == "Truth" and "Truth" in events.fields:
                flat_field(events.Truth[field])
            elif group not in COLLECTIONS and branch not in counters and group != "Truth":
                flat_field(events[branch])
        for c in COLLECTIONS:  # offsets from the counter, the fields the processor reads
            flat_collection(events, c, fields=READ_FIELDS.get(c))
        return {meta["dataset"]: {"events": len(events)}}

    def postprocess(self, accumulator):
        return accumulator


def cpu_timed(function, *args, **kwargs):
    """``(result, CPU seconds of this process)`` of ``function(*args, **kwargs)``."""
    tic = time.process_time()
    out = function(*args, **kwargs)
    return out, time.process_time() - tic


def measure(channel: str, fileset: dict, chunksize: int, repeat: int, profile: bool) -> dict:
    from processors import PROCESSORS

    proc = PROCESSORS[channel](cuts=None, unblind=False)
    with runner.open_executor("iterative") as exe:
        checked, info = check(fileset)  # warm-up
        _, metrics = runner.run_processor(checked, proc, exe, chunksize=chunksize, file_info=info)
        branches = sorted({c.rsplit("-", 1)[0] for c in metrics["columns"]})
        events = int(metrics["entries"])
        floor = ReadOnly(proc)
        _, floor_metrics = runner.run_processor(checked, floor, exe, chunksize=chunksize,
                                                file_info=info)  # fmt: skip
        extra = set(floor_metrics["columns"]) ^ set(metrics["columns"])
        if extra:
            raise RuntimeError(f"{channel}: the floor and the processor read different "
                               f"columns: {sorted(extra)}")  # fmt: skip
        t_read, t_check, t_proc, t_floor = [], [], [], []
        for _ in range(repeat):
            n_read, t = cpu_timed(bare_read, fileset, branches, chunksize)
            t_read.append(t)
            (checked, info), t = cpu_timed(check, fileset)
            t_check.append(t)
            _, t = cpu_timed(runner.run_processor, checked, proc, exe, chunksize=chunksize,
                             file_info=info)  # fmt: skip
            t_proc.append(t)
            _, t = cpu_timed(runner.run_processor, checked, floor, exe, chunksize=chunksize,
                             file_info=info)  # fmt: skip
            t_floor.append(t)
        if n_read != events:
            raise RuntimeError(f"{channel}: bare read saw {n_read} events, processor {events}")
        if profile:
            prof = cProfile.Profile()
            prof.runcall(runner.run_processor, checked, proc, exe, chunksize=chunksize,
                         file_info=info)  # fmt: skip
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(
                r"processors|na62dump", 25
            )
            print(f"\n# profile of the {channel} processor\n{text.getvalue()}")
    n_files = sum(len(e["files"]) for e in fileset.values())
    return {
        "channel": channel,
        "files": n_files,
        "events": events,
        "branches": len(branches),
        "read": events / median(t_read),
        "proc": events / median(t_proc),
        "floor": events / median(t_floor),
        "check": median(t_check),
        # ratios of rates within each round (the same stretch of machine time)
        "ratio": median(r / p for r, p in zip(t_read, t_proc, strict=True)),
        "floor_ratio": median(r / f for r, f in zip(t_read, t_floor, strict=True)),
        "proc_floor": median(f / p for f, p in zip(t_floor, t_proc, strict=True)),
        "with_check": median(r / (p + c) for r, p, c in zip(t_read, t_proc, t_check,
                                                             strict=True)),  # fmt: skip
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default", help="campaign preset to read if present")
    ap.add_argument("--data-dir", help="root of the campaign files (default: the campaign's)")
    ap.add_argument("--generate", action="store_true", help="always generate the input")
    ap.add_argument("--channels", default=",".join(SIGNALS), help="comma-separated channels")
    ap.add_argument("--events", type=int, default=12000, help="generated signal events")
    ap.add_argument("--events-per-file", type=int, default=3000,
                    help="generated events per file (the default campaign's signal files)")
    ap.add_argument("--max-files", type=int, default=2, help="campaign files per dataset")
    ap.add_argument("--signal-datasets", type=int, default=4, help="campaign signal datasets")
    ap.add_argument("--chunksize", type=int, default=runner.DEFAULT_CHUNKSIZE)
    ap.add_argument("--repeat", type=int, default=5, help="rounds of measurements")
    ap.add_argument("--profile", action="store_true", help="cProfile one run per channel")
    args = ap.parse_args(argv)
    channels = [c for c in args.channels.split(",") if c]

    with tempfile.TemporaryDirectory(prefix="na62dump-bench-") as tmp:
        filesets = None
        source = f"campaign preset {args.preset!r}"
        if not args.generate:
            filesets = campaign_filesets(
                args.preset, args.data_dir, args.max_files, args.signal_datasets
            )
        if filesets is None:
            source = (f"generated: {args.events} signal events per channel in files of "
                      f"{args.events_per_file}, plus pseudo-data")  # fmt: skip
            filesets = generated_filesets(Path(tmp), args.events, args.events_per_file)
        rows = [
            measure(c, filesets[c], args.chunksize, args.repeat, args.profile)
            for c in channels
        ]

    print(f"# input: {source}; chunksize {args.chunksize}; medians of {args.repeat} rounds; "
          "events per CPU second of one process")  # fmt: skip
    header = (f"{'channel':<9} {'files':>5} {'events':>7} {'branches':>8} {'bare read':>10} "
              f"{'floor':>9} {'processor':>10} {'ratio':>6}  {'goal':<5} {'floor/bare':>10} "
              f"{'proc/floor':>10} {'check [s]':>9} {'with check':>10}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in rows:
        flag = "ok" if r["ratio"] >= GOAL else "BELOW"
        print(f"{r['channel']:<9} {r['files']:>5} {r['events']:>7} {r['branches']:>8} "
              f"{r['read']:>10.4g} {r['floor']:>9.4g} {r['proc']:>10.4g} {r['ratio']:>6.3f}  "
              f"{flag:<5} {r['floor_ratio']:>10.3f} {r['proc_floor']:>10.3f} "
              f"{r['check']:>9.3f} {r['with_check']:>10.3f}")  # fmt: skip
    print(f"(events per CPU second; ratio: processor / bare read, goal >= {GOAL}; floor: coffea "
          "with a processor that reads the same columns and computes nothing; with check: the "
          "processor plus the input check of its files, as `na62dump run --channels <channel>` "
          "pays it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
