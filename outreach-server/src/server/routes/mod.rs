//! One router per resource; `server::app` merges them.

pub mod account;
pub mod billing;
pub mod destinations;
pub mod events;
pub mod files;
pub mod health;
pub mod jobs;
pub mod push;
pub mod results;
pub mod suppression;
pub mod templates;
pub mod webhooks;
