"""Waiting for a run: the sync loop (GIL released in slices, Ctrl-C cancels), the async
loop (polls from the event loop, task cancellation cancels), and progress reporting.

Both loops read progress on the caller's thread, so a tqdm bar or a callback never runs
on one of the engine's threads, and an exception from a callback cancels the run.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional, Union

from . import _outreach
from ._types import Metrics, Progress

ProgressArg = Union[bool, Callable[[Progress], Any], None]
"""`True`: a tqdm bar when tqdm is installed (else nothing); a callable: called with a
`Progress` whenever the run advances; `False`/`None`: silent."""

# How long the sync loop releases the GIL between checks for Ctrl-C and progress.
_SLICE_SECONDS = 0.1
# The async loop's polling interval grows from the first value to the second.
_POLL_FIRST = 0.002
_POLL_MAX = 0.05


class _Reporter:
    def __init__(self, progress: ProgressArg, desc: str) -> None:
        self._callback: Optional[Callable[[Progress], Any]] = None
        self._bar: Any = None
        if callable(progress):
            self._callback = progress
        elif progress is True:
            try:
                from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
            except ImportError:
                return
            self._bar = tqdm(total=None, desc=desc, unit="row", dynamic_ncols=True)

    def poll(self, handle: _outreach.RunHandle) -> None:
        if self._callback is None and self._bar is None:
            return
        latest = handle.progress()
        if latest is None:
            return
        rows_done, rows_total, fallbacks, metrics = latest
        if self._bar is not None:
            bar = self._bar
            if rows_total is not None and bar.total != rows_total:
                bar.total = rows_total
            bar.set_postfix(fallbacks=fallbacks, refresh=False)
            bar.update(rows_done - bar.n)
        if self._callback is not None:
            m: Metrics = metrics  # type: ignore[assignment]
            self._callback(Progress(rows_done, rows_total, fallbacks, m))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def wait(handle: _outreach.RunHandle, progress: ProgressArg = None, desc: str = "") -> Any:
    """Wait for `handle` with the GIL released in slices; leaving early cancels it."""
    reporter = _Reporter(progress, desc)
    try:
        while not handle.wait(_SLICE_SECONDS):
            reporter.poll(handle)
        reporter.poll(handle)
        return handle.result()
    finally:
        # A no-op when the run is over; on KeyboardInterrupt or a raising callback it
        # stops the run before the exception propagates.
        handle.cancel()
        reporter.close()


async def wait_async(
    handle: _outreach.RunHandle, progress: ProgressArg = None, desc: str = ""
) -> Any:
    """Await `handle` from a running event loop; cancelling the awaiting task cancels it."""
    reporter = _Reporter(progress, desc)
    delay = _POLL_FIRST
    try:
        while not handle.done():
            reporter.poll(handle)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)
        reporter.poll(handle)
        return handle.result()
    finally:
        handle.cancel()
        reporter.close()
