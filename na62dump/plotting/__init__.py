"""Publication-style figures with mplhep, from the saved artefacts of each stage.

Two modules: :mod:`na62dump.plotting.figures`, the figure functions (each takes
already-loaded results, dicts or ``hist.Hist``, and an optional axis, draws, and returns the
figure; :func:`save` writes it atomically as PNG and/or PDF with its provenance in the
metadata), and :mod:`na62dump.plotting.driver`, :func:`plot_all` (the ``na62dump plot``
command), which draws every figure whose inputs exist in a results directory as one figure
set and reports which it skipped and why. Both are re-exported here, so that notebooks keep
``from na62dump import plotting; plotting.plot_exclusion(...)``.

>>> from na62dump import plotting
>>> lim = plotting.example_limits()  # a synthetic CLs map, for documentation and tests
>>> fig = plotting.plot_exclusion(lim, title="e+e-")
>>> len(fig.axes)
1
"""

from na62dump.plotting.driver import (  # noqa: F401
    _figure_group,
    plot_all,
    plot_record,
    results_pot,
    summed_hist,
)
from na62dump.plotting.figures import *  # noqa: F403
