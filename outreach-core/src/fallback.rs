//! The fallback strings written into cells when a row cannot be enriched. They are the
//! seed's strings, kept byte-for-byte so existing users' sheets still parse.

pub const RESEARCH_PREFIX: &str = "Research unavailable: ";
pub const PERSONALIZED_PREFIX: &str = "SIF personalized line unavailable: ";

pub fn research_missing_search_key() -> String {
    format!("{RESEARCH_PREFIX}missing SERPER_API_KEY.")
}

pub fn research_missing_llm_key() -> String {
    format!("{RESEARCH_PREFIX}missing GROQ_API_KEY.")
}

pub fn research_invalid_email() -> String {
    format!("{RESEARCH_PREFIX}invalid email.")
}

pub fn research_invalid_json() -> String {
    format!("{RESEARCH_PREFIX}invalid research JSON.")
}

/// No fact survived the verifier (`sif_status` = `no_signal`).
pub fn research_no_signal() -> String {
    format!("{RESEARCH_PREFIX}nothing verifiable found.")
}

/// Only facts about someone who may not be this person were found (`identity_unsure`).
pub fn research_identity_unsure() -> String {
    format!("{RESEARCH_PREFIX}identity unsure (only same-name results).")
}

pub fn research(reason: &str) -> String {
    format!("{RESEARCH_PREFIX}{reason}")
}

pub fn personalized(reason: &str) -> String {
    format!("{PERSONALIZED_PREFIX}{reason}")
}

/// True when a research cell holds a fallback rather than research JSON.
pub fn is_research_fallback(cell: &str) -> bool {
    cell.starts_with(RESEARCH_PREFIX)
}

/// True when an opener cell holds a fallback rather than an opener.
pub fn is_personalized_fallback(cell: &str) -> bool {
    cell.starts_with(PERSONALIZED_PREFIX)
}
