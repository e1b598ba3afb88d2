"""NA62's published observations and background models of the 2021 beam-dump searches (data).

What ``na62dump limits --observed published`` puts into the likelihood instead of the
pseudo-data, so that a reader can set our signal model against the paper's observation: the
candidates observed after unblinding and the published signal-region (SR) background
expectations. Sources (numbers as quoted in ``ANALYSIS.md``, "Backgrounds" and "Statistics"):

- NA62, arXiv 2312.12055 (PRL 133 (2024) 111802), the 2021 beam-dump searches for
  decays to e+e- and mu+mu-: e+e- 0 events in the control (CR) and signal regions; mu+mu- 0 in
  the CR and one SR event (m = 411 MeV, properties below, 2.4 sigma as a counting
  experiment); SR backgrounds e+e- N_bkg = 9.4e-3 (+20.6e-3 -7.2e-3), modelled log-normal
  with median 0.0094 and k = 4.0, Landau mass pdf (location 14.86 MeV, scale 3.48 MeV);
  mu+mu- 0.016 +- 0.002 (combinatorial), log-normal median 0.016 and k = 1.125, degree-5
  Bernstein mass pdf (our smooth falling stand-in, :data:`na62dump.stats.workspace.CHANNELS`).
- NA62's hadronic beam-dump talk (2021 data): 0 events in every hadronic final state, CR and
  SR; SR expectations: pi+pi- upstream 0.007 +- 0.005 plus prompt 5.5e-5, pi+pi-gamma
  upstream 0.007 +- 0.004; the other states only prompt backgrounds, 5.5e-5 (pi pi) down to
  1.5e-9 (K K pi0), whose per-state values ANALYSIS.md does not give: we take the upper end,
  5.5e-5, with the statistics' default k = 2.0. With 0 observed events the limit does not
  depend on the background at all (:mod:`na62dump.stats.toys`, "The empty data set"), so
  this choice does not move the hadronic limits.

Log-normal shape parameters from a quoted ``median +- sigma`` are ``k = 1 + sigma / median``
(the convention of :func:`na62dump.stats.workspace.build_channel_workspace` for relative
uncertainties). The mass pdfs are the channels' defaults (:data:`~na62dump.stats.workspace.
CHANNELS`). Only the candidate masses enter the likelihood (binned in mass); the other
properties of the mu+mu- event are recorded for the reader.

API: :data:`OBSERVED_SOURCE`; :func:`sr_masses` ``(state) -> list`` of SR candidate masses
(GeV); :func:`background` ``(state) -> {"median", "k", "source"}``; :data:`OBSERVATIONS`.

>>> sr_masses("mumu"), sr_masses("ee"), sr_masses("pipigamma")
([0.411], [], [])
>>> background("ee")["median"], background("mumu")["k"]
(0.0094, 1.125)
"""

from __future__ import annotations

from na62dump.errors import InputError

__all__ = ["BACKGROUNDS", "OBSERVATIONS", "OBSERVED_SOURCE", "background", "sr_masses"]

#: What the limit files and the printed reports say about the observations used.
OBSERVED_SOURCE = "published (arXiv 2312.12055)"
_LEPTONIC = "NA62, arXiv 2312.12055 (PRL 133 (2024) 111802)"
_HADRONIC = "NA62 hadronic beam-dump search (2021 data), conference talk"
_HADRONIC_STATES = ("pipi", "pipigamma", "pipipi0", "pipipi0pi0", "pipieta", "kk", "kkpi0")

#: Observed events after unblinding, per final state: counts in CR and SR, SR candidates.
OBSERVATIONS: dict[str, dict] = {
    "ee": {"CR": 0, "SR": 0, "sr_events": [], "source": _LEPTONIC},
    "mumu": {"CR": 0, "SR": 1, "source": _LEPTONIC, "sr_events": [{
        "mass_gev": 0.411, "track_time_difference_ns": -1.69,
        "p_mu_plus_gev": 99.5, "p_mu_minus_gev": 39.6, "e_over_p": [0.008, 0.018],
        "vertex_z_m": 157.8, "z_tax_m": 38.2, "cda_tax_m": 0.017,
        "significance_counting_sigma": 2.4,
    }]},
    **{s: {"CR": 0, "SR": 0, "sr_events": [], "source": _HADRONIC} for s in _HADRONIC_STATES},
}

#: Published SR background expectations (log-normal median and k), per final state.
BACKGROUNDS: dict[str, dict] = {
    "ee": {"median": 0.0094, "k": 4.0, "source": f"{_LEPTONIC}: 9.4e-3 (+20.6e-3 -7.2e-3)"},
    "mumu": {"median": 0.016, "k": 1.125, "source": f"{_LEPTONIC}: 0.016 +- 0.002"},
    "pipi": {"median": 0.007 + 5.5e-5, "k": 1.0 + 0.005 / 0.007,
             "source": f"{_HADRONIC}: upstream 0.007 +- 0.005, prompt 5.5e-5"},
    "pipigamma": {"median": 0.007, "k": 1.0 + 0.004 / 0.007,
                  "source": f"{_HADRONIC}: upstream 0.007 +- 0.004"},
    **{s: {"median": 5.5e-5, "k": 2.0,
           "source": f"{_HADRONIC}: prompt, at most 5.5e-5 (upper end of the published "
                     "range; k 2.0 our choice)"}
       for s in _HADRONIC_STATES if s not in ("pipi", "pipigamma")},
}


def _entry(table: dict, state: str, what: str) -> dict:
    try:
        return table[state]
    except KeyError:
        raise InputError(f"no published {what} for final state {state!r}; known: "
                         f"{sorted(table)}") from None


def sr_masses(state: str) -> list[float]:
    """Masses (GeV) of the SR candidates NA62 observed in ``state``."""
    return [float(e["mass_gev"]) for e in _entry(OBSERVATIONS, state, "observation")
            ["sr_events"]]


def background(state: str) -> dict:
    """``{"median", "k", "source"}`` of the published SR background of ``state``."""
    return dict(_entry(BACKGROUNDS, state, "background"))
