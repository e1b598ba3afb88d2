"""Defaults shared by the library and the command line, in a module that is cheap to import.

The command line builds its parsers from these without importing coffea, scipy or matplotlib
(every ``na62dump`` call would otherwise pay seconds of imports before parsing its arguments).
:mod:`na62dump.runner` and :mod:`na62dump.backgrounds` re-export them.
"""

#: Executors :func:`na62dump.runner.run` knows, in order of increasing machinery.
EXECUTORS = ("iterative", "futures", "dask")
#: Default executor of ``na62dump run``.
DEFAULT_EXECUTOR = "futures"
#: Default number of worker processes (futures pool or local dask cluster).
DEFAULT_WORKERS = 2
#: Target number of events per chunk (coffea treats it as a target, not a limit). Large
#: enough that the per-chunk overhead (opening the file, building NanoEvents, filling the
#: histograms once) is small next to the columnar work, small enough to spread a file
#: over several workers.
DEFAULT_CHUNKSIZE = 200_000
#: Seconds ``na62dump run --scheduler ADDRESS`` waits for a dask scheduler to answer: TCP
#: connection, dask handshake and the scheduler's identity reply together
#: (``--scheduler-timeout`` overrides it). A scheduler on a reachable network answers in
#: milliseconds; 10 s leaves room for a slow VPN or a busy scheduler while a wrong port (a
#: dashboard, a silent firewall) is reported before the user wonders whether it hangs.
DEFAULT_SCHEDULER_TIMEOUT = 10.0

#: Default number of pseudo-experiments of ``na62dump background``.
DEFAULT_PSEUDO_EXPERIMENTS = 1_000_000

#: Proton form-factor treatments of the dark-photon bremsstrahlung rate
#: (:mod:`na62dump.physics.brems`, "Form factor"): ``none`` is the published NA62 treatment.
BREMS_FORM_FACTORS = ("none", "vmd")
DEFAULT_BREMS_FORM_FACTOR = "none"
