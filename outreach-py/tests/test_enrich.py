"""Enriching paths, lists of dicts and DataFrames against the fake providers."""

from __future__ import annotations

import csv
import sys
import json
from pathlib import Path
from typing import Any, Dict, List

import pandas as pd
import pytest
from conftest import OPENER, FakeProviders, company_name, prospects

import outreach

RESEARCH = outreach.RESEARCH_COLUMN
LINE = outreach.PERSONALIZED_COLUMN
STATUS = outreach.STATUS_COLUMN


def write_csv(path: Path, rows: List[Dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def assert_enriched(email: str, research_cell: str, line: str) -> None:
    """The row's cells belong to this row's address (not a neighbour's)."""
    research = json.loads(research_cell)
    user, _, domain = email.partition("@")
    assert research["person"]["name"] == user.replace(".", " ").title()
    assert research["company"]["name"] == company_name(domain)
    assert line == OPENER.format(company=company_name(domain))


def test_path_source_returns_a_dataframe_in_input_order(fake: FakeProviders, tmp_path: Path) -> None:
    fake.jitter = 0.03  # rows finish out of order
    rows = prospects(40)
    source = write_csv(tmp_path / "in.csv", rows)
    pipeline = fake.pipeline(concurrency=16, chunk_size=7)

    result = pipeline.enrich(source, progress=False)

    assert isinstance(result, pd.DataFrame)
    assert list(result.columns) == ["id", "name", "email", RESEARCH, LINE, STATUS]
    assert list(result["email"]) == [r["email"] for r in rows]
    assert list(result["id"]) == [str(r["id"]) for r in rows]  # cells of a file are text
    for _, row in result.iterrows():
        assert_enriched(row["email"], row[RESEARCH], row[LINE])
    summary = pipeline.last_summary
    assert summary is not None
    assert (summary.rows, summary.enriched, summary.fallbacks) == (40, 40, 0)
    assert summary.email_column == "email"
    # Two searches per row, but the company search is shared by everyone at a company.
    assert summary.metrics["search_calls"] == 40 + 4
    assert summary.metrics["llm_calls"] == 80
    assert summary.metrics["search_cache_hits"] == 36


def test_list_of_dicts_returns_new_dicts_with_the_original_values(fake: FakeProviders) -> None:
    fake.jitter = 0.02
    rows: List[Dict[str, Any]] = prospects(25)
    rows[3]["extra"] = 3.5  # a key only one row has
    result = fake.pipeline(concurrency=8).enrich(rows, progress=False)

    assert isinstance(result, list)
    assert [r["email"] for r in result] == [r["email"] for r in rows]
    assert [r["id"] for r in result] == list(range(25))  # ints stay ints
    assert result[3]["extra"] == 3.5
    assert result[4]["extra"] is None
    assert list(result[0]) == ["id", "name", "email", "extra", RESEARCH, LINE, STATUS]
    for r in result:
        assert_enriched(r["email"], r[RESEARCH], r[LINE])
    assert "sif_research" not in rows[0]  # the input is not modified


def test_dataframe_keeps_index_and_dtypes_and_replaces_sif_columns(fake: FakeProviders) -> None:
    rows = prospects(12)
    frame = pd.DataFrame(rows, index=[f"r{i}" for i in range(12)])
    frame.insert(1, RESEARCH, "old")  # an input sif column is replaced, not kept
    fake.jitter = 0.02

    result = fake.pipeline(concurrency=5).enrich(frame, progress=False)

    assert isinstance(result, pd.DataFrame)
    assert list(result.index) == list(frame.index)
    assert list(result.columns) == ["id", "name", "email", RESEARCH, LINE, STATUS]
    assert result["id"].dtype == frame["id"].dtype
    assert list(result["id"]) == list(range(12))
    for _, row in result.iterrows():
        assert_enriched(row["email"], row[RESEARCH], row[LINE])
    assert list(frame[RESEARCH]) == ["old"] * 12  # the input frame is untouched


def test_dataframe_missing_values_and_email_column_by_name(fake: FakeProviders) -> None:
    frame = pd.DataFrame(
        {"Work Email": ["ann.lee@acme.com", None, float("nan")], "n": [1.0, None, 3.0]}
    )
    result = fake.pipeline().enrich(frame, email_col="work email", progress=False)
    assert_enriched("ann.lee@acme.com", result[RESEARCH][0], result[LINE][0])
    assert list(result[RESEARCH][1:]) == ["Research unavailable: invalid email."] * 2


def test_output_columns_restrict_and_order_result_and_file(fake: FakeProviders, tmp_path: Path) -> None:
    rows = prospects(6)
    out = tmp_path / "out.csv"
    columns = [LINE, "email", "id"]

    as_dicts = fake.pipeline().enrich(rows, output_columns=columns, out=out, progress=False)
    assert [list(r) for r in as_dicts] == [columns] * 6

    frame = fake.pipeline().enrich(pd.DataFrame(rows), output_columns=columns, progress=False)
    assert list(frame.columns) == columns

    from_path = fake.pipeline().enrich(
        write_csv(tmp_path / "in.csv", rows), output_columns=columns, progress=False
    )
    assert list(from_path.columns) == columns

    with out.open(newline="", encoding="utf-8") as f:
        written = list(csv.reader(f))
    assert written[0] == columns
    assert [w[1] for w in written[1:]] == [r["email"] for r in rows]

    with pytest.raises(outreach.InvalidInputError, match="unknown output column `nope`"):
        fake.pipeline().enrich(rows, output_columns=["nope"], progress=False)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_out_writes_the_result_file(fake: FakeProviders, tmp_path: Path, fmt: str) -> None:
    rows = prospects(9)
    out = tmp_path / f"result.{fmt}"
    result = fake.pipeline().enrich(rows, out=out, progress=False)
    summary = outreach.read_headers(out)
    assert summary["headers"] == ["id", "name", "email", RESEARCH, LINE, STATUS]
    assert summary["rows"] == 9
    # The file holds what the call returned, row for row.
    if fmt == "csv":
        written = pd.read_csv(out, dtype=str, keep_default_na=False)
    else:
        written = pd.read_excel(out, dtype=str, keep_default_na=False)
    expected = pd.DataFrame(result).astype(str)
    pd.testing.assert_frame_equal(written, expected)


def test_limit_processes_only_the_first_rows(fake: FakeProviders, tmp_path: Path) -> None:
    rows = prospects(10)
    assert len(fake.pipeline().enrich(rows, limit=4, progress=False)) == 4
    path = write_csv(tmp_path / "in.csv", rows)
    frame = fake.pipeline().enrich(path, limit=3, progress=False)
    assert list(frame["email"]) == [r["email"] for r in rows[:3]]
    assert fake.pipeline().enrich(pd.DataFrame(rows), limit=0, progress=False).shape[0] == 0


def test_status_and_sources_columns(fake: FakeProviders) -> None:
    rows = [{"email": "ok.one@acme.com"}, {"email": "not an email"}]
    result = fake.pipeline().enrich(rows, progress=False)
    assert [r[STATUS] for r in result] == ["enriched", "invalid_email"]
    research = json.loads(result[0][RESEARCH])
    assert research["version"] == 2
    assert research["evidence"] and all(
        set(e) == {"fact", "url", "quote"} for e in research["evidence"]
    )
    picked = fake.pipeline().enrich(
        rows, output_columns=["email", outreach.SOURCES_COLUMN, STATUS], progress=False
    )
    assert picked[0][outreach.SOURCES_COLUMN] == "\n".join(research["sources"])
    assert picked[1][outreach.SOURCES_COLUMN] == ""


def test_invalid_emails_get_fallbacks_in_place(fake: FakeProviders) -> None:
    rows = [
        {"email": "ok.one@acme.com"},
        {"email": "not an email"},
        {"email": ""},
        {"email": "ok.two@acme.com"},
    ]
    pipeline = fake.pipeline()
    result = pipeline.enrich(rows, progress=False)
    assert result[1][RESEARCH] == "Research unavailable: invalid email."
    assert result[1][LINE] == "SIF personalized line unavailable: invalid email."
    assert result[2][RESEARCH] == "Research unavailable: invalid email."
    assert_enriched("ok.one@acme.com", result[0][RESEARCH], result[0][LINE])
    assert_enriched("ok.two@acme.com", result[3][RESEARCH], result[3][LINE])
    summary = pipeline.last_summary
    assert summary is not None
    # Abstentions are not charged: the two invalid rows are refundable.
    assert (summary.enriched, summary.invalid_emails, summary.refundable) == (2, 2, 2)


def test_provider_500_gives_fallbacks_not_errors(fake: FakeProviders) -> None:
    fake.search_status = 500
    pipeline = fake.pipeline(max_retries=1)
    result = pipeline.enrich(prospects(3), progress=False)
    assert [r[RESEARCH] for r in result] == ["Research unavailable: provider error 500."] * 3
    assert [r[LINE] for r in result] == [
        "SIF personalized line unavailable: research unavailable."
    ] * 3
    summary = pipeline.last_summary
    assert summary is not None and summary.refundable == 3
    assert summary.metrics["retries"] >= 3


def test_llm_500_on_the_opener_keeps_the_research(fake: FakeProviders) -> None:
    pipeline = fake.pipeline(max_retries=0)
    research = pipeline.research("dana.fox@acme.com")
    fake.llm_status = 500
    assert pipeline.personalize(research) == (
        "SIF personalized line unavailable: provider error 500."
    )


@pytest.mark.parametrize("which", ["search", "llm"])
def test_rejected_key_raises_provider_auth_error(fake: FakeProviders, which: str) -> None:
    setattr(fake, f"{which}_status", 401)
    with pytest.raises(outreach.ProviderAuthError) as caught:
        fake.pipeline().enrich(prospects(5), progress=False)
    assert caught.value.provider == which
    assert caught.value.status == 401
    assert "rejected the API key (HTTP 401)" in str(caught.value)
    assert isinstance(caught.value, outreach.ProviderError)
    assert isinstance(caught.value, outreach.OutreachError)


def test_out_of_credit_raises_its_own_class(fake: FakeProviders) -> None:
    fake.llm_status = 402
    with pytest.raises(outreach.ProviderOutOfCreditError) as caught:
        # One row: a second row's request could still reach the shared fake after the
        # run stopped and be counted by the next test.
        fake.pipeline().enrich(prospects(1), progress=False)
    assert caught.value.provider == "llm"


def test_missing_keys_give_the_documented_fallbacks(fake: FakeProviders) -> None:
    with pytest.warns(outreach.MissingKeyWarning):
        pipeline = outreach.Pipeline(env={})
    assert not pipeline.search_configured and not pipeline.llm_configured
    result = pipeline.enrich([{"email": "a.b@acme.com"}], progress=False)
    assert result[0][RESEARCH] == "Research unavailable: missing SERPER_API_KEY."
    assert result[0][LINE] == "SIF personalized line unavailable: missing GROQ_API_KEY."
    assert fake.requests() == 0


def test_environment_names_are_read_and_arguments_win(fake: FakeProviders) -> None:
    env = {
        "SERPER_API_KEY": "k",
        "SERPER_URL": "http://127.0.0.1:9/search",  # nothing listens there
        "GROQ_API_KEY": "k",
        "LLM_BASE_URL": fake.llm_base_url,
        "LLM_MODEL": "fake-model",
    }
    pipeline = outreach.Pipeline(env=env, serper_url=fake.serper_url)
    assert pipeline.search_configured and pipeline.llm_configured
    assert "fake-model" in repr(pipeline) and "k'" not in repr(pipeline)
    result = pipeline.enrich([{"email": "eve.ng@acme.com"}], progress=False)
    assert_enriched("eve.ng@acme.com", result[0][RESEARCH], result[0][LINE])
    assert fake.llm_bodies[-1]["model"] == "fake-model"
    # An empty argument switches a provider off even when the environment sets it.
    with pytest.warns(outreach.MissingKeyWarning):
        off = outreach.Pipeline(env=env, serper_api_key="")
    assert not off.search_configured


def test_combined_mode(fake: FakeProviders) -> None:
    pipeline = fake.pipeline(combined=True)
    result = pipeline.enrich(prospects(4), progress=False)
    for r in result:
        assert_enriched(r["email"], r[RESEARCH], r[LINE])
    summary = pipeline.last_summary
    assert summary is not None and summary.metrics["llm_calls"] == 4


def test_empty_sources(fake: FakeProviders) -> None:
    pipeline = fake.pipeline()
    assert pipeline.enrich([], progress=False) == []
    empty = pipeline.enrich(pd.DataFrame({"email": [], "n": []}), progress=False)
    assert list(empty.columns) == ["email", "n", RESEARCH, LINE, STATUS] and len(empty) == 0
    assert fake.requests() == 0


def test_bad_sources_raise_invalid_input(fake: FakeProviders) -> None:
    pipeline = fake.pipeline()
    with pytest.raises(outreach.InvalidInputError):
        pipeline.enrich({"email": "a@b.com"}, progress=False)
    with pytest.raises(outreach.InvalidInputError):
        pipeline.enrich(["a@b.com"], progress=False)
    with pytest.raises(outreach.InvalidInputError, match="no column named `mail`"):
        pipeline.enrich([{"email": "a@b.com"}], email_col="mail", progress=False)
    with pytest.raises(outreach.InvalidInputError, match="no column looks like email"):
        pipeline.enrich([{"name": "Ann"}], progress=False)
    with pytest.raises(outreach.InvalidInputError, match="unknown output format"):
        pipeline.enrich([{"email": "a@b.com"}], format="xls", progress=False)
    assert fake.requests() == 0


def test_service_context_reaches_the_prompt(fake: FakeProviders) -> None:
    service = outreach.ServiceContext(core_offer="warehouse robots for rent", cta="a demo")
    pipeline = fake.pipeline(service=outreach.ServiceContext(core_offer="pipeline default"))
    pipeline.enrich([{"email": "kim.wu@acme.com"}], service=service, progress=False)
    opener_prompts = [b for b in fake.llm_bodies if "response_format" not in b]
    assert "warehouse robots for rent" in json.dumps(opener_prompts[-1])
    pipeline.enrich([{"email": "lee.wu@acme.com"}], progress=False)
    opener_prompts = [b for b in fake.llm_bodies if "response_format" not in b]
    assert "pipeline default" in json.dumps(opener_prompts[-1])
    with pytest.raises(outreach.ConfigError, match="unknown service field"):
        pipeline.enrich([{"email": "a@b.com"}], service={"offer": "x"}, progress=False)


def test_service_defaults_match_the_core() -> None:
    from outreach import _outreach

    assert outreach.ServiceContext().to_dict() == _outreach.default_service()
    assert list(outreach.ServiceContext.__dataclass_fields__) == _outreach.SERVICE_FIELDS


def test_research_and_personalize_one_off(fake: FakeProviders) -> None:
    pipeline = fake.pipeline()
    research = pipeline.research("jane.doe@northwind-logistics.com")
    assert research["person"]["name"] == "Jane Doe"
    assert research["company"]["name"] == "Northwind Logistics"
    assert research["sources"]  # only URLs the fake search returned
    line = pipeline.personalize(research, outreach.ServiceContext(cta="a coffee"))
    assert line == OPENER.format(company="Northwind Logistics")
    assert "a coffee" in json.dumps(fake.llm_bodies[-1])
    # A sif_research cell works as well as the dict.
    assert pipeline.personalize(json.dumps(research)) == line

    missing = pipeline.research("nobody")
    assert missing == {"fallback": "Research unavailable: invalid email."}
    assert pipeline.personalize(missing) == (
        "SIF personalized line unavailable: research unavailable."
    )


def test_research_raises_on_a_rejected_key(fake: FakeProviders) -> None:
    fake.search_status = 403
    with pytest.raises(outreach.ProviderAuthError):
        fake.pipeline().research("jane.doe@acme.com")


def test_summary_metrics_are_per_run_on_a_shared_pipeline(fake: FakeProviders) -> None:
    pipeline = fake.pipeline()
    for _ in range(2):
        pipeline.enrich(prospects(3), progress=False)
        summary = pipeline.last_summary
        assert summary is not None
        assert summary.metrics["llm_calls"] == 6
        assert summary.metrics["search_calls"] == 3 + 3  # three companies


def test_without_pandas_a_path_gives_dicts_and_without_tqdm_progress_is_silent(
    fake: FakeProviders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `import pandas` / `from tqdm.auto import tqdm` raise ImportError with these entries.
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    path = write_csv(tmp_path / "in.csv", prospects(3))
    result = fake.pipeline().enrich(path, progress=True)
    assert isinstance(result, list)
    assert [r["email"] for r in result] == [p["email"] for p in prospects(3)]
    assert list(result[0]) == ["id", "name", "email", RESEARCH, LINE, STATUS]
    assert capsys.readouterr().err == ""


def test_copy_rules_and_column_roles_match_the_core() -> None:
    from outreach import _outreach

    # The typed dicts of the facade are checked against the core's one definition.
    assert sorted(outreach.CopyRules.__annotations__) == _outreach.COPY_RULES
    assert list(outreach.ColumnRoles.__annotations__) == _outreach.COLUMN_ROLES
    defaults = outreach.default_copy_rules()
    assert sorted(defaults) == _outreach.COPY_RULES
    kinds = {"str": str, "int": int, "bool": bool, "List[str]": list}
    for name, annotation in outreach.CopyRules.__annotations__.items():
        text = getattr(annotation, "__forward_arg__", annotation)
        kind = kinds[text if isinstance(text, str) else text.__name__]
        assert isinstance(defaults[name], kind), name  # type: ignore[literal-required]
    # A fresh copy each time: changing one does not change the defaults.
    defaults["forbidden"].append("zz-not-a-default")
    assert "zz-not-a-default" not in outreach.default_copy_rules()["forbidden"]


def opener_prompts(fake: FakeProviders) -> List[str]:
    return [json.dumps(b) for b in fake.llm_bodies if "response_format" not in b]


def test_copy_rules_reach_the_opener_and_bad_rules_raise_before_any_call(
    fake: FakeProviders,
) -> None:
    pipeline = fake.pipeline()
    pipeline.enrich(
        [{"email": "kim.wu@acme.com"}],
        copy={"language": "German", "sentences": 1, "instructions": "mention Hamburg"},
        progress=False,
    )
    prompt = opener_prompts(fake)[-1]
    assert "Write in German" in prompt and "one sentence;" in prompt
    assert "mention Hamburg" in prompt
    # The defaults again without `copy`.
    pipeline.enrich([{"email": "lee.wu@acme.com"}], progress=False)
    prompt = opener_prompts(fake)[-1]
    assert "Write in English" in prompt and "one to 2 sentences" in prompt
    # personalize takes them too.
    research = pipeline.research("jane.doe@northwind-logistics.com")
    pipeline.personalize(research, copy={"language": "French"})
    assert "Write in French" in opener_prompts(fake)[-1]

    fake.reset()
    with pytest.raises(outreach.InvalidInputError, match="copy.sentences"):
        pipeline.enrich([{"email": "kim.wu@acme.com"}], copy={"sentences": 9}, progress=False)
    with pytest.raises(outreach.ConfigError, match="unknown copy rule"):
        pipeline.enrich([{"email": "kim.wu@acme.com"}], copy={"tone": "warm"}, progress=False)  # type: ignore[typeddict-unknown-key]
    assert fake.requests() == 0


def test_column_roles_name_the_columns_to_read(fake: FakeProviders, tmp_path: Path) -> None:
    rows = [{"email": "kim.wu@acme.com", "shop": "Zephyr Robotics"}]
    pipeline = fake.pipeline()
    # "shop" is not guessed as the company column: the research never sees it.
    pipeline.enrich(rows, progress=False)
    assert not any("Zephyr Robotics" in json.dumps(b) for b in fake.llm_bodies)
    fake.reset()
    pipeline.enrich(rows, columns={"company": "shop"}, progress=False)
    assert any("Zephyr Robotics" in json.dumps(b) for b in fake.llm_bodies)
    # Files take the same argument.
    path = tmp_path / "in.csv"
    path.write_text("email,shop\nkim.wu@acme.com,Zephyr Robotics\n")
    fake.reset()
    pipeline.enrich_file(path, tmp_path / "out.csv", columns={"company": "shop"}, progress=False)
    assert any("Zephyr Robotics" in json.dumps(b) for b in fake.llm_bodies)
    fake.reset()
    with pytest.raises(outreach.ConfigError, match="unknown column role"):
        pipeline.enrich(rows, columns={"employer": "shop"}, progress=False)
    with pytest.raises(outreach.InvalidInputError):
        pipeline.enrich(rows, columns={"company": "no such column"}, progress=False)
    assert fake.requests() == 0
