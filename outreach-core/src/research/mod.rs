//! Research: two searches per prospect, distilled by the LLM into a small JSON document.

pub mod email;
pub mod model;
pub mod parse;
pub mod prompt;

pub use email::{parse_email, EmailParts};
pub use model::{Company, Person, Research, UNKNOWN};

/// The two queries the seed runs: the person at their domain, then the domain itself.
/// The second one is shared by everyone at the same company, so it is cached.
pub fn queries(email: &EmailParts) -> (String, String) {
    (
        format!("{} {}", email.username, email.domain),
        email.domain.clone(),
    )
}
