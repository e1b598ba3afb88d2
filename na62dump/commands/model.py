"""``na62dump model``: widths, lifetime, production and expected decays for one model point.

Four models (PBC benchmarks BC1, BC10/BC11-like model independent, BC11 and BC4)::

    na62dump model dark-photon --mass 0.3 --eps 1e-6
    na62dump model alp --mass 0.5 --ctau-m 10 --br-product 1e-8 --json
    na62dump model alp-gluon --mass 0.7 --cgg 1e-5
    na62dump model alp-fermion --mass 0.3 --cff 1e-6
    na62dump model dark-scalar --mass 0.5 --sin2theta 1e-8

``--json`` prints exactly one JSON object on stdout instead of the table. The expected number of
decays in the fiducial volume, ``n_decay_in_fv``, is

    N_POT x sum over production modes of (X per POT) x <P_decay in FV>,

with ``N_POT = geometry.N_POT`` (1.4e17), the decay probability averaged over a Monte Carlo
sample of the production spectrum (``--samples`` events per mode, seeded: the output is
deterministic), the production Z drawn from the primary-interaction depth in the TAX and the
fiducial volume ``geometry.FV_Z_START < Z < geometry.FV_Z_END`` (105-180 m, the mu+mu- box; the
e+e- cones lie inside it). No acceptance and, for the dark photon and the scalar, no branching
ratio is applied (decays to any final state); for the ALP ``--br-product`` includes BR(a -> f),
so ``n_decay_in_fv`` counts decays to f.

Bad values (a mass outside the model's range, a coupling <= 0, NaN, eps or sin^2 theta above 1,
a c_GG / Lambda whose mixing angle with a meson exceeds 1, a point where a derived quantity
leaves double precision) give a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re

import numpy as np

from na62dump import geometry
from na62dump.commands._args import int_at_least
from na62dump.errors import InputError
from na62dump.physics import (
    alp,
    alp_fermion,
    alp_gluon,
    brems,
    dark_photon,
    mesons,
    sampling,
    scalar,
)
from na62dump.physics import bmesons as bm

log = logging.getLogger(__name__)

#: argparse only treats "-1" and "-.5" as negative numbers, not "-1e-6"; with this pattern
#: ``--eps -1e-6`` reaches our range check (and its clear message) instead of failing as a
#: missing argument. (Sets argparse's documented-by-source ``_negative_number_matcher``.)
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|nan)$")

#: Fiducial volume used for ``n_decay_in_fv`` (m).
FV_Z_M = (geometry.FV_Z_START, geometry.FV_Z_END)
#: Default Monte Carlo events per production mode for the decay probability.
DEFAULT_SAMPLES = 200_000
DEFAULT_SEED = 20210


def _positive(value, what: str) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise InputError(f"{what}: must be a finite number > 0, got {value!r}")
    return v


def _coupling(value, what: str, upper: float | None = None) -> float:
    """A coupling: finite, > 0 and, if ``upper`` is given, at most ``upper``."""
    v = _positive(value, what)
    if upper is not None and v > upper:
        raise InputError(f"{what}: must be <= {upper:g}, got {value!r}")
    return v


def _non_finite(value, key: str = "") -> str | None:
    """The key of the first float in ``value`` (nested dicts/lists) that is not finite."""
    if isinstance(value, dict):
        for k, v in value.items():
            found = _non_finite(v, f"{key}[{k}]" if key else str(k))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _non_finite(v, f"{key}[{i}]")
            if found is not None:
                return found
    elif isinstance(value, float) and not math.isfinite(value):
        return key
    return None


def _check_finite(summary: dict, option: str) -> dict:
    """``summary`` if every number in it is finite, else an :class:`InputError`.

    A coupling inside its physical range can still be so small (or a lifetime so short) that
    a derived quantity leaves double precision: eps = 1e-300 gives a width of 1e-600 GeV,
    which is 0, and c tau = inf. Such a point is refused, naming the quantity, rather than
    printed as ``inf`` in the table and as the invalid JSON literal ``Infinity``.
    """
    bad = _non_finite(summary)
    if bad is not None:
        raise InputError(f"{option}: {bad} is outside the range of double precision "
                         "(over- or underflow); choose a coupling or lifetime nearer the "
                         "physical region")
    return summary


def _mode_decay_probability(sampler, mass, ctau_m, n, seed) -> float:
    """<P_decay in FV> over ``n`` draws of ``sampler(n, rng) -> (px, py, pz)``."""
    rng = np.random.default_rng(seed)
    _, _, pz = sampler(n, rng)
    _, _, z_prod = sampling.sample_production_point(n, rng)
    return sampling.mean_decay_probability(pz, z_prod, mass, ctau_m, FV_Z_M)


def _decays_in_fv(modes: dict, mass: float, ctau_m: float, n: int, seed: int) -> dict:
    """The summary's decay record: per-mode decay probabilities in the FV and the expected
    decays there for N_POT (per mode too when there are several modes).

    ``modes`` maps a mode name to (X per POT, sampler). Modes with zero production are skipped.
    """
    prob, n_dec = {}, {}
    for i, (name, (rate, sampler)) in enumerate(modes.items()):
        if rate <= 0.0:
            continue
        prob[name] = _mode_decay_probability(sampler, mass, ctau_m, n, seed + i)
        n_dec[name] = geometry.N_POT * rate * prob[name]
    out = {
        "decay_probability_fv": prob,
        "n_pot": geometry.N_POT,
        "fv_z_m": list(FV_Z_M),
        "n_decay_in_fv": sum(n_dec.values()),
    }
    if len(modes) > 1:
        out["n_decay_in_fv_by_mode"] = n_dec
    out["mc_samples_per_mode"] = int(n)
    return out


def _floats(d: dict) -> dict:
    return {k: float(v) for k, v in d.items()}


def dark_photon_summary(mass, eps, n_samples=DEFAULT_SAMPLES, seed=DEFAULT_SEED,
                        form_factor: str = brems.DEFAULT_FORM_FACTOR) -> dict:
    """Everything ``na62dump model dark-photon`` prints, as a JSON-ready dict.

    Production modes: proton bremsstrahlung (:mod:`~na62dump.physics.brems`, with the proton
    form factor ``form_factor``: ``"none"``, the published treatment, or ``"vmd"``) and the
    meson decays of :mod:`~na62dump.physics.mesons`; keys ``brems``, ``meson`` (their sum) and
    one per meson in ``production_per_pot``.
    """
    eps = _coupling(eps, "eps", upper=1.0)  # a mixing of the photon: |eps| <= 1
    mass = float(mass)
    br = _floats(dark_photon.branching_ratios(mass))  # checks the mass range
    width = float(dark_photon.total_width(mass, eps))
    ctau = float(dark_photon.ctau_m(mass, eps))
    modes = {"brems": (brems.rate_per_pot(mass, eps, form_factor=form_factor),
                       lambda n, r: brems.sample(mass, n, r))}
    for name in mesons.MESONS:
        rate = float(mesons.rate_per_pot(mass, name, eps))
        modes[name] = (rate, lambda n, r, name=name: mesons.sample(mass, name, n, r))
    per_meson = {name: modes[name][0] for name in mesons.MESONS}
    return _check_finite({
        "model": "dark_photon",
        "mass_gev": mass,
        "eps": eps,
        "brems_form_factor": form_factor,
        "width_gev": width,
        "ctau_m": ctau,
        "lifetime_s": float(dark_photon.lifetime_s(mass, eps)),
        "br": br,
        "production_per_pot": {"brems": modes["brems"][0], "meson": sum(per_meson.values()),
                               **per_meson},
        **_decays_in_fv(modes, mass, ctau, n_samples, seed),
    }, f"--eps {eps:g}")


def alp_summary(mass, ctau_m=None, lifetime_s=None, br_product=1.0, n_samples=DEFAULT_SAMPLES,
                seed=DEFAULT_SEED) -> dict:
    """Everything ``na62dump model alp`` prints (give exactly one of ``ctau_m``, ``lifetime_s``)."""
    if (ctau_m is None) == (lifetime_s is None):
        raise InputError("alp: give exactly one of ctau_m and lifetime_s")
    option = f"--ctau-m {ctau_m}" if ctau_m is not None else f"--lifetime-s {lifetime_s}"
    if ctau_m is None:
        lifetime_s = _positive(lifetime_s, "lifetime-s")
        ctau_m = float(alp.ctau_from_lifetime(lifetime_s))
    else:
        ctau_m = _positive(ctau_m, "ctau-m")
        lifetime_s = float(alp.lifetime_from_ctau(ctau_m))
    if not 0.0 <= br_product <= 1.0:  # a product of branching ratios; NaN fails too
        raise InputError(f"br-product: must be within [0, 1], got {br_product!r}")
    states = alp.allowed_final_states(mass)  # checks the mass range
    mass = float(mass)
    produced = float(alp.n_produced_per_pot(br_product))
    modes = {"b_to_kx": (produced, lambda n, r: alp.sample(mass, n, r))}
    return _check_finite({
        "model": "alp",
        "mass_gev": mass,
        "ctau_m": ctau_m,
        "lifetime_s": lifetime_s,
        "br_product": float(br_product),
        "b_per_pot": bm.B_PER_POT,
        "allowed_final_states": list(states),
        "production_per_pot": {"b_to_kx": produced},
        **_decays_in_fv(modes, mass, ctau_m, n_samples, seed),
    }, option)


def alp_gluon_summary(mass, cgg, n_samples=DEFAULT_SAMPLES, seed=DEFAULT_SEED) -> dict:
    """Everything ``na62dump model alp-gluon`` prints (``cgg``: c_GG / Lambda in GeV^-1, BC11).

    Production by mixing with pi0, eta and eta' (:mod:`~na62dump.physics.alp_gluon`), one
    mode per meson in ``production_per_pot``, and in B -> K_X a (``b_to_kx``); no branching
    ratio is applied to ``n_decay_in_fv`` (decays to any final state, as for the dark photon
    and the scalar).
    """
    cgg = _positive(cgg, "cgg")
    br = _floats(alp_gluon.branching_ratios(mass))  # checks the mass range
    mass = float(mass)
    mixing = {name: float(alp_gluon.mixing_angle(mass, name, cgg))
              for name in alp_gluon.MIXING_MESONS}
    # the ALP takes a fraction theta_aP^2 of every meson P: a fraction, so at most 1 (and the
    # first-order mixing of alp_gluon holds only well below that)
    too_large = {name: t for name, t in mixing.items() if not t * t <= 1.0}
    if too_large:
        name, t = next(iter(too_large.items()))
        raise InputError(f"cgg: {cgg:g} GeV^-1 gives a mixing angle theta_a{name} = {t:.3g} "
                         "at this mass, |theta| > 1: outside the model (a fraction theta^2 of "
                         "each meson becomes an ALP)")
    ctau = float(alp_gluon.ctau_m(mass, cgg))
    modes = {}
    for name in alp_gluon.MIXING_MESONS:
        modes[name] = (float(alp_gluon.rate_per_pot(mass, name, cgg)),
                       lambda n, r, name=name: alp_gluon.sample(mass, n, r, meson=name))
    per_meson = {name: modes[name][0] for name in alp_gluon.MIXING_MESONS}
    # and in B -> K_X a (the kinematics of the model-independent ALP's samples); the limits
    # leave it out (alp_gluon.b_production_check: < 1e-8 of the mixing)
    b_rate = float(alp_gluon.b_production_per_pot(mass, cgg))
    modes["b_to_kx"] = (b_rate, lambda n, r: alp.sample(mass, n, r))
    return _check_finite({
        "model": "alp_gluon",
        "mass_gev": mass,
        "cgg_inv_gev": cgg,
        "width_gev": float(alp_gluon.total_width(mass, cgg)),
        "ctau_m": ctau,
        "lifetime_s": float(alp_gluon.lifetime_s(mass, cgg)),
        "br": br,
        "mixing_angle": mixing,
        "production_per_pot": {"mixing": sum(per_meson.values()), **per_meson,
                               "b_to_kx": b_rate},
        **_decays_in_fv(modes, mass, ctau, n_samples, seed),
    }, f"--cgg {cgg:g}")


def _b_decay_summary(model: str, physics, mass, coupling_key: str, coupling: float, *,
                     br_b_to_x, families, decay: str, outside: str, sample, option: str,
                     n_samples: int, seed: int, unit: str = "",
                     extra: dict | None = None) -> dict:
    """The summary of a model produced in B -> K_X X only (BC10, the dark scalar): ``physics``
    is its module (``branching_ratios``, ``total_width``, ``ctau_m``, ``lifetime_s``,
    ``n_produced_per_pot`` and ``br_b_to_kx`` per kaon family of ``families``, each of
    (mass, coupling)); ``br_b_to_x`` its BR(B -> K_X X) summed over the families, which must
    not pass 1 (``decay``, ``outside`` and the coupling's ``unit`` word the error);
    ``sample(mass, n, rng)`` the kinematics of X; ``extra``: entries after the coupling. No
    branching ratio is applied to ``n_decay_in_fv``.
    """
    br = _floats(physics.branching_ratios(mass))  # checks the mass range
    mass = float(mass)
    br_b = float(br_b_to_x(mass, coupling))
    if not br_b <= 1.0:  # grows as the coupling squared
        raise InputError(f"{option.removeprefix('--')}: {coupling:g}{unit} gives BR({decay}) = "
                         f"{br_b:.3g} > 1 at this mass: outside {outside}")
    ctau = float(physics.ctau_m(mass, coupling))
    produced = float(physics.n_produced_per_pot(mass, coupling))
    modes = {"b_to_kx": (produced, lambda n, r: sample(mass, n, r))}
    return _check_finite({
        "model": model,
        "mass_gev": mass,
        coupling_key: coupling,
        **(extra or {}),
        "width_gev": float(physics.total_width(mass, coupling)),
        "ctau_m": ctau,
        "lifetime_s": float(physics.lifetime_s(mass, coupling)),
        "br": br,
        "br_b_to_kx": br_b,
        "br_b_to_kx_by_kaon": {f: float(physics.br_b_to_kx(mass, coupling, f))
                               for f in families},
        "b_per_pot": bm.B_PER_POT,
        "production_per_pot": {"b_to_kx": produced},
        **_decays_in_fv(modes, mass, ctau, n_samples, seed),
    }, f"{option} {coupling:g}")


def alp_fermion_summary(mass, cff, n_samples=DEFAULT_SAMPLES, seed=DEFAULT_SEED) -> dict:
    """Everything ``na62dump model alp-fermion`` prints (``cff``: c_ff / Lambda in GeV^-1, BC10).

    Production in B -> K_X a (the nine kaon families) through the loop-induced b -> s coupling
    (:mod:`~na62dump.physics.alp_fermion`), one mode ``b_to_kx`` (the kinematics of the
    model-independent ALP, ``physics.alp.sample``); no branching ratio is applied to
    ``n_decay_in_fv``.
    """
    cff = _positive(cff, "cff")
    return _b_decay_summary(
        "alp_fermion", alp_fermion, mass, "cff_inv_gev", cff,
        br_b_to_x=alp_fermion.br_b_to_ka, families=alp_fermion.PRODUCTION_FAMILIES,
        decay="B -> K_X a", outside="the model", sample=alp.sample, option="--cff",
        n_samples=n_samples, seed=seed, unit=" GeV^-1",
        extra={"g_bs_inv_gev": float(alp_fermion.g_bs(cff))})


def dark_scalar_summary(mass, sin2theta, n_samples=DEFAULT_SAMPLES, seed=DEFAULT_SEED) -> dict:
    """Everything ``na62dump model dark-scalar`` prints (``sin2theta``: sin^2 theta, PBC)."""
    sin2theta = _coupling(sin2theta, "sin2theta", upper=1.0)  # a sine squared
    return _b_decay_summary(
        "dark_scalar", scalar, mass, "sin2theta", sin2theta,
        br_b_to_x=scalar.br_b_to_sx, families=scalar.KAON_FAMILIES,
        decay="B -> K(*) S", outside="the small-mixing model", sample=scalar.sample,
        option="--sin2theta", n_samples=n_samples, seed=seed)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``model`` (``dark-photon``, ``alp``, ``alp-gluon``, ``alp-fermion``, ``dark-scalar``)
    to the subcommands.
    """
    p = subparsers.add_parser(
        "model", help="widths, lifetime, production and decays in the FV for one model point",
        description=__doc__.splitlines()[0],
    )
    sub = p.add_subparsers(dest="model", required=True, metavar="MODEL")

    def common(sp):
        sp._negative_number_matcher = _NEGATIVE_NUMBER
        sp.add_argument("--mass", type=float, required=True, metavar="GEV", help="mass (GeV)")
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        sp.add_argument("--samples", type=int_at_least(1000), default=DEFAULT_SAMPLES,
                        metavar="N",
                        help="MC events per production mode for <P_decay> (default: %(default)s)")
        sp.add_argument("--seed", type=int_at_least(0), default=DEFAULT_SEED, metavar="N",
                        help="seed of that sample (default: %(default)s)")

    dp = sub.add_parser("dark-photon", help="minimal dark photon (BC1)")
    common(dp)
    dp.add_argument("--eps", type=float, required=True,
                    help="kinetic mixing epsilon (0 < eps <= 1)")
    dp.add_argument("--form-factor", choices=brems.FORM_FACTORS,
                    default=brems.DEFAULT_FORM_FACTOR,
                    help="proton form factor of the bremsstrahlung rate: none (the published "
                         "treatment) or vmd (default: %(default)s)")
    dp.set_defaults(func=_main_dark_photon)

    ap = sub.add_parser("alp", help="ALP from B -> K(*) a, model independent")
    common(ap)
    life = ap.add_mutually_exclusive_group(required=True)
    life.add_argument("--ctau-m", type=float, metavar="M", help="proper decay length (m)")
    life.add_argument("--lifetime-s", type=float, metavar="S", help="proper lifetime (s)")
    ap.add_argument("--br-product", type=float, default=1.0, metavar="X",
                    help="BR(B -> K(*) a) x BR(a -> f) (default: %(default)s)")
    ap.set_defaults(func=_main_alp)

    gp = sub.add_parser("alp-gluon", help="ALP coupled to gluons (BC11), production by mixing")
    common(gp)
    gp.add_argument("--cgg", type=float, required=True, metavar="INV_GEV",
                    help="c_GG / Lambda in GeV^-1 (Aloni, Soreq & Williams normalisation; > 0)")
    gp.set_defaults(func=_main_alp_gluon)

    fp = sub.add_parser("alp-fermion", help="ALP coupled to fermions (BC10), from B -> K_X a")
    common(fp)
    fp.add_argument("--cff", type=float, required=True, metavar="INV_GEV",
                    help="c_ff / Lambda in GeV^-1 (PBC BC10 normalisation; > 0)")
    fp.set_defaults(func=_main_alp_fermion)

    sp = sub.add_parser("dark-scalar", help="dark scalar mixing with the Higgs (BC4)")
    common(sp)
    sp.add_argument("--sin2theta", type=float, required=True, metavar="X",
                    help="sin^2 of the Higgs mixing angle (PBC convention; 0 < X <= 1)")
    sp.set_defaults(func=_main_dark_scalar)
    return p


def _emit(summary: dict, args) -> int:
    if args.json:
        print(json.dumps(summary, allow_nan=False))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title=f"{summary['model']} at M = {summary['mass_gev']:g} GeV")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key == "model":
            continue
        if isinstance(value, dict):
            for sub, v in value.items():
                if v != 0.0:  # closed channels and modes are left out of the table
                    table.add_row(escape(f"{key}[{sub}]"), f"{v:.4g}")
        elif isinstance(value, list):
            table.add_row(key, ", ".join(f"{v:g}" if isinstance(v, float) else str(v)
                                         for v in value))
        elif isinstance(value, float):
            table.add_row(key, f"{value:.4g}")
        else:
            table.add_row(key, str(value))
    console.print(table)
    return 0


def _computed(summary, *args) -> dict:
    """``summary(*args)`` with numpy's over/underflow warnings silenced: a quantity that left
    double precision is refused by :func:`_check_finite` in one line, after which the warnings
    would only be noise on stderr."""
    with np.errstate(all="ignore"):
        return summary(*args)


def _main_dark_photon(args) -> int:
    return _emit(_computed(dark_photon_summary, args.mass, args.eps, args.samples, args.seed,
                           args.form_factor), args)


def _main_alp(args) -> int:
    return _emit(_computed(alp_summary, args.mass, args.ctau_m, args.lifetime_s,
                           args.br_product, args.samples, args.seed), args)


def _main_alp_gluon(args) -> int:
    return _emit(_computed(alp_gluon_summary, args.mass, args.cgg, args.samples, args.seed),
                 args)


def _main_alp_fermion(args) -> int:
    return _emit(_computed(alp_fermion_summary, args.mass, args.cff, args.samples, args.seed),
                 args)


def _main_dark_scalar(args) -> int:
    return _emit(_computed(dark_scalar_summary, args.mass, args.sin2theta, args.samples,
                           args.seed), args)
