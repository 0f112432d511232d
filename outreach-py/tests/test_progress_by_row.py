"""Progress moves row by row on a small run (issue 13): on a 30-row run, the callback and
the tqdm bar see the count between 0 and 30, not only the start and the end."""

from __future__ import annotations

from typing import Any, List

import pytest
from conftest import FakeProviders, prospects

import outreach

ROWS = 30


def test_the_callback_moves_by_row_on_30_rows(fake: FakeProviders) -> None:
    # One row at a time, ~0.1 s per LLM call: the run takes a few seconds, long enough
    # for the wait loop (which reads progress every 0.1 s) to see rows finish.
    fake.llm_latency = 0.1
    seen: List[outreach.Progress] = []
    fake.pipeline(concurrency=1).enrich(prospects(ROWS), progress=seen.append)
    done = [p.rows_done for p in seen]
    assert done == sorted(done), f"progress went backwards: {done}"
    assert done[-1] == ROWS
    partial = {d for d in done if 0 < d < ROWS}
    assert len(partial) >= 10, f"the callback saw only {sorted(partial)} between 0 and {ROWS}"


def test_the_tqdm_bar_moves_by_row_on_30_rows(
    fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    tqdm_auto = pytest.importorskip("tqdm.auto")
    positions: List[float] = []

    class RecordingBar(tqdm_auto.tqdm):  # type: ignore[misc,name-defined,unused-ignore]
        """The real bar, recording where it stands after every update."""

        def update(self, n: Any = 1) -> Any:
            moved = super().update(n)
            positions.append(self.n)
            return moved

    # `outreach` imports `tqdm.auto.tqdm` when a run starts, so this is the bar it draws.
    monkeypatch.setattr(tqdm_auto, "tqdm", RecordingBar)
    fake.llm_latency = 0.1
    fake.pipeline(concurrency=1).enrich(prospects(ROWS), progress=True)
    assert positions, "no tqdm bar was drawn"
    assert positions == sorted(positions), f"the bar went backwards: {positions}"
    assert positions[-1] == ROWS
    partial = {n for n in positions if 0 < n < ROWS}
    assert len(partial) >= 10, f"the bar stood only at {sorted(partial)} between 0 and {ROWS}"
