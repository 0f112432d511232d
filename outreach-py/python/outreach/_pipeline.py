"""`Pipeline`: the public entry point. Converts arguments, starts the run in the
extension, waits for it (sync or async) and shapes the result."""

from __future__ import annotations

import json
import os
import warnings
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    cast,
)

from . import _outreach, _runner, _tables
from ._runner import ProgressArg
from ._types import (
    ColumnsLike,
    CopyRules,
    HeaderSummary,
    RunSummary,
    ServiceContext,
    ServiceLike,
    columns_dict,
    copy_json,
    service_dict,
)

# The DESIGN.md configuration names a pipeline reads when no argument is given.
ENV_NAMES: Tuple[str, ...] = (
    "SERPER_API_KEY",
    "SERPER_URL",
    "GROQ_API_KEY",
    "LLM_API_KEY",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "OUTREACH_SEARCH_RPS",
    "OUTREACH_LLM_RPS",
    "OUTREACH_SEARCH_CONCURRENCY",
    "OUTREACH_LLM_CONCURRENCY",
)

Source = Union[_tables.PathLike, Sequence[Mapping[Any, Any]], Any]
# A do-not-contact list: a file path, or the entries themselves.
SuppressLike = Union[None, str, "os.PathLike[str]", Iterable[str]]
"""A CSV/XLSX path, a list of dicts, or a pandas DataFrame."""

Research = Dict[str, Any]


class MissingKeyWarning(UserWarning):
    """A pipeline was built without a search or LLM key: rows will get fallbacks."""


def read_headers(path: _tables.PathLike) -> HeaderSummary:
    """Headers, data-row count and guessed email column (None when no column is
    convincing) of a CSV or XLSX file. Streams the file; raises `InvalidInputError` for
    an unusable one."""
    d = _outreach.read_headers(os.fspath(path))
    return {"headers": d["headers"], "rows": d["rows"], "email_column": d["email_column"]}


def _service(service: ServiceLike) -> ServiceContext:
    if service is None or isinstance(service, ServiceContext):
        return service or ServiceContext()
    unknown = set(service) - set(ServiceContext.__dataclass_fields__)
    if unknown:
        raise _outreach.ConfigError(
            f"unknown service field(s) {sorted(unknown)}; the fields are: "
            + ", ".join(ServiceContext.__dataclass_fields__)
        )
    return ServiceContext(**{str(k): str(v) for k, v in service.items()})


class Pipeline:
    """Research and personalization over configured providers.

    Every argument left as None is read from the environment under its DESIGN.md name
    (`SERPER_API_KEY`, `SERPER_URL`, `GROQ_API_KEY` or `LLM_API_KEY`, `LLM_BASE_URL`,
    `LLM_MODEL`, `OUTREACH_SEARCH_RPS`, `OUTREACH_LLM_RPS`); pass `env` to read another
    mapping instead of `os.environ`. A missing key is not an error: rows then get the
    documented fallback texts. An empty string counts as missing, so
    `serper_api_key=""` switches search off even when the variable is set.

    `concurrency` is the number of rows in flight; `chunk_size` the rows per progress
    step; `combined=True` asks the LLM once per row for research and opener together;
    `search_rps` / `llm_rps` cap request starts per second (0 = unlimited);
    `max_retries` overrides the retries on 429/5xx/timeouts (default 3); `service` is
    the default service context of `enrich` and `personalize`.

    A pipeline keeps its HTTP connections and rate limits across calls and can be used
    from several threads at once. Do not reuse one across `os.fork()`.
    """

    last_summary: Optional[RunSummary]
    """The summary of the last `enrich`/`enrich_file` that finished on this pipeline."""

    def __init__(
        self,
        *,
        serper_api_key: Optional[str] = None,
        llm_api_key: Optional[str] = None,
        llm_base_url: Optional[str] = None,
        model: Optional[str] = None,
        serper_url: Optional[str] = None,
        concurrency: int = 64,
        chunk_size: int = 50,
        combined: bool = False,
        service: ServiceLike = None,
        search_rps: Optional[float] = None,
        llm_rps: Optional[float] = None,
        max_retries: Optional[int] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        environ = os.environ if env is None else env
        settings: Dict[str, str] = {k: environ[k] for k in ENV_NAMES if k in environ}
        explicit: Dict[str, Optional[object]] = {
            "SERPER_API_KEY": serper_api_key,
            "SERPER_URL": serper_url,
            # Both names, so an explicit key also wins over GROQ_API_KEY in the environment.
            "GROQ_API_KEY": llm_api_key,
            "LLM_API_KEY": llm_api_key,
            "LLM_BASE_URL": llm_base_url,
            "LLM_MODEL": model,
            "OUTREACH_SEARCH_RPS": search_rps,
            "OUTREACH_LLM_RPS": llm_rps,
        }
        for name, value in explicit.items():
            if value is not None:
                settings[name] = str(value)
        if concurrency < 1 or chunk_size < 1:
            raise _outreach.ConfigError("concurrency and chunk_size must be at least 1")
        if max_retries is not None and max_retries < 0:
            raise _outreach.ConfigError("max_retries must not be negative")
        self._inner = _outreach.Pipeline(
            settings,
            concurrency=concurrency,
            chunk_size=chunk_size,
            combined=combined,
            max_retries=max_retries,
        )
        self.service = _service(service)
        self.last_summary = None
        missing = [
            name
            for name, ok in (
                ("SERPER_API_KEY", self._inner.search_configured),
                ("GROQ_API_KEY / LLM_API_KEY", self._inner.llm_configured),
            )
            if not ok
        ]
        if missing:
            warnings.warn(
                f"{' and '.join(missing)} not set: every row will get the fallback texts",
                MissingKeyWarning,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        inner = self._inner
        llm = f"model={inner.model!r}" if inner.llm_configured else "llm=missing key"
        search = "search=configured" if inner.search_configured else "search=missing key"
        return (
            f"Pipeline({search}, {llm}, concurrency={inner.concurrency}, "
            f"combined={inner.combined})"
        )

    @property
    def search_configured(self) -> bool:
        """True when a search key is set (else every row gets the research fallback)."""
        return self._inner.search_configured

    @property
    def llm_configured(self) -> bool:
        """True when an LLM key is set (else every row gets the fallbacks)."""
        return self._inner.llm_configured

    # ----------------------------------------------------------------- enrich

    def enrich(
        self,
        source: Source,
        *,
        email_col: Optional[str] = None,
        service: ServiceLike = None,
        output_columns: Optional[Sequence[str]] = None,
        out: Optional[_tables.PathLike] = None,
        progress: ProgressArg = True,
        limit: Optional[int] = None,
        format: Optional[str] = None,
        suppress: SuppressLike = None,
        subject_template: Optional[str] = None,
        body_template: Optional[str] = None,
        variants: Optional[Sequence[Mapping[str, Any]]] = None,
        variant_seed: Optional[str] = None,
        copy: Optional[CopyRules] = None,
        columns: ColumnsLike = None,
    ) -> Any:
        """Research every row and write an opener; returns the rows in input order with
        `sif_research` (research JSON or a fallback text) and `sif_personalized` (the
        opener or a fallback text) appended (an input column of either name is replaced).

        `source`: a CSV/XLSX path, a list of dicts, or a pandas DataFrame. Returns a
        DataFrame for a DataFrame (same index and dtypes) and, when pandas is installed,
        for a path (text cells); otherwise a list of dicts.

        `email_col` names the address column (guessed when None); `output_columns`
        restricts and orders the columns (of the result and of `out`); `out` also writes
        the result as XLSX or CSV (by extension, or `format="xlsx"|"csv"`); `limit`
        processes only the first rows. `progress`: True for a tqdm bar (when tqdm is
        installed), a callable taking a `Progress`, or False. `copy` sets how openers
        are written (a `CopyRules` dict: language, sentences, words per sentence,
        forbidden phrases, instructions; absent rules keep the defaults); `columns`
        names the columns holding the prospect's name, company, title, LinkedIn or
        website (a `ColumnRoles` dict; the rest are guessed from the headers).

        Rows whose email is invalid or whose providers fail get fallbacks; only a run-wide
        problem raises (`ProviderAuthError`, `ProviderOutOfCreditError`,
        `InvalidInputError`, …). Ctrl-C cancels the run and raises KeyboardInterrupt.
        The GIL is released while the run goes on.
        """
        handle, finish = self._start_enrich(
            source, email_col, service, output_columns, out, limit, format,
            _campaign_args(suppress, subject_template, body_template, variants, variant_seed),
            _run_args(copy, columns),
        )
        return finish(_runner.wait(handle, progress, "enrich"))

    async def enrich_async(
        self,
        source: Source,
        *,
        email_col: Optional[str] = None,
        service: ServiceLike = None,
        output_columns: Optional[Sequence[str]] = None,
        out: Optional[_tables.PathLike] = None,
        progress: ProgressArg = True,
        limit: Optional[int] = None,
        format: Optional[str] = None,
        suppress: SuppressLike = None,
        subject_template: Optional[str] = None,
        body_template: Optional[str] = None,
        variants: Optional[Sequence[Mapping[str, Any]]] = None,
        variant_seed: Optional[str] = None,
        copy: Optional[CopyRules] = None,
        columns: ColumnsLike = None,
    ) -> Any:
        """`enrich` for a running event loop (Jupyter): the loop stays free while rows are
        enriched, and cancelling the awaiting task cancels the run."""
        handle, finish = self._start_enrich(
            source, email_col, service, output_columns, out, limit, format,
            _campaign_args(suppress, subject_template, body_template, variants, variant_seed),
            _run_args(copy, columns),
        )
        return finish(await _runner.wait_async(handle, progress, "enrich"))

    def enrich_file(
        self,
        source: _tables.PathLike,
        out: _tables.PathLike,
        *,
        email_col: Optional[str] = None,
        service: ServiceLike = None,
        output_columns: Optional[Sequence[str]] = None,
        progress: ProgressArg = True,
        limit: Optional[int] = None,
        format: Optional[str] = None,
        suppress: SuppressLike = None,
        subject_template: Optional[str] = None,
        body_template: Optional[str] = None,
        variants: Optional[Sequence[Mapping[str, Any]]] = None,
        variant_seed: Optional[str] = None,
        copy: Optional[CopyRules] = None,
        columns: ColumnsLike = None,
    ) -> RunSummary:
        """Stream a CSV/XLSX file into `out` in bounded memory (the CLI's engine) and
        return only the summary: for files too large to hold as a table. `out` appears
        only when the run succeeds."""
        handle = self._start_file(
            source, out, email_col, service, output_columns, limit, format,
            _campaign_args(suppress, subject_template, body_template, variants, variant_seed),
            _run_args(copy, columns),
        )
        return self._finish_summary(_runner.wait(handle, progress, "enrich"))

    async def enrich_file_async(
        self,
        source: _tables.PathLike,
        out: _tables.PathLike,
        *,
        email_col: Optional[str] = None,
        service: ServiceLike = None,
        output_columns: Optional[Sequence[str]] = None,
        progress: ProgressArg = True,
        limit: Optional[int] = None,
        format: Optional[str] = None,
        suppress: SuppressLike = None,
        subject_template: Optional[str] = None,
        body_template: Optional[str] = None,
        variants: Optional[Sequence[Mapping[str, Any]]] = None,
        variant_seed: Optional[str] = None,
        copy: Optional[CopyRules] = None,
        columns: ColumnsLike = None,
    ) -> RunSummary:
        """`enrich_file` for a running event loop."""
        handle = self._start_file(
            source, out, email_col, service, output_columns, limit, format,
            _campaign_args(suppress, subject_template, body_template, variants, variant_seed),
            _run_args(copy, columns),
        )
        return self._finish_summary(await _runner.wait_async(handle, progress, "enrich"))

    # ----------------------------------------------------------------- one-off

    def research(self, email: str) -> Research:
        """Research one address. Returns the research object
        (`{"person": {"name", "info"}, "company": {"name", "info", "moat"}, "sources"}`),
        or, when research is unavailable (invalid email, missing key, provider error),
        `{"fallback": "Research unavailable: <reason>"}`. Raises only for run-wide
        problems (`ProviderAuthError`, `ProviderOutOfCreditError`)."""
        return _research_result(_runner.wait(self._inner.research(email)))

    async def research_async(self, email: str) -> Research:
        """`research` for a running event loop."""
        return _research_result(await _runner.wait_async(self._inner.research(email)))

    def personalize(
        self,
        research: Union[Research, str],
        service: ServiceLike = None,
        *,
        copy: Optional[CopyRules] = None,
    ) -> str:
        """An opener (by default 1–2 sentences, each at most 25 words; see `copy`) for a
        research object from `research`, or a `sif_research` cell; the personalized
        fallback text when research is unavailable or the model fails."""
        return str(_runner.wait(self._start_personalize(research, service, copy)))

    async def personalize_async(
        self,
        research: Union[Research, str],
        service: ServiceLike = None,
        *,
        copy: Optional[CopyRules] = None,
    ) -> str:
        """`personalize` for a running event loop."""
        return str(await _runner.wait_async(self._start_personalize(research, service, copy)))

    # ----------------------------------------------------------------- helpers

    def _service_arg(self, service: ServiceLike) -> Optional[Dict[str, str]]:
        return service_dict(self.service if service is None else _service(service))

    def _start_enrich(
        self,
        source: Source,
        email_col: Optional[str],
        service: ServiceLike,
        output_columns: Optional[Sequence[str]],
        out: Optional[_tables.PathLike],
        limit: Optional[int],
        format: Optional[str],
        campaign: Dict[str, Optional[str]],
        run: Dict[str, Any],
    ) -> Tuple[_outreach.RunHandle, Callable[[Any], Any]]:
        common: Dict[str, Any] = dict(
            run,
            email_column=email_col,
            service=self._service_arg(service),
            output_columns=None if output_columns is None else list(output_columns),
            out=None if out is None else os.fspath(out),
            format=format,
            limit=_limit(limit),
            suppress=campaign.get("suppress"),
            drafts=campaign.get("drafts"),
        )
        if isinstance(source, (str, os.PathLike)):
            handle = self._inner.enrich_path(os.fspath(source), **common)

            def finish_path(result: Any) -> Any:
                self._record(result)
                return _tables.text_table(result["headers"], result["rows"], as_frame=True)

            return handle, finish_path

        rows: List[Mapping[Any, Any]] = []
        if _tables.is_dataframe(source):
            table = _tables.Table.from_frame(source)
        elif isinstance(source, Mapping) or isinstance(source, (bytes, bytearray)):
            raise _outreach.InvalidInputError(
                "source must be a path, a list of dicts or a pandas DataFrame, "
                f"not {type(source).__name__}"
            )
        else:
            try:
                rows = list(cast(Iterable[Mapping[Any, Any]], source))
            except TypeError:
                raise _outreach.InvalidInputError(
                    "source must be a path, a list of dicts or a pandas DataFrame, "
                    f"not {type(source).__name__}"
                ) from None
            table = _tables.Table.from_rows(rows)
        handle = self._inner.enrich_rows(table.headers, table.cells, **common)
        frame = source if _tables.is_dataframe(source) else None

        def finish_rows(result: Any) -> Any:
            self._record(result)
            if frame is not None:
                return _tables.frame_result(frame, table, result)
            return _tables.rows_result(rows, table, result)

        return handle, finish_rows

    def _start_file(
        self,
        source: _tables.PathLike,
        out: _tables.PathLike,
        email_col: Optional[str],
        service: ServiceLike,
        output_columns: Optional[Sequence[str]],
        limit: Optional[int],
        format: Optional[str],
        campaign: Dict[str, Optional[str]],
        run: Dict[str, Any],
    ) -> _outreach.RunHandle:
        return self._inner.enrich_path(
            os.fspath(source),
            copy=run["copy"],
            columns=run["columns"],
            email_column=email_col,
            service=self._service_arg(service),
            output_columns=None if output_columns is None else list(output_columns),
            out=os.fspath(out),
            format=format,
            limit=_limit(limit),
            return_rows=False,
            suppress=campaign.get("suppress"),
            drafts=campaign.get("drafts"),
        )

    def _start_personalize(
        self, research: Union[Research, str], service: ServiceLike, copy: Optional[CopyRules]
    ) -> _outreach.RunHandle:
        if isinstance(research, str):
            text = research
        elif "fallback" in research:
            text = str(research["fallback"])
        else:
            text = json.dumps(research, ensure_ascii=False)
        return self._inner.personalize(text, self._service_arg(service), copy_json(copy))

    def _record(self, result: Mapping[str, Any]) -> None:
        self.last_summary = RunSummary._from_dict(result["summary"])

    def _finish_summary(self, result: Mapping[str, Any]) -> RunSummary:
        self._record(result)
        assert self.last_summary is not None
        return self.last_summary


def _run_args(copy: Optional[CopyRules], columns: ColumnsLike) -> Dict[str, Any]:
    """Copy rules and column roles as the extension takes them (checked here)."""
    return {"copy": copy_json(copy), "columns": columns_dict(columns)}


def _campaign_args(
    suppress: SuppressLike,
    subject_template: Optional[str],
    body_template: Optional[str],
    variants: Optional[Sequence[Mapping[str, Any]]],
    variant_seed: Optional[str],
) -> Dict[str, Optional[str]]:
    """The do-not-contact list as text and the templates as JSON, for the extension.

    `suppress`: a path to a list file (one email, `domain.com` or `@domain.com` per
    line, or a CSV with an email/domain column), or an iterable of such entries.
    """
    text: Optional[str] = None
    if isinstance(suppress, (str, os.PathLike)):
        with open(os.fspath(suppress), encoding="utf-8-sig", errors="replace") as f:
            text = f.read()
    elif suppress is not None:
        text = "\n".join(str(entry) for entry in suppress)
    if (subject_template is None) != (body_template is None):
        raise _outreach.InvalidInputError(
            "give both subject_template and body_template (or neither)"
        )
    pairs: List[Dict[str, Any]] = []
    if subject_template is not None:
        pairs.append({"name": "", "subject": subject_template, "body": body_template})
    for v in variants or ():
        pairs.append(
            {
                "name": str(v.get("name", "")),
                "subject": str(v["subject"]),
                "body": str(v["body"]),
                "weight": int(v.get("weight", 1)),
            }
        )
    drafts = (
        json.dumps({"variants": pairs, "seed": variant_seed or ""}) if pairs else None
    )
    return {"suppress": text, "drafts": drafts}


def _limit(limit: Optional[int]) -> Optional[int]:
    if limit is not None and limit < 0:
        raise _outreach.InvalidInputError("limit must not be negative")
    return limit


def _research_result(value: Any) -> Research:
    cell, ok = value
    if ok:
        parsed: Research = json.loads(cell)
        return parsed
    return {"fallback": cell}
