//! The `PushAccess` port: what a push task needs from the front end that keeps the
//! destination keys. The keys are sealed with a server key the core never holds (the
//! core has no crypto dependency, as with password hashes), so the task asks the front
//! end to open the saved destination when the push starts or resumes.

use std::fmt::Debug;

use async_trait::async_trait;

use super::{DestinationConfig, DestinationKind};
use crate::campaign::SuppressionList;
use crate::error::Result;

/// Opens an account's saved destination for a push task.
///
/// # Contract
/// - `destination` returns the config (key in clear, base URL) of the account's saved
///   destination of `kind`, pushing to `campaign`. A destination that is not saved (or
///   a key that no longer opens) is [`crate::Error::Config`] or
///   [`crate::Error::NotFound`]: the push fails with that message. Any other error is
///   taken as transient and the task is retried.
/// - `suppression` is the account's do-not-contact list now (`None` when empty), so a
///   resumed push also skips people listed since it started.
#[async_trait]
pub trait PushAccess: Send + Sync + Debug + 'static {
    async fn destination(
        &self,
        user_id: &str,
        kind: DestinationKind,
        campaign: &str,
    ) -> Result<DestinationConfig>;
    async fn suppression(&self, user_id: &str) -> Result<Option<SuppressionList>>;
}
