//! The research JSON: what the LLM distils from the search findings.

use serde::{Deserialize, Deserializer, Serialize};

/// Written where the findings say nothing; the prompt asks the model to use it too.
pub const UNKNOWN: &str = "unknown";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Research {
    pub person: Person,
    pub company: Company,
    /// URLs of the findings the facts came from (only URLs we actually showed the model).
    #[serde(default, deserialize_with = "strings_lenient")]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Person {
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub name: String,
    #[serde(default, deserialize_with = "strings_lenient")]
    pub info: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Company {
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub name: String,
    #[serde(default, deserialize_with = "strings_lenient")]
    pub info: Vec<String>,
    #[serde(default, deserialize_with = "name_or_unknown")]
    pub moat: String,
}

impl Research {
    /// Compact JSON for the output cell and for the personalization prompt.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Drop sources the model did not get from us, empty facts, and duplicate facts.
    pub fn sanitize(mut self, allowed_sources: &[String]) -> Self {
        self.sources
            .retain(|s| allowed_sources.iter().any(|a| a == s));
        self.sources.dedup();
        for list in [&mut self.person.info, &mut self.company.info] {
            list.retain(|f| {
                let f = f.trim();
                !f.is_empty() && !f.eq_ignore_ascii_case(UNKNOWN)
            });
            let mut seen = std::collections::HashSet::new();
            list.retain(|f| seen.insert(f.clone()));
        }
        self
    }

    /// True when the model found nothing at all about the person or the company.
    pub fn is_empty(&self) -> bool {
        let unknown = |s: &str| s.is_empty() || s.eq_ignore_ascii_case(UNKNOWN);
        unknown(&self.person.name)
            && self.person.info.is_empty()
            && unknown(&self.company.name)
            && self.company.info.is_empty()
    }
}

fn name_or_unknown<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => UNKNOWN.to_string(),
    })
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
