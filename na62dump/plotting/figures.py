"""The figure functions: publication-style figures with mplhep from loaded artefacts.

Every function takes already-loaded results (dicts, ``hist.Hist``) and an optional matplotlib
axis, draws, and returns the figure; :func:`save` writes it atomically as PNG and/or PDF, with
a provenance record in the metadata. Reading a results directory and drawing everything is
the driver's job (:func:`na62dump.plotting.driver.plot_all`, the ``na62dump plot`` command).

Units: results are in metres and GeV; the plotting edge converts to the units physicists read
(MeV for masses, mm for CDA) and says so on the axes.

>>> import numpy as np
>>> from na62dump import plotting
>>> lim = plotting.example_limits()  # a synthetic CLs map, for documentation and tests
>>> fig = plotting.plot_exclusion(lim, title="e+e-")
>>> len(fig.axes)
1
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    # figures go to files: no display is needed (or present on CI); in a notebook the
    # kernel's inline backend is kept so that the figures show
    matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mplhep
import numpy as np

from na62dump import atomic, geometry
from na62dump.errors import InputError
from na62dump.finalstates import FINAL_STATES

log = logging.getLogger(__name__)

#: Colours of the expected bands (the usual green/yellow "Brazil" bands).
BAND_1SIGMA = "#00cc00"
BAND_2SIGMA = "#ffcc00"
REFERENCE_GREY = "0.65"
OBSERVED_FILL = "tab:blue"
#: The median expected limit: dashed, dark red, so that it shows where it coincides with the
#: observed one (zero background and zero observed events).
EXPECTED_COLOR = "#b00000"
#: The observed contour with NA62's published observations (``DIR/limits_published/``).
PUBLISHED_COLOR = "#7a3db8"
PUBLISHED_LABEL = "observed (NA62 published observations)"

CHANNEL_LABELS = {
    "ee": r"$A' \to e^+e^-$",
    "mumu": r"$A' \to \mu^+\mu^-$",
    "combined": r"$A' \to e^+e^-, \mu^+\mu^-$ combined",
    "pipi": r"$A' \to \pi^+\pi^-$",
    "hadronic": r"$A' \to$ hadrons",
}
#: Final states in LaTeX (mathtext), for titles (``latex`` of na62dump.finalstates).
STATE_LATEX = {s.key: s.latex for s in FINAL_STATES}


def state_label(particle: str, state: str) -> str:
    r"""``$A' \to e^+e^-$`` style label of a decay into a final state (matplotlib mathtext).

    >>> state_label("a", "mumu")
    '$a \\to \\mu^+\\mu^-$'
    """
    return f"${particle} \\to {STATE_LATEX.get(state, state)}$"


# --------------------------------------------------------------------------------------------
# Style, label, saving
# --------------------------------------------------------------------------------------------
def use_style() -> None:
    """The mplhep style used for every figure (ROOT-like, sans-serif, no LaTeX needed)."""
    mplhep.style.use("ROOT")
    plt.rcParams.update({"figure.figsize": (7.5, 6.0), "savefig.bbox": "tight"})


def na62_label(ax, pot: float = geometry.N_POT, simulation: bool = True, loc: int = 0,
               compact: bool = False) -> None:
    """The NA62 label on every figure: "NA62 beam dump, simulation" and the protons on target.

    ``compact``: for the narrow panels of a grid, "NA62 sim." and a smaller POT text, so that
    the two do not run into each other.
    """
    exponent = int(np.floor(np.log10(pot)))
    mantissa = pot / 10**exponent
    pot_text = rf"${mantissa:.1f}\times10^{{{exponent}}}$ POT"
    text = ("sim." if compact else "beam dump" + (", simulation" if simulation else ""))
    if not simulation and compact:
        text = ""
    size = 11 if compact else 13
    # "NA62" in bold above the top left corner and the text in italics right after it, placed
    # relative to the first text's box at draw time (mplhep.label.exp_text draws the whole
    # figure once per label to measure it: ~1 s per figure, most of the plot stage's time)
    anchor = (0.0, 1.005) if loc == 0 else (0.02, 0.98)
    first = ax.text(*anchor, "NA62", transform=ax.transAxes, ha="left",
                    va="bottom" if loc == 0 else "top", fontsize=size * 1.15,
                    fontweight="bold")
    if text:
        ax.annotate(text, xy=(1.0, 0.0), xycoords=first, xytext=(size * 0.35, 0),
                    textcoords="offset points", ha="left", va="bottom", fontsize=size * 0.92,
                    fontstyle="italic")
    ax.text(1.0, 1.01, pot_text, transform=ax.transAxes, ha="right", va="bottom",
            fontsize=10 if compact else 12)


def save(fig, out_dir: str | os.PathLike, name: str, formats: Iterable[str] = ("png", "pdf"),
         dpi: int = 100, record: Mapping | None = None):
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format, atomically
    (:func:`na62dump.atomic.write_via`); return the paths.

    ``record``: a provenance record (:mod:`na62dump.provenance`) written into the PNG
    (``Provenance`` text chunk) and PDF (``Subject``) metadata.
    """
    from na62dump import provenance

    out = Path(out_dir)
    paths = []
    for fmt in formats:
        meta = None
        if record is not None and fmt == "png":
            meta = provenance.png_metadata(record)
        elif record is not None and fmt == "pdf":
            meta = provenance.pdf_metadata(record)
        paths.append(atomic.write_via(
            out / f"{name}.{fmt}",
            lambda tmp, fmt=fmt, meta=meta: fig.savefig(tmp, format=fmt, dpi=dpi,
                                                        metadata=meta)))
    plt.close(fig)
    return paths


def _log_axis_labels(axis, lo: float, hi: float, width_in: float = 6.0) -> None:
    """Readable log axis over ``[lo, hi]``: plain numbers at 1-2-5, 1-3 or 1 steps (the fewer,
    the more decades per inch of axis), at least three labelled ticks (1-2-3-5-7 steps on an
    axis spanning less than a decade or so), no minor labels."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    span = np.log10(hi / lo) if hi > lo > 0 else 1.0
    density = span / max(width_in, 1.0)
    first = (1.0, 2.0, 5.0) if density < 0.3 else (1.0, 3.0) if density < 0.45 else (1.0,)
    ladder = ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0, 7.0),
              tuple(float(k) for k in range(1, 10)))
    for subs in ladder[ladder.index(first):]:  # the first giving 3 ticks
        decades = 10.0 ** np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
        ticks = np.outer(decades, subs).ravel()
        if np.count_nonzero((ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))) >= 3:
            break
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    formatter = ScalarFormatter()
    formatter.set_scientific(False)
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(NullFormatter())


def _colorbar(fig, mappable, ax, label: str, fontsize: int = 18):
    """A colour bar; on a log scale spanning less than two decades its ticks are plain
    numbers (``2``, ``3``, ``5``), not ``2x10^0``."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter, LogLocator

    cbar = fig.colorbar(mappable, ax=ax, pad=0.02)
    cbar.set_label(label, fontsize=fontsize)
    norm = mappable.norm
    if isinstance(norm, LogNorm) and norm.vmax / norm.vmin < 100:
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        cbar.ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0, 7.0)))
        cbar.ax.yaxis.set_major_formatter(plain)
        cbar.ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    return cbar


def _axes(ax):
    if ax is None:
        use_style()
        fig, ax = plt.subplots()
        return fig, ax
    return ax.figure, ax


# --------------------------------------------------------------------------------------------
# Reference curves supplied by the user
# --------------------------------------------------------------------------------------------
def load_reference_curve(path: str | os.PathLike) -> dict:
    """Read an earlier experiment's limit from a plain text file.

    Format (``#`` starts a comment; whitespace or comma separated; masses in GeV):

    - two columns ``mass_gev coupling``: the boundary of the excluded region, as a polyline
      (close it yourself by repeating the first point if it is a closed region);
    - three columns ``mass_gev coupling_low coupling_high``: the excluded band between the two
      couplings at each mass.

    The label of the curve is the file name without extension, or a first comment line
    ``# label: <text>``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: reference curve file not found")
    label = path.stem
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            if stripped[1:].strip().lower().startswith("label:"):
                label = stripped.split(":", 1)[1].strip()
            continue
        if not stripped:
            continue
        try:
            values = [float(v) for v in stripped.replace(",", " ").split()]
        except ValueError:
            raise InputError(f"{path}:{lineno}: not numbers: {stripped!r}") from None
        if len(values) not in (2, 3) or (rows and len(values) != len(rows[0])):
            raise InputError(f"{path}:{lineno}: expected 2 or 3 columns consistently")
        if not np.all(np.isfinite(values)) or min(values) <= 0:
            raise InputError(f"{path}:{lineno}: values must be finite and positive")
        rows.append(values)
    if len(rows) < 2:
        raise InputError(f"{path}: a reference curve needs at least two points")
    data = np.asarray(rows)
    return {"label": label, "mass_gev": data[:, 0], "coupling": data[:, 1:]}


def draw_reference(ax, ref: Mapping, color: str = REFERENCE_GREY, mass_scale: float = 1e3):
    """Overlay a reference curve (from :func:`load_reference_curve`) in grey."""
    m = np.asarray(ref["mass_gev"]) * mass_scale
    c = np.asarray(ref["coupling"])
    if c.shape[1] == 1:
        ax.fill(m, c[:, 0], color=color, alpha=0.5, lw=0, label=ref["label"], zorder=1)
    else:
        ax.fill_between(m, c[:, 0], c[:, 1], color=color, alpha=0.5, lw=0,
                        label=ref["label"], zorder=1)


#: Earlier experiments' dark-photon limits shipped with the package (DarkCast's compilation,
#: one table per experiment with its citation; made by ``tools/earlier_limits.py``).
EARLIER_DIR = Path(__file__).resolve().parent.parent / "data" / "earlier_limits"
EARLIER_FILL = "0.82"
EARLIER_EDGE = "0.5"
EARLIER_LABEL = "earlier experiments (DarkCast compilation)"


@functools.lru_cache(maxsize=1)
def _earlier_tables() -> tuple:
    return tuple(load_reference_curve(p) for p in sorted(EARLIER_DIR.glob("*.txt")))


def earlier_dark_photon_limits() -> list[dict]:
    """The earlier experiments' 90% CL dark-photon exclusions in (M, eps) shipped as data.

    One table per experiment under ``na62dump/data/earlier_limits/`` (beam dumps E137, E141,
    E774, CHARM, NuCal, Orsay, KEK, NOMAD, PS191, NA64; prompt searches NA48/2, BaBar, LHCb),
    from DarkCast (Ilten, Soreq, Williams, Xue, JHEP 06 (2018) 004, arXiv:1801.04847); each
    file's header cites the repository, path, commit, licence and the experiment's paper.
    Read once per process. Each entry is a :func:`load_reference_curve` dict (3 columns).

    >>> refs = earlier_dark_photon_limits()
    >>> sorted({r["label"] for r in refs})[:3]
    ['BaBar', 'CHARM', 'E137']
    """
    return [dict(r) for r in _earlier_tables()]


def draw_earlier(ax, refs: Iterable[Mapping], mass_scale: float = 1e3) -> None:
    """Fill the earlier experiments' excluded bands in light grey with darker edges (labels:
    :func:`label_earlier`, once the axis limits are set)."""
    for ref in refs:
        m = np.asarray(ref["mass_gev"]) * mass_scale
        low, high = np.asarray(ref["coupling"]).T
        band = high > low
        ax.fill_between(m, low, high, where=band, color=EARLIER_FILL, lw=0, zorder=1)
        for edge in (low, high):
            ax.plot(m, np.where(band, edge, np.nan), color=EARLIER_EDGE, lw=0.7, zorder=1)


def label_earlier(ax, refs: Iterable[Mapping], mass_scale: float = 1e3) -> None:
    """Write each experiment's name inside its band, once per name: at the mass where the
    band is widest (in decades of the coupling) within the axis limits, away from the left and
    right edges and from the names already written (the widest bands are named first)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    lx0, lx1, ly0, ly1 = np.log10([x0, x1, y0, y1])
    candidates: dict[str, list[tuple[float, float, float]]] = {}
    for ref in refs:
        m = np.asarray(ref["mass_gev"]) * mass_scale
        low, high = np.asarray(ref["coupling"]).T
        lo, hi = np.maximum(low, y0), np.minimum(high, y1)
        fx = (np.log10(np.maximum(m, 1e-300)) - lx0) / (lx1 - lx0)
        inside = (fx > 0.07) & (fx < 0.93) & (hi > lo)
        width = np.log10(hi[inside] / lo[inside])
        fy = (0.5 * (np.log10(hi[inside]) + np.log10(lo[inside])) - ly0) / (ly1 - ly0)
        candidates.setdefault(ref["label"], []).extend(zip(width, fx[inside], fy, strict=True))
    placed: list[tuple[float, float]] = []
    order = sorted(candidates, key=lambda k: -max((c[0] for c in candidates[k]), default=0))
    for label in order:
        for _, fx, fy in sorted(candidates[label], reverse=True):
            if all(abs(fx - px) > 0.09 or abs(fy - py) > 0.045 for px, py in placed):
                placed.append((fx, fy))
                ax.text(fx, fy, label, transform=ax.transAxes, fontsize=9, color="0.2",
                        ha="center", va="center", zorder=8)
                break


# --------------------------------------------------------------------------------------------
# Exclusion contours
# --------------------------------------------------------------------------------------------
def _band_field(cls_strong, cls_weak, alpha):
    """Field < 0 exactly where ``cls_strong`` excludes and ``cls_weak`` does not.

    The expected CLs at the -k sigma quantile excludes more than at +k sigma; the band is the
    region between the two exclusion contours. Built from the contours' own field
    (:func:`na62dump.stats.contours.iso_field`), so the filled band follows the same smooth
    interpolation as the contour lines.
    """
    from na62dump.stats.contours import iso_field, iso_level

    u0 = iso_level(alpha)
    return np.maximum(u0 - iso_field(cls_strong), iso_field(cls_weak) - u0)


def _iso_contour(ax, mm, cc, cls, alpha, *, fill=None, **line_kw):
    """The ``CLs = alpha`` line (and, with ``fill``, the excluded region) drawn on the
    contours' field (:func:`na62dump.stats.contours.iso_field`), as the limit files' contour
    polylines are computed."""
    from na62dump.stats.contours import iso_field, iso_level

    u, u0 = iso_field(cls), iso_level(alpha)
    if fill is not None:
        ax.contourf(mm, cc, u, levels=[u0, np.inf], **fill)
    ax.contour(mm, cc, u, levels=[u0], **line_kw)


def _finish_plane(ax, handles, masses, couplings, mass_label, coupling_label, earlier, title,
                  alpha, pot) -> None:
    """Log axes over the scanned (mass [MeV], coupling) ranges, labels, the earlier
    experiments' names, the legend (CL and title) and the NA62 label of an exclusion plane."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(np.min(masses), np.max(masses))
    ax.set_ylim(np.min(couplings), np.max(couplings))
    _log_axis_labels(ax.xaxis, np.min(masses), np.max(masses), 6.5)
    ax.set_xlabel(mass_label)
    ax.set_ylabel(coupling_label)
    label_earlier(ax, earlier)
    ax.legend(handles=handles, loc="upper right", fontsize=11, framealpha=0.85,
              title=f"{int(round(100 * (1 - alpha)))}% CL CLs" + (f", {title}" if title else ""),
              title_fontsize=11)
    na62_label(ax, pot=pot)


def plot_exclusion(
    limits: Mapping,
    *,
    ax=None,
    title: str | None = None,
    references: Iterable[Mapping] = (),
    coupling_key: str = "eps",
    coupling_label: str = "ε (kinetic mixing)",
    mass_label: str = r"$M_{A'}$ [MeV]",
    pot: float = geometry.N_POT,
    published: Mapping | None = None,
    earlier: Iterable[Mapping] = (),
):
    """Observed and expected 90% CL exclusion in (M, coupling), log-log, with the bands.

    ``earlier``: earlier experiments' limits (:func:`earlier_dark_photon_limits`), filled in
    light grey below everything else and named inside their bands. A band of the expected
    limit that coincides with the median on the grid (with b << 1 event every quantile of the
    background-only outcome is n = 0) is said so in the legend instead of drawn invisibly;
    with nothing excluded at all, the plot says "Nothing excluded".

    ``published``: the same model's limit file computed with NA62's published observations
    (``DIR/limits_published/<name>.json``); its observed contour is drawn dash-dotted in
    :data:`PUBLISHED_COLOR`, labelled :data:`PUBLISHED_LABEL`.

    ``limits`` follows ``DIR/limits/dark_photon_<channel>.json``: ``mass_gev``, ``eps`` (or
    ``coupling_key``), ``cl``, ``cls_observed`` (masses x couplings, or None while blinded),
    ``cls_expected`` with keys "-2" .. "2". With a single mass point there is no contour:
    :func:`plot_cls_scan` draws CLs against the coupling instead.
    """
    mass = np.asarray(limits["mass_gev"], dtype=float) * 1e3
    coupling = np.asarray(limits[coupling_key], dtype=float)
    if mass.size < 2:
        return plot_cls_scan(limits, ax=ax, title=title, coupling_key=coupling_key,
                             coupling_label=coupling_label, pot=pot)
    fig, ax = _axes(ax)
    alpha = 1.0 - float(limits.get("cl", 0.9))
    exp = {k: np.asarray(v, dtype=float).T for k, v in limits["cls_expected"].items()}
    mm, cc = np.meshgrid(mass, coupling)
    earlier = list(earlier)
    draw_earlier(ax, earlier)
    for ref in references:
        draw_reference(ax, ref)
    observed = limits.get("cls_observed")
    obs = None if observed is None else np.asarray(observed, dtype=float).T
    excluded = {k: bool((v < alpha).any()) for k, v in exp.items()}
    nothing = not any(excluded.values()) and (obs is None or not (obs < alpha).any())
    # a band collapses when its two edges exclude the same grid points (b << 1)
    collapsed = {k: bool(np.array_equal(exp[f"-{k}"] < alpha, exp[k] < alpha)) for k in "12"}
    handles = []
    if not nothing:
        for k, color, z in (("2", BAND_2SIGMA, 2), ("1", BAND_1SIGMA, 3)):
            if not collapsed[k]:
                ax.contourf(mm, cc, _band_field(exp[f"-{k}"], exp[k], alpha),
                            levels=[-np.inf, 0.0], colors=[color], zorder=z)
        _iso_contour(ax, mm, cc, exp["0"], alpha, colors=EXPECTED_COLOR, linestyles="--",
                     linewidths=1.8, zorder=6)
        handles.append(plt.Line2D([], [], color=EXPECTED_COLOR, ls="--", lw=1.8,
                                  label="Expected (median)"))
        if collapsed["1"] and collapsed["2"]:
            handles.append(plt.Line2D([], [], color="none", label=r"Expected $\pm1\sigma$, "
                                      r"$\pm2\sigma$: on the median ($b \ll 1$)"))
        else:
            for k, color in (("1", BAND_1SIGMA), ("2", BAND_2SIGMA)):
                handles.append(
                    plt.Line2D([], [], color="none",
                               label=rf"Expected $\pm{k}\sigma$: on the median ($b \ll 1$)")
                    if collapsed[k] else
                    plt.Rectangle((0, 0), 1, 1, color=color, label=rf"Expected $\pm{k}\sigma$"))
        if obs is not None:
            _iso_contour(ax, mm, cc, obs, alpha,
                         fill=dict(colors=[OBSERVED_FILL], alpha=0.25, zorder=4),
                         colors="k", linewidths=2.4, zorder=5)
            handles.insert(0, plt.Line2D([], [], color="k", lw=2.4,
                                         label="Observed (excluded: shaded)"))
        else:
            handles.insert(0, plt.Line2D([], [], color="none", label="Observed: blinded"))
    else:
        ax.text(0.5, 0.5, "Nothing excluded", transform=ax.transAxes, ha="center",
                va="center", fontsize=22, color="0.3", zorder=9,
                bbox={"facecolor": "white", "edgecolor": "0.6", "alpha": 0.85})
    pub_obs = None if published is None else published.get("cls_observed")
    if pub_obs is not None and len(published["mass_gev"]) >= 2 and (
            np.asarray(pub_obs, dtype=float) < alpha).any():
        pm, pc = np.meshgrid(np.asarray(published["mass_gev"], dtype=float) * 1e3,
                             np.asarray(published[coupling_key], dtype=float))
        _iso_contour(ax, pm, pc, np.asarray(pub_obs, dtype=float).T, alpha,
                     colors=PUBLISHED_COLOR, linestyles="-.", linewidths=2.2, zorder=7)
        handles.insert(min(1, len(handles)), plt.Line2D([], [], color=PUBLISHED_COLOR,
                                                        ls="-.", lw=2.2, label=PUBLISHED_LABEL))
    if earlier:
        handles.append(plt.Rectangle((0, 0), 1, 1, facecolor=EARLIER_FILL,
                                     edgecolor=EARLIER_EDGE, label=EARLIER_LABEL))
    handles += [plt.Rectangle((0, 0), 1, 1, color=REFERENCE_GREY, alpha=0.5, label=r["label"])
                for r in references]
    _finish_plane(ax, handles, mass, coupling, mass_label, coupling_label, earlier, title,
                  alpha, pot)
    return fig


def plot_overlay(limits_by_channel: Mapping[str, Mapping], *, ax=None, expected: bool = True,
                 earlier: Iterable[Mapping] = (), coupling_key: str = "eps",
                 coupling_label: str = "ε (kinetic mixing)",
                 mass_label: str = r"$M_{A'}$ [MeV]", pot: float = geometry.N_POT):
    """Several channels' exclusions on one plane: per channel one colour, observed solid
    (expected median dashed with ``expected``); a channel with nothing excluded is listed as
    such in the legend. ``limits_by_channel``: ``{channel: limit file}`` (e.g. ee, mumu,
    combined, pipi and the hadronic final states)."""
    fig, ax = _axes(ax)
    earlier = list(earlier)
    draw_earlier(ax, earlier)
    handles = []
    lo_m, hi_m, lo_c, hi_c = np.inf, 0.0, np.inf, 0.0
    for i, (channel, lim) in enumerate(limits_by_channel.items()):
        color = ALP_COLORS[i % len(ALP_COLORS)]
        mass = np.asarray(lim["mass_gev"], dtype=float) * 1e3
        coupling = np.asarray(lim[coupling_key], dtype=float)
        lo_m, hi_m = min(lo_m, mass.min()), max(hi_m, mass.max())
        lo_c, hi_c = min(lo_c, coupling.min()), max(hi_c, coupling.max())
        label = CHANNEL_LABELS.get(channel) or state_label("A'", channel)
        alpha = 1.0 - float(lim.get("cl", 0.9))
        if mass.size < 2:
            handles.append(plt.Line2D([], [], color=color, lw=2, label=f"{label}: one mass"))
            continue
        mm, cc = np.meshgrid(mass, coupling)
        obs = lim.get("cls_observed")
        med = np.asarray(lim["cls_expected"]["0"], dtype=float).T
        drawn = False
        if obs is not None and (np.asarray(obs, dtype=float) < alpha).any():
            _iso_contour(ax, mm, cc, np.asarray(obs, dtype=float).T, alpha, colors=[color],
                         linewidths=2.2, zorder=5)
            drawn = True
        if expected and (med < alpha).any():
            _iso_contour(ax, mm, cc, med, alpha, colors=[color], linestyles="--",
                         linewidths=1.4, zorder=5)
            drawn = True
        handles.append(plt.Line2D([], [], color=color, lw=2.2,
                                  label=label + ("" if drawn else ": nothing excluded")))
    handles.append(plt.Line2D([], [], color="k", lw=2.2, label="observed"))
    if expected:
        handles.append(plt.Line2D([], [], color="k", ls="--", lw=1.4,
                                  label="expected (median)"))
    if earlier:
        handles.append(plt.Rectangle((0, 0), 1, 1, facecolor=EARLIER_FILL,
                                     edgecolor=EARLIER_EDGE, label=EARLIER_LABEL))
    ax.set_xscale("log")
    ax.set_yscale("log")
    if hi_m > lo_m:
        ax.set_xlim(lo_m, hi_m)
        _log_axis_labels(ax.xaxis, lo_m, hi_m, 6.5)
    if hi_c > lo_c:
        ax.set_ylim(lo_c, hi_c)
    ax.set_xlabel(mass_label)
    ax.set_ylabel(coupling_label)
    label_earlier(ax, earlier)
    ax.legend(handles=handles, loc="upper right", fontsize=10, framealpha=0.85)
    na62_label(ax, pot=pot)
    return fig


PROJECTION_COLOR = "#1f5fbf"


def plot_projection(limits: Mapping, projection: Mapping, *, ax=None, title: str | None = None,
                    earlier: Iterable[Mapping] = (), coupling_key: str = "eps",
                    coupling_label: str = "ε (kinetic mixing)",
                    mass_label: str = r"$M_{A'}$ [MeV]"):
    """The 2021 result beside a projection to another exposure (``na62dump limits
    --projection --pot N``, ``DIR/limits_projection/<name>.json``): the 2021 observed
    (solid, shaded) and expected (dashed) contours and the projection's expected median
    (blue, dash-dotted) with its +-1 sigma band (or its collapse onto the median said in the
    legend), the earlier experiments below."""
    fig, ax = _axes(ax)
    alpha = 1.0 - float(limits.get("cl", 0.9))
    earlier = list(earlier)
    draw_earlier(ax, earlier)
    handles = []
    for lim, proj in ((limits, False), (projection, True)):
        mass = np.asarray(lim["mass_gev"], dtype=float) * 1e3
        coupling = np.asarray(lim[coupling_key], dtype=float)
        mm, cc = np.meshgrid(mass, coupling)
        exp = {k: np.asarray(v, dtype=float).T for k, v in lim["cls_expected"].items()}
        pot_text = f"{float(lim.get('n_pot') or geometry.N_POT):.2g} POT"
        if proj:
            if np.array_equal(exp["-1"] < alpha, exp["1"] < alpha):
                handles.append(plt.Line2D([], [], color="none",
                                          label=r"projection $\pm1\sigma$: on the median"))
            else:
                ax.contourf(mm, cc, _band_field(exp["-1"], exp["1"], alpha),
                            levels=[-np.inf, 0.0], colors=[PROJECTION_COLOR], alpha=0.2,
                            zorder=3)
                handles.append(plt.Rectangle((0, 0), 1, 1, color=PROJECTION_COLOR, alpha=0.2,
                                             label=r"projection $\pm1\sigma$"))
            if (exp["0"] < alpha).any():
                _iso_contour(ax, mm, cc, exp["0"], alpha, colors=PROJECTION_COLOR,
                             linestyles="-.", linewidths=2.2, zorder=6)
            handles.insert(0, plt.Line2D([], [], color=PROJECTION_COLOR, ls="-.", lw=2.2,
                                         label=f"projection, expected ({pot_text})"))
            continue
        obs = lim.get("cls_observed")
        if obs is not None and (np.asarray(obs, dtype=float) < alpha).any():
            _iso_contour(ax, mm, cc, np.asarray(obs, dtype=float).T, alpha,
                         fill=dict(colors=[OBSERVED_FILL], alpha=0.25, zorder=4),
                         colors="k", linewidths=2.4, zorder=5)
            handles.append(plt.Line2D([], [], color="k", lw=2.4,
                                      label=f"2021 observed ({pot_text})"))
        if (exp["0"] < alpha).any():
            _iso_contour(ax, mm, cc, exp["0"], alpha, colors=EXPECTED_COLOR, linestyles="--",
                         linewidths=1.8, zorder=6)
        handles.append(plt.Line2D([], [], color=EXPECTED_COLOR, ls="--", lw=1.8,
                                  label="2021 expected (median)"))
    if earlier:
        handles.append(plt.Rectangle((0, 0), 1, 1, facecolor=EARLIER_FILL,
                                     edgecolor=EARLIER_EDGE, label=EARLIER_LABEL))
    masses = np.r_[limits["mass_gev"], projection["mass_gev"]] * 1e3
    couplings = np.r_[limits[coupling_key], projection[coupling_key]]
    _finish_plane(ax, handles, masses, couplings, mass_label, coupling_label, earlier, title,
                  alpha, float(projection.get("n_pot") or geometry.N_POT))
    return fig


def plot_cls_scan(limits: Mapping, *, ax=None, title: str | None = None, index: int = 0,
                  coupling_key: str = "eps", coupling_label: str = "ε (kinetic mixing)",
                  pot: float = geometry.N_POT):
    """CLs against the coupling at one mass (``index``), with the expected bands and the CL line.

    The figure of a channel scanned at a single mass (no exclusion contour can be drawn).
    """
    fig, ax = _axes(ax)
    coupling = np.asarray(limits[coupling_key], dtype=float)
    alpha = 1.0 - float(limits.get("cl", 0.9))
    exp = {k: np.asarray(v, dtype=float)[index] for k, v in limits["cls_expected"].items()}
    floor = 1e-6
    ax.fill_between(coupling, np.clip(exp["-2"], floor, 1), np.clip(exp["2"], floor, 1),
                    color=BAND_2SIGMA, lw=0, label=r"Expected $\pm2\sigma$")
    ax.fill_between(coupling, np.clip(exp["-1"], floor, 1), np.clip(exp["1"], floor, 1),
                    color=BAND_1SIGMA, lw=0, label=r"Expected $\pm1\sigma$")
    observed = limits.get("cls_observed")
    if observed is not None:
        ax.plot(coupling, np.clip(np.asarray(observed, dtype=float)[index], floor, 1), "k-",
                lw=2.4, label="Observed")
    ax.plot(coupling, np.clip(exp["0"], floor, 1), "--", color=EXPECTED_COLOR, lw=1.8,
            label="Expected (median)")
    ax.axhline(alpha, color="tab:blue", lw=1.2, label=f"CLs = {alpha:.2g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor, 2.0)
    ax.set_xlim(coupling.min(), coupling.max())
    ax.set_xlabel(coupling_label)
    ax.set_ylabel("CLs")
    mass = float(np.atleast_1d(limits["mass_gev"])[index])
    ax.legend(loc="lower left", fontsize=11, framealpha=0.85,
              title=(f"{title}, " if title else "") + f"M = {1e3 * mass:.0f} MeV",
              title_fontsize=11)
    na62_label(ax, pot=pot)
    return fig


def alp_records(limits: Mapping) -> list[dict]:
    """Per-mass ALP records ``{mass_gev, tau_s, br_x_br, cls_observed, cls_expected}``.

    Reads the ``masses`` list of ``DIR/limits/alp_<channel>.json`` when present, else splits
    its arrays (``cls_observed``/``cls_expected`` shaped mass x tau x BR).
    """
    if limits.get("masses"):
        return list(limits["masses"])
    masses = np.atleast_1d(np.asarray(limits["mass_gev"], dtype=float))
    observed = limits.get("cls_observed")
    return [{"mass_gev": float(m), "tau_s": limits["tau_s"], "br_x_br": limits["br_x_br"],
             "cls_observed": None if observed is None else np.asarray(observed)[i],
             "cls_expected": {k: np.asarray(v)[i] for k, v in limits["cls_expected"].items()}}
            for i, m in enumerate(masses)]


#: Colours of the ALP masses: the Okabe-Ito palette (distinguishable, also colour-blind).
ALP_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def plot_alp(limits: Mapping, *, ax=None, title: str | None = None,
             pot: float = geometry.N_POT):
    """ALP exclusion in (tau_a, BR(B -> K(*) a) x BR(a -> l+l-)) for each mass.

    ``limits`` follows ``DIR/limits/alp_<channel>.json`` (see :func:`alp_records`). Each
    mass has one colour: its observed boundary solid, its expected (median) boundary dashed,
    no fills (overlapping regions of several masses would mix into mud); the BR x BR axis
    starts a decade below the smallest excluded value.
    """
    fig, ax = _axes(ax)
    alpha = 1.0 - float(limits.get("cl", 0.9))
    records = alp_records(limits)
    handles = []
    lowest = np.inf  # the smallest excluded BR x BR, for the y range
    for i, rec in enumerate(records):
        color = ALP_COLORS[i % len(ALP_COLORS)]
        tau = np.asarray(rec["tau_s"], dtype=float)
        brbr = np.asarray(rec["br_x_br"], dtype=float)
        tt, bb = np.meshgrid(tau, brbr)
        label = f"$M_a$ = {1e3 * rec['mass_gev']:.0f} MeV"
        exp = np.asarray(rec["cls_expected"]["0"], dtype=float).T
        if not (exp < alpha).any():
            label += " (nothing excluded)"
        else:
            lowest = min(lowest, float(bb[exp < alpha].min()))
            _iso_contour(ax, tt, bb, exp, alpha, colors=[color], linestyles="--",
                         linewidths=1.4)
        if rec.get("cls_observed") is not None:
            obs = np.asarray(rec["cls_observed"], dtype=float).T
            if (obs < alpha).any():
                lowest = min(lowest, float(bb[obs < alpha].min()))
                _iso_contour(ax, tt, bb, obs, alpha, colors=[color], linewidths=2.4)
        handles.append(plt.Line2D([], [], color=color, lw=2.4, label=label))
    handles.append(plt.Line2D([], [], color="k", lw=2.4, label="Observed"))
    handles.append(plt.Line2D([], [], color="k", ls="--", lw=1.4, label="Expected (median)"))
    if records:
        tau = np.asarray(records[0]["tau_s"], dtype=float)
        brbr = np.asarray(records[0]["br_x_br"], dtype=float)
        ax.set_xlim(tau.min(), tau.max())
        # a decade below the smallest excluded BR x BR (the rest of the grid is empty)
        bottom = brbr.min() if not np.isfinite(lowest) else max(brbr.min(), lowest / 10)
        ax.set_ylim(bottom, brbr.max())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\tau_a$ [s]")
    ax.set_ylabel(r"BR$(B\to K^{(*)}a)\times$BR$(a\to\ell^+\ell^-)$")
    # the excluded regions reach up to large BR x BR: the legend goes below them
    ax.legend(handles=handles, loc="lower left", fontsize=11,
              title=(f"{title}: " if title else "")
              + f"{int(round(100 * (1 - alpha)))}% CL excluded above the lines",
              title_fontsize=11, framealpha=0.85)
    na62_label(ax, pot=pot)
    return fig


def example_limits(n_mass: int = 40, n_eps: int = 40, seed: int = 1) -> dict:
    """A synthetic CLs map with the shape of a beam-dump exclusion, for docs and tests only.

    N_s(M, eps) = A eps^2 M^-1 P_decay(lambda ~ 1/(eps^2 M^2)) and CLs = exp(-N_s) for zero
    observed events; the bands scale N_s by fixed factors. Not a physics result.
    """
    rng = np.random.default_rng(seed)
    mass = np.geomspace(0.02, 0.6, n_mass)
    eps = np.geomspace(1e-7, 1e-4, n_eps)
    mm, ee = np.meshgrid(mass, eps, indexing="ij")
    lam = 100.0 * (1e-6 / ee) ** 2 * (0.1 / mm) ** 2
    p_decay = np.exp(-80.0 / lam) * -np.expm1(-75.0 / lam)
    ns = 3e13 * ee**2 / mm * p_decay
    factors = {"-2": 2.0, "-1": 1.5, "0": 1.0, "1": 0.7, "2": 0.5}
    return {
        "mass_gev": mass.tolist(),
        "eps": eps.tolist(),
        "cl": 0.9,
        "method": "synthetic",
        "cls_observed": np.exp(-ns * rng.uniform(0.9, 1.1)).tolist(),
        "cls_expected": {k: np.exp(-ns * f).tolist() for k, f in factors.items()},
    }


# --------------------------------------------------------------------------------------------
# Maps in (M, eps): efficiency, resolution, expected yield
# --------------------------------------------------------------------------------------------
def plot_map(
    mass_gev,
    eps,
    values,
    *,
    ax=None,
    zlabel: str = "",
    log: bool = True,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    pot: float = geometry.N_POT,
    compact: bool = False,
):
    """A quantity on the (M_A', eps) plane, log-log axes, colour scale ``zlabel``.

    ``compact``: a panel of a grid (:func:`plot_yield_panels`): smaller labels.

    ``values`` is indexed [mass, eps] as in the yields and limits files.
    """
    from matplotlib.colors import LogNorm, Normalize

    fig, ax = _axes(ax)
    v = np.asarray(values, dtype=float).T
    finite = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    if finite.size == 0:
        raise InputError(f"plot_map: no finite {'positive ' if log else ''}values for {zlabel!r}")
    lo = vmin if vmin is not None else float(finite.min())
    hi = vmax if vmax is not None else float(finite.max())
    norm = LogNorm(lo, max(hi, lo * 1.0001)) if log else Normalize(lo, hi)
    # below an explicit lower bound of a log scale nothing is drawn (not the lowest colour)
    below = (v < lo) if (log and vmin is not None) else False
    masked = np.ma.masked_where(~np.isfinite(v) | ((v <= 0) if log else False) | below, v)
    mesh = ax.pcolormesh(np.asarray(mass_gev) * 1e3, eps, masked, norm=norm, shading="nearest",
                         cmap="viridis", rasterized=True)
    _colorbar(fig, mesh, ax, zlabel, fontsize=15 if compact else 18)
    ax.set_xscale("log")
    ax.set_yscale("log")
    m = np.asarray(mass_gev, dtype=float)
    for setter, x in ((ax.set_xlim, 1e3 * m), (ax.set_ylim, np.asarray(eps, dtype=float))):
        if x.size > 1:  # the outer cell edges (half a log step beyond the first and last)
            setter(x[0] * np.sqrt(x[0] / x[1]), x[-1] * np.sqrt(x[-1] / x[-2]))
    _log_axis_labels(ax.xaxis, 1e3 * m.min(), 1e3 * m.max(), 4.5 if compact else 6.0)
    ax.set_xlabel(r"$M_{A'}$ [MeV]")
    ax.set_ylabel("ε (kinetic mixing)")
    if title:
        ax.text(0.03, 0.04, title, transform=ax.transAxes, fontsize=14, ha="left",
                va="bottom", bbox={"facecolor": "white", "edgecolor": "0.5", "alpha": 0.85})
    na62_label(ax, pot=pot, compact=compact)
    return fig


def plot_yield_panels(table, *, quantity: str = "efficiency", pot: float | None = None):
    """One panel per production mode of a yield table (``na62dump.yields.YieldTable``).

    ``quantity``: ``"efficiency"`` (selection and trigger efficiency for decays in the FV),
    ``"sigma_m_gev"`` (mass resolution, drawn in MeV) or ``"n_exp"`` (expected signal events).
    """
    use_style()
    data = getattr(table, quantity)
    modes = [m for m, v in data.items() if np.any(np.isfinite(v) & (np.asarray(v) > 0))]
    if not modes:
        raise InputError(f"yield table {table.model}/{table.channel}: no {quantity} to draw")
    zlabels = {
        "efficiency": "selection and trigger efficiency",
        "sigma_m_gev": r"mass resolution $\sigma_M$ [MeV]",
        "n_exp": "expected signal events",
    }
    scale = 1e3 if quantity == "sigma_m_gev" else 1.0
    # an efficiency reads linearly (0 to its maximum); yields span decades
    log = quantity != "efficiency"
    ncols = min(len(modes), 3)
    nrows = -(-len(modes) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.8 * ncols, 5.6 * nrows), squeeze=False)
    for ax in axes.flat[len(modes):]:
        ax.set_visible(False)
    for ax, mode in zip(axes.flat, modes, strict=False):
        values = np.asarray(data[mode], dtype=float) * scale
        vmin = 0.0 if not log else None
        if quantity == "n_exp":  # below 1e-3 events (left blank) no search sees anything
            vmin = max(1e-3, float(np.nanmin(np.where(values > 0, values, np.inf))))
        plot_map(table.mass_gev, table.coupling, values, ax=ax, log=log, vmin=vmin,
                 zlabel=zlabels.get(quantity, quantity),
                 title=f"${STATE_LATEX.get(table.channel, table.channel)}$, "
                       f"{PRODUCTION_LATEX.get(mode, mode)}",
                 pot=pot if pot is not None else table.n_pot, compact=True)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Control planes from the processors' histograms
# --------------------------------------------------------------------------------------------
def _region_outlines(ax, cuts, *, masked: bool) -> None:
    """Draw the SR and CR of ``cuts`` (a ``RegionCuts``) in (Z_TAX [m], CDA_TAX [mm])."""
    from matplotlib.patches import Ellipse, Rectangle

    z_lo, z_hi = cuts.cr_z_tax_range_m
    cr_mm = cuts.cr_cda_tax_max_m * 1e3
    cr = Rectangle((z_lo, 0.0), z_hi - z_lo, cr_mm, fill=masked, facecolor="0.85",
                   hatch="//" if masked else None, edgecolor="tab:blue", lw=1.8, zorder=5,
                   label="CR" + (" (masked)" if masked else ""))
    ax.add_patch(cr)
    if cuts.sr_shape == "ellipse":
        a, b = cuts.sr_ellipse_axes_m
        sr = Ellipse((cuts.sr_ellipse_z0_m, 0.0), 2 * a, 2 * b * 1e3, fill=masked,
                     facecolor="0.7", edgecolor="tab:red", lw=1.8, zorder=6,
                     label="SR" + (" (masked)" if masked else ""))
    else:
        s_lo, s_hi = cuts.sr_z_tax_range_m
        sr = Rectangle((s_lo, 0.0), s_hi - s_lo, cuts.sr_cda_tax_max_m * 1e3, fill=masked,
                       facecolor="0.7", edgecolor="tab:red", lw=1.8, zorder=6,
                       label="SR" + (" (masked)" if masked else ""))
    ax.add_patch(sr)


def _plot_2d(ax, h, xscale=1.0, yscale=1.0, log=True):
    from matplotlib.colors import LogNorm

    values = h.values()
    xe = h.axes[0].edges * xscale
    ye = h.axes[1].edges * yscale
    masked = np.ma.masked_where(values <= 0, values)
    if masked.count() == 0:
        return None
    norm = LogNorm(masked.min(), max(masked.max(), masked.min() * 10)) if log else None
    return ax.pcolormesh(xe, ye, masked.T, norm=norm, cmap="viridis", zorder=2, rasterized=True)


def plot_pointing(h, cuts, *, blinded: bool, title: str = "", ax=None, zlabel="events",
                  cda_max_mm: float | None = None, pot: float = geometry.N_POT):
    """(Z_TAX, CDA_TAX) after the selection (region cut excepted), with SR and CR outlines.

    ``h`` is the processors' ``pointing`` histogram (``state`` summed or selected), ``cuts``
    the channel's cut object. While ``blinded`` the SR and CR are drawn as masked (hatched):
    the processors neither fill nor count them.
    """
    fig, ax = _axes(ax)
    mesh = _plot_2d(ax, h, yscale=1e3)
    if mesh is not None:
        _colorbar(fig, mesh, ax, zlabel)
    else:
        ax.text(0.75, 0.5, "no events", transform=ax.transAxes, ha="center", color="0.4")
    _region_outlines(ax, cuts, masked=blinded)
    ax.set_xlabel(r"$Z_\mathrm{TAX}$ [m]")
    ax.set_ylabel(r"$\mathrm{CDA}_\mathrm{TAX}$ [mm]")
    ax.set_xlim(h.axes[0].edges[0], h.axes[0].edges[-1])
    if cda_max_mm is None:  # the regions and a margin above the CR
        cda_max_mm = 1.6 * cuts.cr_cda_tax_max_m * 1e3
    ax.set_ylim(0.0, min(cda_max_mm, h.axes[1].edges[-1] * 1e3))
    ax.legend(loc="upper right", fontsize=11, title=title or None, title_fontsize=11)
    na62_label(ax, pot=pot)
    return fig


def _fv_outline(ax, cuts) -> None:
    """The fiducial volume in (Z_vtx, R_vtx): the box in the vacuum tube, or the e+e- cones."""
    z_lo, z_hi = cuts.fv_z_range_m
    z = np.linspace(z_lo, z_hi, 400)
    if cuts.fv == "cones":
        from na62dump.selection.volume import cone_radius

        radius = cone_radius(z)
    else:
        radius = geometry.vacuum_tube_radius(z)
    ax.plot(np.r_[z_lo, z, z_hi], np.r_[0.0, radius, 0.0], color="tab:red", lw=1.8,
            label="FV", zorder=5)


def plot_vertex(h, cuts, *, title: str = "", zlabel: str = "vertices",
                pot: float = geometry.N_POT):
    """(Z_vtx, R_vtx) without and with PID (two panels), with the FV outline.

    ``h`` is the processors' ``vertex`` histogram with its ``state`` axis already reduced.
    """
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(14.0, 5.8))
    for ax, pid in zip(axes, (False, True), strict=True):
        hp = h[{"pid": pid}]
        mesh = _plot_2d(ax, hp)
        if mesh is not None:
            _colorbar(fig, mesh, ax, zlabel)
        else:
            ax.text(0.5, 0.6, "no vertices", transform=ax.transAxes, ha="center", color="0.4")
        _fv_outline(ax, cuts)
        ax.set_xlabel(r"$Z_\mathrm{vertex}$ [m]")
        ax.set_ylabel(r"$R_\mathrm{vertex}$ [m]")
        ax.legend(loc="upper left", fontsize=11,
                  title=(title + ", " if title else "") + ("with PID" if pid else "without PID"),
                  title_fontsize=11)
        na62_label(ax, pot=pot)
    fig.tight_layout()
    return fig


#: Legend labels of the background components of the control mass plots (LaTeX).
BACKGROUND_LABELS = {
    "prompt": "prompt (MC)",
    "combinatorial": "combinatorial (Q1 pairs)",
    "upstream_k3pi": r"upstream $K^+\to\pi^+\pi^+\pi^-$ (MC)",
    "upstream_ks": r"upstream $K_S\to\pi^+\pi^-$ (MC)",
    "upstream_interaction": "upstream interactions (MC)",
}


def _hist_arrays(h, scale: float = 1e3, rebin: int = 1):
    """``(values, variances, edges * scale)`` of a 1D weighted hist (edges GeV -> MeV), with
    ``rebin`` consecutive bins merged (the last group may be shorter)."""
    values = np.asarray(h.values(), dtype=float)
    variances = h.variances()
    variances = values.copy() if variances is None else np.asarray(variances, dtype=float)
    edges = np.asarray(h.axes[0].edges, dtype=float)
    if rebin > 1:
        starts = np.arange(0, values.size, rebin)
        values = np.add.reduceat(values, starts)
        variances = np.add.reduceat(variances, starts)
        edges = np.r_[edges[starts], edges[-1]]
    return values, variances, edges * scale


def plot_mass(background: Mapping, signals: Mapping, *, data=None, title: str = "", ax=None,
              pot: float = geometry.N_POT, mass_range_gev=None, max_bins: int = 60):
    """Reconstructed mass in MeV: stacked background components, the (pseudo-)data with
    Poisson (Garwood) 68% intervals, signal templates, and a data / background ratio panel
    when there are data.

    ``background``: ``{label: hist}`` (1D mass hists in GeV, already scaled to the exposure),
    stacked in the given order; ``data``: the pseudo-data's hist (points), or None;
    ``signals``: ``{label: hist}``, drawn as unit-area templates (arbitrary normalisation,
    said on the axis). Garwood intervals: ``hist.intervals.poisson_interval`` (the central
    chi-square construction; an empty bin has the upper edge 1.84). The histograms' bins are
    merged so that at most ``max_bins`` fall in the drawn mass range (the processors' 5 MeV
    bins are finer than a ratio of a few events can be read at).
    """
    from hist.intervals import poisson_interval

    use_style()
    has_data = data is not None and data.sum().value > 0
    items = [(k, h) for k, h in background.items() if h.sum().value > 0]
    if mass_range_gev is None:
        hists = [h for _, h in items] + [h for h in signals.values() if h.sum().value > 0]
        hists += [data] if has_data else []
        if hists:
            filled_edges = [h.axes[0].edges[np.r_[np.nonzero(h.values())[0][[0, -1]]] + [0, 1]]
                            for h in hists]
            lo_m = min(f[0] for f in filled_edges)
            hi_m = max(f[1] for f in filled_edges)
            pad = 0.15 * (hi_m - lo_m) + 0.005
            mass_range_gev = (max(0.0, lo_m - pad), hi_m + pad)
    rebin = 1
    if mass_range_gev is not None:
        probe = next(iter([h for _, h in items] + list(signals.values())
                          + ([data] if data is not None else [])), None)
        if probe is not None:
            width = float(np.median(np.diff(probe.axes[0].edges)))
            rebin = max(1, int(np.ceil((mass_range_gev[1] - mass_range_gev[0])
                                       / (max_bins * width))))
    if ax is not None:
        fig, rax = ax.figure, None
    elif has_data and items:
        fig, (ax, rax) = plt.subplots(2, 1, sharex=True, figsize=(7.5, 7.5),
                                      gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
    else:
        fig, ax = plt.subplots()
        rax = None
    drawn = []
    if items:
        arrays = [_hist_arrays(h, rebin=rebin) for _, h in items]
        mplhep.histplot([a[0] for a in arrays], arrays[0][2], ax=ax, stack=True,
                        histtype="fill", label=[k for k, _ in items], alpha=0.75, yerr=False)
        drawn += [a[0] for a in arrays]
    if has_data:
        counts, _, edges = _hist_arrays(data, rebin=rebin)
        centers = 0.5 * (edges[1:] + edges[:-1])
        lo, hi = poisson_interval(counts, counts)
        filled = counts > 0  # on a log axis, empty bins would draw error bars from nowhere
        ax.errorbar(centers[filled], counts[filled],
                    yerr=[counts[filled] - lo[filled], hi[filled] - counts[filled]], fmt="o",
                    color="k", ms=4, label="pseudo-data (Garwood 68%)", zorder=5)
        drawn.append(counts)
    for label, h in signals.items():
        total = h.sum().value
        if total > 0:
            values, _, edges = _hist_arrays(h, rebin=rebin)
            mplhep.histplot(values / total, edges, ax=ax, histtype="step", lw=1.8,
                            label=label, yerr=False)
            drawn.append(values / total)
    if not drawn:
        ax.text(0.5, 0.6, "no events", transform=ax.transAxes, ha="center", color="0.4")
    ax.set_yscale("log")
    if drawn:  # room above the highest bin for the legend: it must not cover the data
        positive = np.concatenate([np.ravel(v)[np.ravel(v) > 0] for v in drawn] or [[1.0]])
        top, bottom = positive.max(), max(positive.min() * 0.3, positive.max() * 1e-7)
        ax.set_ylim(bottom, top * (top / bottom) ** 0.8)
    if drawn:
        width_mev = 1e3 * rebin * float(np.median(np.diff(probe.axes[0].edges)))
        ax.set_ylabel(f"events / {width_mev:.3g} MeV (signal: unit area)", fontsize=18)
    if mass_range_gev is not None:
        ax.set_xlim(1e3 * mass_range_gev[0], 1e3 * mass_range_gev[1])
    ax.legend(loc="upper right", fontsize=9, ncol=2, title=title or None, title_fontsize=11)
    na62_label(ax, pot=pot)
    xlabel = r"reconstructed mass $M$ [MeV]"
    if rax is None:
        ax.set_xlabel(xlabel)
        return fig
    total = np.sum([a[0] for a in arrays], axis=0)
    ok = total > 0
    ratio = np.where(ok, counts / np.where(ok, total, 1.0), np.nan)
    err_lo = np.where(ok, (counts - lo) / np.where(ok, total, 1.0), np.nan)
    err_hi = np.where(ok, (hi - counts) / np.where(ok, total, 1.0), np.nan)
    show = ok & (counts > 0)
    rax.errorbar(centers[show], ratio[show], yerr=[err_lo[show], err_hi[show]], fmt="o",
                 color="k", ms=4)
    rax.axhline(1.0, color="0.4", lw=1.0, ls="--")
    rax.set_ylabel("data / bkg.", fontsize=16)
    rax.set_xlabel(xlabel)
    finite = ratio[show]
    # 0 to 2 at least, 5 at most: a bin of one event over 0.05 expected goes off the top
    rax.set_ylim(0.0, min(5.0, max(2.0, 1.2 * float(np.nanmax(finite + err_hi[show]))))
                 if finite.size else 2.0)
    ax.set_xlabel("")
    return fig


#: Cutflow steps that are disjoint regions after the selection: each one's efficiency is
#: relative to the last selection step before the regions, not to the previous region.
REGION_STEPS = ("CR", "SR")


def step_efficiencies(cutflow: Mapping) -> list[float | None]:
    """Per-step efficiency of a cutflow (weighted): each step over the previous one (a region
    over the last selection step, :data:`REGION_STEPS`); None for the first step or an empty
    previous step.

    >>> step_efficiencies({"names": ["all", "trigger", "fv", "CR", "SR"],
    ...                    "weighted": [100.0, 50.0, 10.0, 1.0, 4.0]})
    [None, 0.5, 0.2, 0.1, 0.4]
    """
    names, w = cutflow["names"], [float(x) for x in cutflow["weighted"]]
    out: list[float | None] = [None]
    base = 0
    for i in range(1, len(names)):
        prev = base if names[i] in REGION_STEPS else i - 1
        out.append(w[i] / w[prev] if w[prev] > 0 else None)
        if names[i] not in REGION_STEPS:
            base = i
    return out


#: What a blinded pseudo-data cutflow table says above its rows (processors/base.py).
BLINDED_NOTE = ("BLINDED pseudo-data: the last step of each final state leaves out the "
                "events in the signal and control regions (pi+pi-: and the K_S window), and "
                "no SR or CR count is made; the earlier steps count every event.")


def cutflow_table(cutflow: Mapping, fmt: str = "markdown", blinded: bool = False) -> str:
    """The cutflow (``{"names", "unweighted", "weighted"}``) as Markdown or CSV text, with the
    efficiency of each step (:func:`step_efficiencies`) and the cumulative one; ``blinded``
    (pseudo-data run blind) puts :data:`BLINDED_NOTE` above the rows (a ``#`` line in CSV),
    so that the table cannot be read as the unblinded selection."""
    names, unw, w = cutflow["names"], cutflow["unweighted"], cutflow["weighted"]
    steps = step_efficiencies(cutflow)
    first = float(w[0]) if len(w) and float(w[0]) > 0 else None
    cumulative = [float(x) / first if first else None for x in w]

    def pct(x):
        return "" if x is None else f"{100 * x:.3g}%"

    def num(x):
        return "" if x is None else f"{x:.6g}"

    if fmt == "csv":
        lines = [f"# {BLINDED_NOTE}"] if blinded else []
        lines += ["cut,unweighted,weighted,step_efficiency,cumulative_efficiency"]
        lines += [f"{n},{int(u)},{x:.6g},{num(e)},{num(c)}"
                  for n, u, x, e, c in zip(names, unw, w, steps, cumulative, strict=True)]
    elif fmt == "markdown":
        lines = [f"**{BLINDED_NOTE}**", ""] if blinded else []
        lines += ["| cut | events (unweighted) | events (weighted) | step efficiency "
                  "| cumulative |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {n} | {int(u)} | {x:.4g} | {pct(e)} | {pct(c)} |"
                  for n, u, x, e, c in zip(names, unw, w, steps, cumulative, strict=True)]
    else:
        raise InputError(f"cutflow_table: unknown format {fmt!r} (markdown or csv)")
    return "\n".join(lines) + "\n"


def signal_benchmarks(signal: Iterable[tuple[str, Mapping]], per_family: int = 3):
    """Benchmark points of the signal datasets: per family (the name without ``_m<MeV>``, e.g.
    ``dp_brems_ee``) the lightest, a middle and the heaviest mass (``per_family`` spread
    evenly), as ``{family: [(name, output), ...]}``."""
    families: dict[str, list] = {}
    for name, o in signal:
        families.setdefault(name.rsplit("_m", 1)[0], []).append((name, o))
    picks = {}
    for family, items in sorted(families.items()):
        items.sort(key=lambda item: item[0].rsplit("_m", 1)[-1])
        idx = sorted(set(np.linspace(0, len(items) - 1, per_family).round().astype(int)))
        picks[family] = [items[i] for i in idx]
    return picks


def signal_cutflow_table(benchmarks: Iterable[tuple[str, Mapping]]) -> str:
    """Markdown cutflow of signal benchmark points side by side: per step the MC events and
    the step efficiency (:func:`step_efficiencies`), one column per benchmark."""
    benchmarks = list(benchmarks)
    names = benchmarks[0][1]["cutflow"]["names"]
    header = "| cut | " + " | ".join(signal_label(n) for n, _ in benchmarks) + " |"
    lines = [header, "|---|" + "---:|" * len(benchmarks)]
    columns = [(o["cutflow"]["unweighted"], step_efficiencies(o["cutflow"]))
               for _, o in benchmarks]
    for i, step in enumerate(names):
        cells = [f"{int(u[i])}" + ("" if e[i] is None else f" ({100 * e[i]:.3g}%)")
                 for u, e in columns]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Everything under a results directory
# --------------------------------------------------------------------------------------------
def _reduce_state(h):
    return h[{"state": sum}] if "state" in h.axes.name else h


def _sum_hists(hists):
    hists = list(hists)
    if not hists:
        return None
    total = hists[0].copy()
    for h in hists[1:]:
        total += h
    return total


#: Production modes of the signal dataset names, in LaTeX (legend labels).
PRODUCTION_LATEX = {
    "b": "B decays", "brems": "brems.", "pi0": r"$\pi^0$", "eta": r"$\eta$",
    "etaprime": r"$\eta'$", "omega": r"$\omega$", "phi": r"$\phi$", "rho": r"$\rho$",
}


def signal_label(name: str) -> str:
    """A legend label from a signal dataset name ``<prefix>_<production>_<state>_m<MeV>``.

    >>> signal_label("dp_brems_ee_m0300")
    "$A'$ (brems.) 300 MeV"
    >>> print(signal_label("dp_etaprime_ee_m0300"))
    $A'$ ($\\eta'$) 300 MeV
    >>> signal_label("alp_b_mumu_m1000")
    '$a$ (B decays) 1000 MeV'
    """
    import re

    match = re.fullmatch(r"(dp|alp|ds|scalar)_(\w+?)_(\w+)_m(\d+)", name)
    if not match:
        return name
    model, production, _, mev = match.groups()
    what = {"dp": "$A'$", "alp": "$a$", "ds": "$S$", "scalar": "$S$"}[model]
    return f"{what} ({PRODUCTION_LATEX.get(production, production)}) {int(mev)} MeV"
