"""The plot-all driver: every figure whose inputs exist in a results directory.

:func:`plot_all` (the ``na62dump plot`` command) reads the stage sets of a results directory
(:mod:`na62dump.artefacts`: the run outputs, ``background.json``, the yield tables, the limit
sets), draws the figures with the functions of :mod:`na62dump.plotting.figures`, and writes
them, with the cutflow tables, as one stage set (``DIR/figures/`` by default) that replaces
the previous figures whole: a figure of an earlier grid or channel does not survive a re-run.
Every PNG and PDF carries the plot stage's provenance record in its metadata
(:func:`na62dump.provenance.png_metadata`), and the set has it as ``provenance.json``.
Figures that cannot be drawn from the inputs present are reported as skipped, with why.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from na62dump import artefacts, atomic, geometry, provenance
from na62dump.commands.limits import COUPLING_MODELS
from na62dump.errors import InputError
from na62dump.plotting.figures import (
    BACKGROUND_LABELS,
    CHANNEL_LABELS,
    STATE_LATEX,
    _reduce_state,
    _sum_hists,
    cutflow_table,
    earlier_dark_photon_limits,
    load_reference_curve,
    log,
    plot_alp,
    plot_exclusion,
    plot_mass,
    plot_pointing,
    plot_projection,
    plot_vertex,
    plot_yield_panels,
    save,
    signal_benchmarks,
    signal_cutflow_table,
    signal_label,
    state_label,
)

#: Provenance record of the figures being drawn, per output directory, set by
#: :func:`_figure_group` in the process that draws them and written into each figure's
#: metadata by :func:`_attempt`.
_RECORDS: dict[Path, Mapping[str, Any]] = {}


def results_pot(results: Path) -> float:
    """The protons on target the results are expressed at: ``n_pot`` of ``background.json``
    (the campaign's pseudo-data), else of a limit file, else ``geometry.N_POT``."""
    import json

    candidates = [artefacts.background_path(results),
                  *sorted(artefacts.limits_dir(results).glob("*.json"))]
    for path in candidates:
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        pot = d.get("_meta", {}).get("n_pot") if "_meta" in d else d.get("n_pot")
        if isinstance(pot, (int, float)) and pot > 0:
            return float(pot)
    return geometry.N_POT


def _attempt(name: str, out: Path, formats, skipped, draw, *args, **kwargs) -> list[Path]:
    """Draw ``draw(*args, **kwargs)`` and save it as ``name``; return the paths written.

    A figure that cannot be drawn from its inputs is reported in ``skipped`` (with the error)
    instead of stopping the other figures.
    """
    try:
        return save(draw(*args, **kwargs), out, name, formats, record=_RECORDS.get(out))
    except (InputError, ValueError, TypeError, KeyError, IndexError) as err:
        log.warning("%s: not drawn: %s", name, err)
        plt.close("all")
        skipped.append((name, f"{type(err).__name__}: {err}"))
        return []


def summed_hist(output: Mapping, kind: str, name: str, state: str | None = None):
    """The ``name`` histogram summed over the datasets of ``kind`` in a channel's run output.

    ``output`` is ``runner.load_output(DIR, channel)``; ``state`` selects one final state of
    the ``state`` axis (default: their sum). None when no dataset of that kind is there.
    """
    hists = []
    for o in output.values():
        if o.get("kind") != kind:
            continue
        h = o["hists"][name]
        hists.append(h[{"state": state}] if state is not None else _reduce_state(h))
    return _sum_hists(hists)


def _figures_from_run(results: Path, out: Path, formats, made, skipped) -> None:
    from na62dump.backgrounds import COMBINATORIAL_CHANNELS, hist_from_record
    from na62dump.runner import load_output, output_path
    from na62dump.selection.config import DEFAULT_CUTS

    pot = results_pot(results)
    bkg_path = artefacts.background_path(results)
    mass_hists = atomic.read_json(bkg_path).get("_mass_hists", {}) if bkg_path.is_file() else {}
    for channel, cuts_cls in DEFAULT_CUTS.items():
        if not output_path(results, channel).is_file():
            skipped.append((f"{channel}: control planes", f"no {output_path(results, channel)}"))
            continue
        output = load_output(results, channel)
        cuts = cuts_cls()
        by_kind: dict[str, list[tuple[str, dict]]] = {}
        for name, out_ds in sorted(output.items()):
            by_kind.setdefault(str(out_ds.get("kind")), []).append((name, out_ds))
        label = CHANNEL_LABELS.get(channel, channel)
        data = by_kind.get("pseudo_data", [])
        blinded = not any(o.get("unblinded") for _, o in data)
        if data:
            text = f"{label}, data" + (" (blinded)" if blinded else " (unblinded)")
            h_point = _sum_hists(_reduce_state(o["hists"]["pointing"]) for _, o in data)
            h_vtx = _sum_hists(_reduce_state(o["hists"]["vertex"]) for _, o in data)
            made += _attempt(f"pointing_{channel}_data", out, formats, skipped, plot_pointing,
                             h_point, cuts, blinded=blinded, title=text, pot=pot)
            made += _attempt(f"vertex_{channel}_data", out, formats, skipped, plot_vertex,
                             h_vtx, cuts, title=text, pot=pot)
        else:
            skipped.append((f"{channel}: data planes", "no pseudo-data in the run output"))
        signal = by_kind.get("signal", [])
        if signal:
            h_point = _sum_hists(_reduce_state(o["hists"]["pointing"]) for _, o in signal)
            h_vtx = _sum_hists(_reduce_state(o["hists"]["vertex"]) for _, o in signal)
            text = f"{label}, signal MC (all masses)"
            made += _attempt(f"pointing_{channel}_signal", out, formats, skipped, plot_pointing,
                             h_point, cuts, blinded=False, title=text, zlabel="MC events",
                             pot=pot)
            made += _attempt(f"vertex_{channel}_signal", out, formats, skipped, plot_vertex,
                             h_vtx, cuts, title=text, zlabel="MC vertices", pot=pot)
        else:
            skipped.append((f"{channel}: signal planes", "no signal samples in the run output"))
        background = {}
        for _, o in by_kind.get("prompt", []):
            background.setdefault(BACKGROUND_LABELS["prompt"], []).append(
                _reduce_state(o["hists"]["mass"]))
        comb = mass_hists.get(channel, {}).get("combinatorial")
        if comb is not None:
            background[BACKGROUND_LABELS["combinatorial"]] = [hist_from_record(comb)]
        elif channel in COMBINATORIAL_CHANNELS:
            skipped.append((f"mass_{channel}: combinatorial component",
                            "no _mass_hists in background.json (rerun `na62dump background`)"))
        for name, o in by_kind.get("upstream", []):
            background.setdefault(BACKGROUND_LABELS.get(name, name), []).append(
                _reduce_state(o["hists"]["mass"]))
        background = {k: _sum_hists(v) for k, v in background.items()}
        h_data = _sum_hists(_reduce_state(o["hists"]["mass"]) for _, o in data)
        # up to four templates spread over the mass range
        signal = sorted(signal, key=lambda item: item[0].rsplit("_m", 1)[-1])
        picks = [signal[i] for i in sorted(set(np.linspace(0, len(signal) - 1, 4).astype(int)))
                 ] if signal else []
        templates = {signal_label(name): _reduce_state(o["hists"]["mass"]) for name, o in picks}
        if background or templates or h_data is not None:
            made += _attempt(f"mass_{channel}", out, formats, skipped, plot_mass, background,
                             templates, data=h_data, title=label, pot=pot)
        for family, picks in signal_benchmarks(signal).items():
            path = out / f"cutflow_{channel}_signal_{family}.md"
            made.append(atomic.write_text(path, signal_cutflow_table(picks)))
        for kind in ("pseudo_data", "prompt", "upstream"):
            for name, o in by_kind.get(kind, []):
                for fmt in ("markdown", "csv"):
                    suffix = "md" if fmt == "markdown" else "csv"
                    path = out / f"cutflow_{channel}_{name}.{suffix}"
                    blinded = kind == "pseudo_data" and not o.get("unblinded", False)
                    made.append(atomic.write_text(path, cutflow_table(o["cutflow"], fmt,
                                                                      blinded=blinded)))


def _figures_from_yields(results: Path, out: Path, formats, made, skipped) -> None:

    from na62dump.yields import YieldTable

    files = sorted(artefacts.yields_dir(results).glob("dark_photon_*.json"))
    if not files:
        skipped.append(("efficiency, resolution and yield maps",
                        f"no {artefacts.yields_dir(results)}/*.json"))
    for path in files:
        table = YieldTable.from_json(atomic.read_json(path), what=str(path))
        if len(table.mass_gev) < 2:
            skipped.append((f"{path.stem}: maps", "a single mass point: no map to draw"))
            continue
        for quantity in ("efficiency", "sigma_m_gev", "n_exp"):
            made += _attempt(f"{quantity}_{path.stem}", out, formats, skipped,
                             plot_yield_panels, table, quantity=quantity)


def _plane_model(stem: str) -> str | None:
    """The model of a limit file ``<model>_<channel>`` drawn by the generic (M, coupling)
    branch (the models of :data:`~na62dump.commands.limits.COUPLING_MODELS` but the dark
    photon, drawn with its references), or None."""
    return next((m for m in COUPLING_MODELS if m != "dark_photon" and stem.startswith(f"{m}_")),
                None)


def _combination_title(particle: str, limits: dict, name: str) -> str:
    """Title of a limit file: the decay into its final state, or the final states of a
    combination (``limits["final_states"]``) listed."""
    states = limits.get("final_states") or [name]
    if len(states) == 1:
        return state_label(particle, states[0])
    return f"${particle} \\to$ " + ", ".join(f"${STATE_LATEX.get(s, s)}$" for s in states)


def _figures_from_limits(results: Path, out: Path, formats, made, skipped, references,
                         earlier: bool = True) -> None:

    files = sorted(artefacts.limits_dir(results).glob("*.json"))
    files = [p for p in files if p.name != artefacts.PROVENANCE_NAME]
    if not files:
        skipped.append(("exclusion contours", f"no {artefacts.limits_dir(results)}/*.json"))
    pot = results_pot(results)
    earlier_refs = earlier_dark_photon_limits() if earlier else []
    for path in files:
        limits = atomic.read_json(path)
        n_pot = float(limits.get("n_pot") or pot)
        if path.stem.startswith("dark_photon_"):
            channel = path.stem.removeprefix("dark_photon_")
            title = CHANNEL_LABELS.get(channel) or state_label("A'", channel)
            pub_path = artefacts.limits_dir(results, "published") / path.name
            pub = atomic.read_json(pub_path) if pub_path.is_file() else None

            def draw(lim=limits, t=title, p=n_pot, pub=pub):
                return plot_exclusion(lim, title=t, references=references, pot=p,
                                      published=pub, earlier=earlier_refs)
        elif (model := _plane_model(path.stem)) is not None:  # dark scalar, BC10, BC11
            channel = path.stem.removeprefix(f"{model}_")

            def draw(lim=limits, c=channel, p=n_pot, plane=COUPLING_MODELS[model]):
                return plot_exclusion(lim, title=_combination_title(plane.particle, lim, c),
                                      coupling_key=plane.coupling, coupling_label=plane.label,
                                      mass_label=plane.mass_label, pot=p)
        elif path.stem.startswith("alp_"):
            channel = path.stem.removeprefix("alp_")

            def draw(lim=limits, c=channel, p=n_pot):
                return plot_alp(lim, title=state_label("a", c), pot=p)
        else:
            skipped.append((path.name, "not a dark-photon, dark-scalar or ALP limit file"))
            continue
        made += _attempt(f"exclusion_{path.stem}", out, formats, skipped, draw)
        proj_path = artefacts.limits_dir(results, "projection") / path.name
        model = "dark_photon" if path.stem.startswith("dark_photon_") else \
            _plane_model(path.stem)
        if proj_path.is_file() and model in ("dark_photon", "dark_scalar"):
            plane = COUPLING_MODELS[model]
            made += _attempt(
                f"projection_{path.stem}", out, formats, skipped, plot_projection, limits,
                atomic.read_json(proj_path), title=None,
                earlier=earlier_refs if model == "dark_photon" else (),
                coupling_key=plane.coupling, coupling_label=plane.label,
                mass_label=plane.mass_label)


def _figure_group(group: str, results: Path, out: Path, formats, refs, earlier: bool = True,
                  record: Mapping[str, Any] | None = None):
    """One group of figures (``run``, ``yields`` or ``limits``) drawn into ``out``, each
    with ``record`` in its metadata: ``(made, skipped)``."""
    if record is not None:
        _RECORDS[out] = record
    made: list[Path] = []
    skipped: list[tuple[str, str]] = []
    if group == "run":
        _figures_from_run(results, out, formats, made, skipped)
    elif group == "yields":
        _figures_from_yields(results, out, formats, made, skipped)
    else:
        _figures_from_limits(results, out, formats, made, skipped, refs, earlier)
    return made, skipped


def plot_record(results_dir: str | os.PathLike, formats: Iterable[str],
                references: Iterable[str] = (), earlier: bool = True) -> dict[str, Any]:
    """The provenance record of the plot stage (:mod:`na62dump.provenance`): formats,
    reference curves (path and SHA-256), and the digests of the sets the figures read."""
    results = Path(results_dir)
    sets = {"run": artefacts.run_dir(results), "background": artefacts.background_dir(results),
            **{artefacts.LIMIT_SETS[k]: artefacts.limits_dir(results, k)
               for k in artefacts.LIMIT_SETS}}
    inputs = {name: provenance.input_digest(d) for name, d in sets.items() if d.exists()}
    refs = [{"path": str(Path(r).resolve()), "sha256": provenance.file_sha256(r)}
            for r in references]
    return provenance.record("plot", options={"formats": list(formats), "references": refs,
                                              "earlier": bool(earlier)}, inputs=inputs)


def plot_all(results_dir: str | os.PathLike = "results", out_dir=None,
             formats: Iterable[str] = ("png", "pdf"), references: Iterable[str] = (),
             workers: int = 1, earlier: bool = True):
    """Draw every figure whose inputs exist under ``results_dir``, as one figure set.

    ``out_dir`` (default ``DIR/figures``) is written as a stage set
    (:class:`na62dump.artefacts.StageSet`): the figures are drawn into a fresh directory
    that replaces the previous set whole once all are drawn. An existing real directory
    there is replaced only if it is ``DIR/figures`` (what an older na62dump wrote);
    any other is refused, so that ``--out`` cannot wipe a directory of other files.

    ``earlier``: overlay the earlier experiments' limits shipped with the package
    (:func:`earlier_dark_photon_limits`) on the dark-photon exclusions (default on).

    Returns ``(made, skipped)``: the paths written (in the committed set), and
    ``(figure, reason)`` for each figure that could not be drawn because its input is
    missing. With ``workers > 1`` the three groups of figures (control planes and spectra,
    yield maps, exclusions) are drawn in that many processes; the figures are the same.
    """
    results = Path(results_dir)
    if not results.is_dir():
        raise InputError(f"{results}: results directory not found (run `na62dump run` first)")
    out = Path(out_dir) if out_dir is not None else artefacts.figures_dir(results)
    formats = tuple(formats)
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if bad:
        raise InputError(f"--format: unknown format(s) {bad} (png, pdf, svg)")
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers {workers!r}: must be a positive integer")
    if (out.is_dir() and not out.is_symlink() and any(out.iterdir())
            and out.resolve() != artefacts.figures_dir(results).resolve()):
        raise InputError(f"--out {out}: an existing directory that is not a figure set of "
                         "`na62dump plot`; give a new directory (the set replaces it whole)")
    refs = [load_reference_curve(r) for r in references]
    record = plot_record(results, formats, references, earlier)
    groups = ("yields", "run", "limits")  # the heaviest first
    with artefacts.StageSet(out) as staging:
        if workers == 1:
            parts = [_figure_group(g, results, staging, formats, refs, earlier, record)
                     for g in groups]
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("spawn")  # no state inherited from the caller
            with ProcessPoolExecutor(min(workers, len(groups)), mp_context=ctx) as pool:
                futures = [pool.submit(_figure_group, g, results, staging, formats, refs,
                                       earlier, record) for g in groups]
                parts = [f.result() for f in futures]
        provenance.write_record(staging, record)
        _RECORDS.pop(staging, None)
    made = [out / p.relative_to(staging) for m, _ in parts for p in m]
    skipped = [s for _, sk in parts for s in sk]
    return made, skipped
