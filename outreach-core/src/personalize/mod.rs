//! Personalization: research JSON + the user's offer → a 1–2 sentence opener.

pub mod validate;

pub use validate::{salvage, validate_opener, OpenerProblem};

use crate::providers::{ChatMessage, ChatRequest, ReplyFormat};
use crate::ServiceContext;

/// The seed's temperature: varied enough to sound human, stable enough to stay on topic.
pub const TEMPERATURE: f32 = 0.6;

pub const OPENER_RULES: &str = "Write a human, well-researched, conversational and highly personalized \
opening line for a cold outreach message to this prospect. Focus on a pain this person or their company \
is likely to face given the research, and reference how our service relates to that pain. \
Rules: one or two sentences; every sentence 25 words or fewer; no greeting, no sign-off, no placeholders \
like [Name]; do not invent facts beyond the research; if the research is thin, stay general about their \
company rather than making things up.";

const PERSONALIZE_SYSTEM_SUFFIX: &str = " Reply with the opening line only, no quotes, no preface.";

pub fn personalize_request(research_json: &str, service: &ServiceContext) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system(format!("{OPENER_RULES}{PERSONALIZE_SYSTEM_SUFFIX}")),
            ChatMessage::user(format!(
                "Research:\n{research_json}\n\nOur service:\n{}",
                service.to_prompt_block()
            )),
        ],
        temperature: Some(TEMPERATURE),
        format: ReplyFormat::Text,
        max_tokens: Some(200),
        reasoning_effort: None,
    }
}

/// The retry after a rule violation: the same conversation plus the model's reply and
/// what was wrong with it.
pub fn retry_request(mut first: ChatRequest, reply: &str, problem: &OpenerProblem) -> ChatRequest {
    first.messages.push(ChatMessage::assistant(reply));
    first.messages.push(ChatMessage::user(problem.feedback()));
    first
}
