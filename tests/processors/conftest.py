import pytest
from coffea.nanoevents import NanoEventsFactory

from na62dump.schema import NA62Schema


@pytest.fixture
def run_processor():
    """Run a processor on one file like the Runner does (virtual NanoEvents), postprocessed."""

    def run(proc, path, dataset="d", **metadata):
        events = NanoEventsFactory.from_root(
            {str(path): "events"},
            schemaclass=NA62Schema,
            mode="virtual",
            metadata={"dataset": dataset, "filename": str(path), **metadata},
        ).events()
        return proc.postprocess(proc.process(events))[dataset]

    return run
