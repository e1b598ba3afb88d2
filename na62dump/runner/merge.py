"""The deterministic merge of chunk outputs, and bad input met by a work item.

Every executor gives the same result to the last bit: each chunk's output is keyed by
``(dataset, file, entrystart)`` on the worker and the outputs are merged in that sorted order
at the end (:class:`OrderedMerge`, :class:`ChunkSum`, the order from :func:`chunk_order`), so
neither completion order nor the executor's reduction tree changes a floating-point sum.

A work item that meets bad input (a file rewritten since the input checks, a corrupt basket,
a processor's own :class:`~na62dump.errors.InputError`) returns it as data, a one-line message
carried in the :class:`ChunkSum` (:class:`_Runner`), and the merge raises the first of them as
an :class:`~na62dump.errors.InputError` once every chunk is back: no traceback from a worker,
the same message with every executor.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import uproot
from coffea import processor

from na62dump.errors import InputError

# --------------------------------------------------------------------------------------------
# Deterministic merge
# --------------------------------------------------------------------------------------------


ChunkKey = tuple[str, int]  #: (file name, first entry) of a chunk within its dataset


class ChunkSum:
    """Per dataset, the sum of chunk outputs taken in a fixed chunk order.

    coffea's executors merge chunk outputs in the order they complete (futures) or along a
    reduction tree (dask), and floating-point sums depend on that order in the last bits. A
    ``ChunkSum`` knows each dataset's chunk order (``order``); it keeps the running sum of the
    chunks from the first one on (``sums``, ``done`` of them) and holds the chunks that came
    early (``pending``) until their predecessors arrive. The sum of a dataset is therefore
    always ``((c0 + c1) + c2) + ...``, whatever the executor, and only out-of-order chunks are
    held in memory. coffea merges these objects with ``+`` and ``+=`` like any accumulator.

    A chunk that met bad input (:class:`_Runner`) brings no output but an entry of
    ``failures``, ``{(dataset, (file, entrystart)): one-line message}``, carried along to the
    end of the run like the outputs.
    """

    __slots__ = ("done", "failures", "order", "pending", "sums")

    def __init__(self, order, pending=None, failures=None):
        self.order: dict[str, tuple[ChunkKey, ...]] = dict(order)
        self.pending: dict[tuple[str, ChunkKey], Any] = dict(pending or {})
        self.failures: dict[tuple[str, ChunkKey], str] = dict(failures or {})
        self.sums: dict[str, Any] = {}
        self.done: dict[str, int] = {}
        self._flush()

    def _flush(self) -> None:
        for dataset in sorted({d for d, _ in self.pending}):
            keys = self.order[dataset]
            i = self.done.get(dataset, 0)
            while i < len(keys) and (dataset, keys[i]) in self.pending:
                out = self.pending.pop((dataset, keys[i]))
                self.sums[dataset] = (
                    out if i == 0 else processor.accumulate([out], self.sums[dataset])
                )
                i += 1
            self.done[dataset] = i

    def __iadd__(self, other: ChunkSum) -> ChunkSum:
        for dataset, keys in other.order.items():
            if self.order.setdefault(dataset, keys) != keys:
                raise ValueError(f"dataset {dataset!r}: chunk orders differ between outputs")
        for dataset, total in other.sums.items():
            # only the object holding a dataset's first chunk has a running sum for it
            if dataset in self.sums:
                raise ValueError(f"dataset {dataset!r}: its first chunk was processed twice")
            self.sums[dataset] = total
            self.done[dataset] = other.done[dataset]
        overlap = self.pending.keys() & other.pending.keys()
        if overlap:
            raise ValueError(f"chunks processed twice: {sorted(overlap)[:3]}")
        self.pending.update(other.pending)
        self.failures.update(other.failures)
        self._flush()
        return self

    def __add__(self, other: ChunkSum) -> ChunkSum:
        import copy

        return copy.deepcopy(self).__iadd__(copy.deepcopy(other))

    def result(self) -> dict[str, Any]:
        """``{dataset: sum}``, sorted by dataset, once every chunk has arrived."""
        incomplete = {
            d: f"{self.done.get(d, 0)} of {len(keys)} chunks"
            for d, keys in self.order.items()
            if self.done.get(d, 0) != len(keys)
        }
        if incomplete or self.pending:
            raise RuntimeError(f"chunk outputs missing at the end of the run: {incomplete}")
        return {d: self.sums[d] for d in sorted(self.sums)}


class OrderedMerge(processor.ProcessorABC):
    """Wrap a processor so that its chunk outputs are merged in a fixed order.

    Every chunk's output becomes a :class:`ChunkSum` keyed by ``(dataset, filename,
    entrystart)``; :meth:`postprocess` returns ``{dataset: output}`` (summed in the order of
    ``order``) after the wrapped processor's own ``postprocess``. The result is the same to
    the last bit with every executor.

    Parameters
    ----------
    inner : coffea.processor.ProcessorABC
        The channel processor. Its ``process`` returns the per-dataset output either bare or
        wrapped as ``{dataset: output}`` (both are understood).
    order : dict
        ``{dataset: ((filename, entrystart), ...)}``: every chunk of the run, in the order
        their outputs are added (:func:`chunk_order`).
    """

    def __init__(self, inner: processor.ProcessorABC, order: Mapping[str, tuple[ChunkKey, ...]]):
        self.inner = inner
        self.order = dict(order)

    def process(self, events):
        meta = events.metadata
        out = self.inner.process(events)
        dataset = meta["dataset"]
        if isinstance(out, Mapping) and len(out) == 1 and dataset in out:
            out = out[dataset]
        key = (meta["filename"], int(meta["entrystart"]))
        return ChunkSum({dataset: self.order[dataset]}, {(dataset, key): out})

    def postprocess(self, accumulator):
        if accumulator.failures:
            raise InputError(_failure_message(accumulator.failures))
        merged = accumulator.result()
        if sorted(merged) != sorted(self.order):
            raise RuntimeError(
                f"outputs of datasets {sorted(set(self.order) - set(merged))} never arrived"
            )
        post = getattr(self.inner, "postprocess", None)
        if callable(post):
            result = post(merged)
            if result is not None:
                merged = result
        return merged


def _failure_message(failures: Mapping[tuple[str, ChunkKey], str]) -> str:
    """One line from the failed chunks of a run: the first one's message (in chunk order),
    and how many other chunks failed, in which files."""
    keys = sorted(failures)
    message = failures[keys[0]]
    if len(keys) > 1:
        files = sorted({file for _, (file, _) in keys[1:]})
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        message += f" (and {len(keys) - 1} more chunk(s) failed, in {shown})"
    return message


#: Exceptions of a work item that mean bad input rather than a bug: the processors' own
#: checks (a NaN, a missing branch: :class:`InputError`) and uproot failing to read a file
#: that passed the input checks (rewritten since, a corrupt basket).
_INPUT_EXCEPTIONS = (InputError, OSError, uproot.deserialization.DeserializationError)


def _input_exception(err: BaseException) -> BaseException | None:
    """The first exception of ``err``'s chain (``err``, its cause, ...) that is bad input."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, _INPUT_EXCEPTIONS):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


class _Runner(processor.Runner):
    """coffea's ``Runner`` whose work items return bad input as data instead of raising it.

    coffea re-raises an exception of a work item wrapped in a bare ``Exception`` (its message
    a ``repr`` of the original); the futures executor also prints its traceback wherever it is
    caught, and an exception crossing a process boundary loses its chain. So the exception is
    looked at where it happened, in the worker: if it is bad input (:data:`_INPUT_EXCEPTIONS`)
    the work item returns, instead of an output, a :class:`ChunkSum` holding its one-line
    message (the processors' messages name the file; uproot's get the file and entry range
    put in front), and :meth:`OrderedMerge.postprocess` raises the first of them as an
    :class:`InputError` once all chunks are back. Every executor behaves the same. Any other
    exception is a bug and is raised as coffea raises it.
    """

    @staticmethod
    def _work_function(*args, **kwargs):
        try:
            return processor.Runner._work_function(*args, **kwargs)
        except Exception as err:
            bad = _input_exception(err)
            if bad is None:
                raise
            call = _WORK_SIGNATURE.bind(*args, **kwargs).arguments
            item = call["item"]
            if call["processor_instance"] == "heavy":  # dask: (item, processor)
                item = item[0]
            if isinstance(bad, InputError):
                message = str(bad)
            else:
                detail = " ".join(str(bad).split())
                message = (
                    f"{item.filename} (entries {item.entrystart}-{item.entrystop}): cannot be "
                    f"read ({type(bad).__name__}: {detail})"
                )
            key = (item.dataset, (item.filename, int(item.entrystart)))
            failed = ChunkSum({}, failures={key: message})
            out = {"out": failed, "processed": {item}}
            if call["savemetrics"]:
                out["metrics"] = {}
            return out


#: The arguments of coffea's work function (to find the work item among them).
_WORK_SIGNATURE = inspect.signature(processor.Runner._work_function)


def chunk_order(chunks) -> dict[str, tuple[ChunkKey, ...]]:
    """``{dataset: ((filename, entrystart), ...)}`` of coffea work items, sorted."""
    order: dict[str, list[ChunkKey]] = {}
    for item in chunks:
        order.setdefault(item.dataset, []).append((item.filename, int(item.entrystart)))
    return {d: tuple(sorted(keys)) for d, keys in sorted(order.items())}
