//! `JobStore` on PostgreSQL: `jobs`, `job_chunks`, `job_logs`, `files`.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::PgConnection;

use super::{
    col, col_u32, col_u64, corrupt, db_error, finish_tx, is_foreign_key_violation,
    is_unique_violation, now, sat_i64, to_i64, PgStore,
};
use crate::backends::sqlite::jobs::percent;
use crate::error::{Error, InputError, Result};
use crate::ports::{
    ChunkProgress, ChunkStats, Job, JobFinish, JobLog, JobMeta, JobStatus, JobStore, NewJob,
};

const JOB_COLUMNS: &str = "id, user_id, status, filename, rows, chunks_total, rows_processed, \
     progress_percent, created_at, started_at, finished_at, result_path, error, meta_json, \
     timing_json, attempt, credits_charged, credits_refunded";

/// The job's fields and the aggregate of its chunks, in one statement (one snapshot).
/// No row when the job does not exist. `SUM(bigint)` is `numeric`: cast back.
const PROGRESS_SQL: &str = "SELECT j.rows AS job_rows, j.chunks_total, \
         j.meta_json -> 'limit' AS meta_limit, \
         COUNT(c.chunk) AS chunks_done, \
         COALESCE(SUM(c.rows), 0)::bigint AS rows, \
         COALESCE(SUM(c.fallbacks), 0)::bigint AS fallbacks, \
         COALESCE(SUM(c.refundable), 0)::bigint AS refundable, \
         COALESCE(SUM(c.search_calls), 0)::bigint AS search_calls, \
         COALESCE(SUM(c.llm_calls), 0)::bigint AS llm_calls, \
         COALESCE(SUM(c.cache_hits), 0)::bigint AS cache_hits, \
         COALESCE(SUM(c.retries), 0)::bigint AS retries, \
         COALESCE(SUM(c.prompt_tokens), 0)::bigint AS prompt_tokens, \
         COALESCE(SUM(c.completion_tokens), 0)::bigint AS completion_tokens, \
         COALESCE(SUM(c.millis), 0)::bigint AS millis \
     FROM jobs j LEFT JOIN job_chunks c ON c.job_id = j.id \
     WHERE j.id = $1 \
     GROUP BY j.id";

/// `rows_processed` = rows of recorded chunks + rows reported by the others (progress
/// by row), never lowered; then the percent follows it (never lowered either).
const ROWS_SEEN_SQL: &str = "UPDATE jobs SET rows_processed = GREATEST(rows_processed, \
         (SELECT COALESCE(SUM(c.rows), 0) FROM job_chunks c WHERE c.job_id = $1) \
         + (SELECT COALESCE(SUM(p.rows), 0) FROM job_chunk_rows p WHERE p.job_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM job_chunks c \
                             WHERE c.job_id = p.job_id AND c.chunk = p.chunk)))::bigint \
     WHERE id = $1";
const PERCENT_SEEN_SQL: &str = "UPDATE jobs SET progress_percent = GREATEST(progress_percent, \
         CASE WHEN rows > 0 \
              THEN LEAST(100.0::double precision, \
                         100.0::double precision * rows_processed / rows) \
              ELSE 0.0::double precision END) \
     WHERE id = $1";

/// Brings the job's `rows_processed` and percent up to what its chunks report.
async fn update_rows_seen(conn: &mut PgConnection, id: &str) -> Result<()> {
    for sql in [ROWS_SEEN_SQL, PERCENT_SEEN_SQL] {
        sqlx::query(sql)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_error("update the job's progress"))?;
    }
    Ok(())
}

fn unknown_job(id: &str) -> Error {
    Error::NotFound(format!("job {id}"))
}

fn job_from_row(row: &PgRow) -> Result<Job> {
    let status: String = col(row, "status")?;
    let Json(meta): Json<JobMeta> = col(row, "meta_json")?;
    Ok(Job {
        id: col(row, "id")?,
        user_id: col(row, "user_id")?,
        status: JobStatus::parse(&status).ok_or_else(|| corrupt("job status", &status))?,
        filename: col(row, "filename")?,
        rows: col_u64(row, "rows")?,
        chunks_total: col_u32(row, "chunks_total")?,
        rows_processed: col_u64(row, "rows_processed")?,
        progress_percent: col(row, "progress_percent")?,
        created_at: col(row, "created_at")?,
        started_at: col(row, "started_at")?,
        finished_at: col(row, "finished_at")?,
        result_path: col(row, "result_path")?,
        error: col(row, "error")?,
        meta,
        timing: col(row, "timing_json")?,
        attempt: col_u32(row, "attempt")?,
        credits_charged: col(row, "credits_charged")?,
        credits_refunded: col(row, "credits_refunded")?,
    })
}

/// Progress of a job from its recorded chunks, and the percent derived from it.
async fn progress_in(conn: &mut PgConnection, id: &str) -> Result<(ChunkProgress, f64)> {
    let row = sqlx::query(PROGRESS_SQL)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_error("read the job's progress"))?
        .ok_or_else(|| unknown_job(id))?;
    let totals = ChunkStats {
        rows: col_u64(&row, "rows")?,
        fallbacks: col_u64(&row, "fallbacks")?,
        refundable: col_u64(&row, "refundable")?,
        search_calls: col_u64(&row, "search_calls")?,
        llm_calls: col_u64(&row, "llm_calls")?,
        cache_hits: col_u64(&row, "cache_hits")?,
        retries: col_u64(&row, "retries")?,
        prompt_tokens: col_u64(&row, "prompt_tokens")?,
        completion_tokens: col_u64(&row, "completion_tokens")?,
        millis: col_u64(&row, "millis")?,
    };
    let progress = ChunkProgress {
        chunks_done: col_u32(&row, "chunks_done")?,
        chunks_total: col_u32(&row, "chunks_total")?,
        rows_processed: totals.rows,
        totals,
    };
    // SQL NULL when the key is absent, JSON null when it is `None`.
    let limit = col::<Option<Json<Option<u64>>>>(&row, "meta_limit")?.and_then(|Json(l)| l);
    let pct = percent(
        col_u64(&row, "job_rows")?,
        limit,
        progress.chunks_done,
        progress.chunks_total,
        progress.rows_processed,
    );
    Ok((progress, pct))
}

fn json_value(v: &impl serde::Serialize, what: &str) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| {
        Error::InvalidInput(InputError::Other(format!("{what} cannot be stored: {e}")))
    })
}

impl PgStore {
    async fn job_exists(&self, id: &str) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("read the job"))?;
        Ok(found.is_some())
    }

    /// For a statement that matched no row: `NotFound` if the job is missing, else `v`.
    async fn unless_missing<T>(&self, id: &str, v: T) -> Result<T> {
        if self.job_exists(id).await? {
            Ok(v)
        } else {
            Err(unknown_job(id))
        }
    }

    async fn record_chunk_in(
        tx: &mut PgConnection,
        id: &str,
        chunk: u32,
        values: &[i64],
    ) -> Result<ChunkProgress> {
        // The job's row lock serialises the records of its chunks: each recount below
        // sees every chunk committed before it, and the job row ends at the last one.
        let job: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1 FOR NO KEY UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error("record the chunk"))?;
        if job.is_none() {
            return Err(unknown_job(id));
        }
        let mut insert = sqlx::query(
            "INSERT INTO job_chunks (job_id, chunk, rows, fallbacks, refundable, \
                 search_calls, llm_calls, cache_hits, retries, prompt_tokens, \
                 completion_tokens, millis, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (job_id, chunk) DO NOTHING",
        )
        .bind(id)
        .bind(i64::from(chunk));
        for v in values {
            insert = insert.bind(*v);
        }
        let inserted = insert
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    unknown_job(id)
                } else {
                    db_error("record the chunk")(e)
                }
            })?
            .rows_affected()
            == 1;
        let (progress, pct) = progress_in(tx, id).await?;
        if inserted {
            sqlx::query(
                "UPDATE jobs SET progress_percent = GREATEST(progress_percent, $2) WHERE id = $1",
            )
            .bind(id)
            .bind(pct)
            .execute(&mut *tx)
            .await
            .map_err(db_error("update the job's progress"))?;
            update_rows_seen(tx, id).await?;
        }
        Ok(progress)
    }
}

#[async_trait]
impl JobStore for PgStore {
    async fn create_job(&self, job: NewJob) -> Result<Job> {
        let sql = format!(
            "INSERT INTO jobs (id, user_id, status, filename, rows, created_at, meta_json, \
                 credits_charged) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7) \
             RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&job.id)
            .bind(&job.user_id)
            .bind(&job.filename)
            .bind(to_i64(job.rows, "rows")?)
            .bind(now())
            .bind(json_value(&job.meta, "job meta")?)
            .bind(job.credits_charged)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::AlreadyExists(format!("job {}", job.id))
                } else {
                    db_error("create the job")(e)
                }
            })?;
        job_from_row(&row)
    }

    async fn get_job(&self, user_id: Option<&str>, id: &str) -> Result<Job> {
        let row = match user_id {
            Some(user) => {
                let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND user_id = $2");
                sqlx::query(&sql)
                    .bind(id)
                    .bind(user)
                    .fetch_optional(&self.pool)
                    .await
            }
            None => {
                let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
                sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await
            }
        }
        .map_err(db_error("read the job"))?
        .ok_or_else(|| unknown_job(id))?;
        job_from_row(&row)
    }

    async fn list_jobs(&self, user_id: &str, offset: u64, limit: u64) -> Result<(Vec<Job>, u64)> {
        // One snapshot for the page and the total.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db_error("list the jobs"))?;
        let result = async {
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error("list the jobs"))?;
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = $1 \
                 ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3"
            );
            let rows = sqlx::query(&sql)
                .bind(user_id)
                .bind(sat_i64(limit))
                .bind(sat_i64(offset))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error("list the jobs"))?;
            let jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
            Ok((jobs, u64::try_from(total).unwrap_or(0)))
        }
        .await;
        finish_tx(tx, result, "list the jobs").await
    }

    async fn transition(&self, id: &str, from: JobStatus, to: JobStatus) -> Result<bool> {
        // One statement: the status check and the change cannot be separated. A
        // concurrent updater waits for the row and re-checks `status` on its new version.
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
        let mut query = sqlx::query(&sql)
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str());
        if stamp.is_some() {
            query = query.bind(now());
        }
        let changed = query
            .execute(&self.pool)
            .await
            .map_err(db_error("change the job's status"))?
            .rows_affected()
            == 1;
        if changed {
            Ok(true)
        } else {
            self.unless_missing(id, false).await
        }
    }

    async fn set_chunks_total(&self, id: &str, chunks_total: u32) -> Result<()> {
        let changed = sqlx::query("UPDATE jobs SET chunks_total = $2 WHERE id = $1")
            .bind(id)
            .bind(i64::from(chunks_total))
            .execute(&self.pool)
            .await
            .map_err(db_error("update the job"))?
            .rows_affected();
        if changed == 1 {
            Ok(())
        } else {
            Err(unknown_job(id))
        }
    }

    async fn record_chunk(&self, id: &str, chunk: u32, stats: ChunkStats) -> Result<ChunkProgress> {
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
        let mut tx = self.begin("record the chunk").await?;
        let result = Self::record_chunk_in(&mut tx, id, chunk, &values).await;
        finish_tx(tx, result, "record the chunk").await
    }

    async fn record_chunk_rows(&self, id: &str, chunk: u32, rows: u64) -> Result<u64> {
        let rows = to_i64(rows, "rows done")?;
        let mut tx = self.begin("record the chunk's progress").await?;
        let result = async {
            // The job's row lock orders this with `record_chunk` (see there).
            let job: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1 FOR NO KEY UPDATE")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error("record the chunk's progress"))?;
            if job.is_none() {
                return Err(unknown_job(id));
            }
            sqlx::query(
                "INSERT INTO job_chunk_rows (job_id, chunk, rows) VALUES ($1, $2, $3) \
                 ON CONFLICT (job_id, chunk) \
                 DO UPDATE SET rows = GREATEST(job_chunk_rows.rows, EXCLUDED.rows)",
            )
            .bind(id)
            .bind(i64::from(chunk))
            .bind(rows)
            .execute(&mut *tx)
            .await
            .map_err(db_error("record the chunk's progress"))?;
            update_rows_seen(&mut tx, id).await?;
            let done: i64 = sqlx::query_scalar("SELECT rows_processed FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error("read the job's progress"))?;
            u64::try_from(done).map_err(|e| corrupt("rows processed", e))
        }
        .await;
        finish_tx(tx, result, "record the chunk's progress").await
    }

    async fn chunk_progress(&self, id: &str) -> Result<ChunkProgress> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("read the job's progress"))?;
        Ok(progress_in(&mut conn, id).await?.0)
    }

    async fn done_chunks(&self, id: &str) -> Result<Vec<u32>> {
        let chunks: Vec<i64> =
            sqlx::query_scalar("SELECT chunk FROM job_chunks WHERE job_id = $1 ORDER BY chunk")
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("read the job's chunks"))?;
        if chunks.is_empty() {
            return self.unless_missing(id, Vec::new()).await;
        }
        chunks
            .into_iter()
            .map(|c| u32::try_from(c).map_err(|e| corrupt("chunk index", e)))
            .collect()
    }

    async fn finish(&self, id: &str, finish: JobFinish) -> Result<bool> {
        let finished_at = finish.status.is_terminal().then(now);
        let changed = sqlx::query(
            "UPDATE jobs SET status = $2, result_path = $3, error = $4, \
                 timing_json = COALESCE($5, timing_json), finished_at = $6 \
             WHERE id = $1 AND status = 'in_progress'",
        )
        .bind(id)
        .bind(finish.status.as_str())
        .bind(finish.result_path)
        .bind(finish.error)
        .bind(finish.timing)
        .bind(finished_at)
        .execute(&self.pool)
        .await
        .map_err(db_error("finish the job"))?
        .rows_affected()
            == 1;
        if changed {
            Ok(true)
        } else {
            self.unless_missing(id, false).await
        }
    }

    async fn retry(&self, id: &str) -> Result<Option<u32>> {
        // A retry is a fresh run: its own start, no leftovers of the failed attempt.
        // Recorded chunks stay (their outputs exist and are not redone).
        let attempt: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET status = 'queued', attempt = attempt + 1, error = NULL, \
                 started_at = NULL, finished_at = NULL, result_path = NULL \
             WHERE id = $1 AND status = 'failed' \
             RETURNING attempt",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("retry the job"))?;
        match attempt {
            Some(a) => Ok(Some(
                u32::try_from(a).map_err(|e| corrupt("job attempt", e))?,
            )),
            None => self.unless_missing(id, None).await,
        }
    }

    async fn add_credits_refunded(&self, id: &str, credits: i64) -> Result<()> {
        let changed =
            sqlx::query("UPDATE jobs SET credits_refunded = credits_refunded + $2 WHERE id = $1")
                .bind(id)
                .bind(credits)
                .execute(&self.pool)
                .await
                .map_err(db_error("update the job"))?
                .rows_affected();
        if changed == 1 {
            Ok(())
        } else {
            Err(unknown_job(id))
        }
    }

    async fn add_log(&self, id: &str, step: i64, total: i64, message: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO job_logs (job_id, step, total, message, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(step)
        .bind(total)
        .bind(message)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                unknown_job(id)
            } else {
                db_error("write the job log")(e)
            }
        })?;
        Ok(())
    }

    async fn logs(&self, id: &str) -> Result<Vec<JobLog>> {
        let rows = sqlx::query(
            "SELECT id, job_id, step, total, message, created_at FROM job_logs \
             WHERE job_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("read the job log"))?;
        if rows.is_empty() {
            return self.unless_missing(id, Vec::new()).await;
        }
        rows.iter()
            .map(|row| {
                Ok(JobLog {
                    id: col(row, "id")?,
                    job_id: col(row, "job_id")?,
                    step: col(row, "step")?,
                    total: col(row, "total")?,
                    message: col(row, "message")?,
                    created_at: col(row, "created_at")?,
                })
            })
            .collect()
    }

    async fn jobs_with_status(&self, statuses: &[JobStatus]) -> Result<Vec<Job>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status = ANY($1) ORDER BY created_at, seq"
        );
        sqlx::query(&sql)
            .bind(statuses)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("list jobs by status"))?
            .iter()
            .map(job_from_row)
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
        sqlx::query(
            "INSERT INTO files (user_id, job_id, original_name, storage_path, file_type, \
                 created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id, storage_path) DO NOTHING",
        )
        .bind(user_id)
        .bind(job_id)
        .bind(original_name)
        .bind(storage_path)
        .bind(file_type)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                Error::NotFound(format!("job {}", job_id.unwrap_or_default()))
            } else {
                db_error("record the file")(e)
            }
        })?;
        Ok(())
    }
}
