"""Throughput of the Python binding against the CLI, on the same file and the same fake
providers with latency. A measurement script, not a test:

    cargo build --release -p outreach-server -p outreach-fake-providers
    scripts/test-python.sh            # or OUTREACH_PY_RELEASE=1 for an optimised build
    target/py-venv/bin/python outreach-py/benches/throughput.py [--rows 2000]

Both sides drive the same engine, so with provider latency dominating the ratio should be
close to 1; what it shows is the binding's overhead (conversion, GIL slices, progress).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import outreach
from outreach import _outreach

ROOT = Path(__file__).resolve().parents[2]


def binary(name: str) -> Tuple[Path, str]:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        path = target / profile / name
        if path.is_file():
            return path, profile
    sys.exit(f"{name} is not built: cargo build --release -p outreach-server -p outreach-fake-providers")


def start_fake(search_ms: int, llm_ms: int) -> Tuple[subprocess.Popen[str], Dict[str, str]]:
    path, _ = binary("outreach-fake-providers")
    fake = subprocess.Popen(
        [str(path), str(search_ms), str(llm_ms)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    env: Dict[str, str] = {}
    assert fake.stdout is not None
    for _ in range(2):
        line = fake.stdout.readline().strip()
        for pair in line.removeprefix("export ").split():
            key, _, value = pair.partition("=")
            env[key] = value
    return fake, env


def write_prospects(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["first_name", "last_name", "company", "email"])
        for i in range(rows):
            w.writerow([f"First{i}", f"Last{i}", f"Company {i // 10}", f"first.last{i}@company-{i // 10}.com"])


def timed(label: str, run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    print(f"  {label:<34} {seconds:7.2f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--search-ms", type=int, default=100)
    parser.add_argument("--llm-ms", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--no-rate-limit", action="store_true",
        help="lift the default 200 requests/s per provider (to expose the binding's own cost)",
    )
    args = parser.parse_args()

    cli, cli_profile = binary("outreach")
    fake, fake_env = start_fake(args.search_ms, args.llm_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "prospects.csv"
            write_prospects(source, args.rows)
            if args.no_rate_limit:
                fake_env.update(OUTREACH_SEARCH_RPS="0", OUTREACH_LLM_RPS="0")
            env = {**os.environ, **fake_env}
            print(
                f"{args.rows} rows, search {args.search_ms} ms, LLM {args.llm_ms} ms, "
                f"concurrency {args.concurrency}"
                f"{', no rate limit' if args.no_rate_limit else ''}; CLI {cli_profile} build, "
                f"extension {_outreach.BUILD_PROFILE} build"
            )
            results: List[Tuple[str, float]] = []

            def run_cli() -> None:
                subprocess.run(
                    [str(cli), "enrich", str(source), "-o", str(Path(tmp) / "cli.csv"),
                     "--concurrency", str(args.concurrency), "--quiet"],
                    env=env, check=True, stdout=subprocess.DEVNULL,
                )

            pipeline = outreach.Pipeline(env=fake_env, concurrency=args.concurrency)
            with source.open(newline="", encoding="utf-8") as f:
                as_dicts = list(csv.DictReader(f))

            # One warm-up each, so neither pays for a cold connection pool or page cache.
            run_cli()
            pipeline.enrich(as_dicts[:50], progress=False)
            results.append(("CLI (outreach enrich)", timed("CLI (outreach enrich)", run_cli)))
            cases: List[Tuple[str, Callable[[], object]]] = [
                ("Python enrich_file(path, out)", lambda: pipeline.enrich_file(
                    source, Path(tmp) / "py-file.csv", progress=False)),
                ("Python enrich(path, out=…)", lambda: pipeline.enrich(
                    source, out=Path(tmp) / "py-path.csv", progress=False)),
                ("Python enrich(list of dicts)", lambda: pipeline.enrich(as_dicts, progress=False)),
            ]
            for label, run in cases:
                # A fresh pipeline per case: no answers cached from the previous one.
                pipeline = outreach.Pipeline(env=fake_env, concurrency=args.concurrency)
                results.append((label, timed(label, run)))
            cli_seconds = results[0][1]
            print("\n  case                               rows/s   time vs CLI")
            for label, seconds in results:
                print(f"  {label:<34} {args.rows / seconds:6.0f}   {seconds / cli_seconds:5.2f}x")
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    main()
