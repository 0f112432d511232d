//! Research: two searches per prospect (built from what the row knows, [`Prospect`]),
//! distilled by the LLM into a small JSON document whose every fact the verifier checks.

pub mod email;
pub mod free_mail;
pub mod identity;
pub mod model;
pub mod parse;
pub mod prompt;
pub mod prospect;
pub mod verify;

pub use email::{parse_email, EmailParts};
pub use free_mail::is_free_mail;
pub use model::{
    Company, Evidence, Identity, Person, Research, ResearchReply, RESEARCH_VERSION, UNKNOWN,
};
pub use prospect::Prospect;
