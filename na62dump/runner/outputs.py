"""The outputs of ``na62dump run``: the run set ``DIR/run/`` and what ``summary.json`` says.

- ``DIR/run/<channel>.coffea``: ``{dataset: processor output}`` (:func:`output_path`; read it
  back with :func:`load_output`);
- ``DIR/run/summary.json`` (:func:`summarise`): cutflows and region counts per channel and
  dataset, the executor, the chunk size, whether the run was unblinded, which files were
  skipped, per dataset what was processed (:func:`dataset_records`: kind, metadata, files,
  normalisation), and the provenance record (:func:`run_record`,
  :mod:`na62dump.provenance`), also in ``DIR/run/provenance.json``.

:func:`write_outputs` writes them together: the run set replaces the previous one whole
(:mod:`na62dump.artefacts`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from coffea.util import load as _coffea_load
from coffea.util import save as _coffea_save

from na62dump import artefacts, atomic, provenance
from na62dump.errors import InputError
from na62dump.runner.inputs import SkippedFile, _files

#: Where the outputs of ``na62dump run`` go: the run set ``DIR/run/`` (na62dump.artefacts).
SUMMARY_NAME = artefacts.SUMMARY_NAME


# --------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------


def output_path(results_dir: str | os.PathLike, channel: str) -> Path:
    """Path of the saved accumulator of ``channel``: ``results_dir/run/<channel>.coffea``."""
    return artefacts.output_path(results_dir, channel)


def load_output(results_dir: str | os.PathLike, channel: str) -> dict[str, dict]:
    """Load what ``na62dump run`` saved for one channel.

    Parameters
    ----------
    results_dir : path
        The ``--out`` directory of ``na62dump run`` (default ``results``).
    channel : str
        ``"ee"``, ``"mumu"``, ``"pipi"`` or ``"hadronic"``.

    Returns
    -------
    dict
        ``{dataset: accumulator}``, the accumulator as documented in ``docs/artefacts.md``
        (``"cutflow"``, ``"hists"``, ``"signal"`` for signal samples, ``"regions"`` for
        pseudo-data).

    Raises
    ------
    InputError
        If the file does not exist (the channel was not run) or cannot be read.
    """
    path = output_path(results_dir, channel)
    if not path.is_file():
        raise InputError(
            f"{path}: no output for channel {channel!r}; run `na62dump run --channels "
            f"{channel} --out {results_dir}` first"
        )
    try:
        return _coffea_load(str(path))
    except Exception as err:  # a truncated or foreign file: say which one
        raise InputError(f"{path}: cannot be read as a coffea output ({err})") from err


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def read_summary(results_dir: str | os.PathLike) -> dict[str, Any]:
    """``DIR/run/summary.json``, checked for what the later stages read from it: the boolean
    ``unblinded`` and the ``datasets`` record (:func:`dataset_records`: each dataset's kind
    and ``metadata`` mapping), from which they describe the datasets instead of re-reading
    ``datasets.yaml``.

    Raises
    ------
    InputError
        No ``summary.json``, no boolean ``unblinded``, or no ``datasets`` record (written by
        an older na62dump): rerun ``na62dump run``.
    """
    path = artefacts.summary_path(results_dir)
    summary = atomic.read_json(path, "run `na62dump run` first")
    if not isinstance(summary, Mapping) or not isinstance(summary.get("unblinded"), bool):
        raise InputError(f"{path}: no boolean 'unblinded' entry")
    records = summary.get("datasets")
    if not isinstance(records, Mapping):
        raise InputError(f"{path}: no 'datasets' record of what was processed (written by an "
                         "older na62dump); rerun `na62dump run`")
    for name, rec in records.items():
        if not (isinstance(rec, Mapping) and isinstance(rec.get("metadata"), Mapping)):
            raise InputError(f"{path}: datasets.{name}: no 'metadata' mapping")
    return dict(summary)


def dataset_records(
    plans: Mapping[str, Mapping[str, Mapping[str, Any]]],
    declared: Mapping[str, Any],
    skipped: Sequence[SkippedFile] = (),
) -> dict[str, dict[str, Any]]:
    """The ``datasets`` record of ``summary.json`` from ``{channel: checked fileset}``.

    Per dataset: ``kind``, the ``channels`` of this run that read it, its ``metadata`` as the
    processors saw it (normalised to the files processed: model, production, final state,
    mass, ``n_generated`` or ``pot``...), the ``files`` processed and those ``skipped``, and
    ``normalisation``: where the file list came from (``source``: manifest, list or glob),
    the ``unit`` (pot or events), the ``declared`` and ``processed`` totals and file counts.
    """
    records: dict[str, dict[str, Any]] = {}
    for channel, fileset in plans.items():
        for name, entry in sorted(fileset.items()):
            rec = records.get(name)
            if rec is None:
                meta = dict(entry.get("metadata") or {})
                inputs = declared.get(name)
                unit = inputs.unit if inputs is not None else None
                processed = meta.get("n_generated" if unit == "events" else "pot")
                rec = records[name] = {
                    "kind": meta.get("kind"),
                    "channels": [],
                    "metadata": meta,
                    "files": list(entry["files"]),
                    "skipped": sorted(s.file for s in skipped if s.dataset == name),
                    "normalisation": {
                        "source": inputs.source if inputs is not None else None,
                        "manifest": inputs.manifest if inputs is not None else None,
                        "unit": unit,
                        "declared": inputs.total if inputs is not None else None,
                        "processed": None if processed is None else float(processed),
                        "files_declared": len(inputs.files) if inputs is not None else None,
                        "files_processed": len(entry["files"]),
                    },
                }
            rec["channels"].append(channel)
    return dict(sorted(records.items()))


def _jsonable(value: Any) -> Any:
    """Plain Python types for :mod:`json` (numpy scalars and arrays become numbers/lists)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _region_count(output: Mapping[str, Any], region: str) -> int | None:
    regions = output.get("regions")
    if not regions:
        return None
    n = regions.get(region)
    return None if n is None else int(n)


def summarise(
    outputs: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    unblinded: bool,
    executor: str,
    chunksize: int,
    skipped_files: Sequence[SkippedFile] = (),
    datasets: Mapping[str, Mapping[str, Any]] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``summary.json`` (docs/artefacts.md), from ``{channel: {dataset: out}}``.

    ``datasets`` is the record of what was processed (:func:`dataset_records`), from which the
    later stages take each dataset's kind, model, mass, production, final state and
    normalisation instead of re-reading ``datasets.yaml``. ``provenance``: the run stage's
    record (:func:`run_record`), kept under ``"provenance"``.

    ``CR``/``SR`` are the pseudo-data region counts, ``null`` while blinded and for samples
    without ``"regions"`` (simulated samples: their region content is in the histograms).
    ``datasets``: the fileset metadata of every dataset processed, recorded as
    ``{name: {"kind", "metadata"}}`` (what the later stages need: kinds, POT, weights).
    """
    channels = {}
    for channel, per_dataset in outputs.items():
        channels[channel] = {
            dataset: {
                "cutflow": _jsonable(out["cutflow"]),
                "CR": _region_count(out, "CR"),
                "SR": _region_count(out, "SR"),
            }
            for dataset, out in sorted(per_dataset.items())
        }
    return {
        "unblinded": bool(unblinded),
        "executor": executor,
        "chunksize": int(chunksize),
        "skipped_files": [s.as_dict() for s in skipped_files],
        "datasets": _jsonable(dict(datasets or {})),
        "channels": channels,
        **({"provenance": dict(provenance)} if provenance else {}),
    }


def write_outputs(
    results_dir: str | os.PathLike,
    outputs: Mapping[str, Mapping[str, Any]],
    summary: Mapping[str, Any],
) -> dict[str, Path]:
    """Write the run set: every channel's ``.coffea``, ``summary.json`` and (from
    ``summary["provenance"]``) ``provenance.json``, into a fresh version of ``DIR/run/``
    that replaces the previous set in one step (:class:`na62dump.artefacts.StageSet`): an
    error or interrupt leaves the previous set, and no channel of an earlier run survives
    that this summary does not describe."""
    results_dir = Path(results_dir)
    with artefacts.StageSet(artefacts.run_dir(results_dir)) as staging:
        for channel, out in outputs.items():
            atomic.write_via(staging / f"{channel}.coffea",
                             lambda tmp, out=out: _coffea_save(out, str(tmp)))
        atomic.write_json(staging / artefacts.SUMMARY_NAME, _jsonable(summary))
        if summary.get("provenance"):
            provenance.write_record(staging, summary["provenance"])
    targets = {c: output_path(results_dir, c) for c in outputs}
    targets["summary"] = artefacts.summary_path(results_dir)
    return targets


def run_record(campaign, cuts: Mapping[str, Any], *, channels: Sequence[str], executor: str,
               chunksize: int, skip_bad_files: bool, unblind: bool) -> dict[str, Any]:
    """The provenance record of the run stage (:mod:`na62dump.provenance`): the campaign, the
    cut objects per channel, the options, the blinding and a fingerprint of the input files.

    ``na62dump all`` calls it with the same arguments as :func:`run` to tell whether the run
    set is up to date."""
    try:
        files = [p for ch in channels for e in campaign.fileset(channels=[ch]).values()
                 for p, _ in _files(e)]
    except InputError:  # inputs not declared yet (no manifest): the run itself says so
        files = None
    return provenance.record(
        "run", campaign=campaign, cuts=cuts,
        options={"channels": list(channels), "executor": executor, "chunksize": int(chunksize),
                 "skip_bad_files": bool(skip_bad_files)},
        seeds={"simulation": int(campaign.seed)},
        blinding={"unblinded": bool(unblind)},
        inputs={"data": None if files is None else provenance.files_fingerprint(files)})
