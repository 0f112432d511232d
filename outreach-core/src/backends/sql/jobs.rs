//! [`JobStore`] and [`JobRecords`]: `jobs`, `job_chunks`, `job_logs`, `files`.

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    corrupt, finish_tx, json_arg, now, on_constraint, sat_i64, to_i64, Constraint, Dialect, On,
    Query, SqlRow, SqlStore,
};
use crate::error::{Error, Result};
use crate::ports::{
    ChunkProgress, ChunkStats, Job, JobFinish, JobLog, JobRecords, JobStatus, JobStore, NewJob,
};

const JOB_COLUMNS: &str = "id, user_id, status, filename, rows, chunks_total, rows_processed, \
     progress_percent, created_at, started_at, finished_at, result_path, error, meta_json, \
     timing_json, attempt, credits_charged, credits_refunded";

/// The job's fields and the aggregate of its chunks, in one statement (one snapshot).
/// No row when the job does not exist. `SUM(bigint)` is `numeric` on PostgreSQL: cast
/// back (SQLite reads `BIGINT` as its integer type).
const PROGRESS_SQL: &str = "SELECT j.rows AS job_rows, j.chunks_total, j.meta_json, \
         COUNT(c.chunk) AS chunks_done, \
         CAST(COALESCE(SUM(c.rows), 0) AS BIGINT) AS rows, \
         CAST(COALESCE(SUM(c.fallbacks), 0) AS BIGINT) AS fallbacks, \
         CAST(COALESCE(SUM(c.refundable), 0) AS BIGINT) AS refundable, \
         CAST(COALESCE(SUM(c.search_calls), 0) AS BIGINT) AS search_calls, \
         CAST(COALESCE(SUM(c.llm_calls), 0) AS BIGINT) AS llm_calls, \
         CAST(COALESCE(SUM(c.cache_hits), 0) AS BIGINT) AS cache_hits, \
         CAST(COALESCE(SUM(c.retries), 0) AS BIGINT) AS retries, \
         CAST(COALESCE(SUM(c.prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
         CAST(COALESCE(SUM(c.completion_tokens), 0) AS BIGINT) AS completion_tokens, \
         CAST(COALESCE(SUM(c.millis), 0) AS BIGINT) AS millis \
     FROM jobs j LEFT JOIN job_chunks c ON c.job_id = j.id \
     WHERE j.id = $1 \
     GROUP BY j.id, j.rows, j.chunks_total, j.meta_json";

fn unknown_job(id: &str) -> Error {
    Error::NotFound(format!("job {id}"))
}

fn json<T: serde::de::DeserializeOwned>(row: &impl SqlRow, name: &str) -> Result<Option<T>> {
    row.opt_json(name)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| corrupt(name, e))
}

fn job_from_row(row: &impl SqlRow) -> Result<Job> {
    let status = row.text("status")?;
    Ok(Job {
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        status: JobStatus::parse(&status).ok_or_else(|| corrupt("job status", &status))?,
        filename: row.text("filename")?,
        rows: row.u64("rows")?,
        chunks_total: row.u32("chunks_total")?,
        rows_processed: row.u64("rows_processed")?,
        progress_percent: row.real("progress_percent")?,
        created_at: row.ts("created_at")?,
        started_at: row.opt_ts("started_at")?,
        finished_at: row.opt_ts("finished_at")?,
        result_path: row.opt_text("result_path")?,
        error: row.opt_text("error")?,
        meta: json(row, "meta_json")?.ok_or_else(|| corrupt("meta_json", "NULL"))?,
        timing: json(row, "timing_json")?,
        attempt: row.u32("attempt")?,
        credits_charged: row.int("credits_charged")?,
        credits_refunded: row.int("credits_refunded")?,
    })
}

/// The part of `meta_json` progress needs.
#[derive(Deserialize)]
struct MetaLimit {
    limit: Option<u64>,
}

/// Percent done: by rows against the rows the job will process (its `rows`, or the
/// `limit` if smaller), so progress moves within a chunk-sized step; and exactly 100
/// once every chunk is recorded, whatever the row counts say.
fn percent(
    rows: u64,
    limit: Option<u64>,
    chunks_done: u32,
    chunks_total: u32,
    rows_done: u64,
) -> f64 {
    if chunks_total > 0 && chunks_done >= chunks_total {
        return 100.0;
    }
    let target = limit.map_or(rows, |l| rows.min(l));
    if target > 0 {
        (100.0 * rows_done as f64 / target as f64).min(100.0)
    } else if chunks_total > 0 {
        100.0 * f64::from(chunks_done) / f64::from(chunks_total)
    } else {
        0.0
    }
}

/// Progress of a job from its recorded chunks, and the percent derived from it.
async fn progress_in<D: Dialect>(on: On<'_, D>, id: &str) -> Result<(ChunkProgress, f64)> {
    let (progress, pct, _) = progress_and_target(on, id).await?;
    Ok((progress, pct))
}

/// [`progress_in`], and the rows the job will process (its `rows`, or `limit`).
async fn progress_and_target<D: Dialect>(
    on: On<'_, D>,
    id: &str,
) -> Result<(ChunkProgress, f64, u64)> {
    let row = on
        .optional(Query::new(PROGRESS_SQL).bind(id), "read the job's progress")
        .await?
        .ok_or_else(|| unknown_job(id))?;
    let totals = ChunkStats {
        rows: row.u64("rows")?,
        fallbacks: row.u64("fallbacks")?,
        refundable: row.u64("refundable")?,
        search_calls: row.u64("search_calls")?,
        llm_calls: row.u64("llm_calls")?,
        cache_hits: row.u64("cache_hits")?,
        retries: row.u64("retries")?,
        prompt_tokens: row.u64("prompt_tokens")?,
        completion_tokens: row.u64("completion_tokens")?,
        millis: row.u64("millis")?,
    };
    let progress = ChunkProgress {
        chunks_done: row.u32("chunks_done")?,
        chunks_total: row.u32("chunks_total")?,
        rows_processed: totals.rows,
        totals,
    };
    let limit = json::<MetaLimit>(&row, "meta_json")?.and_then(|m| m.limit);
    let job_rows = row.u64("job_rows")?;
    let target = limit.map_or(job_rows, |l| job_rows.min(l));
    let pct = percent(
        target,
        None,
        progress.chunks_done,
        progress.chunks_total,
        progress.rows_processed,
    );
    Ok((progress, pct, target))
}

/// Rows reported by running chunks (progress by row) that are not recorded yet: the
/// largest report of each.
const PARTIAL_ROWS_SQL: &str = "SELECT CAST(COALESCE(SUM(p.rows), 0) AS BIGINT) AS partial \
     FROM job_chunk_rows p \
     WHERE p.job_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM job_chunks c WHERE c.job_id = p.job_id AND c.chunk = p.chunk)";

/// Raises the job's `rows_processed` (and percent) to its recorded chunks' rows plus
/// the reports of the others; never lowers them. Inside a write transaction holding
/// the job's row lock.
async fn raise_progress<D: Dialect>(tx: &mut D::Tx, id: &str) -> Result<u64> {
    let (progress, _, target) = progress_and_target(On::<D>::Tx(tx), id).await?;
    let partial = On::<D>::Tx(tx)
        .optional(
            Query::new(PARTIAL_ROWS_SQL).bind(id),
            "read the job's progress",
        )
        .await?
        .map(|row| row.u64("partial"))
        .transpose()?
        .unwrap_or(0);
    let seen = progress.rows_processed + partial;
    let pct = percent(
        target,
        None,
        progress.chunks_done,
        progress.chunks_total,
        seen,
    );
    let raise_rows =
        Query::new("UPDATE jobs SET rows_processed = $2 WHERE id = $1 AND rows_processed < $2")
            .bind(id)
            .bind(to_i64(seen, "rows processed")?);
    let raise_percent =
        Query::new("UPDATE jobs SET progress_percent = $2 WHERE id = $1 AND progress_percent < $2")
            .bind(id)
            .bind(pct);
    for query in [raise_rows, raise_percent] {
        On::<D>::Tx(tx)
            .execute(query, "update the job's progress")
            .await?;
    }
    let row = On::<D>::Tx(tx)
        .optional(
            Query::new("SELECT rows_processed FROM jobs WHERE id = $1").bind(id),
            "read the job's progress",
        )
        .await?
        .ok_or_else(|| unknown_job(id))?;
    row.u64("rows_processed")
}

/// Locks the job's row for this write transaction and returns its status as of the
/// lock (no other writer can change it before commit); `NotFound` if there is no job.
async fn lock_job<D: Dialect>(tx: &mut D::Tx, id: &str, op: &'static str) -> Result<JobStatus> {
    let lock = format!("SELECT status FROM jobs WHERE id = $1{}", D::LOCK_ROW);
    let row = On::<D>::Tx(tx)
        .optional(Query::new(lock).bind(id), op)
        .await?
        .ok_or_else(|| unknown_job(id))?;
    let status = row.text("status")?;
    JobStatus::parse(&status).ok_or_else(|| corrupt("job status", &status))
}

/// The body of `record_chunk_rows`, inside a write transaction.
async fn record_chunk_rows_in<D: Dialect>(
    tx: &mut D::Tx,
    id: &str,
    chunk: u32,
    rows: i64,
) -> Result<u64> {
    let op = "record the chunk's progress";
    lock_job::<D>(tx, id, op).await?;
    let upsert = Query::new(
        "INSERT INTO job_chunk_rows (job_id, chunk, rows) VALUES ($1, $2, $3) \
         ON CONFLICT (job_id, chunk) DO UPDATE SET rows = excluded.rows \
         WHERE excluded.rows > job_chunk_rows.rows",
    )
    .bind(id)
    .bind(i64::from(chunk))
    .bind(rows);
    On::<D>::Tx(tx).execute(upsert, op).await?;
    raise_progress::<D>(tx, id).await
}

/// The body of `record_chunk`, inside a write transaction.
async fn record_chunk_in<D: Dialect>(
    tx: &mut D::Tx,
    id: &str,
    chunk: u32,
    values: &[i64],
) -> Result<Option<ChunkProgress>> {
    // The job's row lock serialises the records of its chunks: each recount below sees
    // every chunk committed before it, and the job row ends at the last one. It also
    // orders the record against the statements that end the job (`finish`,
    // `transition`), which write the same row: a chunk records only while the job is
    // running, so a refund computed after the job ended sees every chunk it ever will.
    if lock_job::<D>(tx, id, "record the chunk").await? != JobStatus::InProgress {
        return Ok(None);
    }
    let mut insert = Query::new(
        "INSERT INTO job_chunks (job_id, chunk, rows, fallbacks, refundable, search_calls, \
             llm_calls, cache_hits, retries, prompt_tokens, completion_tokens, millis, \
             created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (job_id, chunk) DO NOTHING",
    )
    .bind(id)
    .bind(i64::from(chunk));
    for v in values {
        insert = insert.bind(*v);
    }
    let inserted = D::execute(On::Tx(tx), insert.bind(now()))
        .await
        .map_err(on_constraint(
            Constraint::ForeignKey,
            || unknown_job(id),
            "record the chunk",
        ))?
        == 1;
    let (progress, _) = progress_in(On::<D>::Tx(tx), id).await?;
    if inserted {
        raise_progress::<D>(tx, id).await?;
    }
    Ok(Some(progress))
}

impl<D: Dialect> SqlStore<D> {
    async fn job_exists(&self, id: &str) -> Result<bool> {
        let query = Query::new("SELECT id FROM jobs WHERE id = $1").bind(id);
        Ok(self.on().optional(query, "read the job").await?.is_some())
    }

    /// For a statement that matched no row: `NotFound` if the job is missing, else `v`.
    async fn unless_missing<T>(&self, id: &str, v: T) -> Result<T> {
        if self.job_exists(id).await? {
            Ok(v)
        } else {
            Err(unknown_job(id))
        }
    }

    async fn jobs(&self, query: Query, op: &'static str) -> Result<Vec<Job>> {
        self.on()
            .all(query, op)
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    /// An `UPDATE` of one job: `NotFound` unless it changed exactly one row.
    async fn update_one(&self, query: Query, id: &str, op: &'static str) -> Result<()> {
        match self.on().execute(query, op).await? {
            1 => Ok(()),
            _ => Err(unknown_job(id)),
        }
    }
}

#[async_trait]
impl<D: Dialect> JobStore for SqlStore<D> {
    async fn create_job(&self, job: NewJob) -> Result<Job> {
        let query = Query::new(format!(
            "INSERT INTO jobs (id, user_id, status, filename, rows, created_at, meta_json, \
                 credits_charged) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(&job.id)
        .bind(&job.user_id)
        .bind(&job.filename)
        .bind(to_i64(job.rows, "rows")?)
        .bind(now())
        .bind(json_arg(&job.meta, "job meta")?)
        .bind(job.credits_charged);
        let row = D::fetch_optional(self.on(), query)
            .await
            .map_err(on_constraint(
                Constraint::Unique,
                || Error::AlreadyExists(format!("job {}", job.id)),
                "create the job",
            ))?
            .ok_or_else(|| corrupt("job", "no row returned"))?;
        job_from_row(&row)
    }

    async fn get_job(&self, user_id: Option<&str>, id: &str) -> Result<Job> {
        let query = match user_id {
            Some(user) => Query::new(format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND user_id = $2"
            ))
            .bind(id)
            .bind(user),
            None => Query::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1")).bind(id),
        };
        let row = self
            .on()
            .optional(query, "read the job")
            .await?
            .ok_or_else(|| unknown_job(id))?;
        job_from_row(&row)
    }

    async fn list_jobs(&self, user_id: &str, offset: u64, limit: u64) -> Result<(Vec<Job>, u64)> {
        let op = "list the jobs";
        let mut tx = self.begin(D::BEGIN_SNAPSHOT, op).await?;
        let result = async {
            let count =
                Query::new("SELECT COUNT(*) AS n FROM jobs WHERE user_id = $1").bind(user_id);
            let total = On::<D>::Tx(&mut tx)
                .optional(count, op)
                .await?
                .map_or(Ok(0), |row| row.int("n"))?;
            let page = Query::new(format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = $1 \
                 ORDER BY created_at DESC, {} DESC LIMIT $2 OFFSET $3",
                D::INSERTION_ORDER
            ))
            .bind(user_id)
            .bind(sat_i64(limit))
            .bind(sat_i64(offset));
            let jobs = On::<D>::Tx(&mut tx)
                .all(page, op)
                .await?
                .iter()
                .map(job_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok((jobs, u64::try_from(total).unwrap_or(0)))
        }
        .await;
        finish_tx::<D, _>(tx, result, op).await
    }

    async fn transition(&self, id: &str, from: JobStatus, to: JobStatus) -> Result<bool> {
        // One statement: the status check and the change cannot be separated.
        let stamp = if to == JobStatus::InProgress {
            Some("started_at = COALESCE(started_at, $4)")
        } else if to.is_terminal() {
            Some("finished_at = $4")
        } else {
            None
        };
        let sql = match stamp {
            Some(stamp) => {
                format!("UPDATE jobs SET status = $3, {stamp} WHERE id = $1 AND status = $2")
            }
            None => "UPDATE jobs SET status = $3 WHERE id = $1 AND status = $2".to_owned(),
        };
        let mut query = Query::new(sql)
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str());
        if stamp.is_some() {
            query = query.bind(now());
        }
        if self.on().execute(query, "change the job's status").await? == 1 {
            Ok(true)
        } else {
            self.unless_missing(id, false).await
        }
    }

    async fn set_chunks_total(&self, id: &str, chunks_total: u32) -> Result<()> {
        let query = Query::new("UPDATE jobs SET chunks_total = $2 WHERE id = $1")
            .bind(id)
            .bind(i64::from(chunks_total));
        self.update_one(query, id, "update the job").await
    }

    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        stats: ChunkStats,
    ) -> Result<Option<ChunkProgress>> {
        let values = [
            stats.rows,
            stats.fallbacks,
            stats.refundable,
            stats.search_calls,
            stats.llm_calls,
            stats.cache_hits,
            stats.retries,
            stats.prompt_tokens,
            stats.completion_tokens,
            stats.millis,
        ]
        .into_iter()
        .map(|v| to_i64(v, "chunk statistic"))
        .collect::<Result<Vec<_>>>()?;
        let op = "record the chunk";
        let mut tx = self.begin(D::BEGIN_WRITE, op).await?;
        let result = record_chunk_in::<D>(&mut tx, id, chunk, &values).await;
        finish_tx::<D, _>(tx, result, op).await
    }

    async fn record_chunk_rows(&self, id: &str, chunk: u32, rows: u64) -> Result<u64> {
        let rows = to_i64(rows, "rows done")?;
        let op = "record the chunk's progress";
        let mut tx = self.begin(D::BEGIN_WRITE, op).await?;
        let result = record_chunk_rows_in::<D>(&mut tx, id, chunk, rows).await;
        finish_tx::<D, _>(tx, result, op).await
    }

    async fn chunk_progress(&self, id: &str) -> Result<ChunkProgress> {
        Ok(progress_in(self.on(), id).await?.0)
    }

    async fn done_chunks(&self, id: &str) -> Result<Vec<u32>> {
        let query =
            Query::new("SELECT chunk FROM job_chunks WHERE job_id = $1 ORDER BY chunk").bind(id);
        let rows = self.on().all(query, "read the job's chunks").await?;
        if rows.is_empty() {
            return self.unless_missing(id, Vec::new()).await;
        }
        rows.iter().map(|row| row.u32("chunk")).collect()
    }

    async fn finish(&self, id: &str, finish: JobFinish) -> Result<bool> {
        let finished_at = finish.status.is_terminal().then(now);
        let timing = match &finish.timing {
            Some(t) => json_arg(t, "job timing")?,
            None => None::<serde_json::Value>.into(),
        };
        let query = Query::new(
            "UPDATE jobs SET status = $2, result_path = $3, error = $4, \
                 timing_json = COALESCE($5, timing_json), finished_at = $6 \
             WHERE id = $1 AND status = 'in_progress'",
        )
        .bind(id)
        .bind(finish.status.as_str())
        .bind(finish.result_path)
        .bind(finish.error)
        .bind(timing)
        .bind(finished_at);
        if self.on().execute(query, "finish the job").await? == 1 {
            Ok(true)
        } else {
            self.unless_missing(id, false).await
        }
    }

    async fn retry(&self, id: &str) -> Result<Option<u32>> {
        // A retry is a fresh run: its own start, no leftovers of the failed attempt.
        // Recorded chunks stay (their outputs exist and are not redone).
        let query = Query::new(
            "UPDATE jobs SET status = 'queued', attempt = attempt + 1, error = NULL, \
                 started_at = NULL, finished_at = NULL, result_path = NULL \
             WHERE id = $1 AND status = 'failed' \
             RETURNING attempt",
        )
        .bind(id);
        match self.on().optional(query, "retry the job").await? {
            Some(row) => Ok(Some(row.u32("attempt")?)),
            None => self.unless_missing(id, None).await,
        }
    }

    async fn add_credits_refunded(&self, id: &str, credits: i64) -> Result<()> {
        let query =
            Query::new("UPDATE jobs SET credits_refunded = credits_refunded + $2 WHERE id = $1")
                .bind(id)
                .bind(credits);
        self.update_one(query, id, "update the job").await
    }

    async fn add_credits_charged(&self, id: &str, credits: i64) -> Result<()> {
        let query =
            Query::new("UPDATE jobs SET credits_charged = credits_charged + $2 WHERE id = $1")
                .bind(id)
                .bind(credits);
        self.update_one(query, id, "update the job").await
    }

    async fn jobs_with_status(&self, statuses: &[JobStatus]) -> Result<Vec<Job>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (1..=statuses.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut query = Query::new(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ({placeholders}) \
             ORDER BY created_at, {}",
            D::INSERTION_ORDER
        ));
        for s in statuses {
            query = query.bind(s.as_str());
        }
        self.jobs(query, "list jobs by status").await
    }
}

#[async_trait]
impl<D: Dialect> JobRecords for SqlStore<D> {
    async fn add_log(&self, id: &str, step: i64, total: i64, message: &str) -> Result<()> {
        let query = Query::new(
            "INSERT INTO job_logs (job_id, step, total, message, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(step)
        .bind(total)
        .bind(message)
        .bind(now());
        D::execute(self.on(), query).await.map_err(on_constraint(
            Constraint::ForeignKey,
            || unknown_job(id),
            "write the job log",
        ))?;
        Ok(())
    }

    async fn logs(&self, id: &str) -> Result<Vec<JobLog>> {
        let query = Query::new(
            "SELECT id, job_id, step, total, message, created_at FROM job_logs \
             WHERE job_id = $1 ORDER BY id",
        )
        .bind(id);
        let rows = self.on().all(query, "read the job log").await?;
        if rows.is_empty() {
            return self.unless_missing(id, Vec::new()).await;
        }
        rows.iter()
            .map(|row| {
                Ok(JobLog {
                    id: row.int("id")?,
                    job_id: row.text("job_id")?,
                    step: row.int("step")?,
                    total: row.int("total")?,
                    message: row.text("message")?,
                    created_at: row.ts("created_at")?,
                })
            })
            .collect()
    }

    async fn record_file(
        &self,
        user_id: &str,
        job_id: Option<&str>,
        original_name: &str,
        storage_path: &str,
        file_type: &str,
    ) -> Result<()> {
        let query = Query::new(format!(
            "INSERT INTO files (id, user_id, job_id, original_name, storage_path, file_type, \
                 created_at) \
             VALUES ({}, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, storage_path) DO NOTHING",
            D::cast_uuid("$1")
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(user_id)
        .bind(job_id)
        .bind(original_name)
        .bind(storage_path)
        .bind(file_type)
        .bind(now());
        D::execute(self.on(), query).await.map_err(on_constraint(
            Constraint::ForeignKey,
            || Error::NotFound(format!("job {}", job_id.unwrap_or_default())),
            "record the file",
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percent_is_by_rows_and_exactly_100_when_every_chunk_is_done() {
        assert_eq!(percent(200, None, 1, 4, 50), 25.0);
        assert_eq!(percent(200, Some(100), 1, 2, 50), 50.0);
        assert_eq!(percent(200, None, 4, 4, 190), 100.0);
        assert_eq!(percent(10, None, 1, 0, 40), 100.0, "capped");
        assert_eq!(percent(0, None, 1, 4, 0), 25.0, "no row count: by chunks");
        assert_eq!(percent(0, None, 0, 0, 0), 0.0);
    }
}
