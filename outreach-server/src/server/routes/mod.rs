//! One router per resource; `server::app` merges them.

pub mod account;
pub mod billing;
pub mod events;
pub mod files;
pub mod health;
pub mod jobs;
pub mod results;
pub mod templates;
