//! Prompts for research synthesis. Findings are numbered and carry their URLs so the
//! model can cite them in `sources`; snippets are capped to keep tokens per row low.

use crate::providers::{ChatMessage, ChatRequest, JsonSchemaSpec, ReplyFormat, SearchResults};
use crate::research::Research;

/// Organic results per query shown to the model. More adds tokens, rarely facts.
const HITS_PER_QUERY: usize = 5;
const SNIPPET_CHARS: usize = 300;

pub const RESEARCH_SCHEMA: &str = r#"{"person":{"name":string,"info":[string]},"company":{"name":string,"info":[string],"moat":string},"sources":[url]}"#;

const RESEARCH_SYSTEM: &str = "You are a B2B sales researcher. From the web search findings, \
extract what is known about the person and their company. Use only facts stated in the findings; \
never invent. Where the findings do not say, write \"unknown\" for a name or the moat and leave a list empty. \
`info` items are short factual phrases (role, tenure, recent news, products, customers, size, funding). \
`moat` is the company's main competitive advantage. `sources` lists the URLs of the findings you used. \
Reply with one JSON object and nothing else, in exactly this shape: ";

/// The search findings as the model sees them, and the URLs it may cite.
pub struct Findings {
    pub text: String,
    pub urls: Vec<String>,
}

pub fn findings(
    email: &str,
    person_query: &str,
    person: &SearchResults,
    company_query: &str,
    company: &SearchResults,
) -> Findings {
    let mut text = format!("Prospect email: {email}\n");
    let mut urls = Vec::new();
    for (label, query, results) in [
        ("Person search", person_query, person),
        ("Company search", company_query, company),
    ] {
        text.push_str(&format!("\n{label} \"{query}\":\n"));
        if let Some(kg) = &results.knowledge_graph {
            text.push_str(&format!("- Knowledge panel: {}", kg.title));
            if let Some(kind) = &kg.kind {
                text.push_str(&format!(" ({kind})"));
            }
            if let Some(d) = &kg.description {
                text.push_str(&format!(": {}", clip(d, SNIPPET_CHARS)));
            }
            for (k, v) in kg.attributes.iter().take(6) {
                text.push_str(&format!("; {k}: {v}"));
            }
            if let Some(site) = &kg.website {
                text.push_str(&format!(" [{site}]"));
                urls.push(site.clone());
            }
            text.push('\n');
        }
        if results.organic.is_empty() && results.knowledge_graph.is_none() {
            text.push_str("- (no results)\n");
        }
        for hit in results.organic.iter().take(HITS_PER_QUERY) {
            text.push_str(&format!(
                "- {} — {} [{}]\n",
                clip(&hit.title, 120),
                clip(&hit.snippet, SNIPPET_CHARS),
                hit.link
            ));
            urls.push(hit.link.clone());
        }
    }
    Findings { text, urls }
}

/// The research request. `previous` is the model's last reply when it was not valid
/// JSON in the required shape: the retry carries the conversation (that reply as the
/// assistant's turn, then the reminder), so the model corrects itself instead of
/// starting over blind.
pub fn research_request(findings: &Findings, previous: Option<&str>) -> ChatRequest {
    let mut messages = vec![
        ChatMessage::system(format!("{RESEARCH_SYSTEM}{RESEARCH_SCHEMA}")),
        ChatMessage::user(findings.text.clone()),
    ];
    push_json_reminder(&mut messages, previous);
    ChatRequest {
        messages,
        temperature: Some(0.2),
        format: ReplyFormat::JsonSchema(research_schema()),
        max_tokens: Some(700),
        reasoning_effort: None,
    }
}

/// The schema structured outputs enforce for the research reply, generated from
/// [`Research`].
pub fn research_schema() -> JsonSchemaSpec {
    JsonSchemaSpec::for_type::<Research>("research")
}

/// After an invalid JSON reply: that reply as the assistant's turn (when there was
/// one), then the reminder.
pub fn push_json_reminder(messages: &mut Vec<ChatMessage>, previous: Option<&str>) {
    let Some(previous) = previous else {
        return;
    };
    if !previous.trim().is_empty() {
        messages.push(ChatMessage::assistant(previous));
    }
    messages.push(ChatMessage::user(JSON_REMINDER));
}

const JSON_REMINDER: &str =
    "Your previous reply was not valid JSON in the required shape. Reply again with only the JSON object.";

/// Cut `s` to at most `max` characters, on a char boundary.
pub fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
