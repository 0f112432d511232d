//! The user's offer (what the opener ties the prospect's situation to) and their copy
//! rules. This is the one definition of the service-context fields: the CLI, the API,
//! the web app (through `/ui/config.json`) and the Python package take the names, labels
//! and defaults from [`SERVICE_FIELDS`] and [`ServiceContext::default`].

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::personalize::rules::{CopyLimits, CopyRules, COPY_LIMITS};

/// Longest accepted value of one service field, in characters. The whole context goes
/// into every row's prompt: a 600 kB "offer" would cost tokens on every row.
pub const MAX_FIELD_CHARS: usize = 500;

/// One text field of the service context, for forms and documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceField {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
}

/// The six text fields of the seed's service context, in display order.
pub const SERVICE_FIELDS: [ServiceField; 6] = [
    ServiceField {
        name: "core_offer",
        label: "Core offer",
        help: "What you sell, in a phrase.",
    },
    ServiceField {
        name: "key_differentiator",
        label: "Key differentiator",
        help: "Why you rather than the alternatives.",
    },
    ServiceField {
        name: "cta",
        label: "Call to action",
        help: "What you ask for, e.g. a 15-minute call.",
    },
    ServiceField {
        name: "timeline",
        label: "Timeline",
        help: "When, e.g. this quarter.",
    },
    ServiceField {
        name: "goal",
        label: "Goal",
        help: "What the prospect gets out of it.",
    },
    ServiceField {
        name: "fallback_action",
        label: "Fallback action",
        help: "The ask when they are not the right person.",
    },
];

/// Everything a form (the web app through `/ui/config.json`, a binding) needs to ask
/// for a service context: the fields in display order with their defaults and limit,
/// the copy rules' defaults and limits. Built from [`SERVICE_FIELDS`],
/// [`ServiceContext::default`] and the validation limits, so it cannot disagree with
/// what [`ServiceContext::validate`] accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceForm {
    pub fields: Vec<ServiceFormField>,
    pub copy: CopyForm,
}

/// One text field of [`ServiceForm`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceFormField {
    #[serde(flatten)]
    pub field: ServiceField,
    pub default: String,
    pub max_chars: usize,
}

/// The copy rules of [`ServiceForm`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyForm {
    pub defaults: CopyRules,
    pub limits: CopyLimits,
}

impl ServiceForm {
    pub fn new() -> Self {
        let defaults = ServiceContext::default();
        Self {
            fields: SERVICE_FIELDS
                .iter()
                .map(|f| ServiceFormField {
                    field: *f,
                    default: defaults.get(f.name).unwrap_or_default().to_string(),
                    max_chars: MAX_FIELD_CHARS,
                })
                .collect(),
            copy: CopyForm {
                defaults: defaults.copy,
                limits: COPY_LIMITS,
            },
        }
    }
}

impl Default for ServiceForm {
    fn default() -> Self {
        Self::new()
    }
}

/// The service context: six text fields and the copy rules. Absent fields take the
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceContext {
    pub core_offer: String,
    pub key_differentiator: String,
    pub cta: String,
    pub timeline: String,
    pub goal: String,
    pub fallback_action: String,
    /// How the opener is written: language, length, forbidden phrases, instructions.
    pub copy: CopyRules,
}

impl Default for ServiceContext {
    fn default() -> Self {
        Self {
            core_offer: "research-backed, personalized outbound at scale".into(),
            key_differentiator:
                "every line is grounded in fresh research on the prospect and their company".into(),
            cta: "a 15-minute call".into(),
            timeline: "this quarter".into(),
            goal: "book more qualified meetings".into(),
            fallback_action: "reply with the right person to talk to".into(),
            copy: CopyRules::default(),
        }
    }
}

impl ServiceContext {
    /// The text field called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "core_offer" => &self.core_offer,
            "key_differentiator" => &self.key_differentiator,
            "cta" => &self.cta,
            "timeline" => &self.timeline,
            "goal" => &self.goal,
            "fallback_action" => &self.fallback_action,
            _ => return None,
        })
    }

    /// Set the text field called `name`; an unknown name is an error listing the fields.
    pub fn set(&mut self, name: &str, value: String) -> Result<(), InputError> {
        let slot = match name {
            "core_offer" => &mut self.core_offer,
            "key_differentiator" => &mut self.key_differentiator,
            "cta" => &mut self.cta,
            "timeline" => &mut self.timeline,
            "goal" => &mut self.goal,
            "fallback_action" => &mut self.fallback_action,
            other => {
                let names: Vec<&str> = SERVICE_FIELDS.iter().map(|f| f.name).collect();
                return Err(InputError::InvalidService(format!(
                    "unknown field `{other}`; the fields are: {}, copy",
                    names.join(", ")
                )));
            }
        };
        *slot = value;
        Ok(())
    }

    /// Reject what must not reach the model: a field over [`MAX_FIELD_CHARS`], copy
    /// rules out of range (see [`CopyRules::validate`]).
    pub fn validate(&self) -> Result<(), InputError> {
        for field in SERVICE_FIELDS {
            let n = self.get(field.name).map_or(0, |v| v.chars().count());
            if n > MAX_FIELD_CHARS {
                return Err(InputError::InvalidService(format!(
                    "`{}` is {n} characters long; the limit is {MAX_FIELD_CHARS}",
                    field.name
                )));
            }
        }
        self.copy.validate()
    }

    /// The context as the prompt block the LLM sees.
    pub fn to_prompt_block(&self) -> String {
        format!(
            "Core offer: {}\nKey differentiator: {}\nCall to action: {}\nTimeline: {}\nGoal: {}\nFallback action: {}",
            self.core_offer, self.key_differentiator, self.cta, self.timeline, self.goal, self.fallback_action
        )
    }

    /// All text an opener may take names and numbers from (besides the research and the row).
    pub fn claim_text(&self) -> String {
        format!("{}\n{}", self.to_prompt_block(), self.copy.instructions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_listed_once_and_reachable() {
        let mut s = ServiceContext::default();
        for f in SERVICE_FIELDS {
            assert!(s.get(f.name).is_some_and(|v| !v.is_empty()), "{}", f.name);
            assert!(s.set(f.name, "x".into()).is_ok());
            assert_eq!(s.get(f.name), Some("x"));
        }
        let err = s.set("nope", "x".into()).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("core_offer") && e.contains("nope")));
        // The JSON names are the field names.
        let v = serde_json::to_value(ServiceContext::default()).unwrap_or_default();
        for f in SERVICE_FIELDS {
            assert!(v.get(f.name).is_some(), "{}", f.name);
        }
    }

    #[test]
    fn the_form_holds_what_validate_accepts() {
        let form = ServiceForm::new();
        let names: Vec<&str> = form.fields.iter().map(|f| f.field.name).collect();
        let expected: Vec<&str> = SERVICE_FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(names, expected);
        let mut s = ServiceContext::default();
        for f in &form.fields {
            assert_eq!(s.get(f.field.name), Some(f.default.as_str()));
            // At the limit is accepted, one past it is not.
            s.set(f.field.name, "x".repeat(f.max_chars))
                .unwrap_or_default();
            assert_eq!(s.validate(), Ok(()), "{}", f.field.name);
            s.set(f.field.name, "x".repeat(f.max_chars + 1))
                .unwrap_or_default();
            assert!(s.validate().is_err(), "{}", f.field.name);
            s.set(f.field.name, f.default.clone()).unwrap_or_default();
        }
        let limits = form.copy.limits;
        let mut copy = form.copy.defaults.clone();
        for (n, ok) in [
            (limits.sentences[0], true),
            (limits.sentences[1], true),
            (limits.sentences[1] + 1, false),
            (limits.sentences[0] - 1, false),
        ] {
            copy.sentences = n;
            assert_eq!(copy.validate().is_ok(), ok, "sentences {n}");
        }
        copy.sentences = limits.sentences[0];
        for (n, ok) in [
            (limits.words_per_sentence[0], true),
            (limits.words_per_sentence[1], true),
            (limits.words_per_sentence[1] + 1, false),
        ] {
            copy.words_per_sentence = n;
            assert_eq!(copy.validate().is_ok(), ok, "words {n}");
        }
        copy.words_per_sentence = limits.words_per_sentence[0];
        copy.instructions = "x".repeat(limits.instructions_max_chars + 1);
        assert!(copy.validate().is_err());
        let v = serde_json::to_value(&form).unwrap_or_default();
        assert_eq!(v["fields"][0]["name"], "core_offer");
        assert_eq!(v["fields"][0]["max_chars"], MAX_FIELD_CHARS);
        assert_eq!(v["copy"]["limits"]["sentences"][1], 4);
    }

    #[test]
    fn oversized_fields_are_rejected_with_the_field_name() {
        let mut s = ServiceContext::default();
        assert_eq!(s.validate(), Ok(()));
        s.goal = "x".repeat(MAX_FIELD_CHARS);
        assert_eq!(s.validate(), Ok(()));
        s.goal.push('x');
        let err = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("`goal` is 501 characters"), "{err}");
    }
}
