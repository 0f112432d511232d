"""Reading headers and rejecting unusable files: every problem is a specific exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeProviders

import outreach


def test_read_headers(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("Name;Work Email;Note\nAnn;ann@acme.com;x\nBo;bo@acme.com;y\n", encoding="utf-8")
    assert outreach.read_headers(path) == {
        "headers": ["Name", "Work Email", "Note"],
        "rows": 2,
        "email_column": "Work Email",
    }


def test_read_headers_of_the_example_file() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "prospects.csv"
    summary = outreach.read_headers(str(example))
    assert summary["email_column"] == "email"
    assert summary["rows"] == 50


BAD_FILES = {
    "empty.csv": (b"", "the file is empty"),
    "header_only.csv": (b"name,email\n", "header row but no data rows"),
    "blank.csv": (b"\n\n  \n", "no header row"),
    "notes.pdf": (b"email\na@b.com\n", "unsupported file type `.pdf`"),
    "broken.xlsx": (b"PK\x03\x04 not really a zip", "not a valid XLSX workbook"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_invalid_input(fake: FakeProviders, tmp_path: Path, name: str) -> None:
    content, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(outreach.InvalidInputError, match=message):
        outreach.read_headers(path)
    with pytest.raises(outreach.InvalidInputError, match=message):
        fake.pipeline().enrich(path, progress=False)
    with pytest.raises(outreach.InvalidInputError, match=message):
        fake.pipeline().enrich_file(path, tmp_path / "out.xlsx", progress=False)
    assert fake.requests() == 0
    assert not (tmp_path / "out.xlsx").exists()


def test_a_file_without_an_email_column(fake: FakeProviders, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("name,city\nAnn,Berlin\n", encoding="utf-8")
    with pytest.raises(outreach.InvalidInputError, match="no column looks like email"):
        fake.pipeline().enrich(path, progress=False)


def test_a_missing_file_is_an_outreach_error(fake: FakeProviders, tmp_path: Path) -> None:
    with pytest.raises(outreach.IoError):
        fake.pipeline().enrich(tmp_path / "nope.csv", progress=False)


def test_an_unwritable_out_fails_before_any_provider_call(
    fake: FakeProviders, tmp_path: Path
) -> None:
    out = tmp_path / "missing-dir" / "out.csv"
    with pytest.raises(outreach.OutputError, match="does not exist"):
        fake.pipeline().enrich([{"email": "a.b@acme.com"}], out=out, progress=False)
    assert fake.requests() == 0


def test_enrich_file_streams_to_out(fake: FakeProviders, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    lines = ["first,email"] + [f"P{i},p.{i}@acme.com" for i in range(30)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    pipeline = fake.pipeline()
    summary = pipeline.enrich_file(source, out, limit=20, progress=False)
    assert isinstance(summary, outreach.RunSummary)
    assert (summary.rows, summary.enriched, summary.email_column) == (20, 20, "email")
    assert pipeline.last_summary == summary
    assert outreach.read_headers(out)["rows"] == 20
    assert summary.rows_per_second > 0


def test_the_notebook_example_runs(fake: FakeProviders, tmp_path: Path) -> None:
    """examples/notebook_enrich.py, end to end against the fake providers."""
    import os
    import shutil
    import subprocess
    import sys

    examples = Path(__file__).resolve().parents[2] / "examples"
    copy = tmp_path / "examples"
    copy.mkdir()
    shutil.copy(examples / "notebook_enrich.py", copy)
    shutil.copy(examples / "prospects.csv", copy)
    env = {
        **os.environ,
        "SERPER_API_KEY": "k",
        "SERPER_URL": fake.serper_url,
        "GROQ_API_KEY": "k",
        "LLM_BASE_URL": fake.llm_base_url,
    }
    done = subprocess.run(
        [sys.executable, str(copy / "notebook_enrich.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # The example file has three rows without a usable address (`marcus@`, blank, n/a).
    assert "50 rows, 47 openers, 3 fallbacks (3 invalid emails)" in done.stdout
    assert "Northwind Logistics" in done.stdout
    assert outreach.read_headers(copy / "prospects.enriched.xlsx")["rows"] == 50
