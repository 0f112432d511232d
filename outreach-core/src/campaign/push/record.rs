//! A push as it is stored and shown: one JSON record per push in storage, beside the
//! job's other objects, and its per-row results.
//!
//! Keys (all under `pushes/<user>/`, so erasing a user takes them):
//! - `pushes/<user>/<job>/<push>.json`: the record, rewritten at every checkpoint;
//! - `pushes/<user>/<job>/<push>.parts/<first row>.jsonl`: the rows reported since the
//!   previous checkpoint, written before the record that counts them;
//! - `pushes/<user>/<job>/<push>.results.jsonl`: every row's result once the push
//!   ended (the parts merged, one result per row, the first kept);
//! - `running-pushes/<user>/<job>/<push>`: present while the push runs, so a process
//!   whose queue forgets tasks (the in-process one) can queue it again at start.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DestinationKind, PushSummary};

/// `status` while the push runs, and once it ended.
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// A push as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRecord {
    pub id: String,
    pub job_id: String,
    pub to: DestinationKind,
    pub campaign: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    #[serde(flatten)]
    pub summary: PushSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The last data row whose result is recorded: a resumed push starts after it.
    #[serde(default)]
    pub last_row: u64,
}

impl PushRecord {
    /// A new running push.
    pub fn new(job_id: &str, to: DestinationKind, campaign: &str) -> Self {
        Self {
            id: format!("push_{}", uuid::Uuid::new_v4().simple()),
            job_id: job_id.to_string(),
            to,
            campaign: campaign.to_string(),
            status: RUNNING.into(),
            summary: PushSummary::default(),
            error: None,
            created_at: Utc::now(),
            finished_at: None,
            last_row: 0,
        }
    }

    pub fn is_running(&self) -> bool {
        self.status == RUNNING
    }
}

/// Whether `id` looks like a push id (`push_` and hex), before it is used in a key.
pub fn is_push_id(id: &str) -> bool {
    id.strip_prefix("push_")
        .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

pub fn record_key(user_id: &str, job_id: &str, push_id: &str) -> String {
    format!("pushes/{user_id}/{job_id}/{push_id}.json")
}

pub fn results_key(user_id: &str, job_id: &str, push_id: &str) -> String {
    format!("pushes/{user_id}/{job_id}/{push_id}.results.jsonl")
}

pub fn parts_prefix(user_id: &str, job_id: &str, push_id: &str) -> String {
    format!("pushes/{user_id}/{job_id}/{push_id}.parts/")
}

/// The marker of a running push (see the module notes).
pub fn running_key(user_id: &str, job_id: &str, push_id: &str) -> String {
    format!("{RUNNING_ROOT}/{user_id}/{job_id}/{push_id}")
}

/// Where running-push markers live.
pub const RUNNING_ROOT: &str = "running-pushes";

/// The (user, job, push) a marker key names.
pub fn parse_running_key(key: &str) -> Option<(String, String, String)> {
    let rest = key.strip_prefix(RUNNING_ROOT)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let (user, job, push) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && is_push_id(push))
        .then(|| (user.to_string(), job.to_string(), push.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ids() {
        let record = PushRecord::new("job-1", DestinationKind::Lemlist, "cam_1");
        assert!(is_push_id(&record.id), "{}", record.id);
        assert!(!is_push_id("push_"));
        assert!(!is_push_id("push_../x"));
        let marker = running_key("u-1", "job-1", &record.id);
        assert_eq!(
            parse_running_key(&marker),
            Some(("u-1".into(), "job-1".into(), record.id.clone()))
        );
        assert_eq!(parse_running_key("running-pushes/u/j/p/extra"), None);
        // The API shape: counts flattened, `last_row` for resuming.
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["status"], "running");
        assert_eq!(json["pushed"], 0);
        assert_eq!(json["to"], "lemlist");
        let back: PushRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
