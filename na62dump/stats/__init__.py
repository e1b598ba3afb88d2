"""Statistics: pyhf workspaces, CLs limits, expected bands, contours, combination.

Modules (each documents its API):

- :mod:`~na62dump.stats.workspace`: ``build_channel_workspace``, ``combine_workspaces``
  (N_POT enters once), ``make_model`` (log-normal ``code1`` interpolation), ``save_workspace``;
- :mod:`~na62dump.stats.patchset`: background-only workspaces and pyhf PatchSets (the HEPData
  convention; ``build_patchset``, ``apply_patch``, ``validate_patchset``, ``write_patchset``);
- :mod:`~na62dump.stats.toys`: the published pseudo-experiment treatment, vectorised
  (``FastModel``, ``PublishedToys``, ``published_cls``), pyhf's toys (``pyhf_toy_hypotest``)
  and the numpy >= 2.4 guard (``check_pyhf_toy_bands``);
- :mod:`~na62dump.stats.scan`: fast (M, eps) and ALP scans (``scan_dark_photon``,
  ``scan_alp``, ``scan_yields`` -> ``ScanResult``);
- :mod:`~na62dump.stats.contours`: iso-CLs polylines (``contours``);
- :mod:`~na62dump.stats.counting`: the independent one-bin calculation and
  ``counting_upper_limit``;
- :mod:`~na62dump.stats.synthetic`: synthetic physical yields for tests and benchmarks;
- :mod:`~na62dump.stats.published`: NA62's published observations and SR backgrounds (data,
  cited), for ``na62dump limits --observed published``.
"""

from na62dump.stats.contours import contours
from na62dump.stats.counting import counting_cls, counting_upper_limit
from na62dump.stats.scan import ScanResult, scan_alp, scan_dark_photon, scan_yields
from na62dump.stats.workspace import (
    build_channel_workspace,
    combine_workspaces,
    make_model,
    save_workspace,
)

__all__ = [
    "ScanResult",
    "build_channel_workspace",
    "combine_workspaces",
    "contours",
    "counting_cls",
    "counting_upper_limit",
    "make_model",
    "save_workspace",
    "scan_alp",
    "scan_dark_photon",
    "scan_yields",
]
