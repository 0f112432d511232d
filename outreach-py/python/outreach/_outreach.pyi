"""Type stubs of the private extension module `outreach._outreach` (Rust, pyo3).

Use the `outreach` package instead: this module's API may change without notice.
"""

from typing import Any, Dict, List, Optional, Tuple, final

__all__ = [
    "read_headers",
    "default_service",
    "default_copy_rules",
    "Pipeline",
    "RunHandle",
    "RESEARCH_COLUMN",
    "PERSONALIZED_COLUMN",
    "STATUS_COLUMN",
    "SOURCES_COLUMN",
    "SERVICE_FIELDS",
    "COPY_RULES",
    "COLUMN_ROLES",
    "__version__",
    "BUILD_PROFILE",
    "OutreachError",
    "InvalidInputError",
    "ConfigError",
    "ProviderError",
    "ProviderAuthError",
    "ProviderOutOfCreditError",
    "RateLimitedError",
    "UpstreamError",
    "ProviderTimeoutError",
    "ProviderUnreachableError",
    "BadResponseError",
    "InsufficientCreditsError",
    "NotFoundError",
    "CancelledError",
    "IoError",
    "OutputError",
]

__version__: str
BUILD_PROFILE: str
RESEARCH_COLUMN: str
PERSONALIZED_COLUMN: str
STATUS_COLUMN: str
SOURCES_COLUMN: str
SERVICE_FIELDS: List[str]
COPY_RULES: List[str]
COLUMN_ROLES: List[str]

def read_headers(path: str) -> Dict[str, Any]: ...
def default_service() -> Dict[str, str]: ...
def default_copy_rules() -> str: ...

@final
class RunHandle:
    def wait(self, timeout: float) -> bool: ...
    def done(self) -> bool: ...
    def cancel(self) -> None: ...
    def progress(self) -> Optional[Tuple[int, Optional[int], int, Dict[str, int]]]: ...
    def result(self) -> Any: ...

@final
class Pipeline:
    def __new__(
        cls,
        settings: Dict[str, str],
        *,
        concurrency: int = 64,
        chunk_size: int = 50,
        combined: bool = False,
        max_retries: Optional[int] = None,
    ) -> Pipeline: ...
    @property
    def search_configured(self) -> bool: ...
    @property
    def llm_configured(self) -> bool: ...
    @property
    def model(self) -> Optional[str]: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def combined(self) -> bool: ...
    def enrich_rows(
        self,
        headers: List[str],
        rows: List[List[str]],
        *,
        email_column: Optional[str] = None,
        service: Optional[Dict[str, str]] = None,
        output_columns: Optional[List[str]] = None,
        out: Optional[str] = None,
        format: Optional[str] = None,
        limit: Optional[int] = None,
        columns: Optional[Dict[str, str]] = None,
        suppress: Optional[str] = None,
        drafts: Optional[str] = None,
        copy: Optional[str] = None,
    ) -> RunHandle: ...
    def enrich_path(
        self,
        path: str,
        *,
        email_column: Optional[str] = None,
        service: Optional[Dict[str, str]] = None,
        output_columns: Optional[List[str]] = None,
        out: Optional[str] = None,
        format: Optional[str] = None,
        limit: Optional[int] = None,
        return_rows: bool = True,
        columns: Optional[Dict[str, str]] = None,
        suppress: Optional[str] = None,
        drafts: Optional[str] = None,
        copy: Optional[str] = None,
    ) -> RunHandle: ...
    def research(self, email: str) -> RunHandle: ...
    def personalize(
        self,
        research_json: str,
        service: Optional[Dict[str, str]] = None,
        copy: Optional[str] = None,
    ) -> RunHandle: ...

class OutreachError(Exception): ...
class InvalidInputError(OutreachError): ...
class ConfigError(OutreachError): ...

class ProviderError(OutreachError):
    provider: str

class ProviderAuthError(ProviderError):
    status: int

class ProviderOutOfCreditError(ProviderError): ...

class RateLimitedError(ProviderError):
    retry_after: Optional[float]

class UpstreamError(ProviderError):
    status: int

class ProviderTimeoutError(ProviderError): ...
class ProviderUnreachableError(ProviderError): ...
class BadResponseError(ProviderError): ...

class InsufficientCreditsError(OutreachError):
    needed: int
    available: int

class NotFoundError(OutreachError): ...
class CancelledError(OutreachError): ...
class IoError(OutreachError): ...
class OutputError(OutreachError): ...
