"""Do-not-contact lists, email templates and A/B variants from Python."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import OPENER, FakeProviders, company_name, prospects

import outreach


def test_suppressed_rows_are_not_researched_and_drafts_are_rendered(fake: FakeProviders) -> None:
    rows = prospects(12)  # person.N at 4 companies, in turn
    pipeline = fake.pipeline(concurrency=4, chunk_size=5)

    result = pipeline.enrich(
        rows,
        progress=False,
        # One address (plus-tag and capitals are normalised away) and a whole domain.
        suppress=["Person.1+x@BrightPath.io", "@quantive.ai"],
        subject_template="{{ name | first_name }}, quick question",
        body_template="Hi {{ name | first_name }},\n{{ sif_personalized }}\n-- {{ company.name | default('you') }}",
    )

    assert list(result[0]) == [
        "id", "name", "email", outreach.RESEARCH_COLUMN, outreach.PERSONALIZED_COLUMN,
        outreach.STATUS_COLUMN, "email_subject", "email_body",
    ]
    suppressed = {1} | {i for i in range(12) if i % 4 == 2}
    for i, row in enumerate(result):
        assert row["id"] == i, "rows keep their place"
        if i in suppressed:
            assert row[outreach.RESEARCH_COLUMN] == ""
            assert row[outreach.STATUS_COLUMN] == "suppressed"
            assert row["email_subject"] == "" and row["email_body"] == ""
            continue
        domain = row["email"].split("@")[1]
        opener = OPENER.format(company=company_name(domain))
        assert row[outreach.PERSONALIZED_COLUMN] == opener
        assert row["email_subject"] == "Person, quick question"
        assert row["email_body"] == f"Hi Person,\n{opener}\n-- {company_name(domain)}"
    summary = pipeline.last_summary
    assert summary is not None
    assert summary.suppressed == len(suppressed)
    # Two searches per researched row at most, none for the suppressed ones.
    assert summary.metrics["search_calls"] <= 2 * (12 - len(suppressed))
    assert summary.metrics["llm_calls"] == 2 * (12 - len(suppressed))


def test_variants_are_deterministic_and_a_dataframe_gets_the_columns(fake: FakeProviders) -> None:
    frame = pd.DataFrame(prospects(40))
    pipeline = fake.pipeline(concurrency=8)
    variants = [
        {"name": "short", "subject": "Hi", "body": "{{ sif_personalized }}"},
        {"name": "long", "subject": "Hello {{ name }}", "body": "{{ sif_personalized }}\nBest", "weight": 3},
    ]
    first = pipeline.enrich(frame, progress=False, variants=variants, variant_seed="s1")
    again = pipeline.enrich(frame, progress=False, variants=variants, variant_seed="s1")
    assert list(first.columns)[-3:] == ["email_subject", "email_body", "variant"]
    assert list(first["variant"]) == list(again["variant"])
    counts = first["variant"].value_counts()
    assert set(counts.index) == {"short", "long"}
    assert counts["long"] > counts["short"], "weights 1:3"
    for _, row in first.iterrows():
        expected = "Hi" if row["variant"] == "short" else f"Hello {row['name']}"
        assert row["email_subject"] == expected


def test_template_errors_raise_before_any_call(fake: FakeProviders, tmp_path: Path) -> None:
    pipeline = fake.pipeline()
    with pytest.raises(outreach.InvalidInputError, match=r"body template, line 2, column 4: unknown variable `nmae`"):
        pipeline.enrich(
            prospects(3), progress=False, subject_template="Hi", body_template="x\n{{ nmae }}"
        )
    with pytest.raises(outreach.InvalidInputError, match="syntax error"):
        pipeline.enrich(prospects(3), progress=False, subject_template="{% if %}", body_template="b")
    with pytest.raises(outreach.InvalidInputError, match="both subject_template and body_template"):
        pipeline.enrich(prospects(3), progress=False, subject_template="Hi")
    assert fake.requests() == 0


def test_suppress_reads_a_list_file(fake: FakeProviders, tmp_path: Path) -> None:
    listing = tmp_path / "dnc.csv"
    listing.write_text("Email,Reason\nperson.0@northwind-logistics.com,unsubscribed\n", encoding="utf-8")
    pipeline = fake.pipeline()
    result = pipeline.enrich(prospects(2), progress=False, suppress=listing)
    assert result[0][outreach.RESEARCH_COLUMN] == ""
    assert result[1][outreach.RESEARCH_COLUMN].startswith("{")
