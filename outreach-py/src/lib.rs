//! `outreach._outreach`: the Rust half of the Python package `outreach`.
//!
//! Design notes (the tiktoken/tokenizers model):
//! - This module only converts. Every run goes through `outreach-core` (`enrich_rows`,
//!   `enrich_file`, the readers, `OutputLayout`, the writers); the pure-Python facade in
//!   `python/outreach/` owns the public API (DataFrames, dataclasses, tqdm, asyncio).
//! - Arguments are converted to owned Rust values while attached to the interpreter;
//!   the work then runs on one global tokio runtime ([`run::runtime`]) with no Python
//!   object in reach, so the GIL is free for the whole run.
//! - Long calls return a [`run::RunHandle`]: the facade waits on it in short slices
//!   with the GIL released (Ctrl-C raises between slices and cancels the task), or
//!   polls it from an event loop (`enrich_async`). Progress is recorded by a
//!   `ProgressSink` adapter and read from the caller's thread, so callbacks and tqdm
//!   never run on a runtime thread.
//! - Each core error variant maps to its own exception class ([`errors`]).

mod errors;
mod pipeline;
mod run;

use std::path::PathBuf;

use outreach_core::output::{PERSONALIZED_COLUMN, RESEARCH_COLUMN, SOURCES_COLUMN, STATUS_COLUMN};
use outreach_core::ServiceContext;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use errors::to_py_err;

/// Headers, data-row count and guessed email column of a CSV/XLSX file, read in
/// bounded memory with the GIL released.
#[pyfunction]
fn read_headers(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let summary = py
        .detach(move || outreach_core::input::read_summary(&path))
        .map_err(to_py_err)?;
    let d = PyDict::new(py);
    d.set_item("headers", summary.headers)?;
    d.set_item("rows", summary.rows)?;
    d.set_item("email_column", summary.email_column)?;
    Ok(d)
}

/// The core's default service context, as a dict of the six fields.
#[pyfunction]
fn default_service(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    pipeline::service_dict(py, &ServiceContext::default())
}

/// The core's default copy rules, as JSON text.
#[pyfunction]
fn default_copy_rules() -> String {
    pipeline::default_copy_rules_json()
}

#[pymodule]
fn _outreach(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_headers, m)?)?;
    m.add_function(wrap_pyfunction!(default_service, m)?)?;
    m.add_function(wrap_pyfunction!(default_copy_rules, m)?)?;
    m.add_class::<pipeline::Pipeline>()?;
    m.add_class::<run::RunHandle>()?;
    m.add("RESEARCH_COLUMN", RESEARCH_COLUMN)?;
    m.add("PERSONALIZED_COLUMN", PERSONALIZED_COLUMN)?;
    m.add("STATUS_COLUMN", STATUS_COLUMN)?;
    m.add("SOURCES_COLUMN", SOURCES_COLUMN)?;
    m.add("SERVICE_FIELDS", pipeline::service_field_names())?;
    m.add("COPY_RULES", pipeline::copy_rule_names())?;
    m.add("COLUMN_ROLES", pipeline::column_role_names())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // For benchmarks and bug reports: a debug build is several times slower on CPU work.
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    m.add("BUILD_PROFILE", profile)?;
    errors::register(m)?;
    Ok(())
}
