//! The one place core errors become Python exceptions: each [`outreach_core::Error`]
//! variant has its own class under `OutreachError`, carries the core's message, and,
//! where the variant has fields a caller can act on (`provider`, `status`,
//! `retry_after`…), exposes them as attributes.

use outreach_core::{Error, ProviderKind};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::{create_exception, BoundObject, PyErr};

create_exception!(
    outreach,
    OutreachError,
    PyException,
    "Base class of every error raised by outreach."
);
create_exception!(
    outreach,
    InvalidInputError,
    OutreachError,
    "The input (file, rows, email column, output columns) cannot be used; nothing was called."
);
create_exception!(
    outreach,
    ConfigError,
    OutreachError,
    "The configuration is unusable (a key that cannot be sent, a bad setting)."
);
create_exception!(
    outreach,
    ProviderError,
    OutreachError,
    "A provider (search or LLM) failed. Attributes: `provider` (\"search\" or \"llm\")."
);
create_exception!(
    outreach,
    ProviderAuthError,
    ProviderError,
    "A provider rejected the API key (HTTP 401/403); the run stopped. Attribute: `status`."
);
create_exception!(
    outreach,
    ProviderOutOfCreditError,
    ProviderError,
    "A provider account is out of credit; the run stopped."
);
create_exception!(
    outreach,
    RateLimitedError,
    ProviderError,
    "Still rate limited after the retries. Attribute: `retry_after` (seconds or None)."
);
create_exception!(
    outreach,
    UpstreamError,
    ProviderError,
    "A provider answered with an error status after the retries. Attribute: `status`."
);
create_exception!(
    outreach,
    ProviderTimeoutError,
    ProviderError,
    "A provider did not answer in time, after the retries."
);
create_exception!(
    outreach,
    ProviderUnreachableError,
    ProviderError,
    "A provider could not be reached (DNS, connection refused, TLS)."
);
create_exception!(
    outreach,
    BadResponseError,
    ProviderError,
    "A provider answered 2xx with a body that could not be understood."
);
create_exception!(
    outreach,
    InsufficientCreditsError,
    OutreachError,
    "Not enough credits for the job. Attributes: `needed`, `available`."
);
create_exception!(
    outreach,
    NotFoundError,
    OutreachError,
    "Something the call named does not exist."
);
create_exception!(
    outreach,
    CancelledError,
    OutreachError,
    "The run was cancelled (Ctrl-C, task cancellation or `RunHandle.cancel()`)."
);
create_exception!(
    outreach,
    IoError,
    OutreachError,
    "Reading or writing a file failed at the operating-system level."
);
create_exception!(
    outreach,
    OutputError,
    OutreachError,
    "The output could not be written (missing directory, not writable…)."
);

/// Registers every exception class on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("OutreachError", py.get_type::<OutreachError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("ProviderError", py.get_type::<ProviderError>())?;
    m.add("ProviderAuthError", py.get_type::<ProviderAuthError>())?;
    m.add(
        "ProviderOutOfCreditError",
        py.get_type::<ProviderOutOfCreditError>(),
    )?;
    m.add("RateLimitedError", py.get_type::<RateLimitedError>())?;
    m.add("UpstreamError", py.get_type::<UpstreamError>())?;
    m.add(
        "ProviderTimeoutError",
        py.get_type::<ProviderTimeoutError>(),
    )?;
    m.add(
        "ProviderUnreachableError",
        py.get_type::<ProviderUnreachableError>(),
    )?;
    m.add("BadResponseError", py.get_type::<BadResponseError>())?;
    m.add(
        "InsufficientCreditsError",
        py.get_type::<InsufficientCreditsError>(),
    )?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("CancelledError", py.get_type::<CancelledError>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    Ok(())
}

fn provider_name(p: ProviderKind) -> &'static str {
    match p {
        ProviderKind::Search => "search",
        ProviderKind::Llm => "llm",
        ProviderKind::Destination => "destination",
        ProviderKind::Webhook => "webhook",
    }
}

/// A core error as the matching Python exception, with the core's message.
pub fn to_py_err(error: Error) -> PyErr {
    Python::attach(|py| {
        let message = error.to_string();
        let (err, attrs): (PyErr, Vec<(&str, Py<PyAny>)>) = match error {
            Error::InvalidInput(_) => (InvalidInputError::new_err(message), vec![]),
            Error::ProviderAuth { provider, status } => (
                ProviderAuthError::new_err(message),
                vec![
                    ("provider", obj(py, provider_name(provider))),
                    ("status", obj(py, status)),
                ],
            ),
            Error::ProviderOutOfCredit { provider } => (
                ProviderOutOfCreditError::new_err(message),
                vec![("provider", obj(py, provider_name(provider)))],
            ),
            Error::RateLimited {
                provider,
                retry_after,
            } => (
                RateLimitedError::new_err(message),
                vec![
                    ("provider", obj(py, provider_name(provider))),
                    ("retry_after", obj(py, retry_after.map(|d| d.as_secs_f64()))),
                ],
            ),
            Error::Upstream {
                provider, status, ..
            } => (
                UpstreamError::new_err(message),
                vec![
                    ("provider", obj(py, provider_name(provider))),
                    ("status", obj(py, status)),
                ],
            ),
            Error::Timeout { provider } => (
                ProviderTimeoutError::new_err(message),
                vec![("provider", obj(py, provider_name(provider)))],
            ),
            Error::Network { provider, .. } => (
                ProviderUnreachableError::new_err(message),
                vec![("provider", obj(py, provider_name(provider)))],
            ),
            Error::BadResponse { provider, .. } => (
                BadResponseError::new_err(message),
                vec![("provider", obj(py, provider_name(provider)))],
            ),
            Error::InsufficientCredits { needed, available } => (
                InsufficientCreditsError::new_err(message),
                vec![
                    ("needed", obj(py, needed)),
                    ("available", obj(py, available)),
                ],
            ),
            Error::NotFound(_) => (NotFoundError::new_err(message), vec![]),
            Error::Cancelled => (CancelledError::new_err(message), vec![]),
            Error::Io(_) => (IoError::new_err(message), vec![]),
            Error::Output(_) => (OutputError::new_err(message), vec![]),
            Error::Config(_) => (ConfigError::new_err(message), vec![]),
            // `Error` is non-exhaustive: a variant added later still gets the base class.
            _ => (OutreachError::new_err(message), vec![]),
        };
        let value = err.value(py);
        for (name, v) in attrs {
            // Setting an attribute on a fresh exception instance cannot fail in
            // practice; if it ever did, the exception is still worth raising.
            let _ = value.setattr(name, v);
        }
        err
    })
}

fn obj<'py, T>(py: Python<'py>, value: T) -> Py<PyAny>
where
    T: IntoPyObject<'py>,
{
    match value.into_pyobject(py) {
        Ok(v) => v.into_any().unbind(),
        Err(_) => py.None(),
    }
}

/// For call-site validation in the binding: a configuration mistake.
pub fn config_error(message: impl Into<String>) -> PyErr {
    ConfigError::new_err(message.into())
}

/// For call-site validation in the binding: unusable input.
pub fn input_error(message: impl Into<String>) -> PyErr {
    InvalidInputError::new_err(message.into())
}
