"""The notebooks under ``notebooks/`` and ``plots/`` execute against the tiny campaign's
results.

They run in a real Jupyter kernel (nbclient, kernel ``python3``): the kernelspec must resolve
to the interpreter running the tests (the project's venv), which the first cell checks. They
need the ``notebooks`` extra (``pip install -e '.[notebooks]'``, which ``make test`` installs);
without it these tests are skipped, with that reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebooks extra is not installed")
pytest.importorskip("nbclient", reason="the notebooks extra is not installed")
pytest.importorskip("ipykernel", reason="the notebooks extra is not installed")

from tests.tiny_results import tiny_results_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "plots").glob("*.ipynb")])


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_campaign):
    return tiny_results_dir(tmp_path_factory, tiny_campaign.data_dir)[0]


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """``python3``, installed into a temporary prefix if this environment has no kernelspec."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        from ipykernel.kernelspec import install

        prefix = tmp_path_factory.mktemp("kernels")
        install(prefix=str(prefix), kernel_name="python3")
        mp = pytest.MonkeyPatch()
        mp.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        yield "python3"
        mp.undo()
        return
    yield "python3"


def test_notebooks_are_stored_without_outputs():
    assert {p.name for p in NOTEBOOKS} >= {"exclusion.ipynb", "control_regions.ipynb",
                                           "channel_overlays.ipynb", "yield_explorer.ipynb",
                                           "cut_variation.ipynb"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, results, kernel_name, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("NA62DUMP_RESULTS", str(results))
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    NotebookClient(nb, timeout=600, kernel_name=kernel_name,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) >= 2, f"{path.name}: no figures displayed"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
