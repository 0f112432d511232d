//! The research documents: what the LLM returns ([`ResearchReply`]) and what a row
//! delivers in its `sif_research` cell ([`Research`], the versioned contract the README
//! documents). Only the verifier ([`super::verify`]) turns the first into the second.

use serde::{Deserialize, Deserializer, Serialize};

/// Written where the findings say nothing; the prompt asks the model to use it too.
pub const UNKNOWN: &str = "unknown";

/// Version of the `sif_research` contract. 2 added `title`, `domain`, `evidence`,
/// `identity` and `version` to the seed's `{person, company, sources}`.
pub const RESEARCH_VERSION: u32 = 2;

/// One fact with the search result it came from and a verbatim span of that result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    /// An `info` item or the moat, verbatim.
    #[serde(default, deserialize_with = "string_lenient")]
    pub fact: String,
    /// The URL of the search result the fact came from.
    #[serde(default, deserialize_with = "string_lenient")]
    pub url: String,
    /// A verbatim span of that result's title or snippet.
    #[serde(default, deserialize_with = "string_lenient")]
    pub quote: String,
}

/// The model's answer (the structured-output shape the prompts ask for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResearchReply {
    pub person: ReplyPerson,
    pub company: ReplyCompany,
    #[serde(default, deserialize_with = "evidence_lenient")]
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplyPerson {
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub name: String,
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub title: String,
    #[serde(default, deserialize_with = "strings_lenient")]
    pub info: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplyCompany {
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub name: String,
    #[serde(default, deserialize_with = "strings_lenient")]
    pub info: Vec<String>,
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub moat: String,
}

/// What was established about who the person is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// Person facts verified at this company.
    Confirmed,
    /// Company facts only; nothing verified about the person.
    CompanyOnly,
    /// Neither.
    #[default]
    Unsure,
}

/// The `sif_research` cell: only verified facts, each with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Research {
    pub person: Person,
    pub company: Company,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub identity: Identity,
    /// The evidence URLs, de-duplicated, in evidence order.
    #[serde(default, deserialize_with = "strings_lenient")]
    pub sources: Vec<String>,
    #[serde(default = "version_one")]
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub name: String,
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub title: String,
    #[serde(default, deserialize_with = "strings_lenient")]
    pub info: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub name: String,
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub domain: String,
    #[serde(default, deserialize_with = "strings_lenient")]
    pub info: Vec<String>,
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub moat: String,
}

fn version_one() -> u32 {
    1
}

impl Research {
    /// Compact JSON for the output cell and for the personalization prompt.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parse a `sif_research` cell; `None` for a fallback text or anything else.
    pub fn from_cell(cell: &str) -> Option<Research> {
        if !cell.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(cell).ok()
    }

    /// Every delivered fact (person info, company info, the moat unless unknown).
    pub fn facts(&self) -> impl Iterator<Item = &str> {
        self.person
            .info
            .iter()
            .chain(&self.company.info)
            .map(String::as_str)
            .chain((!is_unknown(&self.company.moat)).then_some(self.company.moat.as_str()))
    }

    /// True when no fact was delivered.
    pub fn has_no_facts(&self) -> bool {
        self.facts().next().is_none()
    }
}

/// True for an empty value or the `unknown` marker.
pub fn is_unknown(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s.eq_ignore_ascii_case(UNKNOWN)
}

fn name_or_unknown<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => UNKNOWN.to_string(),
    })
}

fn string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    })
}

/// Evidence entries; an entry that is not an object is skipped (the verifier drops the
/// fact it would have supported).
fn evidence_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Evidence>, D::Error> {
    let v: Option<Vec<serde_json::Value>> = Option::deserialize(d)?;
    Ok(v.unwrap_or_default()
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect())
}

/// A list of strings; a lone string becomes a one-item list, null an empty list,
/// non-string items are rejected (that is a schema violation, not a style choice).
fn strings_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let v: Option<OneOrMany> = Option::deserialize(d)?;
    Ok(match v {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}
