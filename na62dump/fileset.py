"""Your own files as a coffea fileset: ``na62dump run --fileset FILE.json``.

A campaign (``datasets.yaml``) describes simulated samples and how to make them; files made
elsewhere (a real reconstruction, another generator) are handed over as the JSON fileset
coffea itself takes, with the metadata the analysis needs per dataset. :func:`load_fileset`
turns it into the same :class:`~na62dump.simulation.campaign.Campaign` of
:class:`~na62dump.simulation.campaign.Dataset` objects the campaign makes, so the runner, the
``summary.json`` ``datasets`` record and every later stage see no difference;
:func:`dump_fileset` (``na62dump run --dump-fileset FILE``) writes a campaign's own fileset in
this format, the template for one's own.

Format
------
::

    {
      "prompt": {
        "files": {"/data/prompt_000.root": "events", "/data/prompt_001.root": "events"},
        "metadata": {
          "kind": "prompt",                # processors.base.KINDS
          "channels": ["ee", "mumu"],      # analysis channels that read it (default: all)
          "pot": 2.0e16,                   # protons on target of all the files
          "file_pot": {"/data/prompt_000.root": 1.0e16,
                       "/data/prompt_001.root": 1.0e16},   # optional: per file
          "file_entries": {"/data/prompt_000.root": 5012,
                           "/data/prompt_001.root": 4987}  # optional: checked
        }
      },
      "dp_ee_m0100": {
        "files": ["/data/dp_ee_m0100.root"],   # a list: tree "events" (or "treename")
        "metadata": {"kind": "signal", "model": "dark_photon", "production": "brems",
                     "channel": "ee", "mass_gev": 0.1, "n_generated": 2000}
      }
    }

Per dataset, ``files`` is coffea's ``{path_or_url: treename}`` or a list of paths (tree
``treename`` if given, else ``events``); one tree name per dataset. Relative paths are taken
from the directory of the fileset file; URLs (``scheme://``) are kept as they are. The files
follow docs/ntuple.md. ``metadata`` needs:

- ``kind``: one of :data:`processors.base.KINDS`;
- ``channels``: the analysis channels that read the dataset, a list or ``"all"``; default all
  of them, for a signal dataset the one that reads its final state;
- signal: ``model`` (dark_photon, alp, dark_scalar, alp_gluon), ``production``, ``channel``
  (the final state, e.g. ``ee``, ``pi+pi-pi0``), ``mass_gev`` (above the final state's
  threshold, below the production's kinematic limit), and ``n_generated`` (events generated)
  or ``file_events`` (per file, then ``n_generated`` is their sum);
- pseudo-data: ``pot`` (its exposure) or ``file_pot``;
- every other kind (Monte Carlo backgrounds): ``pot`` (or ``file_pot``) or ``weight`` (a
  per-event scale, for samples not counted in POT).

Per file, optionally: ``file_pot`` (POT of each file) or, for signal, ``file_events``, each
naming every file of the dataset, summing to ``pot`` / ``n_generated`` when both are given;
and ``file_entries`` (entries of each file's tree, checked before processing: a file with
other entries is an error, or skipped with ``--skip-bad-files``). With per-file POT or events a
dataset can lose a missing or unreadable file to ``--skip-bad-files`` and is renormalised to
the files processed (:func:`na62dump.runner.normalise_fileset`); without them only a signal
dataset can (normalised to the entries processed). Any other metadata key is handed to the
processors as it is (e.g. ``trigger``, ``z_range_m``), except those coffea reserves.

Every problem is an :class:`~na62dump.errors.InputError` naming the fileset file, the dataset
and the field.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from na62dump.errors import InputError
from na62dump.simulation.campaign import (
    _MESON_DECAYS,
    _NO_PARENT_DECAY,
    ALL_CHANNELS,
    DEFAULT_TREE,
    FINAL_STATE_TO_ANALYSIS,
    Campaign,
    Dataset,
    DeclaredFile,
    DeclaredInputs,
    fileset_of,
    final_state_threshold_gev,
    production_limit_gev,
)
from processors.base import KINDS

#: Metadata keys this module reads and does not hand to the processors as such.
PER_FILE_KEYS = ("file_pot", "file_events", "file_entries")
#: A dataset name, as in datasets.yaml (names become keys of outputs and parts of file names).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: Relative tolerance of "the per-file sizes sum to the total".
SUM_RTOL = 1e-9

PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0, strict=True)]
Entries = Annotated[int, Field(ge=0, strict=True)]


class _Metadata(BaseModel):
    """The metadata of one dataset of a fileset (other keys are kept for the processors)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: Literal[KINDS]
    channels: Literal["all"] | tuple[str, ...] | None = None
    dataset: str | None = None
    pot: PositiveFinite | None = None
    weight: PositiveFinite | None = None
    model: Literal["dark_photon", "alp", "dark_scalar", "alp_gluon"] | None = None
    production: str | None = None
    channel: str | None = None
    mass_gev: PositiveFinite | None = None
    n_generated: PositiveInt | None = None
    file_pot: dict[str, PositiveFinite] | None = None
    file_events: dict[str, PositiveInt] | None = None
    file_entries: dict[str, Entries] | None = None

    @model_validator(mode="after")
    def _per_kind(self) -> _Metadata:
        if self.kind == "signal":
            self._signal()
        else:
            extra = [k for k in ("model", "mass_gev", "n_generated", "file_events")
                     if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{extra[0]}: only for kind 'signal' (this one is "
                                 f"{self.kind!r})")
            has_pot = self.pot is not None or self.file_pot is not None
            if self.kind == "pseudo_data":
                if not has_pot:
                    raise ValueError("pot: missing: the pseudo-data need their exposure, "
                                     "'pot' (or 'file_pot')")
                if self.weight is not None:
                    raise ValueError("weight: not for the pseudo-data (give 'pot')")
            elif has_pot == (self.weight is not None):
                raise ValueError(
                    "pot: missing" if not has_pot else
                    "weight: give either 'pot' (or 'file_pot') or 'weight', not both")
            _check_sum("file_pot", self.file_pot, self.pot)
        if self.channels is not None and self.channels != "all":
            if not self.channels:
                raise ValueError("channels: needs at least one analysis channel")
            unknown = [c for c in self.channels if c not in ALL_CHANNELS]
            if unknown:
                raise ValueError(f"channels: unknown analysis channel(s) {unknown}; known: "
                                 f"{list(ALL_CHANNELS)}")
        return self

    def _signal(self) -> None:
        for key in ("model", "production", "channel", "mass_gev"):
            if getattr(self, key) is None:
                raise ValueError(f"{key}: missing (a signal dataset needs model, production, "
                                 "channel and mass_gev)")
        if self.n_generated is None and self.file_events is None:
            raise ValueError("n_generated: missing (events generated; or 'file_events')")
        for key in ("pot", "weight", "file_pot"):
            if getattr(self, key) is not None:
                raise ValueError(f"{key}: a signal dataset is normalised by its events "
                                 "('n_generated' or 'file_events')")
        if self.production not in _MESON_DECAYS and self.production not in _NO_PARENT_DECAY:
            raise ValueError(f"production: unknown {self.production!r}; known: "
                             f"{[*_NO_PARENT_DECAY, *_MESON_DECAYS]}")
        if (self.production == "mixing") != (self.model == "alp_gluon"):
            raise ValueError("production: 'mixing' goes with model 'alp_gluon' and only with it")
        if self.channel not in FINAL_STATE_TO_ANALYSIS:
            raise ValueError(f"channel: unknown final state {self.channel!r}; known: "
                             f"{sorted(FINAL_STATE_TO_ANALYSIS)}")
        lo = final_state_threshold_gev(self.channel)
        hi = production_limit_gev(self.production)
        if not lo < self.mass_gev < hi:
            raise ValueError(f"mass_gev: {self.mass_gev} GeV is outside the reach of "
                             f"{self.channel} from {self.production} ({lo:.4f} to {hi:.4f} GeV)")
        _check_sum("file_events", self.file_events, self.n_generated)


def _check_sum(key: str, per_file: Mapping[str, float] | None, total: float | None) -> None:
    if per_file is None or total is None:
        return
    s = math.fsum(per_file.values())
    if not math.isclose(s, total, rel_tol=SUM_RTOL):
        raise ValueError(f"{key}: sums to {s:.10g}, not to the dataset's {total:.10g}")


class _Entry(BaseModel):
    """One dataset of a fileset: coffea's ``files`` (+ ``treename``) and our ``metadata``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    files: dict[Annotated[str, Field(min_length=1)], str] | tuple[
        Annotated[str, Field(min_length=1)], ...]
    treename: str | None = None
    metadata: _Metadata


def _resolve(path: str, base: Path) -> str:
    """A fileset path as the runner takes it: absolute (from ``base``), or a URL as it is."""
    if "://" in path:
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).absolute())


def _fail(path: Path, name: str, field: str, msg: str) -> InputError:
    return InputError(f"{path}: dataset {name!r}: field {field!r}: {msg}")


def _validation_error(path: Path, name: str, err: ValidationError) -> InputError:
    e = err.errors(include_url=False)[0]
    loc = [str(p) for p in e["loc"] if not str(p).startswith(("function-", "tagged-"))]
    msg = {"extra_forbidden": "unknown key", "missing": "missing"}.get(e["type"], e["msg"])
    msg = msg.removeprefix("Value error, ")
    if e["type"] in ("model_type", "model_attributes_type", "dict_type"):
        msg = "expected a JSON object"
        if not loc:
            return InputError(f"{path}: dataset {name!r}: expected a JSON object "
                              '{"files": ..., "metadata": {...}}')
    if loc and loc[0] == "files":
        loc, msg = ["files"], "a mapping {path: treename} or a list of paths (strings)"
    if e["type"] == "value_error" and ": " in msg and loc == ["metadata"]:
        key, msg = msg.split(": ", 1)  # a check across fields names the field it is about
        loc.append(key)
    return _fail(path, name, ".".join(loc) or "files", msg)


def _dataset(path: Path, name: str, raw: Any) -> Dataset:
    """Validate one entry of the fileset at ``path`` and make its :class:`Dataset`."""
    try:
        entry = _Entry.model_validate(raw)
    except ValidationError as err:
        raise _validation_error(path, name, err) from None
    meta_in = entry.metadata
    if not entry.files:
        raise _fail(path, name, "files", "no file: list the dataset's files")
    if isinstance(entry.files, tuple):
        given = {f: entry.treename or DEFAULT_TREE for f in entry.files}
        if len(given) != len(entry.files):
            raise _fail(path, name, "files", "a file is listed twice")
    else:
        given = dict(entry.files)
    trees = set(given.values())
    if len(trees) != 1:
        raise _fail(path, name, "files", f"one tree name per dataset, not {sorted(trees)}")
    base = path.parent
    files = {_resolve(f, base): f for f in given}
    if len(files) != len(given):
        raise _fail(path, name, "files", "two entries name the same file")
    if meta_in.dataset not in (None, name):
        raise _fail(path, name, "metadata.dataset", f"names another dataset "
                    f"({meta_in.dataset!r})")
    from na62dump.runner import _COFFEA_RESERVED

    reserved = sorted(set(meta_in.model_extra or {}) & _COFFEA_RESERVED)
    if reserved:
        raise _fail(path, name, f"metadata.{reserved[0]}", "reserved by coffea (it sets it "
                    "per chunk); rename it")
    per_file: dict[str, dict[str, float]] = {}
    for key in PER_FILE_KEYS:
        values = getattr(meta_in, key)
        if values is None:
            continue
        resolved = {_resolve(f, base): v for f, v in values.items()}
        missing = [f for p, f in files.items() if p not in resolved]
        extra = [f for f in values if _resolve(f, base) not in files]
        if missing or extra:
            what = f"no value for {missing[0]}" if missing else f"{extra[0]} is not in 'files'"
            raise _fail(path, name, f"metadata.{key}", f"{what} (it names each file of the "
                        "dataset, as in 'files')")
        per_file[key] = resolved

    kind = meta_in.kind
    unit = "events" if kind == "signal" else "pot"
    sizes = per_file.get("file_events" if unit == "events" else "file_pot")
    entries = per_file.get("file_entries", {})
    meta = meta_in.model_dump(exclude_none=True, exclude={"channels", "dataset",
                                                          *PER_FILE_KEYS})
    meta.update(meta_in.model_extra or {})
    total_key = "n_generated" if unit == "events" else "pot"
    if sizes is not None and total_key not in meta:
        total = math.fsum(sizes.values())
        meta[total_key] = int(total) if unit == "events" else total
    if kind == "signal":
        channels = (FINAL_STATE_TO_ANALYSIS[meta["channel"]],)
        if meta["production"] not in _NO_PARENT_DECAY:
            meta.setdefault("parent", _MESON_DECAYS[meta["production"]][0])
    else:
        channels = ALL_CHANNELS
    if meta_in.channels not in (None, "all"):
        channels = tuple(meta_in.channels)
    meta.update({"kind": kind, "is_mc": kind != "pseudo_data"})
    total = meta.get(total_key)
    inputs = DeclaredInputs(
        dataset=name, source="fileset", unit=unit,
        files=tuple(DeclaredFile(p, entries.get(p), None if sizes is None else sizes[p])
                    for p in files),
        total=None if total is None else float(total), manifest=str(path),
    )
    return Dataset(name=name, kind=kind, files=tuple(files), tree=trees.pop(),
                   channels=channels, metadata=meta, recipe=None, directory=base,
                   inputs=inputs)


def load_fileset(path: str | os.PathLike) -> Campaign:
    """Read and validate the fileset at ``path`` into a :class:`Campaign` (see the module
    docstring for the format).

    Raises
    ------
    InputError
        Missing or unreadable file, JSON syntax error, a dataset whose entry does not
        validate: the message names the file, the dataset and the field.
    """
    path = Path(path).expanduser().absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: fileset not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the fileset ({err})") from None
    try:
        raw = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: JSON syntax error at line {err.lineno}, column "
                         f"{err.colno}: {err.msg}") from None
    except ValueError as err:
        raise InputError(f"{path}: {err}") from None
    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{path}: expected a JSON object {{dataset: {{\"files\": ..., "
                         "\"metadata\": ...}} with at least one dataset")
    for name in raw:
        if not _NAME.fullmatch(name):
            raise InputError(f"{path}: dataset {name!r}: a dataset name is letters, digits and "
                             "_ . - (starting with a letter or digit), as in datasets.yaml")
    datasets = [_dataset(path, name, entry) for name, entry in raw.items()]
    return Campaign(datasets, preset="fileset", data_dir=path.parent, seed=0, config=path)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number in strict JSON")


def dump_fileset(campaign: Campaign, path: str | os.PathLike,
                 channels: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Write the fileset of ``campaign``'s datasets read by ``channels`` (all if None) to
    ``path`` and return it.

    The declared files (a manifest's: absolute paths, with per-file POT or events and
    entries), the metadata the processors see (without ``dataset``, which coffea sets
    itself) and the ``channels``: what :func:`load_fileset` reads back into the same datasets.

    Raises
    ------
    InputError
        A dataset that declares no file yet (no manifest: run ``na62dump simulate``; a glob
        that matches nothing), or ``path`` cannot be written.
    """
    from na62dump import atomic

    declared = campaign.declared_inputs(channels)
    datasets = campaign.for_channels(channels)
    out = fileset_of(declared, datasets)
    for d in datasets:
        inputs = declared[d.name]
        if not inputs.files:
            raise InputError(f"{campaign.config}: dataset {d.name!r} declares no file (its "
                             f"files {d.files} match nothing); nothing to dump")
        meta = out[d.name]["metadata"]
        meta.pop("dataset", None)
        meta["channels"] = list(d.channels)
        if inputs.per_file:
            size_key = "file_events" if inputs.unit == "events" else "file_pot"
            meta[size_key] = {f.path: (int(f.size) if inputs.unit == "events" else f.size)
                              for f in inputs.files}
        if all(f.entries is not None for f in inputs.files):
            meta["file_entries"] = {f.path: f.entries for f in inputs.files}
    path = Path(path)
    try:
        atomic.write_json(path, out)
    except OSError as err:
        raise InputError(f"{path}: cannot write the fileset ({err.strerror or err})") from None
    return out
