"""Publication-style figures with mplhep, from the saved artefacts of each stage.

Every function takes already-loaded results (dicts, ``hist.Hist``) and an optional matplotlib
axis, draws, and returns the figure; :func:`save` writes it atomically as PNG and/or PDF.
:func:`plot_all` draws every figure whose inputs exist under a results directory and reports
which it skipped and why (the ``na62dump plot`` command).

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

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures go to files; no display is needed (or present on CI)

import matplotlib.pyplot as plt
import mplhep
import numpy as np

from na62dump import geometry
from na62dump.errors import InputError

log = logging.getLogger(__name__)

#: Colours of the expected bands (the usual green/yellow "Brazil" bands).
BAND_1SIGMA = "#00cc00"
BAND_2SIGMA = "#ffcc00"
REFERENCE_GREY = "0.65"

CHANNEL_LABELS = {
    "ee": r"$A' \to e^+e^-$",
    "mumu": r"$A' \to \mu^+\mu^-$",
    "combined": r"$A' \to e^+e^-, \mu^+\mu^-$ combined",
    "pipi": r"$A' \to \pi^+\pi^-$",
    "hadronic": r"$A' \to$ hadrons",
}


# --------------------------------------------------------------------------------------------
# Style, label, saving
# --------------------------------------------------------------------------------------------
def use_style() -> None:
    """The mplhep style used for every figure (ROOT-like, sans-serif, no LaTeX needed)."""
    mplhep.style.use("ROOT")
    plt.rcParams.update({"figure.figsize": (7.5, 6.0), "savefig.bbox": "tight"})


def na62_label(ax, pot: float = geometry.N_POT, simulation: bool = True, loc: int = 0) -> None:
    """The NA62 label on every figure: "NA62 beam dump, simulation" and the protons on target."""
    exponent = int(np.floor(np.log10(pot)))
    mantissa = pot / 10**exponent
    pot_text = rf"${mantissa:.1f}\times10^{{{exponent}}}$ POT"
    mplhep.label.exp_text(
        "NA62",
        "beam dump" + (", simulation" if simulation else ""),
        ax=ax,
        loc=loc,
        fontsize=13,
    )
    ax.text(1.0, 1.01, pot_text, transform=ax.transAxes, ha="right", va="bottom", fontsize=12)


def save(fig, out_dir: str | os.PathLike, name: str, formats: Iterable[str] = ("png", "pdf")):
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format, atomically; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        final = out / f"{name}.{fmt}"
        tmp = out / f".{name}.{fmt}.tmp-{os.getpid()}"
        try:
            fig.savefig(tmp, format=fmt, dpi=110)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                tmp.unlink()
        paths.append(final)
    plt.close(fig)
    return paths


def _log_axis_labels(axis) -> None:
    """Readable log axis: plain numbers at 1-2-5 steps, no overlapping minor labels."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    formatter = ScalarFormatter()
    formatter.set_scientific(False)
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(NullFormatter())


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


# --------------------------------------------------------------------------------------------
# Exclusion contours
# --------------------------------------------------------------------------------------------
def _band_field(cls_strong, cls_weak, alpha):
    """Field < 0 exactly where ``cls_strong`` excludes and ``cls_weak`` does not.

    The expected CLs at the -k sigma quantile excludes more than at +k sigma; the band is the
    region between the two exclusion contours. Working on log(CLs / alpha) keeps the contour
    of the filled band on the same smooth interpolation as the contour lines.
    """
    with np.errstate(divide="ignore"):
        a = np.log(np.clip(cls_strong, 1e-300, None) / alpha)
        b = np.log(np.clip(cls_weak, 1e-300, None) / alpha)
    return np.maximum(a, -b)


def plot_exclusion(
    limits: Mapping,
    *,
    ax=None,
    title: str | None = None,
    references: Iterable[Mapping] = (),
    coupling_key: str = "eps",
    coupling_label: str = "ε (kinetic mixing)",
    pot: float = geometry.N_POT,
):
    """Observed and expected 90% CL exclusion in (M, coupling), log-log, with the bands.

    ``limits`` follows ``DIR/limits/dark_photon_<channel>.json``: ``mass_gev``, ``eps`` (or
    ``coupling_key``), ``cl``, ``cls_observed`` (masses x couplings, or None while blinded),
    ``cls_expected`` with keys "-2" .. "2".
    """
    fig, ax = _axes(ax)
    mass = np.asarray(limits["mass_gev"], dtype=float) * 1e3
    coupling = np.asarray(limits[coupling_key], dtype=float)
    alpha = 1.0 - float(limits.get("cl", 0.9))
    exp = {k: np.asarray(v, dtype=float).T for k, v in limits["cls_expected"].items()}
    mm, cc = np.meshgrid(mass, coupling)
    for ref in references:
        draw_reference(ax, ref)
    ax.contourf(mm, cc, _band_field(exp["-2"], exp["2"], alpha), levels=[-np.inf, 0.0],
                colors=[BAND_2SIGMA], zorder=2)
    ax.contourf(mm, cc, _band_field(exp["-1"], exp["1"], alpha), levels=[-np.inf, 0.0],
                colors=[BAND_1SIGMA], zorder=3)
    ax.contour(mm, cc, exp["0"], levels=[alpha], colors="k", linestyles="--", linewidths=1.5,
               zorder=4)
    handles = [
        plt.Line2D([], [], color="k", ls="--", label="Expected"),
        plt.Rectangle((0, 0), 1, 1, color=BAND_1SIGMA, label=r"Expected $\pm1\sigma$"),
        plt.Rectangle((0, 0), 1, 1, color=BAND_2SIGMA, label=r"Expected $\pm2\sigma$"),
    ]
    observed = limits.get("cls_observed")
    if observed is not None:
        obs = np.asarray(observed, dtype=float).T
        ax.contour(mm, cc, obs, levels=[alpha], colors="k", linewidths=2.2, zorder=5)
        handles.insert(0, plt.Line2D([], [], color="k", lw=2.2, label="Observed"))
    else:
        handles.insert(0, plt.Line2D([], [], color="none", label="Observed: blinded"))
    handles += [plt.Rectangle((0, 0), 1, 1, color=REFERENCE_GREY, alpha=0.5, label=r["label"])
                for r in references]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(mass.min(), mass.max())
    ax.set_ylim(coupling.min(), coupling.max())
    _log_axis_labels(ax.xaxis)
    ax.set_xlabel(r"$M_{A'}$ [MeV]")
    ax.set_ylabel(coupling_label)
    ax.legend(handles=handles, loc="upper right", fontsize=11,
              title=f"{int(round(100 * (1 - alpha)))}% CL CLs" + (f", {title}" if title else ""),
              title_fontsize=11)
    na62_label(ax, pot=pot)
    return fig


def plot_alp(limits: Mapping, *, ax=None, pot: float = geometry.N_POT):
    """ALP exclusion in (tau_a, BR(B -> K(*) a) x BR(a -> l+l-)) for each mass.

    ``limits`` follows ``DIR/limits/alp_<channel>.json``: ``masses`` is a list of per-mass
    records with ``mass_gev``, ``tau_s``, ``br_x_br``, ``cls_observed``, ``cls_expected``.
    """
    fig, ax = _axes(ax)
    alpha = 1.0 - float(limits.get("cl", 0.9))
    colors = plt.cm.viridis(np.linspace(0.05, 0.85, max(len(limits["masses"]), 1)))
    handles = []
    for color, rec in zip(colors, limits["masses"], strict=False):
        tau = np.asarray(rec["tau_s"], dtype=float)
        brbr = np.asarray(rec["br_x_br"], dtype=float)
        tt, bb = np.meshgrid(tau, brbr)
        label = f"$M_a$ = {1e3 * rec['mass_gev']:.0f} MeV"
        if rec.get("cls_observed") is not None:
            obs = np.asarray(rec["cls_observed"], dtype=float).T
            ax.contourf(tt, bb, obs, levels=[0.0, alpha], colors=[color], alpha=0.35)
            ax.contour(tt, bb, obs, levels=[alpha], colors=[color], linewidths=2)
        exp = np.asarray(rec["cls_expected"]["0"], dtype=float).T
        ax.contour(tt, bb, exp, levels=[alpha], colors=[color], linestyles="--", linewidths=1.5)
        handles.append(plt.Line2D([], [], color=color, lw=2, label=label))
    handles.append(plt.Line2D([], [], color="k", ls="--", label="Expected"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\tau_a$ [s]")
    ax.set_ylabel(r"BR$(B\to K^{(*)}a)\times$BR$(a\to\ell^+\ell^-)$")
    ax.legend(handles=handles, loc="upper right", fontsize=11,
              title=f"{int(round(100 * (1 - alpha)))}% CL excluded (filled: observed)",
              title_fontsize=11)
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
