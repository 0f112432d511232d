//! [`OpenAiClient`]: the [`Llm`] adapter for any OpenAI-compatible chat-completions
//! endpoint (Groq by default; OpenAI, vLLM, Ollama, llama.cpp server). The wire JSON
//! stays in this file; callers see [`ChatRequest`] and [`ChatResponse`].
//!
//! # Adapting to the server, once
//!
//! Servers differ in what they accept, and what they reject they reject on every
//! request. So the client learns, per endpoint and model (one client = one of each):
//!
//! - **JSON form.** A schema request is sent as `json_schema` (strict) first; a 400/422
//!   that names the response format, or a 5xx whose body does (llama-cpp-python answers
//!   `json_schema` with HTTP 500), steps down to `json_object` + `schema`, then plain
//!   `json_object`, then prompt-only. The form that worked is kept for later requests.
//! - **Parameters.** OpenAI's reasoning models answer 400 `unsupported_parameter` for
//!   `max_tokens` (→ `max_completion_tokens`) and `unsupported_value` /
//!   `unsupported_parameter` for `temperature` (→ left out); a server that refuses
//!   `reasoning_effort` gets requests without it.
//!
//! Each adaptation is logged once, when it is learned, and costs one extra request
//! once per process. A 400 about the request that no adaptation fixes is
//! [`Error::RequestRejected`], which stops the run instead of failing every row.
//!
//! # Reasoning models
//!
//! Reasoning tokens come out of the same budget as the answer, so when a reasoning
//! effort is in force the budget is the answer's plus an allowance for the effort.
//! A reply cut by the budget (`finish_reason: "length"`) with nothing usable is sent
//! once more with twice the budget (at most [`MAX_TOKENS_CAP`]), then reported as
//! [`Error::Truncated`]. `reasoning` / `reasoning_content` fields are never read and
//! `<think>…</think>` is removed from the content.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::http::{self, ErrorBody, Reply};
use super::llm::{
    ChatMessage, ChatRequest, ChatResponse, FinishReason, JsonForm, Llm, ReasoningEffort,
    ReplyFormat, Usage,
};
use super::policy::{ProviderPolicy, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LLM_TIMEOUT};
use crate::error::{Error, ProviderKind, Result};

/// Groq's OpenAI-compatible API.
pub const DEFAULT_LLM_BASE_URL: &str = "https://api.groq.com/openai/v1";
pub const DEFAULT_LLM_MODEL: &str = "openai/gpt-oss-120b";

/// The largest token budget the adapter's own retry after `finish_reason: "length"`
/// asks for. Groq counts `max_tokens` against tokens-per-minute before running a
/// request, so budgets stay modest.
pub const MAX_TOKENS_CAP: u32 = 8192;

/// Requests one `complete` call may send while adapting (JSON forms, parameters,
/// one larger budget); a bound, not a target.
const MAX_ATTEMPTS: usize = 8;

const PROVIDER: ProviderKind = ProviderKind::Llm;

/// Which `reasoning_effort` requests carry (`LLM_REASONING_EFFORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReasoningSetting {
    /// `low` for gpt-oss models (they reason by default and spend the budget on it),
    /// nothing for other models.
    #[default]
    Auto,
    /// Never send `reasoning_effort` (`LLM_REASONING_EFFORT=none`).
    Off,
    /// Always send this effort.
    Effort(ReasoningEffort),
}

impl ReasoningSetting {
    /// `low|medium|high`, `none|off`, or `auto`/empty.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" | "default" => Some(Self::Auto),
            "none" | "off" => Some(Self::Off),
            other => ReasoningEffort::parse(other).map(Self::Effort),
        }
    }

    /// The effort to send to `model`.
    pub fn effort_for(self, model: &str) -> Option<ReasoningEffort> {
        match self {
            Self::Auto => model
                .to_ascii_lowercase()
                .contains("gpt-oss")
                .then_some(ReasoningEffort::Low),
            Self::Off => None,
            Self::Effort(e) => Some(e),
        }
    }
}

/// Tokens added to the answer's budget for a model that reasons at this effort.
fn reasoning_allowance(effort: Option<ReasoningEffort>) -> u32 {
    match effort {
        None => 0,
        Some(ReasoningEffort::Low) => 512,
        Some(ReasoningEffort::Medium) => 2048,
        Some(ReasoningEffort::High) => 4096,
    }
}

/// How to reach the model. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct LlmConfig {
    /// The API root, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub connect_timeout: Duration,
    /// Bounds the whole request, body included.
    pub request_timeout: Duration,
    /// `reasoning_effort` (`LLM_REASONING_EFFORT`).
    pub reasoning: ReasoningSetting,
    /// A 429 asking to wait longer than this stops the run ([`Error::QuotaExhausted`];
    /// `OUTREACH_MAX_WAIT_SECS`).
    pub max_wait: Duration,
}

impl LlmConfig {
    /// Groq with the default model and timeouts, with this key.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_LLM_BASE_URL.to_owned(),
            api_key: api_key.into(),
            model: DEFAULT_LLM_MODEL.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_LLM_TIMEOUT,
            reasoning: ReasoningSetting::Auto,
            max_wait: http::DEFAULT_MAX_WAIT,
        }
    }

    /// Reads `GROQ_API_KEY` (or else `LLM_API_KEY`), `LLM_BASE_URL`, `LLM_MODEL`,
    /// `LLM_REASONING_EFFORT` and `OUTREACH_MAX_WAIT_SECS`.
    /// `None` when neither key is set to something non-empty: the engine then writes
    /// fallbacks instead of calling a model.
    pub fn from_env() -> Option<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any variable source (tests, config files). An
    /// `LLM_REASONING_EFFORT` that is not `low|medium|high|none|auto` is ignored with a
    /// warning.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut config = Self::new(var("GROQ_API_KEY").or_else(|| var("LLM_API_KEY"))?);
        if let Some(base_url) = var("LLM_BASE_URL") {
            config.base_url = base_url;
        }
        if let Some(model) = var("LLM_MODEL") {
            config.model = model;
        }
        if let Some(effort) = var("LLM_REASONING_EFFORT") {
            match ReasoningSetting::parse(&effort) {
                Some(setting) => config.reasoning = setting,
                None => tracing::warn!(
                    value = %effort,
                    "LLM_REASONING_EFFORT must be low, medium, high, none or auto; ignored"
                ),
            }
        }
        if let Some(wait) = http::max_wait_from(&var) {
            config.max_wait = wait;
        }
        Some(config)
    }

    /// Takes the connect and request timeouts from `policy`.
    pub fn with_timeouts(mut self, policy: &ProviderPolicy) -> Self {
        self.connect_timeout = policy.connect_timeout;
        self.request_timeout = policy.request_timeout;
        self
    }
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("reasoning", &self.reasoning)
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

/// What the client learned about its server (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Adaptations {
    /// The strongest JSON form the server accepted or the weakest it forced; `None`
    /// until a schema request was answered.
    pub json_form: Option<JsonForm>,
    /// Send `max_completion_tokens` instead of `max_tokens`.
    pub max_completion_tokens: bool,
    /// Leave `temperature` out (the model only takes its default).
    pub drop_temperature: bool,
    /// Leave `reasoning_effort` out (the model does not take it).
    pub drop_reasoning_effort: bool,
}

/// An OpenAI-compatible chat-completions client. Cheap to share: hold it in an `Arc`
/// (or wrap it with [`crate::providers::wrap_llm`]); the connection pool is inside.
#[derive(Debug)]
pub struct OpenAiClient {
    url: String,
    /// `GET {base}/models`: the models the endpoint serves (the preflight's check).
    models_url: String,
    model: String,
    authorization: HeaderValue,
    client: reqwest::Client,
    reasoning: Option<ReasoningEffort>,
    max_wait: Duration,
    learned: Mutex<Adaptations>,
}

impl OpenAiClient {
    /// Fails only on an unusable configuration (a key that cannot be an HTTP header,
    /// a TLS backend that cannot start).
    pub fn new(config: LlmConfig) -> Result<Self> {
        Ok(Self {
            url: format!("{}/chat/completions", config.base_url.trim_end_matches('/')),
            models_url: format!("{}/models", config.base_url.trim_end_matches('/')),
            authorization: http::secret_header(PROVIDER, &format!("Bearer {}", config.api_key))?,
            client: http::build_client(PROVIDER, config.connect_timeout, config.request_timeout)?,
            reasoning: config.reasoning.effort_for(&config.model),
            max_wait: config.max_wait,
            model: config.model,
            learned: Mutex::new(Adaptations::default()),
        })
    }

    /// The model every request names.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// What this client has learned about its server so far.
    pub fn adaptations(&self) -> Adaptations {
        *self.learned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an adaptation; logs it when it is new. Returns false when it was known
    /// already (then it cannot be the cure for this failure).
    fn learn(&self, change: Change) -> bool {
        let mut learned = self.learned.lock().unwrap_or_else(|p| p.into_inner());
        let before = *learned;
        match change {
            Change::JsonForm(form) => {
                // Only ever step down: a concurrent request may have learned a weaker form.
                if learned.json_form.is_some_and(|f| f >= form) {
                    return false;
                }
                learned.json_form = Some(form);
            }
            Change::MaxCompletionTokens => learned.max_completion_tokens = true,
            Change::DropTemperature => learned.drop_temperature = true,
            Change::DropReasoningEffort => learned.drop_reasoning_effort = true,
        }
        let changed = *learned != before;
        drop(learned);
        if changed {
            tracing::warn!(
                url = %self.url,
                model = %self.model,
                adaptation = %change,
                "the LLM server rejected part of the request; adapting for every later request"
            );
        }
        changed
    }

    /// Notes the JSON form that worked (first success only, for the log).
    fn confirm(&self, form: JsonForm) {
        let mut learned = self.learned.lock().unwrap_or_else(|p| p.into_inner());
        if learned.json_form.is_none() {
            learned.json_form = Some(form);
            drop(learned);
            tracing::info!(url = %self.url, model = %self.model, form = form.as_str(), "structured output form in use");
        }
    }

    /// The JSON form to send this request with, given what was learned.
    fn form_for(&self, format: &ReplyFormat, learned: &Adaptations) -> Option<JsonForm> {
        let start = match format {
            ReplyFormat::Text => return None,
            ReplyFormat::JsonObject => JsonForm::JsonObject,
            ReplyFormat::JsonSchema(_) => JsonForm::JsonSchema,
        };
        Some(learned.json_form.map_or(start, |f| f.max(start)))
    }

    fn wire_request<'a>(
        &'a self,
        request: &'a ChatRequest,
        form: Option<JsonForm>,
        learned: &Adaptations,
        max_tokens: Option<u32>,
    ) -> WireRequest<'a> {
        let effort = (!learned.drop_reasoning_effort)
            .then_some(request.reasoning_effort.or(self.reasoning))
            .flatten();
        let (max_tokens, max_completion_tokens) = if learned.max_completion_tokens {
            (None, max_tokens)
        } else {
            (max_tokens, None)
        };
        let schema = match &request.format {
            ReplyFormat::JsonSchema(spec) => Some(spec),
            _ => None,
        };
        let response_format = match (form, schema) {
            (Some(JsonForm::JsonSchema), Some(spec)) => Some(WireFormat::JsonSchema {
                json_schema: WireJsonSchema {
                    name: &spec.name,
                    strict: true,
                    schema: &spec.schema,
                },
            }),
            (Some(JsonForm::JsonObjectSchema), Some(spec)) => Some(WireFormat::JsonObject {
                schema: Some(&spec.schema),
            }),
            (Some(JsonForm::JsonSchema | JsonForm::JsonObjectSchema | JsonForm::JsonObject), _) => {
                Some(WireFormat::JsonObject { schema: None })
            }
            (Some(JsonForm::PromptOnly) | None, _) => None,
        };
        WireRequest {
            model: &self.model,
            messages: &request.messages,
            temperature: request.temperature.filter(|_| !learned.drop_temperature),
            max_tokens,
            max_completion_tokens,
            reasoning_effort: effort.map(ReasoningEffort::as_str),
            response_format,
        }
    }

    /// The adaptation that may cure this failure, if any is left to try.
    fn cure(
        &self,
        status: StatusCode,
        body: &ErrorBody,
        wire: &WireRequest<'_>,
        form: Option<JsonForm>,
    ) -> Option<Change> {
        let code = status.as_u16();
        let param = body.param.as_deref().unwrap_or_default();
        let message = body.message.to_ascii_lowercase();
        let names = |word: &str| param == word || message.contains(word);
        if code == 400 || code == 422 {
            if wire.max_tokens.is_some()
                && names("max_tokens")
                && (message.contains("max_completion_tokens")
                    || body.code.as_deref() == Some("unsupported_parameter"))
            {
                return Some(Change::MaxCompletionTokens);
            }
            if wire.temperature.is_some() && names("temperature") {
                return Some(Change::DropTemperature);
            }
            if wire.reasoning_effort.is_some()
                && (names("reasoning_effort") || names("reasoning effort"))
            {
                return Some(Change::DropReasoningEffort);
            }
        }
        let about_format = param == "response_format"
            || [
                "response_format",
                "response format",
                "json_schema",
                "json_object",
                "schema",
            ]
            .iter()
            .any(|w| message.contains(w));
        let rejects_form = match code {
            400 | 422 => about_format,
            // llama-cpp-python answers `json_schema` with a 500 validation error.
            500..=599 => about_format,
            _ => false,
        };
        if rejects_form && body.code.as_deref() != Some("json_validate_failed") {
            return form.and_then(JsonForm::weaker).map(Change::JsonForm);
        }
        None
    }

    /// The error a failure that no adaptation cures stands for.
    fn classify(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        raw: &str,
        body: &ErrorBody,
    ) -> Error {
        let code = status.as_u16();
        if (code == 404 || code == 400) && body.is_model_not_found() {
            return Error::ModelNotFound {
                provider: PROVIDER,
                model: self.model.clone(),
                message: body.short_message(),
            };
        }
        if code == 404 {
            // No model named: the URL itself is wrong. That repeats on every row too.
            return Error::RequestRejected {
                provider: PROVIDER,
                status: code,
                message: format!("{} (is LLM_BASE_URL right?)", body.short_message()),
            };
        }
        let shape_code = matches!(
            body.code.as_deref(),
            Some("unsupported_parameter" | "unsupported_value" | "invalid_parameter")
        );
        if (code == 400 || code == 422) && shape_code {
            return Error::RequestRejected {
                provider: PROVIDER,
                status: code,
                message: body.short_message(),
            };
        }
        let error = http::status_error(PROVIDER, status, headers, raw, SystemTime::now());
        http::over_max_wait(error, body, self.max_wait)
    }
}

/// One thing the client can change about its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    JsonForm(JsonForm),
    MaxCompletionTokens,
    DropTemperature,
    DropReasoningEffort,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::JsonForm(form) => write!(f, "structured output as {}", form.as_str()),
            Change::MaxCompletionTokens => {
                f.write_str("max_completion_tokens instead of max_tokens")
            }
            Change::DropTemperature => f.write_str("no temperature"),
            Change::DropReasoningEffort => f.write_str("no reasoning_effort"),
        }
    }
}

#[async_trait]
impl Llm for OpenAiClient {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let initial = self.adaptations();
        let effort = request
            .reasoning_effort
            .or(self.reasoning)
            .filter(|_| !initial.drop_reasoning_effort);
        let mut budget = request
            .max_tokens
            .map(|answer| answer.saturating_add(reasoning_allowance(effort)));
        let mut length_retried = false;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let learned = self.adaptations();
            let form = self.form_for(&request.format, &learned);
            let wire = self.wire_request(request, form, &learned, budget);
            let http_request = self
                .client
                .post(&self.url)
                .header(AUTHORIZATION, self.authorization.clone())
                .json(&wire);
            let (status, headers, raw) = match http::send(PROVIDER, http_request).await? {
                Reply::Success(bytes) => {
                    let parsed: WireResponse = http::parse_body(PROVIDER, &bytes)?;
                    let response = parsed.into_response(form)?;
                    let unusable = response.content.trim().is_empty()
                        || (form.is_some() && !looks_complete_json(&response.content));
                    if response.finish_reason == FinishReason::Length && unusable {
                        let current = budget.unwrap_or(0);
                        if !length_retried && attempts < MAX_ATTEMPTS && current < MAX_TOKENS_CAP {
                            length_retried = true;
                            budget = Some(current.max(256).saturating_mul(2).min(MAX_TOKENS_CAP));
                            tracing::debug!(
                                ?budget,
                                "reply cut by the token budget; retrying once with more"
                            );
                            continue;
                        }
                        if response.content.trim().is_empty() {
                            return Err(Error::Truncated {
                                provider: PROVIDER,
                                max_tokens: current,
                            });
                        }
                    }
                    if let Some(form) = form {
                        self.confirm(form);
                    }
                    return Ok(response);
                }
                Reply::Failure {
                    status,
                    headers,
                    body,
                } => (status, headers, body),
            };
            let body = ErrorBody::parse(&raw);
            if body.code.as_deref() == Some("json_validate_failed") {
                // Groq checked the JSON itself and refused it; what the model wrote comes
                // back in `failed_generation`, which may still parse for the caller.
                if let Some(form) = form {
                    self.confirm(form);
                }
                return Ok(ChatResponse {
                    content: strip_think(body.failed_generation.as_deref().unwrap_or_default()),
                    usage: Usage::default(),
                    finish_reason: FinishReason::JsonInvalid,
                    json_form: form,
                });
            }
            if attempts < MAX_ATTEMPTS {
                if let Some(change) = self.cure(status, &body, &wire, form) {
                    if self.learn(change) {
                        continue;
                    }
                }
            }
            return Err(self.classify(status, &headers, &raw, &body));
        }
    }

    /// `GET /models` (`{"data": [{"id": …}, …]}`: OpenAI, Groq, vLLM, Ollama,
    /// llama-cpp-python). An endpoint without it (404, another shape) cannot say:
    /// `None`; other failures are the usual errors.
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        let request = self
            .client
            .get(&self.models_url)
            .header(AUTHORIZATION, self.authorization.clone());
        match http::send(PROVIDER, request).await? {
            Reply::Success(bytes) => Ok(serde_json::from_slice::<WireModels>(&bytes)
                .ok()
                .map(|list| list.data.into_iter().map(|m| m.id).collect::<Vec<_>>())
                .filter(|ids| !ids.is_empty())),
            Reply::Failure { status, .. } if matches!(status.as_u16(), 404 | 405 | 501) => Ok(None),
            Reply::Failure {
                status,
                headers,
                body,
            } => Err(self.classify(status, &headers, &body, &ErrorBody::parse(&body))),
        }
    }
}

/// The model list's shape (`GET /models`).
#[derive(Deserialize)]
struct WireModels {
    data: Vec<WireModel>,
}

#[derive(Deserialize)]
struct WireModel {
    id: String,
}

/// True when `text` holds a `{` and its braces balance: a reply cut mid-object does not.
fn looks_complete_json(text: &str) -> bool {
    crate::research::parse::parse_json_object::<serde_json::Value>(text).is_some()
}

/// The content without `<think>…</think>` blocks (DeepSeek-R1, Qwen3 and others put
/// their reasoning there). An unclosed `<think>` means all of it was reasoning.
fn strip_think(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</think>") {
            Some(end) => rest = &rest[start + end + "</think>".len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    /// [`ChatMessage`] serialises as `{"role": "system"|"user"|"assistant", "content"}`,
    /// which is already the wire shape.
    messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<WireFormat<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireFormat<'a> {
    JsonSchema {
        json_schema: WireJsonSchema<'a>,
    },
    JsonObject {
        #[serde(skip_serializing_if = "Option::is_none")]
        schema: Option<&'a serde_json::Value>,
    },
}

#[derive(Serialize)]
struct WireJsonSchema<'a> {
    name: &'a str,
    strict: bool,
    schema: &'a serde_json::Value,
}

/// The parts of a chat completion we use; other fields (`id`, `x_groq`, `reasoning`,
/// `reasoning_content`, …) are ignored.
#[derive(Deserialize)]
struct WireResponse {
    choices: Option<Vec<WireChoice>>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: Option<WireMessage>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl WireResponse {
    fn into_response(self, form: Option<JsonForm>) -> Result<ChatResponse> {
        let usage = self.usage.map_or_else(Usage::default, |u| Usage {
            prompt_tokens: u.prompt_tokens.unwrap_or(0),
            completion_tokens: u.completion_tokens.unwrap_or(0),
        });
        let choice = self
            .choices
            .and_then(|choices| choices.into_iter().next())
            .ok_or_else(|| Error::BadResponse {
                provider: PROVIDER,
                message: "no choices in the response".into(),
            })?;
        let finish_reason = match choice.finish_reason.as_deref() {
            None | Some("stop") | Some("eos") => FinishReason::Stop,
            Some("length") => FinishReason::Length,
            Some(other) => FinishReason::Other(other.to_owned()),
        };
        let content = choice.message.and_then(|m| m.content);
        let content = match (content, &finish_reason) {
            (Some(text), _) => strip_think(&text),
            // A reasoning model that spent the whole budget thinking sends no content.
            (None, FinishReason::Length) => String::new(),
            (None, _) => {
                return Err(Error::BadResponse {
                    provider: PROVIDER,
                    message: "no content in the first choice".into(),
                })
            }
        };
        Ok(ChatResponse {
            content,
            usage,
            finish_reason,
            json_form: form,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn from_lookup_prefers_groq_key() {
        assert_eq!(LlmConfig::from_lookup(env(&[])), None);
        assert_eq!(LlmConfig::from_lookup(env(&[("GROQ_API_KEY", "")])), None);
        let c = LlmConfig::from_lookup(env(&[("GROQ_API_KEY", ""), ("LLM_API_KEY", "l")])).unwrap();
        assert_eq!(c.api_key, "l");
        let c =
            LlmConfig::from_lookup(env(&[("GROQ_API_KEY", "g"), ("LLM_API_KEY", "l")])).unwrap();
        assert_eq!(
            (c.api_key.as_str(), c.base_url.as_str(), c.model.as_str()),
            ("g", DEFAULT_LLM_BASE_URL, DEFAULT_LLM_MODEL)
        );
        let c = LlmConfig::from_lookup(env(&[
            ("LLM_API_KEY", "l"),
            ("LLM_BASE_URL", "http://localhost:8000/v1/"),
            ("LLM_MODEL", "m"),
        ]))
        .unwrap();
        assert_eq!(
            (c.base_url.as_str(), c.model.as_str()),
            ("http://localhost:8000/v1/", "m")
        );
        assert_eq!(c.request_timeout, DEFAULT_LLM_TIMEOUT);
    }

    #[test]
    fn url_handles_trailing_slash_and_debug_hides_key() {
        for base in ["http://h/v1", "http://h/v1/"] {
            let client = OpenAiClient::new(LlmConfig {
                base_url: base.into(),
                ..LlmConfig::new("sk-secret-999")
            })
            .unwrap();
            assert_eq!(client.url, "http://h/v1/chat/completions");
            assert!(!format!("{client:?}").contains("sk-secret-999"));
        }
    }
}
