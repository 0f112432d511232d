//! Pushes as tasks: `POST /jobs/{id}/push` records a push ([`JobSystem::start_push`])
//! and queues a `Push` task, which any worker of any process runs, like the chunks of a
//! job. The front end that keeps the sealed keys opens the destination for it through
//! the [`PushAccess`] port (set with [`JobSystem::set_push_access`]).
//!
//! Durable and idempotent: every half second the task writes the rows reported since
//! the last checkpoint (a part under `<push>.parts/`), then the record with its counts
//! and `last_row`. A task that stops (a crash, a deploy, a lost lease) is delivered
//! again and resumes after `last_row`; the few rows reported after the last checkpoint
//! are sent again, and the destination's dedupe makes that harmless (they come back
//! `skipped`, and the merge keeps each row's first result). When the push ends, the
//! parts are merged into one result per row, the counts are taken from that merge,
//! `push.finished` is stored for delivery, and the record says `succeeded` or
//! `failed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use super::JobSystem;
use crate::campaign::push::record::{
    self, parts_prefix, record_key, results_key, running_key, PushRecord,
};
use crate::campaign::push::{
    build_destination, push_file, DestinationKind, PushAccess, PushOptions, PushSummary, RowResult,
};
use crate::error::{Error, Result};
use crate::ports::{JobStatus, Task};

/// How often a running push records its progress.
const CHECKPOINT: Duration = Duration::from_millis(500);

/// What a running push shares with its row callback.
#[derive(Debug)]
struct Live {
    record: PushRecord,
    /// Rows reported since the last checkpoint.
    fresh: Vec<RowResult>,
}

impl JobSystem {
    /// Who opens saved destinations for push tasks (replaces any earlier one).
    pub fn set_push_access(&self, access: Arc<dyn PushAccess>) {
        let mut slot = self
            .inner
            .push_access
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *slot = Some(access);
    }

    fn push_access(&self) -> Option<Arc<dyn PushAccess>> {
        self.inner
            .push_access
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A stored push record.
    pub async fn push_record(
        &self,
        user_id: &str,
        job_id: &str,
        push_id: &str,
    ) -> Result<PushRecord> {
        if !record::is_push_id(push_id) {
            return Err(Error::NotFound(format!("push {push_id}")));
        }
        let bytes = self
            .storage()
            .get(&record_key(user_id, job_id, push_id))
            .await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Storage(format!("unreadable push record: {e}")))
    }

    /// A job's pushes, newest first.
    pub async fn push_records(&self, user_id: &str, job_id: &str) -> Result<Vec<PushRecord>> {
        let prefix = format!("pushes/{user_id}/{job_id}/");
        let mut pushes = Vec::new();
        for key in self.storage().list(&prefix).await? {
            let Some(push_id) = key
                .strip_prefix(&prefix)
                .and_then(|name| name.strip_suffix(".json"))
                .filter(|id| record::is_push_id(id))
            else {
                continue;
            };
            match self.push_record(user_id, job_id, push_id).await {
                Ok(record) => pushes.push(record),
                // Removed between the list and the read (an erasure).
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        pushes.sort_by_key(|p| std::cmp::Reverse(p.created_at));
        Ok(pushes)
    }

    /// A push's per-row results, once it has ended (empty before).
    pub async fn push_results(
        &self,
        user_id: &str,
        job_id: &str,
        push_id: &str,
    ) -> Result<Vec<RowResult>> {
        match self
            .storage()
            .get(&results_key(user_id, job_id, push_id))
            .await
        {
            Ok(bytes) => Ok(parse_lines(&bytes)),
            Err(Error::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Records a push of `job_id`'s result to the account's saved `kind` destination
    /// and queues it; or, when the same push (job, destination, campaign) is running,
    /// returns that one. `true` when a new push was started. The job must have
    /// succeeded with a result.
    pub async fn start_push(
        &self,
        user_id: &str,
        job_id: &str,
        kind: DestinationKind,
        campaign: &str,
    ) -> Result<(PushRecord, bool)> {
        let job = self.store().get_job(Some(user_id), job_id).await?;
        if job.status != JobStatus::Succeeded || job.result_path.is_none() {
            return Err(Error::Conflict(format!(
                "the job has no result to push (it is {})",
                job.status.as_str()
            )));
        }
        // One start at a time in this process, so two identical requests cannot both
        // miss the running push.
        let _one = self.inner.push_starts.lock().await;
        if let Some(running) = self
            .push_records(user_id, job_id)
            .await?
            .into_iter()
            .find(|p| p.is_running() && p.to == kind && p.campaign == campaign)
        {
            return Ok((running, false));
        }
        let record = PushRecord::new(job_id, kind, campaign);
        self.save_push(user_id, &record).await?;
        self.storage()
            .put(
                &running_key(user_id, job_id, &record.id),
                bytes::Bytes::new(),
            )
            .await?;
        self.queue()
            .enqueue(Task::Push {
                user_id: user_id.to_string(),
                job_id: job_id.to_string(),
                push_id: record.id.clone(),
            })
            .await?;
        Ok((record, true))
    }

    async fn save_push(&self, user_id: &str, record: &PushRecord) -> Result<()> {
        let bytes = serde_json::to_vec(record)
            .map_err(|e| Error::Storage(format!("cannot encode a push record: {e}")))?;
        self.storage()
            .put(
                &record_key(user_id, &record.job_id, &record.id),
                bytes.into(),
            )
            .await
    }

    /// Runs (or resumes) a push. `Err` only for what a retry may cure (storage,
    /// database); a push that cannot succeed ends `failed` and returns `Ok`.
    pub(crate) async fn handle_push(
        &self,
        user_id: &str,
        job_id: &str,
        push_id: &str,
    ) -> Result<()> {
        let record = match self.push_record(user_id, job_id, push_id).await {
            Ok(record) => record,
            // Erased (or never recorded): nothing to do.
            Err(Error::NotFound(_)) => {
                return self.forget_running(user_id, job_id, push_id).await;
            }
            Err(e) => return Err(e),
        };
        if !record.is_running() {
            return self.forget_running(user_id, job_id, push_id).await;
        }
        let Some(access) = self.push_access() else {
            return self
                .end_push(
                    user_id,
                    record,
                    Err("this worker cannot open saved destinations (set OUTREACH_SECRETS_KEY and the campaign settings on every worker)".into()),
                )
                .await;
        };
        let config = match access
            .destination(user_id, record.to, &record.campaign)
            .await
        {
            Ok(config) => config,
            Err(e @ (Error::Config(_) | Error::NotFound(_))) => {
                return self.end_push(user_id, record, Err(e.to_string())).await;
            }
            Err(e) => return Err(e),
        };
        let suppression = access.suppression(user_id).await?;
        let destination = match build_destination(&config) {
            Ok(d) => d,
            Err(e) => return self.end_push(user_id, record, Err(e.to_string())).await,
        };
        let job = match self.store().get_job(Some(user_id), job_id).await {
            Ok(job) => job,
            Err(Error::NotFound(_)) => {
                return self
                    .end_push(user_id, record, Err("the job is gone".into()))
                    .await
            }
            Err(e) => return Err(e),
        };
        let Some(result_path) = job.result_path.clone() else {
            return self
                .end_push(user_id, record, Err("the job has no result".into()))
                .await;
        };
        let local = self.download(&result_path).await?;
        let options = PushOptions {
            suppression: suppression.map(Arc::new),
            resume_after: record.last_row,
        };
        if record.last_row > 0 {
            tracing::info!(push = %record.id, after_row = record.last_row, "resuming a push");
        }
        let live = Arc::new(Mutex::new(Live {
            record,
            fresh: Vec::new(),
        }));
        let outcome = {
            let rows = live.clone();
            let push = push_file(&local.path, destination.as_ref(), &options, move |row| {
                let mut l = rows.lock().unwrap_or_else(|e| e.into_inner());
                l.record.summary.count(row.status);
                l.record.last_row = l.record.last_row.max(row.row);
                l.fresh.push(row.clone());
            });
            tokio::pin!(push);
            // The push pauses while a checkpoint is written: one future, so a task
            // stopped by a shutdown or a lost lease stops both.
            loop {
                tokio::select! {
                    outcome = &mut push => break outcome,
                    () = tokio::time::sleep(CHECKPOINT) => self.checkpoint(user_id, &live).await?,
                }
            }
        };
        self.checkpoint(user_id, &live).await?;
        let record = live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record
            .clone();
        self.end_push(
            user_id,
            record,
            outcome.map(|_| ()).map_err(|e| e.to_string()),
        )
        .await
    }

    /// Writes the rows reported since the last checkpoint, then the record counting
    /// them.
    async fn checkpoint(&self, user_id: &str, live: &Mutex<Live>) -> Result<()> {
        let (record, fresh) = {
            let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
            (l.record.clone(), std::mem::take(&mut l.fresh))
        };
        if let Some(first) = fresh.first() {
            let mut lines = String::new();
            for row in &fresh {
                if let Ok(line) = serde_json::to_string(row) {
                    lines.push_str(&line);
                    lines.push('\n');
                }
            }
            let key = format!(
                "{}{:012}.jsonl",
                parts_prefix(user_id, &record.job_id, &record.id),
                first.row
            );
            if let Err(e) = self.storage().put(&key, lines.into()).await {
                // Hand the rows back, so the next checkpoint writes them.
                let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
                let newer = std::mem::take(&mut l.fresh);
                l.fresh = fresh;
                l.fresh.extend(newer);
                return Err(e);
            }
        }
        self.save_push(user_id, &record).await
    }

    /// Ends a push: merges its results (one per row, the first kept), counts from the
    /// merge, stores `push.finished` for delivery, saves the final record, removes the
    /// running marker.
    async fn end_push(
        &self,
        user_id: &str,
        mut record: PushRecord,
        outcome: std::result::Result<(), String>,
    ) -> Result<()> {
        let (user, job, push) = (user_id, record.job_id.clone(), record.id.clone());
        let mut rows: BTreeMap<u64, RowResult> = BTreeMap::new();
        let mut sources = vec![results_key(user, &job, &push)];
        let parts = self
            .storage()
            .list(&parts_prefix(user, &job, &push))
            .await?;
        sources.extend(parts.iter().cloned());
        for key in &sources {
            let bytes = match self.storage().get(key).await {
                Ok(bytes) => bytes,
                Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            for row in parse_lines(&bytes) {
                rows.entry(row.row).or_insert(row);
            }
        }
        let mut summary = PushSummary::default();
        let mut lines = String::new();
        for row in rows.values() {
            summary.count(row.status);
            if let Ok(line) = serde_json::to_string(row) {
                lines.push_str(&line);
                lines.push('\n');
            }
        }
        self.storage()
            .put(&results_key(user, &job, &push), lines.into())
            .await?;
        for key in &parts {
            self.storage().delete(key).await?;
        }
        record.summary = summary;
        record.finished_at = Some(Utc::now());
        match outcome {
            Ok(()) => record.status = record::SUCCEEDED.into(),
            Err(message) => {
                record.status = record::FAILED.into();
                record.error = Some(message);
            }
        }
        tracing::info!(push = %record.id, status = %record.status, pushed = record.summary.pushed, skipped = record.summary.skipped, rejected = record.summary.rejected, "push finished");
        // Stored before the final record: a stop in between sends it again (at least
        // once) rather than never.
        let data = serde_json::to_value(&record).unwrap_or_default();
        self.emit_logged(user, "push.finished", data).await;
        self.save_push(user, &record).await?;
        self.forget_running(user, &job, &push).await
    }

    async fn forget_running(&self, user_id: &str, job_id: &str, push_id: &str) -> Result<()> {
        self.storage()
            .delete(&running_key(user_id, job_id, push_id))
            .await
    }

    /// Ends a push whose task failed for good (attempts exhausted).
    pub(crate) async fn fail_push(
        &self,
        user_id: &str,
        job_id: &str,
        push_id: &str,
        message: &str,
    ) -> Result<()> {
        match self.push_record(user_id, job_id, push_id).await {
            Ok(record) if record.is_running() => {
                self.end_push(user_id, record, Err(message.to_string()))
                    .await
            }
            Ok(_) | Err(Error::NotFound(_)) => self.forget_running(user_id, job_id, push_id).await,
            Err(e) => Err(e),
        }
    }

    /// Every running push (by its marker) with its recorded `last_row`.
    pub(crate) async fn running_pushes(&self) -> Result<Vec<(String, String, String, u64)>> {
        let mut running = Vec::new();
        for key in self
            .storage()
            .list(&format!("{}/", record::RUNNING_ROOT))
            .await?
        {
            let Some((user_id, job_id, push_id)) = record::parse_running_key(&key) else {
                continue;
            };
            let last_row = match self.push_record(&user_id, &job_id, &push_id).await {
                Ok(record) => record.last_row,
                Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            running.push((user_id, job_id, push_id, last_row));
        }
        Ok(running)
    }

    /// Queues every push whose running marker is stored (after a restart of an
    /// in-process queue). Returns how many.
    pub(crate) async fn recover_pushes(&self) -> Result<usize> {
        let mut n = 0;
        for key in self
            .storage()
            .list(&format!("{}/", record::RUNNING_ROOT))
            .await?
        {
            let Some((user_id, job_id, push_id)) = record::parse_running_key(&key) else {
                continue;
            };
            self.queue()
                .enqueue(Task::Push {
                    user_id,
                    job_id,
                    push_id,
                })
                .await?;
            n += 1;
        }
        Ok(n)
    }
}

fn parse_lines(bytes: &[u8]) -> Vec<RowResult> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
