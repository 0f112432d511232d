"""Progress, the async API, cancellation and the GIL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import List, Tuple

import pytest
from conftest import FakeProviders, prospects

import outreach


def test_progress_callback_sees_every_chunk(fake: FakeProviders) -> None:
    seen: List[outreach.Progress] = []
    fake.llm_latency = 0.01
    fake.pipeline(chunk_size=5, concurrency=5).enrich(prospects(20), progress=seen.append)
    assert seen, "the callback was never called"
    assert seen[-1].rows_done == 20 and seen[-1].rows_total == 20
    done = [p.rows_done for p in seen]
    assert done == sorted(done)
    assert seen[-1].metrics["llm_calls"] == 40
    assert seen[-1].fallbacks == 0


def test_a_raising_callback_cancels_the_run(fake: FakeProviders) -> None:
    fake.llm_latency = 0.05

    def stop(p: outreach.Progress) -> None:
        if p.rows_done >= 2:
            raise ValueError("enough")

    with pytest.raises(ValueError, match="enough"):
        fake.pipeline(chunk_size=2, concurrency=2).enrich(prospects(40), progress=stop)
    time.sleep(0.2)  # requests already on the wire may still land
    settled = fake.requests()
    time.sleep(0.4)
    assert fake.requests() == settled, "the run went on after the callback raised"


def test_tqdm_bar(fake: FakeProviders, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    fake.pipeline().enrich(prospects(6), progress=True)
    assert "6/6" in capsys.readouterr().err


def test_enrich_async_leaves_the_loop_free(fake: FakeProviders) -> None:
    fake.llm_latency = 0.05
    pipeline = fake.pipeline(concurrency=4)

    async def main() -> tuple:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.ensure_future(ticker())
        result = await pipeline.enrich_async(prospects(8), progress=False)
        research = await pipeline.research_async("ann.lee@acme.com")
        line = await pipeline.personalize_async(research)
        task.cancel()
        return result, research, line, ticks

    result, research, line, ticks = asyncio.run(main())
    assert [r["email"] for r in result] == [p["email"] for p in prospects(8)]
    assert research["person"]["name"] == "Ann Lee"
    assert line.startswith("Saw this about Acme: Acme raised a $30M Series B")
    assert ticks >= 10, "the event loop was blocked during the run"


def test_cancelling_the_awaiting_task_cancels_the_run(fake: FakeProviders) -> None:
    fake.search_latency = 0.2
    pipeline = fake.pipeline(concurrency=2)

    async def main() -> None:
        await asyncio.wait_for(pipeline.enrich_async(prospects(50), progress=False), 0.5)

    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(main())
    assert time.monotonic() - started < 2
    time.sleep(0.3)  # requests already on the wire may still land
    settled = fake.requests()
    time.sleep(0.5)
    assert fake.requests() == settled, "the run went on after its task was cancelled"


def test_the_gil_is_released_while_a_run_goes_on(fake: FakeProviders) -> None:
    fake.llm_latency = 0.1
    pipeline = fake.pipeline(concurrency=8)
    done = threading.Event()
    spins = 0

    def run() -> None:
        pipeline.enrich(prospects(8), progress=False)
        done.set()

    samples: List[Tuple[float, int]] = []  # (time, spins so far), every 1000 spins
    worker = threading.Thread(target=run)
    worker.start()
    while not done.is_set():
        spins += 1  # pure-Python work on this thread while the run is in flight
        if spins % 1000 == 0:
            samples.append((time.monotonic(), spins))
    worker.join()
    # Only spins while Rust was talking to the fake count: not those before the run
    # entered Rust or after it returned.
    first, last = fake.first_request_at, fake.last_request_at
    assert first is not None and last is not None and last > first
    inside = [n for t, n in samples if first <= t <= last]
    assert len(inside) >= 2, "this thread never ran while the providers were called"
    assert inside[-1] - inside[0] > 10_000


CTRL_C_CHILD = textwrap.dedent(
    """
    import signal, sys, time
    # A process started from a background job inherits SIGINT as ignored (and Python
    # then installs no KeyboardInterrupt handler): act like an interactive session.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import outreach
    rows = [{"email": f"p.{i}@acme-{i}.com"} for i in range(400)]
    pipeline = outreach.Pipeline(
        serper_api_key="k", llm_api_key="k", serper_url=sys.argv[1], llm_base_url=sys.argv[2],
        env={}, concurrency=8,
    )
    print("started", flush=True)
    try:
        pipeline.enrich(rows, progress=False)
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
        raise
    print("finished", flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_promptly(fake: FakeProviders, tmp_path: Path) -> None:
    fake.search_latency = 0.5  # 400 rows at 8 in flight would take ~50 s
    script = tmp_path / "child.py"
    script.write_text(CTRL_C_CHILD, encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, str(script), fake.serper_url, fake.llm_base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 10
    while fake.requests() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.requests() > 0, "the child never reached the fake"
    time.sleep(0.3)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    try:
        out, err = child.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        pytest.fail(f"the child ignored SIGINT for 5 s\nstdout: {out}\nstderr: {err}")
    elapsed = time.monotonic() - sent
    assert elapsed < 2, f"the child took {elapsed:.1f}s to stop"
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    assert "interrupted" in out and "finished" not in out
    settled = fake.requests()
    time.sleep(0.6)  # the child is gone; nothing more may arrive
    assert fake.requests() == settled


def test_a_cancelled_enrich_file_leaves_no_partial_file(
    fake: FakeProviders, tmp_path: Path
) -> None:
    fake.search_latency = 0.05
    source = tmp_path / "in.csv"
    source.write_text(
        "email\n" + "".join(f"p.{i}@c{i}.com\n" for i in range(200)), encoding="utf-8"
    )

    def stop(p: outreach.Progress) -> None:
        if p.rows_done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fake.pipeline(concurrency=4, chunk_size=4).enrich_file(
            source, tmp_path / "out.csv", progress=stop
        )
    time.sleep(0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_cancelled_enrich_with_out_leaves_no_file(fake: FakeProviders, tmp_path: Path) -> None:
    fake.search_latency = 0.05

    def stop(p: outreach.Progress) -> None:
        if p.rows_done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fake.pipeline(concurrency=4, chunk_size=4).enrich(
            prospects(200), out=tmp_path / "out.xlsx", progress=stop
        )
    time.sleep(0.5)
    assert list(tmp_path.iterdir()) == []
