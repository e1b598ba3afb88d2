"""``na62dump simulate``: make the ROOT files of the campaign (stage 1).

Every dataset of ``datasets.yaml`` with a recipe is made file by file: the generator
(:func:`na62dump.simulation.generators.generate`) fills the branches, the writer
(:func:`na62dump.simulation.writer.write_ntuple`) stores them atomically. Examples::

    na62dump simulate                          # the default preset into data/default/
    na62dump simulate --preset tiny            # seconds
    na62dump simulate --only dp_brems_ee_m0150 data --force
    na62dump simulate --seed 7 --data-dir /scratch/na62 --workers 2

Manifest
--------
Once every file of a dataset is complete, ``<name>/manifest.json`` is written (atomically, last:
:func:`manifest`): the dataset's name and kind, the recipe and the seed, the generator and its
parameters, the na62dump version, and per file its name, entries, POT or events and seed. It
is the dataset's declaration of its inputs: ``na62dump run`` processes the files it lists and
normalises by their POT or events (docs/artefacts.md, docs/running.md). It is removed before
any file of the dataset is rewritten, so that an interrupted ``simulate`` leaves no manifest
describing files it did not make.

Make-like
---------
A file that exists is kept unless ``--force``. When the campaign changes a dataset's recipe
(size, files, parameters) or the seed changes, or its manifest is missing (an interrupted
run, files of unknown origin), its files are made again without ``--force``. Files
``<name>_NNN.root`` beyond the recipe's file count (left by a larger earlier recipe) are
removed, so that the dataset's directory holds exactly what its manifest describes.

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
from na62dump.commands._args import check_writable_dir, non_negative_int, positive_int
from na62dump.errors import InputError

log = logging.getLogger(__name__)

#: Burst numbers reserved per file of a dataset (file i: bursts [i * stride, (i + 1) * stride)).
BURST_STRIDE = 1000


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
    #: the manifest of each dataset with a recipe before this run (None: there was none)
    manifests: dict[str, dict[str, Any] | None] = field(default_factory=dict, repr=False)


#: The entries of a manifest that say how its files were made: a change remakes them.
_MADE_BY = ("format", "version", "dataset", "kind", "tree", "seed", "recipe", "source")


def _made_by(dataset, seed: int, campaign=None) -> dict[str, Any]:
    """What made ``dataset``'s files (the manifest entries :data:`_MADE_BY`); for a dataset
    made from another one's files, ``source`` holds its source's (so a changed source remakes
    it), else None."""
    from na62dump.simulation.campaign import MANIFEST_FORMAT, MANIFEST_VERSION

    source = _source_of(dataset, campaign)
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "dataset": dataset.name,
        "kind": dataset.kind,
        "tree": dataset.tree,
        "seed": seed,
        "recipe": dataset.recipe.model_dump(mode="json"),
        "source": (_made_by(source, seed) if source is not None and source.recipe is not None
                   else None),
    }


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


def _read_manifest(dataset) -> dict[str, Any] | None:
    try:
        old = json.loads(dataset.manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return old if isinstance(old, dict) else None


def manifest(dataset, seed: int, entries: Sequence[int], campaign=None) -> dict[str, Any]:
    """The manifest of ``dataset`` made with base seed ``seed``, whose files hold ``entries``
    events each (docs/artefacts.md).

    ``unit`` is ``"pot"`` (backgrounds, pseudo-data) or ``"events"`` (signal); each file
    records its share of the recipe's size in that unit and its seed, the entropy of its
    ``numpy.random.SeedSequence`` (``[seed, stable_hash(name), seed_offset, index]``).
    """
    import na62dump

    recipe = dataset.recipe
    unit = dataset.size_unit
    files = [
        {"name": path.name, "entries": int(n), unit: size,
         "seed": [int(x) for x in dataset.seed_sequence(seed, i).entropy]}
        for i, (path, size, n) in enumerate(zip(dataset.output_paths(), recipe.file_sizes,
                                                entries, strict=True))
    ]
    return {
        **_made_by(dataset, seed, campaign),
        "generator": recipe.generator,
        "params": dict(recipe.params),
        "na62dump_version": na62dump.__version__,
        "unit": unit,
        "total": {unit: int(recipe.size) if recipe.integer else float(recipe.size),
                  "entries": int(sum(entries))},
        "files": files,
    }


def _entries(path: Path, tree: str, old: dict[str, Any] | None) -> int:
    """Entries of a kept file: from the previous manifest, else from the file itself."""
    for f in (old or {}).get("files", []):
        if isinstance(f, dict) and f.get("name") == path.name and "entries" in f:
            return int(f["entries"])
    import uproot

    with uproot.open(path) as handle:
        return int(handle[tree].num_entries)


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
        old = _read_manifest(d)
        report.manifests[d.name] = old
        source = _source_of(d, campaign)
        making_source = source is not None and any(j.dataset == source.name for j in jobs)
        redo = force or making_source
        if not redo and old is None and any(p.is_file() for p in d.output_paths()):
            log.info("%s: files without a manifest (origin unknown): remaking", d.name)
            redo = True
        elif not redo and old is not None and {k: old.get(k) for k in _MADE_BY} != _made_by(
                d, seed, campaign):
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
    for d in datasets:  # no manifest may describe files that are about to change
        if d.name in touched:
            d.manifest_path.unlink(missing_ok=True)
    entries: dict[Path, int] = {}
    # two waves: the datasets made from others' files after every other file is written
    for wave in ([j for j in jobs if j.source is None], [j for j in jobs if j.source]):
        if wave:
            entries.update(_run_jobs(wave, report, workers=workers, progress=progress))
    for d in datasets:  # the manifest last, once every file is complete
        if d.recipe is None or not all(p.is_file() for p in d.output_paths()):
            continue
        old = report.manifests.get(d.name)
        if d.name in touched or old is None:
            counts = [entries[p] if p in entries else _entries(p, d.tree, old)
                      for p in d.output_paths()]
            write_json(d.manifest_path, manifest(d, seed, counts, campaign), indent=1)
    report.seconds = time.perf_counter() - start
    return report


def _run_jobs(jobs: list[FileJob], report: SimulationReport, workers: int,
              progress: bool) -> dict[Path, int]:
    """Make the files of ``jobs``; return the entries of each."""
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

    entries: dict[Path, int] = {}

    def done(result):
        path, events, size = result
        entries[path] = events
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
    return entries


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def main(args: argparse.Namespace) -> int:
    from na62dump.simulation.campaign import load_campaign

    campaign = load_campaign(args.config, preset=args.preset, data_dir=args.data_dir)
    check_writable_dir(campaign.data_dir, "--data-dir" if args.data_dir else
                       f"data_dir of {campaign.config}")
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
