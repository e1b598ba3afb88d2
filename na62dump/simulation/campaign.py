"""The simulated campaign: ``datasets.yaml`` -> validated datasets -> coffea filesets.

``datasets.yaml`` lists every sample of the analysis (pseudo-data, background Monte Carlo,
control samples and signal grids), where its ROOT files are and how ``na62dump simulate`` makes
them. It is validated on load (pydantic, unknown keys rejected); every error is an
:class:`~na62dump.errors.InputError` naming the file, the entry and the field.

Which file
----------
``load_campaign(path=None)`` reads the campaign that ships with the package,
``na62dump/datasets.yaml``, a symbolic link to the ``datasets.yaml`` at the repository root (one
file to edit; setuptools copies its content into wheels), so ``na62dump`` works from any
directory. ``--config FILE`` selects another one.

Format
------
Top level (all keys optional except ``datasets`` or ``grids``)::

    data_dir: data/{preset}   # where files live; relative paths are taken from the current
                              # working directory; {preset} is replaced by the preset name
    seed: 2021                # base seed of `na62dump simulate` (--seed overrides)
    datasets: [...]           # explicit entries
    grids: [...]              # signal grids, each expands into one dataset per channel x mass

Per-preset values (``size``, ``per_file``, ``masses``) are either one value for every preset or
a mapping with exactly the keys ``tiny``, ``default`` and ``full``.

An explicit dataset::

    - name: prompt
      kind: prompt                   # signal | prompt | q1_control | combinatorial | upstream
                                     # | pseudo_data
      channels: all                  # analysis channels that read it: list or "all"
      files: prompt/*.root           # optional, only without a recipe: a glob or a list of
                                     # files, relative to data_dir (default: <name>/*.root),
                                     # absolute, or URLs (root://, https://: not joined to
                                     # data_dir; docs/own-ntuples.md)
      tree: events                   # optional
      metadata: {}                   # optional extra metadata for the processors
      recipe:                        # optional: how `na62dump simulate` makes the files
        generator: prompt            # kind of na62dump.simulation.generators.generate
        params: {}                   # passed to the generator
        size: {tiny: 1.4e16, default: 1.4e18, full: 1.4e19}   # events (signal) or POT
        per_file: {tiny: 1.4e16, default: 3.5e17, full: 1.4e18}
        seed_offset: 0               # change to draw an independent sample of the same name

A grid (signal) expands into datasets named ``<prefix>_<channel>_m<MeV, 4 digits>``, e.g.
``dp_brems_ee_m0150``::

    - prefix: dp_brems
      model: dark_photon             # dark_photon | alp | dark_scalar | alp_gluon (codes.Model)
      production: brems              # codes.Production key ('mixing': alp_gluon's, only)
      channels: [ee, mumu]           # final states (na62dump.codes.Channel keys)
      mass_range_gev: [0.01, 1.8]    # within the production's kinematic limit
      masses: {tiny: {values: [0.05, 0.3]}, default: {n: 20}, full: {n: 40}}
      size: {tiny: 300, default: 2000, full: 20000}
      per_file: {tiny: 300, default: 2000, full: 10000}

A dataset made from another one's files names it in its recipe: the combinatorial
pseudo-events pair the Q1 control sample's single tracks (``na62dump simulate`` makes them after
the source; their size and ``pot`` are the source's, so ``size`` and ``per_file`` are left
out; one file)::

    - name: combinatorial
      kind: combinatorial
      channels: [ee, mumu]
      recipe:
        params: {source: q1_control, max_pairs: 500000}

Per channel the masses are ``n`` points spaced logarithmically (``spacing: linear`` for
linear) from ``max(mass_range_gev[0], threshold + 10 MeV)`` to ``mass_range_gev[1]``, where the
threshold is the sum of the final-state masses, plus the explicit ``values`` inside that reach,
rounded to 1 MeV. A channel out of reach simply gets no dataset.

Files made by ``simulate`` are ``<data_dir>/<name>/<name>_<index, 3 digits>.root``.

Declared inputs
---------------
``na62dump run`` processes the files a dataset *declares*, never merely the files that happen
to exist (:meth:`Dataset.declared_inputs`):

- a dataset with a recipe declares the files of its manifest, ``<data_dir>/<name>/manifest.json``,
  which ``na62dump simulate`` writes last, once every file is complete (:data:`MANIFEST_NAME`,
  content in docs/artefacts.md): per file its entries, its POT (backgrounds, pseudo-data) or
  events (signal) and its seed. Without a manifest the dataset has no declared files: run
  ``na62dump simulate``. A manifest made by another recipe than the campaign's is refused too.
- a dataset given by the user (no recipe) declares ``files``: a *list* is a declaration (each
  file must be there: a missing one is an error naming it); a *glob* declares whatever matches
  it when the run starts. Its normalisation is its ``metadata`` (``pot`` or ``weight``) for
  all of its files together, so none of its files can be left out with ``--skip-bad-files``
  (the share of the POT a missing file carried is unknown), except for a signal dataset, which
  is normalised by the events actually processed.

Example
-------
>>> from na62dump.simulation.campaign import load_campaign
>>> c = load_campaign(preset="tiny")
>>> ds = c.get("dp_brems_ee_m0050")
>>> ds.kind, ds.channels, ds.metadata["mass_gev"], ds.metadata["channel"]
('signal', ('ee',), 0.05, 'ee')
>>> ds.recipe.file_sizes
(300,)
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from na62dump import codes, geometry
from na62dump.codes import Channel
from na62dump.errors import InputError
from na62dump.finalstates import ANALYSES, SIGNAL_STATES
from na62dump.urls import expand, is_url

log = logging.getLogger(__name__)

PRESETS = ("tiny", "default", "full")
#: Dataset kinds (na62dump.codes.KINDS; also the generator kinds of
#: na62dump.simulation.generators).
KINDS = codes.KINDS
#: Analysis channels, one processor each (na62dump.finalstates.ANALYSES).
ALL_CHANNELS = tuple(a.name for a in ANALYSES)
#: The packaged campaign (a link to the repository's ``datasets.yaml``).
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "datasets.yaml"
DEFAULT_DATA_DIR = "data/{preset}"
DEFAULT_TREE = "events"
DEFAULT_SEED = 2021
#: Lowest generated mass above a final state's threshold (GeV): no zero-phase-space points.
THRESHOLD_MARGIN_GEV = 0.010
#: The manifest ``na62dump simulate`` writes in each dataset's directory (docs/artefacts.md).
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "na62dump-manifest"
MANIFEST_VERSION = 1
#: Most files one dataset may have in a preset (ceil(size / per_file)). The packaged campaign
#: needs at most 10 (the full preset); every file costs an input check and at least one chunk
#: in ``na62dump run`` and a process start in ``simulate``, so ten thousand files of one
#: dataset are a per_file mistyped by orders of magnitude (per_file: 1 for 1.4e17 POT would
#: ask for 1.4e17 files and exhaust the memory listing them) rather than a campaign.
MAX_FILES_PER_DATASET = 10_000

#: Analysis channel reading each final state.
FINAL_STATE_TO_ANALYSIS = {fs.key: fs.analysis for fs in SIGNAL_STATES}

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Kinematics of the grids
# --------------------------------------------------------------------------------------------
#: PDG Monte Carlo numbers of the particles named here (``particle`` looks names up by
#: scanning its whole table, ids directly).
_PDGID = {
    "e+": -11, "e-": 11, "mu+": -13, "mu-": 13, "pi+": 211, "pi-": -211, "gamma": 22,
    "pi0": 111, "eta": 221, "K+": 321, "K-": -321, "eta'(958)": 331, "omega(782)": 223,
    "rho(770)0": 113, "phi(1020)": 333, "B+": 521,
}  # fmt: skip


@functools.cache
def _pdg_mass(name: str) -> float:
    """PDG mass (GeV) of a particle named as in ``na62dump.codes`` (via ``particle``)."""
    from particle import Particle

    return float(Particle.from_pdgid(_PDGID[name]).mass) / 1000.0


def final_state_threshold_gev(channel: str) -> float:
    """Sum of the masses of the final-state particles of ``channel`` (GeV).

    >>> round(final_state_threshold_gev("mumu"), 4)
    0.2113
    """
    return sum(_pdg_mass(d) for d in Channel.from_name(channel).daughters)


#: (parent, partner) of each meson production mode: X is made in parent -> partner X.
_MESON_DECAYS = {
    "pi0": ("pi0", "gamma"),
    "eta": ("eta", "gamma"),
    "etaprime": ("eta'(958)", "gamma"),
    "omega": ("omega(782)", "pi0"),
    "rho": ("rho(770)0", "pi0"),
    "phi": ("phi(1020)", "eta"),
    "b_meson": ("B+", "K+"),
}


#: Production modes with no parent decay, hence no kinematic limit: proton bremsstrahlung and
#: the ALP-meson mixing of BC11 (the ALP takes the meson's momentum, whatever its mass).
_NO_PARENT_DECAY = ("brems", "mixing")


def production_limit_gev(production: str) -> float:
    """Largest mass the production mode can make (GeV): m_parent - m_partner; inf for brems
    and mixing.

    >>> round(production_limit_gev("eta"), 4), production_limit_gev("brems")
    (0.5479, inf)
    """
    if production in _NO_PARENT_DECAY:
        return math.inf
    parent, partner = _MESON_DECAYS[production]
    return _pdg_mass(parent) - _pdg_mass(partner)


def stable_hash(name: str) -> int:
    """A 64-bit integer from ``name`` that is the same in every process and Python version
    (unlike ``hash``), for seeding.

    >>> stable_hash("dp_brems_ee_m0150") == stable_hash("dp_brems_ee_m0150")
    True
    """
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


# --------------------------------------------------------------------------------------------
# Schema of datasets.yaml
# --------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PerPreset(_Strict, Generic[T]):
    """One value per preset; a bare value in YAML means the same for every preset."""

    tiny: T
    default: T
    full: T

    @model_validator(mode="before")
    @classmethod
    def _broadcast(cls, value: Any) -> Any:
        # a mapping that names any preset is per preset (then it must name all three and
        # nothing else); any other value, mappings included (a MassSpec), is for every preset
        if isinstance(value, dict) and set(value) & set(PRESETS):
            return value
        return {p: value for p in PRESETS}

    def __getitem__(self, preset: str) -> T:
        return getattr(self, preset)


Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # .inf and .nan refused
Count = Annotated[int, Field(gt=0)]


class MassSpec(_Strict):
    """Masses of one preset: ``n`` spaced points over each channel's reach plus ``values``.

    In YAML an integer is ``n``, a list is ``values``; ``0`` or ``[]`` say "no dataset of this
    grid in this preset" (an empty mapping is an error: probably a mistake).
    """

    n: Annotated[int, Field(ge=0)] = 0
    values: tuple[Positive, ...] = ()
    spacing: Literal["log", "linear"] = "log"

    @model_validator(mode="before")
    @classmethod
    def _from_int_or_list(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"n": value}
        if isinstance(value, list | tuple):
            return {"values": value}
        if isinstance(value, dict) and not {"n", "values"} & set(value):
            raise ValueError("needs 'n' (number of points) and/or 'values' (masses in GeV)")
        return value


def _check_file_count(size: PerPreset, per_file: PerPreset | None) -> None:
    """ValueError if a preset splits ``size`` into more than :data:`MAX_FILES_PER_DATASET`
    files of ``per_file``."""
    if size is None or per_file is None:
        return
    for preset in PRESETS:
        n = math.ceil(size[preset] / per_file[preset] - 1e-9)
        if n > MAX_FILES_PER_DATASET:
            raise ValueError(
                f"per_file: {preset} preset: size {size[preset]:g} / per_file "
                f"{per_file[preset]:g} = {n:.3g} files, more than {MAX_FILES_PER_DATASET} "
                "(a mistyped per_file?)"
            )


class RecipeSpec(_Strict):
    """How ``na62dump simulate`` makes a dataset's files (sizes per preset)."""

    generator: Literal[KINDS] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    size: PerPreset[Positive] | None = None  #: required but for combinatorial (its source's)
    per_file: PerPreset[Positive] | None = None
    seed_offset: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _bounded_file_count(self) -> RecipeSpec:
        _check_file_count(self.size, self.per_file)
        return self


class DatasetSpec(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    kind: Literal[KINDS]
    channels: Literal["all"] | tuple[str, ...]
    files: str | tuple[Annotated[str, Field(min_length=1)], ...] | None = None
    tree: str = DEFAULT_TREE
    metadata: dict[str, Any] = Field(default_factory=dict)
    recipe: RecipeSpec | None = None

    @model_validator(mode="after")
    def _files_or_recipe(self) -> DatasetSpec:
        if self.files is not None and self.recipe is not None:
            raise ValueError(
                "files: a dataset with a recipe keeps its files where `na62dump simulate` "
                "writes them (<data_dir>/<name>/<name>_NNN.root); give 'files' only for "
                "files made elsewhere (no recipe)"
            )
        return self

    @field_validator("files")
    @classmethod
    def _declared_list(cls, value):
        if isinstance(value, tuple):
            if not value:
                raise ValueError("an empty list declares no file; list the dataset's files")
            dup = sorted({f for f in value if value.count(f) > 1})
            if dup:
                raise ValueError(f"file(s) listed twice: {dup}")
        return value

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value):
        if value == "all":
            return ALL_CHANNELS
        if not value:
            raise ValueError("needs at least one analysis channel")
        unknown = [c for c in value if c not in ALL_CHANNELS]
        if unknown:
            raise ValueError(f"unknown analysis channel(s) {unknown}; known: {list(ALL_CHANNELS)}")
        return tuple(value)


class GridSpec(_Strict):
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_]*$")]
    model: Literal["dark_photon", "alp", "dark_scalar", "alp_gluon"]
    production: str
    channels: tuple[str, ...]
    mass_range_gev: tuple[Positive, Positive]
    masses: PerPreset[MassSpec]
    size: PerPreset[Count]
    per_file: PerPreset[Count] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    seed_offset: Annotated[int, Field(ge=0)] = 0

    @field_validator("production")
    @classmethod
    def _known_production(cls, value):
        if value not in _MESON_DECAYS and value not in _NO_PARENT_DECAY:
            raise ValueError(
                f"unknown production {value!r}; known: "
                f"{[*_NO_PARENT_DECAY, *_MESON_DECAYS]}"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _known_final_states(cls, value):
        if not value:
            raise ValueError("needs at least one final state")
        known = [c.key for c in Channel if c.key in FINAL_STATE_TO_ANALYSIS]
        unknown = [c for c in value if c not in known]
        if unknown:
            raise ValueError(f"unknown final state(s) {unknown}; known: {known}")
        return tuple(value)

    @model_validator(mode="after")
    def _range_within_reach(self) -> GridSpec:
        _check_file_count(self.size, self.per_file)
        lo, hi = self.mass_range_gev
        if not lo < hi:
            raise ValueError(f"mass_range_gev: lower end {lo} must be below upper end {hi}")
        if (self.production == "mixing") != (self.model == "alp_gluon"):
            raise ValueError("production 'mixing' goes with model 'alp_gluon' and only with it")
        limit = production_limit_gev(self.production)
        if hi >= limit:
            raise ValueError(
                f"mass_range_gev: upper end {hi} GeV is beyond the kinematic limit "
                f"{limit:.4f} GeV of production {self.production!r}"
            )
        return self


class CampaignSpec(_Strict):
    data_dir: str = DEFAULT_DATA_DIR
    seed: Annotated[int, Field(ge=0)] = DEFAULT_SEED
    datasets: tuple[DatasetSpec, ...] = ()
    grids: tuple[GridSpec, ...] = ()


# --------------------------------------------------------------------------------------------
# Resolved (one preset) objects
# --------------------------------------------------------------------------------------------
class Recipe(_Strict):
    """A dataset's recipe for one preset.

    ``size`` is the number of events (signal) or of protons on target (backgrounds); file
    ``i`` gets ``file_sizes[i]`` of it and the seed ``seed_sequence(seed, i)``.
    """

    generator: str
    params: dict[str, Any]
    size: float
    per_file: float
    seed_offset: int = 0
    integer: bool = True  #: sizes are event counts (signal) rather than POT

    @property
    def n_files(self) -> int:
        return max(1, math.ceil(self.size / self.per_file - 1e-9))

    @property
    def file_sizes(self) -> tuple[float, ...]:
        n = self.n_files
        sizes = [self.per_file] * (n - 1) + [self.size - self.per_file * (n - 1)]
        if self.integer:
            return tuple(int(round(s)) for s in sizes)
        return tuple(float(s) for s in sizes)


@dataclass(frozen=True)
class DeclaredFile:
    """One declared input file: its absolute path and, when a manifest declares it, its
    number of entries and its size (POT or events, in the unit of its dataset)."""

    path: str
    entries: int | None = None
    size: float | None = None


@dataclass(frozen=True)
class DeclaredInputs:
    """The files a dataset declares (:meth:`Dataset.declared_inputs`).

    Attributes
    ----------
    source
        ``"manifest"`` (made by ``simulate``), ``"list"`` or ``"glob"`` (``files`` of a user
        dataset), ``"fileset"`` (a coffea fileset, :mod:`na62dump.fileset`).
    unit
        ``"pot"`` or ``"events"``: what :attr:`total` and each file's ``size`` count.
    total
        The declared POT or events of all the files (the manifest's, or the ``pot`` /
        ``n_generated`` of a user dataset's metadata; None when it gives none, e.g. a
        ``weight``).
    """

    dataset: str
    source: str
    unit: str
    files: tuple[DeclaredFile, ...]
    total: float | None = None
    manifest: str | None = None  #: the file that declares them: manifest or fileset

    @property
    def per_file(self) -> bool:
        """Whether every file's size is known (so that a subset can be normalised)."""
        return all(f.size is not None for f in self.files)

    def processed(self, paths: Iterable[str]) -> float | None:
        """The POT or events of the files ``paths`` among the declared ones: the sum of their
        sizes, :attr:`total` when they are all the files, None if that is unknown."""
        paths = set(paths)
        if paths == {f.path for f in self.files}:
            return self.total
        if not self.per_file:
            return None
        return float(sum(f.size for f in self.files if f.path in paths))


class Dataset(_Strict):
    """One dataset of a campaign, for one preset.

    Attributes
    ----------
    name, kind, tree
        As in datasets.yaml.
    files
        Its ROOT files as given by the campaign: an absolute glob pattern (a string), or the
        absolute paths of an explicit list (a tuple; a declaration, see
        :meth:`declared_inputs`); each may be a URL (``root://``, ``https://``, ...; see
        :mod:`na62dump.urls`; a glob too if the server lists directories). For a dataset with
        a recipe, the glob of ``simulate``'s files; the declared ones are its manifest's.
    channels
        Analysis channels (processors) that read it.
    metadata
        What processors and yields need: ``kind``, ``is_mc``, ``preset``, ``has_truth``
        (whether the files carry ``Truth_*``: not the pseudo-data, nor the Q1 control sample,
        which stands for data; for simulated datasets); signal: ``model``,
        ``production``, ``channel`` (the final state), ``mass_gev``, ``n_generated``;
        backgrounds: ``pot``; plus the generator's ``sample_metadata`` and the entry's own.
    recipe
        How ``na62dump simulate`` makes the files, or None for files made elsewhere.
    inputs
        The declared inputs when something else than the campaign declares them: a coffea
        fileset given to ``na62dump run --fileset`` (:mod:`na62dump.fileset`), with the POT or
        events of each file when it gives them; None for a campaign's dataset.
    """

    name: str
    kind: str
    files: str | tuple[str, ...]
    tree: str
    channels: tuple[str, ...]
    metadata: dict[str, Any]
    recipe: Recipe | None
    directory: Path  #: where ``simulate`` writes this dataset's files
    inputs: DeclaredInputs | None = None

    def output_paths(self) -> list[Path]:
        """The files ``simulate`` writes for this dataset (empty without a recipe), in order:
        ``<directory>/<name>_<index, 3 digits>.root``."""
        if self.recipe is None:
            return []
        return [
            self.directory / f"{self.name}_{i:03d}.root" for i in range(self.recipe.n_files)
        ]

    def existing_files(self) -> list[str]:
        """Files matching :attr:`files` (a glob, sorted; a URL without glob characters as it
        is: see :func:`na62dump.urls.expand`); of an explicit list, those that exist (URLs
        as they are), in the list's order."""
        if isinstance(self.files, tuple):
            return [f for f in self.files if is_url(f) or os.path.exists(f)]
        return expand(self.files)

    @property
    def manifest_path(self) -> Path:
        """Where ``simulate`` writes this dataset's manifest (:data:`MANIFEST_NAME`)."""
        return self.directory / MANIFEST_NAME

    @property
    def size_unit(self) -> str:
        """What normalises the dataset: ``"events"`` (signal: events generated) or ``"pot"``
        (every other kind: protons on target)."""
        return "events" if self.kind == "signal" else "pot"

    def declared_inputs(self) -> DeclaredInputs:
        """The files this dataset declares, with what is known of each (see the module
        docstring, "Declared inputs").

        Raises
        ------
        InputError
            A dataset with a recipe and no manifest (or a manifest that is unreadable, of
            another dataset, or made by another recipe): the message says to run
            ``na62dump simulate``.
        """
        if self.inputs is not None:
            return self.inputs
        if self.recipe is not None:
            return self._from_manifest()
        if isinstance(self.files, tuple):
            paths, source = list(self.files), "list"
        else:
            paths, source = self.existing_files(), "glob"
        total = self.metadata.get("n_generated" if self.kind == "signal" else "pot")
        return DeclaredInputs(
            dataset=self.name, source=source, unit=self.size_unit,
            files=tuple(DeclaredFile(p) for p in paths),
            total=None if total is None else float(total),
        )

    def _from_manifest(self) -> DeclaredInputs:
        import json

        path = self.manifest_path
        hint = f"run `na62dump simulate --preset {self.metadata.get('preset', 'default')}`"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(
                f"{path}: missing, so dataset {self.name!r} declares no file (`na62dump "
                f"simulate` writes it once every file is made); {hint}"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(f"{path}: unreadable manifest ({err}); {hint}") from None
        try:
            if manifest.get("format") != MANIFEST_FORMAT or manifest["dataset"] != self.name:
                raise InputError(f"{path}: not the manifest of dataset {self.name!r}; {hint}")
            if manifest["recipe"] != self.recipe.model_dump(mode="json"):
                raise InputError(
                    f"{path}: dataset {self.name!r} was made by another recipe than the "
                    f"campaign's (size, files or parameters changed); {hint}"
                )
            unit = manifest["unit"]
            files = tuple(
                DeclaredFile(str(self.directory / f["name"]), int(f["entries"]),
                             float(f[unit]))
                for f in manifest["files"]
            )
            total = float(manifest["total"][unit])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InputError(f"{path}: malformed manifest ({err!r}); {hint}") from None
        return DeclaredInputs(dataset=self.name, source="manifest", unit=unit, files=files,
                              total=total, manifest=str(path))

    def seed_sequence(self, seed: int, index: int) -> np.random.SeedSequence:
        """Seed of file ``index``: ``SeedSequence([seed, stable_hash(name), seed_offset,
        index])``, independent of the other files and datasets and of the process."""
        offset = self.recipe.seed_offset if self.recipe else 0
        return np.random.SeedSequence([seed, stable_hash(self.name), offset, index])


class Campaign:
    """A validated campaign for one preset (see :func:`load_campaign`)."""

    def __init__(
        self,
        datasets: Sequence[Dataset],
        *,
        preset: str,
        data_dir: Path,
        seed: int,
        config: Path,
    ):
        self.datasets = list(datasets)
        self.preset = preset
        self.data_dir = data_dir
        self.seed = seed
        self.config = config

    def __repr__(self) -> str:
        return (
            f"Campaign({str(self.config)!r}, preset={self.preset!r}, "
            f"{len(self.datasets)} datasets, data_dir={str(self.data_dir)!r})"
        )

    @cached_property
    def _by_name(self) -> dict[str, Dataset]:
        return {d.name: d for d in self.datasets}

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.datasets]

    def get(self, name: str) -> Dataset:
        """The dataset called ``name``; an InputError listing close matches otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            raise InputError(self._unknown_message(name)) from None

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names, n=5, cutoff=0.6)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        return f"{self.config}: no dataset {name!r} in preset {self.preset!r}{hint}"

    def select(self, names: Iterable[str] | None = None) -> list[Dataset]:
        """The datasets called ``names`` (all if None), in campaign order."""
        if names is None:
            return list(self.datasets)
        wanted = list(dict.fromkeys(names))
        for name in wanted:
            self.get(name)
        keep = set(wanted)
        return [d for d in self.datasets if d.name in keep]

    def for_channels(self, channels: Iterable[str] | None = None) -> list[Dataset]:
        """The datasets read by any of ``channels`` (all if None)."""
        if channels is None:
            return list(self.datasets)
        channels = list(channels)
        unknown = [c for c in channels if c not in ALL_CHANNELS]
        if unknown:
            raise InputError(
                f"unknown analysis channel(s) {unknown}; known: {', '.join(ALL_CHANNELS)}"
            )
        return [d for d in self.datasets if set(d.channels) & set(channels)]

    def fileset(self, channels: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """The coffea fileset of the datasets read by ``channels`` (all if None).

        ``{name: {"files": {path: tree, ...}, "metadata": {...}}}`` with the files each dataset
        declares (:meth:`Dataset.declared_inputs`: its manifest's, or its list, or what its
        glob matches now, possibly nothing: the runner then says to run ``na62dump
        simulate``). ``metadata`` carries ``dataset`` (the name) besides
        :attr:`Dataset.metadata`, with the declared POT (``pot``) or events (``n_generated``)
        of a manifest.
        """
        return fileset_of(self.declared_inputs(channels), self.for_channels(channels))

    def declared_inputs(self, channels: Iterable[str] | None = None) -> dict[str, DeclaredInputs]:
        """``{name: DeclaredInputs}`` of the datasets read by ``channels`` (all if None)."""
        return {d.name: d.declared_inputs() for d in self.for_channels(channels)}


def fileset_of(declared: dict[str, DeclaredInputs],
               datasets: Iterable[Dataset]) -> dict[str, dict[str, Any]]:
    """The coffea fileset of ``datasets`` with the files in ``declared`` (see
    :meth:`Campaign.fileset`)."""
    out = {}
    for d in datasets:
        inputs = declared[d.name]
        meta = {"dataset": d.name, **d.metadata}
        if inputs.source == "manifest":
            meta["n_generated" if inputs.unit == "events" else "pot"] = (
                int(inputs.total) if inputs.unit == "events" else inputs.total)
        out[d.name] = {"files": {f.path: d.tree for f in inputs.files}, "metadata": meta}
    return out


# --------------------------------------------------------------------------------------------
# Loading and expansion
# --------------------------------------------------------------------------------------------
def _grid_masses(grid: GridSpec, channel: str, spec: MassSpec) -> list[float]:
    """Masses (GeV, rounded to 1 MeV) of ``grid`` for final state ``channel``."""
    lo = max(grid.mass_range_gev[0], final_state_threshold_gev(channel) + THRESHOLD_MARGIN_GEV)
    hi = grid.mass_range_gev[1]
    points: list[float] = []
    if lo < hi and spec.n:
        if spec.n == 1:
            grid_points = np.array([math.sqrt(lo * hi) if spec.spacing == "log" else lo])
        elif spec.spacing == "log":
            grid_points = np.geomspace(lo, hi, spec.n)
        else:
            grid_points = np.linspace(lo, hi, spec.n)
        points.extend(float(m) for m in grid_points)
    points.extend(m for m in spec.values if lo <= m <= hi)
    mev = sorted({round(m * 1000.0) for m in points})
    return [m / 1000.0 for m in mev]


def _format_loc(loc: tuple, entries: dict[str, list[str]]) -> str:
    """``dataset 'x': field 'a.b'`` from a pydantic error location."""
    parts = list(loc)
    where = ""
    if len(parts) >= 2 and parts[0] in entries and isinstance(parts[1], int):
        section, index = parts[0], parts[1]
        names = entries[section]
        label = "dataset" if section == "datasets" else "grid"
        if index < len(names) and names[index]:
            where = f"{label} {names[index]!r}: "
        else:
            where = f"{label} #{index + 1}: "
        parts = parts[2:]
    field = ".".join(str(p) for p in parts if not str(p).startswith(("function-", "tagged-")))
    return f"{where}field {field!r}" if field else where.rstrip(": ")


def _validation_error(path: Path, err: ValidationError, raw: Any) -> InputError:
    entries: dict[str, list[str]] = {}
    if isinstance(raw, dict):
        for section, key in (("datasets", "name"), ("grids", "prefix")):
            items = raw.get(section)
            if isinstance(items, list):
                entries[section] = [
                    str(item.get(key, "")) if isinstance(item, dict) else "" for item in items
                ]
    lines = []
    for e in err.errors(include_url=False):
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "missing"
        lines.append(f"{_format_loc(e['loc'], entries)}: {msg}")
    lines = list(dict.fromkeys(lines))
    head = f"{path}: {lines[0]}"
    more = "" if len(lines) == 1 else "\n  " + "\n  ".join(lines[1:])
    return InputError(head + more)


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that also reads ``1.4e17`` (no sign in the exponent, no dot) as a
    float, as YAML 1.2 does (PyYAML's YAML 1.1 resolver would return the string), and refuses
    a key given twice in one mapping (YAML forbids it; PyYAML silently keeps the last value,
    so a second ``size:`` would override the first unseen)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<": merged, not repeated
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        f"in the mapping starting at line {node.start_mark.line + 1}",
                        node.start_mark,
                        f"duplicate key {key!r} (first given at line "
                        f"{first.start_mark.line + 1})",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def yaml_load(text: str) -> Any:
    """Parse YAML text with :class:`_Loader` (safe; floats as in YAML 1.2)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: safe


def read_spec(path: str | os.PathLike | None = None) -> tuple[Path, CampaignSpec]:
    """Read and validate a datasets.yaml (the packaged one if None)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: campaign file not found") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read the campaign file ({err.strerror})") from None
    try:
        raw = yaml_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        what = "YAML error" if isinstance(err, yaml.constructor.ConstructorError) else \
            "YAML syntax error"
        raise InputError(f"{path}: {what}{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping with 'datasets' and/or 'grids' at top level")
    try:
        spec = CampaignSpec.model_validate(raw)
    except ValidationError as err:
        raise _validation_error(path, err, raw) from None
    if not spec.datasets and not spec.grids:
        raise InputError(f"{path}: no 'datasets' and no 'grids': the campaign is empty")
    return path, spec


def _signal_params(grid: GridSpec, channel: str, mass: float) -> dict[str, Any]:
    """Parameters of the signal generator for one grid point."""
    return {
        "model": grid.model,
        "production": grid.production,
        "channel": channel,
        "mass_gev": mass,
        **grid.params,
    }


def _generator_metadata(kind: str, params: dict[str, Any], where: str) -> dict[str, Any]:
    from na62dump.simulation import generators

    try:
        meta = generators.sample_metadata(kind, params)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None
    return dict(meta)


def load_campaign(
    path: str | os.PathLike | None = None,
    preset: str = "default",
    data_dir: str | os.PathLike | None = None,
    with_generator_metadata: bool = True,
) -> Campaign:
    """Load, validate and expand a campaign for one preset.

    Parameters
    ----------
    path
        The datasets.yaml; None for the packaged campaign (:data:`DEFAULT_CONFIG`).
    preset
        ``"tiny"`` (tests, seconds), ``"default"`` (the demo) or ``"full"`` (a study).
    data_dir
        Root of the files; overrides the file's ``data_dir``. Relative paths are taken from
        the current working directory.
    with_generator_metadata
        Merge ``na62dump.simulation.generators.sample_metadata`` into each dataset's metadata
        (False only to inspect a campaign without the physics stack).

    Raises
    ------
    InputError
        Missing or unreadable file, YAML syntax error, an entry that does not validate (the
        message names the entry and the field), duplicate names, an unknown preset.
    """
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    path, spec = read_spec(path)
    root = Path(
        str(data_dir) if data_dir is not None else spec.data_dir.replace("{preset}", preset)
    )
    root = root.expanduser().absolute()
    datasets: list[Dataset] = []
    for entry in spec.datasets:
        recipe = None
        if entry.recipe is not None:
            r = entry.recipe
            size, per_file = _recipe_size(path, entry, preset, spec)
            integer = entry.kind == "signal"
            if integer and (size != int(size) or per_file != int(per_file)):
                raise InputError(
                    f"{path}: dataset {entry.name!r}: field 'recipe.size': a signal size is a "
                    "number of events (integer)"
                )
            recipe = Recipe(
                generator=r.generator or entry.kind,
                params=dict(r.params),
                size=size,
                per_file=per_file,
                seed_offset=r.seed_offset,
                integer=integer,
            )
        meta: dict[str, Any] = {}
        if recipe is not None:
            meta["n_generated" if recipe.integer else "pot"] = (
                int(recipe.size) if recipe.integer else float(recipe.size)
            )
        datasets.append(
            _make_dataset(path, root, entry.name, entry.kind, entry.files, entry.tree,
                          entry.channels, {**meta, **entry.metadata}, recipe, preset,
                          with_generator_metadata)
        )
    for grid in spec.grids:
        for channel in grid.channels:
            for mass in _grid_masses(grid, channel, grid.masses[preset]):
                name = f"{grid.prefix}_{channel}_m{round(mass * 1000):04d}"
                params = _signal_params(grid, channel, mass)
                size = grid.size[preset]
                per_file = grid.per_file[preset] if grid.per_file is not None else size
                recipe = Recipe(
                    generator="signal",
                    params=params,
                    size=size,
                    per_file=per_file,
                    seed_offset=grid.seed_offset,
                    integer=True,
                )
                meta = {
                    "model": grid.model,
                    "production": grid.production,
                    "channel": channel,
                    "mass_gev": mass,
                    "n_generated": size,
                    **grid.metadata,
                }
                if grid.production not in _NO_PARENT_DECAY:
                    meta["parent"] = _MESON_DECAYS[grid.production][0]
                datasets.append(
                    _make_dataset(path, root, name, "signal", None, DEFAULT_TREE,
                                  (FINAL_STATE_TO_ANALYSIS[channel],), meta, recipe, preset,
                                  with_generator_metadata)
                )
    seen: dict[str, int] = {}
    for d in datasets:
        seen[d.name] = seen.get(d.name, 0) + 1
    dup = sorted(n for n, k in seen.items() if k > 1)
    if dup:
        raise InputError(f"{path}: duplicate dataset name(s) {dup} (explicit entries or grids)")
    log.debug("campaign %s preset %s: %d datasets", path, preset, len(datasets))
    return Campaign(datasets, preset=preset, data_dir=root, seed=spec.seed, config=path)


def _absolute(root: Path, name: str, preset: str) -> str:
    """``name`` with ``{preset}`` filled in, relative to ``root`` unless absolute or a URL (a
    URL, root:// or https://, is never joined to the data directory: na62dump.urls)."""
    name = name.replace("{preset}", preset)
    return str(name if is_url(name) or os.path.isabs(name) else root / name)


def _recipe_size(path: Path, entry: DatasetSpec, preset: str,
                 spec: CampaignSpec) -> tuple[float, float]:
    """``(size, per_file)`` of an explicit dataset's recipe for ``preset``.

    A dataset made from another one's files (combinatorial) has its source's size (POT) in
    one file; every other recipe gives its ``size``.
    """
    r = entry.recipe
    generator = r.generator or entry.kind
    where = f"{path}: dataset {entry.name!r}"
    if generator != "combinatorial":
        if r.size is None:
            raise InputError(f"{where}: field 'recipe.size': missing")
        size = r.size[preset]
        return size, (r.per_file[preset] if r.per_file is not None else size)
    if r.size is not None or r.per_file is not None:
        raise InputError(f"{where}: field 'recipe.size': a combinatorial dataset has its "
                         "source's size; leave 'size' and 'per_file' out")
    name = r.params.get("source")
    source = next((d for d in spec.datasets if d.name == name), None)
    if source is None or source.kind != "q1_control":
        raise InputError(f"{where}: field 'recipe.params.source': {name!r} is not a "
                         "q1_control dataset of the campaign")
    if source.recipe is None or source.recipe.size is None:
        raise InputError(f"{where}: source {name!r} has no recipe (its POT is unknown)")
    size = source.recipe.size[preset]
    return size, size


def _make_dataset(path, root, name, kind, files, tree, channels, meta, recipe, preset,
                  with_generator_metadata) -> Dataset:
    if isinstance(files, tuple):
        declared: str | tuple[str, ...] = tuple(_absolute(root, f, preset) for f in files)
    else:
        declared = _absolute(root, files if files is not None else f"{name}/*.root", preset)
    metadata: dict[str, Any] = {}
    if recipe is not None and with_generator_metadata:
        metadata.update(_generator_metadata(recipe.generator, recipe.params,
                                            f"{path}: dataset {name!r}"))
        from na62dump.simulation.generators import GENERATORS

        metadata["has_truth"] = bool(GENERATORS[recipe.generator].truth)
    metadata.update(meta)
    metadata.update({"kind": kind, "is_mc": kind != "pseudo_data", "preset": preset})
    if kind == "pseudo_data":
        metadata.setdefault("pot", geometry.N_POT)
    return Dataset(
        name=name,
        kind=kind,
        files=declared,
        tree=tree,
        channels=tuple(channels),
        metadata=metadata,
        recipe=recipe,
        directory=root / name,
    )
