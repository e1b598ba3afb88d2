"""``na62dump simulate``: make the ROOT files of the campaign (stage 1).

Every dataset of ``datasets.yaml`` with a recipe is made file by file: the generator
(:func:`na62dump.simulation.generators.generate`) fills the branches, the writer
(:func:`na62dump.simulation.writer.write_ntuple`) stores them atomically. Examples::

    na62dump simulate                          # the default preset into data/default/
    na62dump simulate --preset tiny            # seconds
    na62dump simulate --only dp_brems_ee_m0150 data --force
    na62dump simulate --seed 7 --data-dir /scratch/na62 --workers 2

Make-like
---------
A file that exists is kept unless ``--force``. Next to each dataset's files a small record
``<name>/.<name>.recipe.json`` holds the recipe and the seed that made them; when the campaign
changes a dataset's recipe (size, files, parameters) or the seed changes, its files are made
again without ``--force``. Files ``<name>_NNN.root`` beyond the recipe's file count (left by a
larger earlier recipe) are removed, so that the dataset's glob matches exactly what the recipe
describes.

Datasets made from other datasets
---------------------------------
A recipe whose generator reads another dataset's files (the ``combinatorial`` pseudo-events
pair the single tracks of the Q1 control sample named by ``params.source``) is made after its
source, from the source's files: in a second wave once the source's files are written, and
again whenever the source is made again (its record holds the source's record, so a changed
source recipe or seed remakes it too). Simulating it alone needs the source's files.

Determinism
-----------
File ``i`` of dataset ``name`` is generated with
``numpy.random.default_rng(SeedSequence([seed, stable_hash(name), seed_offset, i]))``
(:meth:`~na62dump.simulation.campaign.Dataset.seed_sequence`; a SHA-256 of the name, never
Python's salted ``hash``), so a file depends on nothing but its own recipe and the seed: the
same seed gives byte-identical trees, in any order, with any number of workers. Bursts are
made unique across the files of a dataset: file ``i`` holds bursts ``[1000 i, 1000 (i + 1))``
(:data:`BURST_STRIDE`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from na62dump.atomic import write_json
from na62dump.commands._args import non_negative_int, positive_int
from na62dump.errors import InputError

log = logging.getLogger(__name__)

#: Burst numbers reserved per file of a dataset (file i: bursts [i * stride, (i + 1) * stride)).
BURST_STRIDE = 1000
RECORD_VERSION = 1


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``simulate`` to the ``na62dump`` subcommands."""
    from na62dump.simulation.campaign import PRESETS

    p = subparsers.add_parser(
        "simulate",
        help="make the missing ROOT files of the campaign (stage 1)",
        description="Make the missing ROOT files of the campaign in datasets.yaml (stage 1).",
    )
    p.add_argument("--config", metavar="FILE", help="datasets.yaml (default: the packaged one)")
    p.add_argument("--preset", choices=PRESETS, default="default",
                   help="campaign preset (default: %(default)s)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="simulate only these datasets (names as in the campaign)")
    p.add_argument("--force", action="store_true", help="remake files that exist")
    p.add_argument("--seed", type=non_negative_int, metavar="N",
                   help="base seed (default: the campaign's `seed`)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="root of the files (default: data_dir of datasets.yaml)")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="processes generating files in parallel (default: %(default)s; the "
                        "files are the same for any N)")
    p.set_defaults(func=main)
    return p


# --------------------------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileJob:
    """Everything needed to make one file (picklable, for worker processes)."""

    dataset: str
    index: int
    path: Path
    generator: str
    params: dict[str, Any]
    size: float
    entropy: tuple[int, ...]
    tree: str = "events"
    #: the source dataset's ``{"files", "tree", "metadata"}`` (generators that read one)
    source: dict[str, Any] | None = None


def make_file(job: FileJob) -> tuple[Path, int, int]:
    """Generate and write one file; return (path, events, bytes)."""
    from na62dump.simulation.generators import generate
    from na62dump.simulation.writer import write_ntuple

    rng = np.random.default_rng(np.random.SeedSequence(list(job.entropy)))
    where = f"dataset {job.dataset!r} file {job.index}"
    try:
        branches = generate(job.generator, job.params, job.size, rng, source=job.source)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None
    burst = np.asarray(branches["burst"])
    if len(burst) and (burst.min() < 0 or burst.max() >= BURST_STRIDE):
        raise InputError(
            f"{where}: burst numbers {burst.min()}..{burst.max()} outside [0, {BURST_STRIDE}):"
            " raise BURST_STRIDE or split the dataset into more files"
        )
    branches["burst"] = (burst + job.index * BURST_STRIDE).astype(np.int32)
    write_ntuple(job.path, branches, tree=job.tree)
    return job.path, len(burst), job.path.stat().st_size


# --------------------------------------------------------------------------------------------
# A campaign
# --------------------------------------------------------------------------------------------
@dataclass
class SimulationReport:
    """What :func:`simulate_campaign` did."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    events: int = 0
    bytes: int = 0
    seconds: float = 0.0
    no_recipe: list[str] = field(default_factory=list)


def _record_path(dataset) -> Path:
    return dataset.directory / f".{dataset.name}.recipe.json"


def _record(dataset, seed: int, campaign=None) -> dict[str, Any]:
    record = {
        "version": RECORD_VERSION,
        "dataset": dataset.name,
        "seed": seed,
        "recipe": dataset.recipe.model_dump(mode="json"),
        "tree": dataset.tree,
    }
    source = _source_of(dataset, campaign)
    if source is not None and source.recipe is not None:
        record["source"] = _record(source, seed)
    return record


def _source_of(dataset, campaign):
    """The dataset whose files ``dataset``'s generator reads (None for the others)."""
    from na62dump.simulation.generators import GENERATORS

    if campaign is None or dataset.recipe is None:
        return None
    if not GENERATORS[dataset.recipe.generator].needs_source:
        return None
    return campaign.get(dataset.recipe.params["source"])


def _source_input(dataset, source, making: bool) -> dict[str, Any]:
    """What a generator reading ``source`` gets: its files (those ``simulate`` writes, or the
    existing ones for files made elsewhere), tree and metadata."""
    files = [str(p) for p in source.output_paths()] or source.existing_files()
    if not making and not all(os.path.isfile(f) for f in files) or not files:
        raise InputError(
            f"dataset {dataset.name!r} is made from the files of {source.name!r}, which are "
            f"missing: simulate {source.name!r} first (na62dump simulate --only {source.name})")
    return {"files": files, "tree": source.tree, "metadata": dict(source.metadata)}


def _stale_files(dataset) -> list[Path]:
    """``<name>_NNN.root`` files in the dataset's directory beyond its recipe."""
    if not dataset.directory.is_dir():
        return []
    wanted = {p.name for p in dataset.output_paths()}
    pattern = re.compile(rf"^{re.escape(dataset.name)}_\d{{3,}}\.root$")
    return sorted(
        p for p in dataset.directory.iterdir() if pattern.match(p.name) and p.name not in wanted
    )


def plan(campaign, names: Iterable[str] | None = None, force: bool = False,
         seed: int | None = None) -> tuple[list[FileJob], SimulationReport]:
    """The files to make (and the report of what is skipped) without making them."""
    seed = campaign.seed if seed is None else seed
    report = SimulationReport()
    jobs: list[FileJob] = []
    # sources first, so that a dataset made from another one knows whether its source is
    # being made now
    selected = campaign.select(names)
    selected.sort(key=lambda d: _source_of(d, campaign) is not None)
    for d in selected:
        if d.recipe is None:
            report.no_recipe.append(d.name)
            continue
        source = _source_of(d, campaign)
        making_source = source is not None and any(j.dataset == source.name for j in jobs)
        record_file = _record_path(d)
        redo = force or making_source
        if not redo and record_file.is_file():
            try:
                old = json.loads(record_file.read_text())
            except (OSError, json.JSONDecodeError):
                old = None
            if old != _record(d, seed, campaign):
                log.info("%s: recipe or seed changed since its files were made: remaking", d.name)
                redo = True
        todo = [(i, path, size) for i, (path, size) in enumerate(
            zip(d.output_paths(), d.recipe.file_sizes, strict=True))
            if redo or not path.is_file()]  # fmt: skip
        report.skipped.extend(p for p in d.output_paths() if p not in {t[1] for t in todo})
        inputs = _source_input(d, source, making_source) if source and todo else None
        for i, path, size in todo:
            jobs.append(FileJob(d.name, i, path, d.recipe.generator, dict(d.recipe.params),
                                size, tuple(d.seed_sequence(seed, i).entropy), d.tree,
                                source=inputs))
    return jobs, report


def simulate_campaign(campaign, names: Sequence[str] | None = None, *, force: bool = False,
                      seed: int | None = None, workers: int = 1,
                      progress: bool = False) -> SimulationReport:
    """Make the files of ``campaign`` (all datasets, or those called ``names``).

    Parameters
    ----------
    campaign : na62dump.simulation.campaign.Campaign
        From :func:`~na62dump.simulation.campaign.load_campaign`.
    names
        Dataset names to make (an unknown name raises InputError listing close matches).
    force
        Remake files that exist.
    seed
        Base seed; None for the campaign's.
    workers
        Processes; the files do not depend on it.
    progress
        Show a ``rich`` progress bar (on stderr).
    """
    start = time.perf_counter()
    seed = campaign.seed if seed is None else seed
    jobs, report = plan(campaign, names, force=force, seed=seed)
    datasets = campaign.select(names)
    for d in datasets:  # files a larger, earlier recipe left behind
        if d.recipe is None:
            continue
        for stale in _stale_files(d):
            log.info("removing %s: beyond the %d file(s) of the recipe", stale, d.recipe.n_files)
            stale.unlink()
            report.removed.append(stale)
    touched = {j.dataset for j in jobs}
    # two waves: the datasets made from others' files after every other file is written
    for wave in ([j for j in jobs if j.source is None], [j for j in jobs if j.source]):
        if wave:
            _run_jobs(wave, report, workers=workers, progress=progress)
    for d in datasets:  # record what made the files of the datasets made now
        if d.name in touched and all(p.is_file() for p in d.output_paths()):
            write_json(_record_path(d), _record(d, seed, campaign), indent=1, sort_keys=True)
    report.seconds = time.perf_counter() - start
    return report


def _run_jobs(jobs: list[FileJob], report: SimulationReport, workers: int,
              progress: bool) -> None:
    bar = None
    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(TextColumn("simulate"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TimeRemainingColumn(),
                       TextColumn("{task.fields[name]}"), transient=False)
        bar.start()
        task = bar.add_task("files", total=len(jobs), name="")

    def done(result):
        path, events, size = result
        report.written.append(path)
        report.events += events
        report.bytes += size
        log.debug("wrote %s (%d events)", path, events)
        if bar is not None:
            bar.update(task, advance=1, name=path.name)

    try:
        if workers <= 1 or len(jobs) == 1:
            for job in jobs:
                done(make_file(job))
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                futures = [pool.submit(make_file, job) for job in jobs]
                try:
                    for fut in as_completed(futures):
                        done(fut.result())
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
    finally:
        if bar is not None:
            bar.stop()
    report.written.sort()


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def main(args: argparse.Namespace) -> int:
    from na62dump.simulation.campaign import load_campaign

    campaign = load_campaign(args.config, preset=args.preset, data_dir=args.data_dir)
    if args.only:
        for name in args.only:
            campaign.get(name)  # InputError with close matches
    progress = sys.stderr.isatty() and not os.environ.get("PYTEST_CURRENT_TEST")
    report = simulate_campaign(campaign, args.only, force=args.force, seed=args.seed,
                               workers=args.workers, progress=progress)
    total = len(report.written) + len(report.skipped)
    print(
        f"simulate ({campaign.preset}): wrote {len(report.written)} of {total} files "
        f"({report.events} events, {_human(report.bytes)}) in {report.seconds:.1f} s; "
        f"{len(report.skipped)} existing kept"
        + (f"; {len(report.removed)} stale removed" if report.removed else "")
        + f"; data in {campaign.data_dir}"
    )
    if report.no_recipe:
        print(f"  no recipe (files made elsewhere): {', '.join(report.no_recipe)}")
    return 0
