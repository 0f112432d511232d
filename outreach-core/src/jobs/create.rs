//! The API side of jobs: create (reserve credits, store the input, queue it), retry a
//! failed job, cancel a running one.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::credits::undelivered_credits;
use super::{keys, JobSystem};
use crate::campaign::{DraftSpec, Drafts, SuppressionList};
use crate::error::{Error, Result};
use crate::input::{self, ColumnOverrides, InputSummary};
use crate::output::OutputFormat;
use crate::pipeline::{blocking, blocking_cancellable, Plan, PlanRequest};
use crate::ports::{Applied, Job, JobCampaign, JobMeta, JobStatus, NewEntry, NewJob, Task};
use crate::ServiceContext;

/// A request to create a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateJob {
    pub user_id: String,
    /// Storage key of the uploaded input (already validated as the caller's).
    pub file_path: String,
    /// The name to show and to derive the download name from.
    pub filename: String,
    pub email_col: Option<String>,
    /// The user's choice of role columns (name, company, …); the rest are guessed.
    #[serde(default)]
    pub columns: ColumnOverrides,
    pub service: ServiceContext,
    pub output_columns: Option<Vec<String>>,
    pub format: OutputFormat,
    pub limit: Option<u64>,
    pub combined: bool,
    /// Reserve one credit per row (false for local CLI runs).
    pub charge: bool,
    /// Use this id (the CLI derives one so a re-run finds its job); `None` = random.
    pub job_id: Option<String>,
    /// Do-not-contact list and email templates.
    #[serde(default)]
    pub campaign: CampaignRequest,
}

/// The campaign part of a job request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignRequest {
    /// Everyone not to contact (the front end merges the account's list with the
    /// run's). Listed rows are not charged.
    #[serde(skip)]
    pub suppression: Option<Arc<SuppressionList>>,
    /// Subject/body templates (and variants); errors are reported before any charge.
    #[serde(default)]
    pub drafts: Option<DraftSpec>,
}

/// What validating an input file found.
struct Inspected {
    rows: u64,
    email_col: String,
    /// Rows (within the limit) on the do-not-contact list.
    suppressed: u64,
}

impl JobSystem {
    /// Validate the input, reserve credits, store the input under the job's prefix,
    /// create the job `queued` and queue its start. Nothing is charged unless the job
    /// row exists; nothing is queued unless the charge succeeded.
    pub async fn create_job(&self, req: CreateJob) -> Result<Job> {
        let job_id = req
            .job_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        req.service.validate()?;
        // Reading is bounded per user and overall, and stops if this future is dropped.
        let permit = self.parse_gate().enter(&req.user_id).await?;
        let local = self.download(&req.file_path).await?;
        let inspected = inspect(local.path.clone(), &req).await?;
        drop(permit);
        let max_rows = self.settings().max_rows;
        if max_rows > 0 && inspected.rows > max_rows {
            return Err(crate::InputError::Other(format!(
                "the file has {} rows; the limit is {max_rows}",
                inspected.rows
            ))
            .into());
        }
        let billable = inspected.rows.saturating_sub(inspected.suppressed);
        let cost = if req.charge { billable as i64 } else { 0 };
        // The caller's own upload is the job's input as it is: no copy (ten one-row
        // previews of a big upload once wrote ten copies of it). Other inputs are
        // copied under the job's prefix.
        let input_key = if req
            .file_path
            .starts_with(&format!("uploads/{}/", req.user_id))
        {
            req.file_path.clone()
        } else {
            keys::input(&req.user_id, &job_id, &req.filename)
        };
        // Stored before the charge: a failure here costs nothing.
        let campaign = self
            .store_campaign(&req, &job_id, inspected.suppressed)
            .await?;
        // Charge first: a refused charge (402) must leave nothing behind.
        if cost > 0 {
            self.ledger()
                .apply(NewEntry {
                    user_id: req.user_id.clone(),
                    change: -cost,
                    amount_usd: None,
                    reason: format!("job deduction: {job_id}"),
                    idempotency_key: keys::reserve(&job_id, 1),
                })
                .await?;
        }
        if input_key != req.file_path {
            if let Err(e) = self.storage().put_file(&input_key, &local.path).await {
                self.refund(
                    &req.user_id,
                    &job_id,
                    cost,
                    keys::refund(&job_id, 1),
                    "job refund",
                )
                .await?;
                return Err(e);
            }
        }
        let new = NewJob {
            id: job_id.clone(),
            user_id: req.user_id.clone(),
            filename: req.filename.clone(),
            rows: inspected.rows,
            meta: JobMeta {
                file_path: input_key,
                email_col: inspected.email_col,
                columns: req.columns.clone(),
                service: req.service.clone(),
                credit_cost: cost,
                output_columns: req.output_columns.clone(),
                format: req.format,
                chunk_size: self.settings().chunk_size.max(1),
                limit: req.limit,
                combined: req.combined,
                campaign,
            },
            credits_charged: cost,
        };
        let job = match self.store().create_job(new).await {
            Ok(job) => job,
            Err(e) => {
                if cost > 0 {
                    self.refund(
                        &req.user_id,
                        &job_id,
                        cost,
                        keys::refund(&job_id, 1),
                        "job refund",
                    )
                    .await?;
                }
                return Err(e);
            }
        };
        let queued = if inspected.suppressed > 0 {
            format!(
                "Job queued: {} rows ({} on the do-not-contact list, not charged)",
                job.rows, inspected.suppressed
            )
        } else {
            format!("Job queued: {} rows", job.rows)
        };
        self.store()
            .add_log(&job.id, 0, job.rows as i64, &queued)
            .await?;
        self.queue()
            .enqueue(Task::Start {
                job_id: job.id.clone(),
            })
            .await?;
        Ok(job)
    }

    /// The job's campaign settings; its do-not-contact list copied into storage.
    async fn store_campaign(
        &self,
        req: &CreateJob,
        job_id: &str,
        suppressed: u64,
    ) -> Result<Option<JobCampaign>> {
        let list = req.campaign.suppression.as_ref().filter(|l| !l.is_empty());
        if list.is_none() && req.campaign.drafts.is_none() {
            return Ok(None);
        }
        let mut suppression_key = None;
        if let Some(list) = list {
            let key = keys::suppression(&req.user_id, job_id);
            self.storage()
                .put(&key, bytes::Bytes::from(list.to_text()))
                .await?;
            suppression_key = Some(key);
        }
        Ok(Some(JobCampaign {
            suppression_key,
            suppressed_rows: suppressed,
            drafts: req.campaign.drafts.clone(),
        }))
    }

    /// Run a failed job again: only its missing chunks are redone. The attempt is
    /// charged back up to the job's full reservation (what the failure refunded: the
    /// rows not delivered), from the job's own totals (`credits_charged -
    /// credits_refunded` is what it holds), so a chunk recorded after the failure's
    /// refund cannot skew it; the finalize then refunds the rows not chargeable.
    pub async fn retry_job(&self, user_id: &str, job_id: &str) -> Result<Job> {
        let job = self.store().get_job(Some(user_id), job_id).await?;
        if job.status != JobStatus::Failed {
            return Err(Error::Conflict(format!(
                "only a failed job can be retried; this one is {}",
                job.status.as_str()
            )));
        }
        let attempt = job.attempt + 1;
        let held = job.credits_charged - job.credits_refunded;
        let cost = (job.meta.credit_cost - held).max(0);
        let mut applied = None;
        if cost > 0 {
            applied = Some(
                self.ledger()
                    .apply(NewEntry {
                        user_id: user_id.to_string(),
                        change: -cost,
                        amount_usd: None,
                        reason: format!("job deduction (retry {attempt}): {job_id}"),
                        idempotency_key: keys::reserve(job_id, attempt),
                    })
                    .await?,
            );
            if let Some(Applied::Applied { .. }) = applied {
                self.store().add_credits_charged(job_id, cost).await?;
            }
        }
        match self.store().retry(job_id).await? {
            Some(_) => {}
            None => {
                // Someone else retried first with the same reservation key: nothing to
                // undo. Otherwise the job left `failed` some other way: give it back.
                let now = self.store().get_job(None, job_id).await?;
                let ours = matches!(applied, Some(Applied::Applied { .. }));
                if ours && now.attempt < attempt {
                    self.refund(
                        user_id,
                        job_id,
                        cost,
                        keys::refund(job_id, attempt),
                        "job refund",
                    )
                    .await?;
                }
                return Ok(now);
            }
        }
        self.store()
            .add_log(
                job_id,
                0,
                job.rows as i64,
                &format!("Retry {attempt} queued"),
            )
            .await?;
        self.queue()
            .enqueue(Task::Start {
                job_id: job_id.to_string(),
            })
            .await?;
        self.store().get_job(None, job_id).await
    }

    /// Stop a queued or running job: no new chunks start, and the rows not processed
    /// are refunded.
    pub async fn cancel_job(&self, user_id: &str, job_id: &str) -> Result<Job> {
        let job = self.store().get_job(Some(user_id), job_id).await?;
        let won = match job.status {
            JobStatus::Queued | JobStatus::InProgress => {
                self.store()
                    .transition(job_id, job.status, JobStatus::Cancelled)
                    .await?
            }
            other => {
                return Err(Error::Conflict(format!(
                    "only a queued or running job can be cancelled; this one is {}",
                    other.as_str()
                )))
            }
        };
        if !won {
            return Err(Error::Conflict(
                "the job changed state; reload and try again".into(),
            ));
        }
        crate::telemetry::job_finished(JobStatus::Cancelled);
        // Counted after the status flipped: no chunk records any more, so this is the
        // same count a failure refunds (`credits.rs`): the recorded chunks' charged rows.
        let progress = self.store().chunk_progress(job_id).await?;
        let refund = undelivered_credits(&job, &progress.totals);
        let mut refunded = Ok(());
        if refund > 0 {
            refunded = self
                .refund(
                    user_id,
                    job_id,
                    refund,
                    keys::refund_cancel(job_id, job.attempt),
                    "job cancelled",
                )
                .await;
        }
        // Told once: only the cancel that flipped the status gets here.
        let finished = self.store().get_job(None, job_id).await;
        if let Ok(finished) = &finished {
            self.notify_finished(finished, progress.rows_processed, refund)
                .await;
        }
        refunded?;
        self.store()
            .add_log(
                job_id,
                progress.rows_processed as i64,
                job.rows as i64,
                "Job cancelled",
            )
            .await?;
        finished
    }
}

impl JobSystem {
    /// Headers, row count and email-column guess of a stored input (the upload step's
    /// preview), read under the [`input::ParseGate`] and cancelled if this future is
    /// dropped.
    pub async fn summarize(&self, user_id: &str, key: &str) -> Result<InputSummary> {
        let _permit = self.parse_gate().enter(user_id).await?;
        let local = self.download(key).await?;
        let path = local.path.clone();
        let summary =
            blocking_cancellable(move |cancel| input::read_summary_cancellable(&path, &cancel))
                .await;
        // The copy is removed off the async threads.
        blocking(move || {
            drop(local);
            Ok(())
        })
        .await?;
        summary
    }
}

/// Headers, columns, templates, output columns and row count (and the rows on the
/// do-not-contact list), checked before any charge.
async fn inspect(path: PathBuf, req: &CreateJob) -> Result<Inspected> {
    let drafts = match &req.campaign.drafts {
        Some(spec) => Some(Drafts::compile(spec)?),
        None => None,
    };
    let plan = Plan::inspect(
        path,
        PlanRequest {
            email_column: req.email_col.clone(),
            columns: req.columns.clone(),
            output_columns: req.output_columns.clone(),
            limit: req.limit,
            drafts,
            count_suppressed: req.campaign.suppression.clone(),
        },
    )
    .await?;
    if plan.rows == 0 {
        return Err(crate::InputError::HeaderOnly.into());
    }
    Ok(Inspected {
        rows: plan.rows,
        email_col: plan.email_column().to_string(),
        suppressed: plan.suppressed,
    })
}
