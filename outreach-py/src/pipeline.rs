//! `Pipeline`: providers built once from settings, and the calls that run on them.
//!
//! Each method converts its arguments, checks what can be checked without I/O (so a
//! bad email column or output format raises at once, before any provider call), and
//! spawns the core's work as a task behind a [`RunHandle`]. No pipeline logic lives
//! here: rows go through the core's `enrich_table`, files through `enrich_file` or
//! `enrich_file_to_memory`; this module only converts their results.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use outreach_core::campaign::{
    Campaign, DraftSpec, Drafts, EmailDraft, SuppressionList, BODY_COLUMN, SUBJECT_COLUMN,
    VARIANT_COLUMN,
};
use outreach_core::engine::{self, TableOutput};
use outreach_core::input::{ColumnOverrides, ColumnRole};
use outreach_core::output::OutputFormat;
use outreach_core::personalize::rules::CopyRules;
use outreach_core::pipeline::{Plan, PlanRequest};
use outreach_core::service::SERVICE_FIELDS;
use outreach_core::{
    EnrichOptions, Enricher, EnricherConfig, Mode, PipelineConfig, Providers, RowOutcome,
    RowStatus, RunSummary, ServiceContext,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::IntoPyObjectExt;

use crate::errors::{config_error, input_error, to_py_err};
use crate::run::{metrics_dict, spawn, Converter, RunHandle};

/// The names of the service context's text fields, in the core's order (the core's
/// one definition, `outreach_core::service::SERVICE_FIELDS`).
pub fn service_field_names() -> Vec<&'static str> {
    SERVICE_FIELDS.iter().map(|f| f.name).collect()
}

/// The copy rules' field names (their JSON names, sorted).
pub fn copy_rule_names() -> Vec<String> {
    match serde_json::to_value(CopyRules::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The column roles `columns=` takes, in the core's order.
pub fn column_role_names() -> Vec<&'static str> {
    ColumnRole::ALL.iter().map(|r| r.as_str()).collect()
}

/// A service context from a `{field: text}` mapping and copy-rule overrides (a JSON
/// object; absent rules keep the defaults), checked as the core checks it, so a bad
/// value raises before the run starts.
pub fn service_from(
    map: Option<HashMap<String, String>>,
    copy: Option<String>,
) -> PyResult<ServiceContext> {
    let mut service = ServiceContext::default();
    for (key, value) in map.unwrap_or_default() {
        if service.get(&key).is_none() {
            return Err(config_error(format!(
                "unknown service field `{key}`; the fields are: {}",
                service_field_names().join(", ")
            )));
        }
        service.set(&key, value).map_err(invalid_service)?;
    }
    if let Some(json) = copy {
        service.copy = copy_rules_from(&json)?;
    }
    service.validate().map_err(invalid_service)?;
    Ok(service)
}

/// A refused service context, with the core's message (no interpreter needed to build).
fn invalid_service(e: outreach_core::InputError) -> PyErr {
    input_error(outreach_core::Error::from(e).to_string())
}

/// Copy rules from a JSON object of overrides; an unknown rule is a `ConfigError`.
fn copy_rules_from(json: &str) -> PyResult<CopyRules> {
    let overrides: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| input_error(format!("invalid copy rules: {e}")))?;
    let names = copy_rule_names();
    let mut rules = match serde_json::to_value(CopyRules::default()) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    for (key, value) in overrides {
        if !names.contains(&key) {
            return Err(config_error(format!(
                "unknown copy rule `{key}`; the rules are: {}",
                names.join(", ")
            )));
        }
        rules.insert(key, value);
    }
    serde_json::from_value(serde_json::Value::Object(rules))
        .map_err(|e| input_error(format!("invalid copy rules: {e}")))
}

/// The core's default service context as a dict of its text fields.
pub fn service_dict<'py>(py: Python<'py>, s: &ServiceContext) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for name in service_field_names() {
        d.set_item(name, s.get(name).unwrap_or_default())?;
    }
    Ok(d)
}

/// The core's default copy rules, as JSON text (the facade's defaults).
pub fn default_copy_rules_json() -> String {
    serde_json::to_string(&CopyRules::default()).unwrap_or_default()
}

fn parse_format(format: Option<&str>, out: Option<&PathBuf>) -> PyResult<OutputFormat> {
    match format {
        Some(f) => f.parse().map_err(input_error),
        None => Ok(out
            .and_then(|p| OutputFormat::from_path(p))
            .unwrap_or_default()),
    }
}

/// A configured pipeline: HTTP clients with their retry, rate-limit and concurrency
/// policies, shared by every call made through it.
#[pyclass(frozen, module = "outreach._outreach")]
pub struct Pipeline {
    providers: Providers,
    mode: Mode,
    concurrency: usize,
    chunk_size: usize,
    /// Used by one-off `research` calls, so their search cache spans calls.
    researcher: Arc<Enricher>,
    model: Option<String>,
}

impl Pipeline {
    fn enricher(&self, service: ServiceContext, campaign: Campaign) -> Enricher {
        self.providers.enricher(EnricherConfig {
            mode: self.mode,
            service,
            campaign,
            ..EnricherConfig::default()
        })
    }

    fn options(&self, limit: Option<u64>) -> EnrichOptions {
        EnrichOptions {
            chunk_size: self.chunk_size,
            concurrency: self.concurrency,
            limit,
            ..EnrichOptions::default()
        }
    }
}

#[pymethods]
impl Pipeline {
    /// `settings` maps the DESIGN.md environment names (`SERPER_API_KEY`, `SERPER_URL`,
    /// `GROQ_API_KEY`/`LLM_API_KEY`, `LLM_BASE_URL`, `LLM_MODEL`, `OUTREACH_*_RPS`,
    /// `OUTREACH_*_CONCURRENCY`) to values; the facade merges arguments over
    /// `os.environ` into it.
    #[new]
    #[pyo3(signature = (settings, *, concurrency = 64, chunk_size = 50, combined = false, max_retries = None))]
    fn new(
        settings: HashMap<String, String>,
        concurrency: usize,
        chunk_size: usize,
        combined: bool,
        max_retries: Option<u32>,
    ) -> PyResult<Self> {
        if concurrency == 0 {
            return Err(config_error("concurrency must be at least 1"));
        }
        if chunk_size == 0 {
            return Err(config_error("chunk_size must be at least 1"));
        }
        let mut config = PipelineConfig::from_lookup(|name| settings.get(name).cloned());
        if let Some(n) = max_retries {
            config.search_policy.max_retries = n;
            config.llm_policy.max_retries = n;
        }
        let mode = if combined {
            Mode::Combined
        } else {
            Mode::TwoCall
        };
        config.enricher.mode = mode;
        let providers = config.providers().map_err(to_py_err)?;
        let researcher = Arc::new(providers.enricher(EnricherConfig {
            mode,
            ..EnricherConfig::default()
        }));
        Ok(Self {
            providers,
            mode,
            concurrency,
            chunk_size,
            researcher,
            model: config.llm.as_ref().map(|l| l.model.clone()),
        })
    }

    /// True when a search key is configured (else every row gets the research fallback).
    #[getter]
    fn search_configured(&self) -> bool {
        self.providers.search.is_some()
    }

    /// True when an LLM key is configured (else every row gets the fallbacks).
    #[getter]
    fn llm_configured(&self) -> bool {
        self.providers.llm.is_some()
    }

    /// The LLM model name, when an LLM is configured.
    #[getter]
    fn model(&self) -> Option<String> {
        self.model.clone()
    }

    #[getter]
    fn concurrency(&self) -> usize {
        self.concurrency
    }

    #[getter]
    fn combined(&self) -> bool {
        self.mode == Mode::Combined
    }

    /// Enrich rows held in memory. `rows` are the cells as text, under `headers`.
    ///
    /// The result dict: `headers` (the output columns), `research`, `personalized` and
    /// `status` (one per processed row, in input order), `drafts` (the draft columns by
    /// name, when the run has templates) and `summary`.
    #[pyo3(signature = (headers, rows, *, email_column = None, service = None, output_columns = None, out = None, format = None, limit = None, columns = None, suppress = None, drafts = None, copy = None))]
    #[allow(clippy::too_many_arguments)]
    fn enrich_rows(
        &self,
        headers: Vec<String>,
        rows: Vec<Vec<String>>,
        email_column: Option<String>,
        service: Option<HashMap<String, String>>,
        output_columns: Option<Vec<String>>,
        out: Option<PathBuf>,
        format: Option<String>,
        limit: Option<u64>,
        columns: Option<HashMap<String, String>>,
        suppress: Option<String>,
        drafts: Option<String>,
        copy: Option<String>,
    ) -> PyResult<RunHandle> {
        let campaign = campaign_from(suppress, drafts)?;
        let service = service_from(service, copy)?;
        let format = parse_format(format.as_deref(), out.as_ref())?;
        let columns = column_overrides(columns)?;
        // Checked here, before the run starts, so a bad column or template raises at
        // once.
        Plan::for_rows(
            &headers,
            &rows,
            &PlanRequest {
                email_column: email_column.clone(),
                columns: columns.clone(),
                output_columns: output_columns.clone(),
                limit,
                drafts: campaign.drafts.clone(),
                count_suppressed: None,
            },
        )
        .map_err(to_py_err)?;
        let enricher = self.enricher(service, campaign);
        let options = EnrichOptions {
            email_column,
            columns,
            output_columns,
            format: Some(format),
            ..self.options(limit)
        };
        let output = TableOutput {
            path: out,
            format,
            keep_rows: false,
        };
        spawn(move |ctx| async move {
            let mut run =
                engine::enrich_table(&enricher, headers, rows, &options, output, &ctx.progress)
                    .await?;
            run.summary.metrics = ctx.metrics.snapshot();
            let convert: Converter = Box::new(move |py| {
                let d = PyDict::new(py);
                d.set_item("drafts", draft_columns(&run.outcomes, &run.headers))?;
                d.set_item("headers", run.headers)?;
                let n = run.outcomes.len();
                let (mut research, mut personalized, mut status) = (
                    Vec::with_capacity(n),
                    Vec::with_capacity(n),
                    Vec::with_capacity(n),
                );
                for o in run.outcomes {
                    research.push(o.research);
                    personalized.push(o.personalized);
                    status.push(status_name(o.status));
                }
                d.set_item("research", research)?;
                d.set_item("personalized", personalized)?;
                d.set_item("status", status)?;
                d.set_item("summary", summary_dict(py, &run.summary)?)?;
                Ok(d.into_any().unbind())
            });
            Ok(convert)
        })
    }

    /// Enrich a CSV/XLSX file.
    ///
    /// With `return_rows` (the default) the rows are read into memory, enriched and
    /// returned (and written to `out` when given); without it the file is streamed to
    /// `out` by the core's `enrich_file` in bounded memory and only the summary returns.
    /// The result dict: `headers`, `rows` (output cells as text, or None) and `summary`.
    #[pyo3(signature = (path, *, email_column = None, service = None, output_columns = None, out = None, format = None, limit = None, return_rows = true, columns = None, suppress = None, drafts = None, copy = None))]
    #[allow(clippy::too_many_arguments)]
    fn enrich_path(
        &self,
        path: PathBuf,
        email_column: Option<String>,
        service: Option<HashMap<String, String>>,
        output_columns: Option<Vec<String>>,
        out: Option<PathBuf>,
        format: Option<String>,
        limit: Option<u64>,
        return_rows: bool,
        columns: Option<HashMap<String, String>>,
        suppress: Option<String>,
        drafts: Option<String>,
        copy: Option<String>,
    ) -> PyResult<RunHandle> {
        let service = service_from(service, copy)?;
        let format = parse_format(format.as_deref(), out.as_ref())?;
        let campaign = campaign_from(suppress, drafts)?;
        let enricher = self.enricher(service, campaign);
        let options = EnrichOptions {
            email_column,
            columns: column_overrides(columns)?,
            output_columns,
            format: Some(format),
            ..self.options(limit)
        };
        if !return_rows {
            let Some(out) = out else {
                return Err(input_error(
                    "return_rows=False needs `out`: the rows would go nowhere",
                ));
            };
            return spawn(move |ctx| async move {
                let mut summary =
                    engine::enrich_file(&enricher, &path, &out, &options, &ctx.progress).await?;
                summary.metrics = ctx.metrics.snapshot();
                let convert: Converter = Box::new(move |py| {
                    let d = PyDict::new(py);
                    d.set_item("headers", py.None())?;
                    d.set_item("rows", py.None())?;
                    d.set_item("summary", summary_dict(py, &summary)?)?;
                    Ok(d.into_any().unbind())
                });
                Ok(convert)
            });
        }
        let output = TableOutput {
            path: out,
            format,
            keep_rows: true,
        };
        spawn(move |ctx| async move {
            let mut run =
                engine::enrich_file_to_memory(&enricher, &path, &options, output, &ctx.progress)
                    .await?;
            run.summary.metrics = ctx.metrics.snapshot();
            let convert: Converter = Box::new(move |py| {
                let d = PyDict::new(py);
                d.set_item("headers", run.headers)?;
                d.set_item("rows", run.rows)?;
                d.set_item("summary", summary_dict(py, &run.summary)?)?;
                Ok(d.into_any().unbind())
            });
            Ok(convert)
        })
    }

    /// Research one address: `(cell, ok)` where `cell` is the research JSON text when
    /// `ok`, else the research fallback text.
    fn research(&self, email: String) -> PyResult<RunHandle> {
        let researcher = self.researcher.clone();
        spawn(move |_ctx| async move {
            let (cell, parsed) = researcher.research(&email).await?;
            let ok = parsed.is_some();
            let convert: Converter = Box::new(move |py| (cell, ok).into_py_any(py));
            Ok(convert)
        })
    }

    /// An opener for a research JSON text (or a research fallback text) and a service
    /// context: the line, or the personalized fallback text.
    #[pyo3(signature = (research_json, service = None, copy = None))]
    fn personalize(
        &self,
        research_json: String,
        service: Option<HashMap<String, String>>,
        copy: Option<String>,
    ) -> PyResult<RunHandle> {
        let enricher = self.providers.enricher(EnricherConfig {
            mode: self.mode,
            service: service_from(service, copy)?,
            // One call, nothing to cache.
            cache_capacity: 1,
            ..EnricherConfig::default()
        });
        spawn(move |_ctx| async move {
            let line = enricher.personalize(&research_json).await?;
            let convert: Converter = Box::new(move |py| line.into_py_any(py));
            Ok(convert)
        })
    }
}

/// Role-column overrides from a `{role: header}` mapping (`first_name`, `last_name`,
/// `full_name`, `company`, `title`, `linkedin`, `website`).
fn column_overrides(map: Option<HashMap<String, String>>) -> PyResult<ColumnOverrides> {
    let mut out = ColumnOverrides::default();
    for (key, header) in map.unwrap_or_default() {
        let role = ColumnRole::ALL
            .into_iter()
            .find(|r| r.as_str() == key)
            .ok_or_else(|| {
                let names: Vec<&str> = ColumnRole::ALL.iter().map(|r| r.as_str()).collect();
                config_error(format!(
                    "unknown column role `{key}`; the roles are: {}",
                    names.join(", ")
                ))
            })?;
        out.set(role, Some(header));
    }
    Ok(out)
}

/// The do-not-contact list (text, one entry per line or a CSV) and the templates (a
/// JSON `DraftSpec`) the facade passes.
fn campaign_from(suppress: Option<String>, drafts: Option<String>) -> PyResult<Campaign> {
    let suppression = suppress.map(|text| Arc::new(SuppressionList::parse(&text).0));
    let drafts = match drafts {
        Some(json) => {
            let spec: DraftSpec = serde_json::from_str(&json)
                .map_err(|e| input_error(format!("invalid templates: {e}")))?;
            Some(Drafts::compile(&spec).map_err(to_py_err)?)
        }
        None => None,
    };
    Ok(Campaign {
        suppression,
        drafts,
    })
}

/// The draft columns of the output (`email_subject`, `email_body`, `variant`), by name.
fn draft_columns(outcomes: &[RowOutcome], headers: &[String]) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for (name, pick) in [
        (
            SUBJECT_COLUMN,
            (|d: &EmailDraft| d.subject.clone()) as fn(&EmailDraft) -> String,
        ),
        (BODY_COLUMN, |d: &EmailDraft| d.body.clone()),
        (VARIANT_COLUMN, |d: &EmailDraft| d.variant.clone()),
    ] {
        if headers.iter().any(|h| h == name) {
            let values = outcomes
                .iter()
                .map(|o| o.draft.as_ref().map(pick).unwrap_or_default())
                .collect();
            out.insert(name.to_string(), values);
        }
    }
    out
}

fn status_name(status: RowStatus) -> &'static str {
    status.as_str()
}

fn summary_dict<'py>(py: Python<'py>, s: &RunSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("rows", s.rows)?;
    d.set_item("enriched", s.enriched)?;
    d.set_item("fallbacks", s.fallbacks)?;
    d.set_item("invalid_emails", s.invalid_emails)?;
    d.set_item("suppressed", s.suppressed)?;
    d.set_item("refundable", s.refundable)?;
    d.set_item("email_column", &s.email_column)?;
    d.set_item("truncated_cells", s.truncated_cells)?;
    d.set_item("ragged_rows", s.ragged_rows)?;
    d.set_item("metrics", metrics_dict(py, &s.metrics)?)?;
    d.set_item("seconds", s.seconds)?;
    Ok(d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn column_roles_by_name_and_unknown_roles_refused() {
        let mut map = HashMap::new();
        map.insert("company".to_string(), "Employer".to_string());
        let o = column_overrides(Some(map)).unwrap();
        assert_eq!(o.company.as_deref(), Some("Employer"));
        let mut bad = HashMap::new();
        bad.insert("employer".to_string(), "x".to_string());
        assert!(column_overrides(Some(bad)).is_err());
    }

    #[test]
    fn service_fields_override_defaults_and_unknown_fields_are_refused() {
        let mut map = HashMap::new();
        map.insert("cta".to_string(), "a demo".to_string());
        let s = service_from(Some(map), None).unwrap();
        assert_eq!(s.cta, "a demo");
        assert_eq!(s.goal, ServiceContext::default().goal);
        let mut bad = HashMap::new();
        bad.insert("offer".to_string(), "x".to_string());
        assert!(service_from(Some(bad), None).is_err());
    }

    #[test]
    fn copy_rules_override_the_defaults_and_are_checked() {
        let s = service_from(
            None,
            Some(r#"{"language": "German", "sentences": 1}"#.into()),
        )
        .unwrap();
        assert_eq!(s.copy.language, "German");
        assert_eq!(s.copy.sentences, 1);
        assert_eq!(
            s.copy.words_per_sentence,
            CopyRules::default().words_per_sentence
        );
        assert!(service_from(None, Some(r#"{"sentences": 9}"#.into())).is_err());
        assert!(service_from(None, Some(r#"{"tone": "warm"}"#.into())).is_err());
        assert!(service_from(None, Some("[1]".into())).is_err());
        assert_eq!(
            copy_rule_names(),
            [
                "forbidden",
                "instructions",
                "language",
                "opener_without_research",
                "sentences",
                "words_per_sentence",
            ]
        );
    }

    #[test]
    fn format_comes_from_the_argument_then_the_extension() {
        let csv = PathBuf::from("out.CSV");
        assert_eq!(parse_format(None, Some(&csv)).unwrap(), OutputFormat::Csv);
        assert_eq!(
            parse_format(Some("xlsx"), Some(&csv)).unwrap(),
            OutputFormat::Xlsx
        );
        assert_eq!(parse_format(None, None).unwrap(), OutputFormat::Xlsx);
        assert!(parse_format(Some("xls"), None).is_err());
    }
}
