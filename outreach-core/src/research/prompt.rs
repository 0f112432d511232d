//! Prompts for research synthesis. Findings carry their URLs so the model can cite them
//! in `evidence`; snippets are capped to keep tokens per row low.

use super::model::ResearchReply;
use super::prospect::Prospect;
use super::verify::HITS_PER_QUERY;
use crate::providers::{ChatMessage, ChatRequest, JsonSchemaSpec, ReplyFormat, SearchResults};

const SNIPPET_CHARS: usize = 300;

pub const RESEARCH_SCHEMA: &str = r#"{"person":{"name":string,"title":string,"info":[string]},"company":{"name":string,"info":[string],"moat":string},"evidence":[{"fact":string,"url":string,"quote":string}]}"#;

/// The rules every research answer follows (also used by the combined prompt).
pub const EVIDENCE_RULES: &str = "Use only facts stated in the findings; never invent. \
Where the findings do not say, write \"unknown\" for a name, the title or the moat and leave a list empty. \
`info` items are short factual phrases (role, tenure, recent news, products, customers, size, funding), \
worded close to the finding. `moat` is the company's main competitive advantage. \
For every info item and for the moat (unless \"unknown\") add one `evidence` entry: `fact` is the item verbatim, \
`url` is the URL of the finding it came from, `quote` is a span copied character for character from that \
finding's title or text (several words) that contains every name and number of the fact. \
A fact without such a quote must be left out. \
The prospect is the person the row describes, at that company: a person with the same name at another \
company is someone else, so ignore findings about them.";

const RESEARCH_SYSTEM: &str = "You are a B2B sales researcher. From the web search findings, \
extract what is known about the prospect and their company. ";

/// The search findings as the model sees them, and the URLs it may cite.
pub struct Findings {
    pub text: String,
    pub urls: Vec<String>,
}

pub fn findings(
    prospect: &Prospect,
    person_query: &str,
    person: &SearchResults,
    company_query: Option<&str>,
    company: Option<&SearchResults>,
) -> Findings {
    let mut text = format!("The prospect's row says:\n{}", prospect.row_lines());
    let mut urls = Vec::new();
    let searches = [
        ("Person search", Some(person_query), Some(person)),
        ("Company search", company_query, company),
    ];
    for (label, query, results) in searches {
        let (Some(query), Some(results)) = (query, results) else {
            continue;
        };
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
        ChatMessage::system(format!(
            "{RESEARCH_SYSTEM}{EVIDENCE_RULES} Reply with one JSON object and nothing else, in exactly this shape: {RESEARCH_SCHEMA}"
        )),
        ChatMessage::user(findings.text.clone()),
    ];
    push_json_reminder(&mut messages, previous);
    ChatRequest {
        messages,
        temperature: Some(0.2),
        format: ReplyFormat::JsonSchema(research_schema()),
        max_tokens: Some(1000),
        reasoning_effort: None,
    }
}

/// The schema structured outputs enforce for the research reply, generated from
/// [`ResearchReply`] (what the model returns; the verifier builds the cell from it).
pub fn research_schema() -> JsonSchemaSpec {
    // Generated once: schemars and `strictify` cost more than the rest of a request.
    static SCHEMA: std::sync::LazyLock<JsonSchemaSpec> =
        std::sync::LazyLock::new(|| JsonSchemaSpec::for_type::<ResearchReply>("research"));
    SCHEMA.clone()
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
