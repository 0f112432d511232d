//! The user's offer: what the opener ties the prospect's situation to.

use serde::{Deserialize, Serialize};

/// The six fields of the seed's service context. Absent fields take the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceContext {
    pub core_offer: String,
    pub key_differentiator: String,
    pub cta: String,
    pub timeline: String,
    pub goal: String,
    pub fallback_action: String,
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
        }
    }
}

impl ServiceContext {
    /// The context as the prompt block the LLM sees.
    pub fn to_prompt_block(&self) -> String {
        format!(
            "Core offer: {}\nKey differentiator: {}\nCall to action: {}\nTimeline: {}\nGoal: {}\nFallback action: {}",
            self.core_offer, self.key_differentiator, self.cta, self.timeline, self.goal, self.fallback_action
        )
    }
}
