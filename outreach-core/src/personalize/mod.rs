//! Personalization: verified research + the row + the user's offer → an opener that
//! keeps the user's copy rules and says only what the sources say.

pub mod claims;
pub mod rules;
pub mod validate;

pub use claims::AllowedClaims;
pub use rules::CopyRules;
pub use validate::{check_opener, salvage, validate_opener, OpenerProblem};

use crate::providers::{ChatMessage, ChatRequest, ReplyFormat};
use crate::ServiceContext;

/// The seed's temperature: varied enough to sound human, stable enough to stay on topic.
pub const TEMPERATURE: f32 = 0.6;

pub const OPENER_TASK: &str = "Write a human, well-researched, conversational and highly personalized \
opening line for a cold outreach message to this prospect. Focus on a pain this person or their company \
is likely to face given the research, and reference how our service relates to that pain. \
Mention only names, numbers, dates and products that the research facts, the prospect's row or our service \
state; if the research is thin, stay general about their company rather than making things up.";

const PERSONALIZE_SYSTEM_SUFFIX: &str = " Reply with the opening line only, no quotes, no preface.";

/// The opener instructions: the task and the user's copy rules.
pub fn opener_rules(service: &ServiceContext) -> String {
    format!("{OPENER_TASK} {}", service.copy.to_prompt())
}

/// The writer's request. `research_json` is the verified research (or `None` for an
/// opener from the row alone); `row` is what the prospect's row says.
pub fn personalize_request(
    research_json: Option<&str>,
    row: &str,
    service: &ServiceContext,
) -> ChatRequest {
    let research = research_json.unwrap_or("(none: use only the row and our service)");
    ChatRequest {
        messages: vec![
            ChatMessage::system(format!(
                "{}{PERSONALIZE_SYSTEM_SUFFIX}",
                opener_rules(service)
            )),
            ChatMessage::user(format!(
                "Prospect's row:\n{row}\nResearch:\n{research}\n\nOur service:\n{}",
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
