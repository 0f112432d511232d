"""Type-checked with `mypy --strict` by test_stubs.py (never run): the public API as a
user writes it must type-check without casts."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import outreach


def on_progress(p: outreach.Progress) -> None:
    total: int | None = p.rows_total
    calls: int = p.metrics["llm_calls"]
    print(p.rows_done, total, calls)


def usage() -> None:
    summary: outreach.HeaderSummary = outreach.read_headers("prospects.csv")
    headers: List[str] = summary["headers"]
    email: str | None = summary["email_column"]
    print(headers, email)

    pipeline = outreach.Pipeline(serper_api_key="k", model="m", concurrency=8, combined=True)
    service = outreach.ServiceContext(core_offer="robots", cta="a demo")
    rows: List[Dict[str, Any]] = [{"email": "a@b.com"}]
    result: Any = pipeline.enrich(rows, service=service, progress=on_progress, limit=10)
    print(result)
    run: outreach.RunSummary | None = pipeline.last_summary
    if run is not None:
        rate: float = run.rows_per_second
        print(rate, run.metrics["search_calls"])
    file_run: outreach.RunSummary = pipeline.enrich_file("in.csv", "out.xlsx", progress=False)
    print(file_run.enriched)

    research: Dict[str, Any] = pipeline.research("a@b.com")
    line: str = pipeline.personalize(research, {"cta": "a call"})
    copy: outreach.CopyRules = {"language": "German", "sentences": 1}
    roles: outreach.ColumnRoles = {"company": "Employer"}
    pipeline.enrich(rows, copy=copy, columns=roles, progress=False)
    pipeline.enrich_file("in.csv", "out.csv", copy=outreach.default_copy_rules())
    line = pipeline.personalize(research, copy={"instructions": "be brief"})
    print(line)

    try:
        pipeline.enrich("in.csv", out="out.csv", output_columns=["email"])
    except outreach.ProviderAuthError as e:
        status: int = e.status
        provider: str = e.provider
        print(status, provider)
    except outreach.RateLimitedError as e:
        after: float | None = e.retry_after
        print(after)
    except outreach.OutreachError as e:
        print(e)


async def usage_async(pipeline: outreach.Pipeline) -> str:
    await pipeline.enrich_async("in.csv", progress=False)
    await pipeline.enrich_file_async("in.csv", "out.csv")
    research = await pipeline.research_async("a@b.com")
    return await pipeline.personalize_async(research)


if __name__ == "__main__":
    asyncio.run(usage_async(outreach.Pipeline()))
