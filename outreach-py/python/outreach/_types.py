"""Plain data types of the public API: the service context, progress and run summaries."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, TypedDict, Union, cast

from . import _outreach

# The defaults come from the core, so the two can never disagree.
_SERVICE_DEFAULTS: Dict[str, str] = _outreach.default_service()
_COPY_DEFAULTS: Dict[str, Any] = json.loads(_outreach.default_copy_rules())


@dataclass(frozen=True)
class ServiceContext:
    """What you sell: the opener ties the prospect's situation to it.

    Absent fields take the core's defaults (the same as the CLI and the server).
    """

    core_offer: str = _SERVICE_DEFAULTS["core_offer"]
    key_differentiator: str = _SERVICE_DEFAULTS["key_differentiator"]
    cta: str = _SERVICE_DEFAULTS["cta"]
    timeline: str = _SERVICE_DEFAULTS["timeline"]
    goal: str = _SERVICE_DEFAULTS["goal"]
    fallback_action: str = _SERVICE_DEFAULTS["fallback_action"]

    def to_dict(self) -> Dict[str, str]:
        return asdict(self)


ServiceLike = Union[ServiceContext, Mapping[str, str], None]


class CopyRules(TypedDict, total=False):
    """How openers are written; absent rules keep the core's defaults
    (`default_copy_rules()`). The core checks the values: 1–4 sentences, 5–60 words per
    sentence, at most 100 forbidden phrases of 100 characters, 500 characters of
    instructions, a language name of at most 40 characters."""

    language: str
    sentences: int
    words_per_sentence: int
    forbidden: List[str]
    instructions: str
    opener_without_research: bool


class ColumnRoles(TypedDict, total=False):
    """Which input column holds each fact about the prospect (by header); roles not
    given are guessed from the headers, and an empty header turns a role off."""

    first_name: str
    last_name: str
    full_name: str
    company: str
    title: str
    linkedin: str
    website: str


ColumnsLike = Union[ColumnRoles, Mapping[str, str], None]


def default_copy_rules() -> CopyRules:
    """The core's default copy rules (a fresh copy)."""
    return cast(CopyRules, json.loads(json.dumps(_COPY_DEFAULTS)))


def copy_json(copy: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Copy rules as the JSON text the extension takes (None = the defaults); an
    unknown rule raises `ConfigError` here."""
    if copy is None:
        return None
    unknown = sorted(set(copy) - set(CopyRules.__annotations__))
    if unknown:
        raise _outreach.ConfigError(
            f"unknown copy rule(s) {unknown}; the rules are: "
            + ", ".join(CopyRules.__annotations__)
        )
    return json.dumps(dict(copy))


def columns_dict(columns: ColumnsLike) -> Optional[Dict[str, str]]:
    """Column roles as the `{role: header}` dict the extension takes; an unknown role
    raises `ConfigError` here."""
    if columns is None:
        return None
    unknown = sorted(set(columns) - set(ColumnRoles.__annotations__))
    if unknown:
        raise _outreach.ConfigError(
            f"unknown column role(s) {unknown}; the roles are: "
            + ", ".join(ColumnRoles.__annotations__)
        )
    return {str(k): str(v) for k, v in cast(Mapping[str, str], columns).items()}


def service_dict(service: ServiceLike) -> Optional[Dict[str, str]]:
    """The service as the `{field: text}` dict the extension takes (None = defaults)."""
    if service is None:
        return None
    if isinstance(service, ServiceContext):
        return service.to_dict()
    return {str(k): str(v) for k, v in service.items()}


class Metrics(TypedDict):
    """Provider calls and cache hits of one run."""

    search_calls: int
    llm_calls: int
    search_cache_hits: int
    research_cache_hits: int
    retries: int
    prompt_tokens: int
    completion_tokens: int


class HeaderSummary(TypedDict):
    """What `read_headers` returns."""

    headers: List[str]
    rows: int
    email_column: Optional[str]


@dataclass(frozen=True)
class Progress:
    """Where a run stands; passed to a `progress=` callback."""

    rows_done: int
    rows_total: Optional[int]
    fallbacks: int
    metrics: Metrics


@dataclass(frozen=True)
class RunSummary:
    """What a run did.

    `fallbacks` counts rows that got a fallback text instead of research and an opener;
    `refundable` those among them that failed for reasons other than their input
    (provider errors, missing keys); `invalid_emails` those whose email cell is not an
    address; `suppressed` those on the do-not-contact list (not researched, counted
    among the fallbacks). `metrics` counts only this run's calls.
    """

    rows: int
    enriched: int
    fallbacks: int
    invalid_emails: int
    refundable: int
    email_column: str
    truncated_cells: int
    ragged_rows: int
    metrics: Metrics
    seconds: float
    suppressed: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> RunSummary:
        return cls(**{f: d[f] for f in cls.__dataclass_fields__})


__all__ = [
    "ColumnRoles",
    "ColumnsLike",
    "CopyRules",
    "HeaderSummary",
    "Metrics",
    "Progress",
    "RunSummary",
    "ServiceContext",
    "ServiceLike",
    "columns_dict",
    "copy_json",
    "default_copy_rules",
    "service_dict",
]
