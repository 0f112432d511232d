"""The `.pyi` stubs match the extension module, and the public API type-checks strictly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

HERE = Path(__file__).resolve().parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, cwd=HERE, timeout=300
    )


def test_stubtest_extension_module() -> None:
    result = run("mypy.stubtest", "outreach._outreach")
    assert result.returncode == 0, result.stdout + result.stderr


def test_usage_file_passes_mypy_strict() -> None:
    result = run("mypy", "--strict", "--no-incremental", str(HERE / "typing_usage.py"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_passes_mypy_strict() -> None:
    package = HERE.parent / "python" / "outreach"
    result = run("mypy", "--strict", "--no-incremental", str(package))
    assert result.returncode == 0, result.stdout + result.stderr
