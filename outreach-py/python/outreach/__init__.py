"""outreach: research-backed, personalized sales openers for prospect lists.

    >>> import outreach
    >>> pipeline = outreach.Pipeline()          # keys from SERPER_API_KEY, GROQ_API_KEY…
    >>> df = pipeline.enrich("prospects.csv")   # a DataFrame with sif_research, sif_personalized

The engine is the Rust crate `outreach-core` (via the private `outreach._outreach`
extension); this package owns the Python API: `Pipeline`, `read_headers`,
`ServiceContext`, the result types and the exception classes.
"""

from ._outreach import (
    BadResponseError,
    CancelledError,
    ConfigError,
    InsufficientCreditsError,
    InvalidInputError,
    IoError,
    NotFoundError,
    OutputError,
    OutreachError,
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCreditError,
    ProviderTimeoutError,
    ProviderUnreachableError,
    RateLimitedError,
    UpstreamError,
    __version__,
)
from ._pipeline import ENV_NAMES, MissingKeyWarning, Pipeline, read_headers
from ._tables import PERSONALIZED_COLUMN, RESEARCH_COLUMN, SOURCES_COLUMN, STATUS_COLUMN
from ._types import (
    ColumnRoles,
    CopyRules,
    HeaderSummary,
    Metrics,
    Progress,
    RunSummary,
    ServiceContext,
    default_copy_rules,
)

__all__ = [
    "BadResponseError",
    "CancelledError",
    "ColumnRoles",
    "ConfigError",
    "CopyRules",
    "ENV_NAMES",
    "HeaderSummary",
    "InsufficientCreditsError",
    "InvalidInputError",
    "IoError",
    "Metrics",
    "MissingKeyWarning",
    "NotFoundError",
    "OutputError",
    "OutreachError",
    "PERSONALIZED_COLUMN",
    "Pipeline",
    "Progress",
    "ProviderAuthError",
    "ProviderError",
    "ProviderOutOfCreditError",
    "ProviderTimeoutError",
    "ProviderUnreachableError",
    "RESEARCH_COLUMN",
    "RateLimitedError",
    "RunSummary",
    "SOURCES_COLUMN",
    "STATUS_COLUMN",
    "ServiceContext",
    "UpstreamError",
    "__version__",
    "default_copy_rules",
    "read_headers",
]
