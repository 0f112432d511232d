//! Combined mode: one JSON-mode call returns both the research and the opener, so a row
//! costs one LLM call instead of two (a second only when the opener breaks the rules).

use serde::Deserialize;

use crate::personalize::opener_rules;
use crate::providers::{ChatMessage, ChatRequest, JsonSchemaSpec, ReplyFormat};
use crate::research::prompt::{push_json_reminder, Findings, EVIDENCE_RULES, RESEARCH_SCHEMA};
use crate::research::ResearchReply;
use crate::ServiceContext;

const COMBINED_SYSTEM: &str =
    "You are a B2B sales researcher and copywriter. First, from the web search \
findings, extract what is known about the prospect and their company. ";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CombinedReply {
    pub research: ResearchReply,
    #[serde(default)]
    pub opener: String,
}

/// The schema structured outputs enforce for the combined reply, generated from
/// [`CombinedReply`].
pub fn combined_schema() -> JsonSchemaSpec {
    // Generated once: schemars and `strictify` cost more than the rest of a request.
    static SCHEMA: std::sync::LazyLock<JsonSchemaSpec> = std::sync::LazyLock::new(|| {
        JsonSchemaSpec::for_type::<CombinedReply>("research_and_opener")
    });
    SCHEMA.clone()
}

/// The combined request; `previous` as in [`crate::research::prompt::research_request`].
pub fn combined_request(
    findings: &Findings,
    service: &ServiceContext,
    previous: Option<&str>,
) -> ChatRequest {
    let mut messages = vec![
        ChatMessage::system(format!(
            "{COMBINED_SYSTEM}{EVIDENCE_RULES} Then write the opener, using only the facts you gave evidence for. {} \
Reply with one JSON object and nothing else, in exactly this shape: \
{{\"research\": {RESEARCH_SCHEMA}, \"opener\": string}}",
            opener_rules(service)
        )),
        ChatMessage::user(format!(
            "{}\nOur service:\n{}",
            findings.text,
            service.to_prompt_block()
        )),
    ];
    push_json_reminder(&mut messages, previous);
    ChatRequest {
        messages,
        temperature: Some(crate::personalize::TEMPERATURE),
        format: ReplyFormat::JsonSchema(combined_schema()),
        max_tokens: Some(1100),
        reasoning_effort: None,
    }
}
