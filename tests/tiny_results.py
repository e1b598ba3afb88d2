"""One ``na62dump all --preset tiny`` per test session, shared by the tests that need results.

Not a conftest fixture on purpose: :func:`tiny_results_dir` keys the run on pytest's session
base temporary directory, so ``tests/test_all.py`` and ``tests/test_notebooks.py`` share one
run however they are selected, and a test that only needs the results stays independent.
"""

from __future__ import annotations

import time
from pathlib import Path

from na62dump import cli

RUN_NAME = "tiny_all"


def tiny_results_dir(tmp_path_factory, data: Path) -> tuple[Path, Path, float]:
    """``(results, data, seconds)`` of ``na62dump all --preset tiny`` (run at most once).

    ``data`` is the directory of the simulated tiny campaign (the session fixture
    ``tiny_campaign``'s ``data_dir``): ``all`` finds its files up to date and keeps them.
    """
    base = tmp_path_factory.getbasetemp()
    out = base / RUN_NAME / "results"
    stamp = base / RUN_NAME / "seconds"
    if not stamp.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        tic = time.perf_counter()
        status = cli.main(["all", "--preset", "tiny", "--out", str(out), "--data-dir", str(data),
                           "--executor", "iterative", "--format", "png"])
        assert status == 0
        stamp.write_text(f"{time.perf_counter() - tic:.3f}")
    return out, data, float(stamp.read_text())
