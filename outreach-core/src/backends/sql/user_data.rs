//! [`UserData`]: file sizes, what retention may delete, and erasure of a user's job
//! and file rows and campaign settings (destinations with their sealed keys, the
//! do-not-contact list, the webhook). Job rows take their chunks, logs, progress and
//! file records with them (`ON DELETE CASCADE`); the ledger is never touched.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{finish_tx, sat_i64, Dialect, On, Query, SqlRow, SqlStore};
use crate::error::Result;
use crate::ports::{Owned, UserData};

fn owned(rows: &[impl SqlRow], id: &str) -> Result<Vec<Owned>> {
    rows.iter()
        .map(|row| {
            Ok(Owned {
                user_id: row.text("user_id")?,
                id: row.text(id)?,
            })
        })
        .collect()
}

#[async_trait]
impl<D: Dialect> UserData for SqlStore<D> {
    async fn stored_bytes(&self, user_id: &str) -> Result<u64> {
        let query = Query::new(
            "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS n FROM files \
             WHERE user_id = $1",
        )
        .bind(user_id);
        match self.on().optional(query, "sum the stored bytes").await? {
            Some(row) => row.u64("n"),
            None => Ok(0),
        }
    }

    async fn set_file_size(&self, user_id: &str, storage_path: &str, bytes: u64) -> Result<()> {
        let query =
            Query::new("UPDATE files SET size_bytes = $3 WHERE user_id = $1 AND storage_path = $2")
                .bind(user_id)
                .bind(storage_path)
                .bind(sat_i64(bytes));
        self.on().execute(query, "record the file size").await?;
        Ok(())
    }

    async fn finished_jobs_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<Owned>> {
        let query = Query::new(
            "SELECT user_id, id FROM jobs \
             WHERE status IN ('succeeded', 'failed', 'cancelled') \
               AND COALESCE(finished_at, created_at) < $1 \
             ORDER BY created_at",
        )
        .bind(cutoff);
        let rows = self.on().all(query, "list expired jobs").await?;
        owned(&rows, "id")
    }

    async fn uploads_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<Owned>> {
        let query = Query::new(
            "SELECT user_id, storage_path FROM files \
             WHERE file_type = 'upload' AND created_at < $1 ORDER BY created_at",
        )
        .bind(cutoff);
        let rows = self.on().all(query, "list expired uploads").await?;
        owned(&rows, "storage_path")
    }

    async fn delete_job(&self, job_id: &str) -> Result<()> {
        let query = Query::new("DELETE FROM jobs WHERE id = $1").bind(job_id);
        self.on().execute(query, "delete the job").await?;
        Ok(())
    }

    async fn delete_file(&self, user_id: &str, storage_path: &str) -> Result<()> {
        let query = Query::new("DELETE FROM files WHERE user_id = $1 AND storage_path = $2")
            .bind(user_id)
            .bind(storage_path);
        self.on().execute(query, "delete the file record").await?;
        Ok(())
    }

    async fn erase_user(&self, user_id: &str) -> Result<()> {
        let op = "erase the user's data";
        let mut tx = self.begin(D::BEGIN_WRITE, op).await?;
        let result = async {
            for sql in [
                "DELETE FROM files WHERE user_id = $1",
                "DELETE FROM jobs WHERE user_id = $1",
                "DELETE FROM account_destinations WHERE user_id = $1",
                "DELETE FROM account_suppressions WHERE user_id = $1",
                "DELETE FROM account_webhooks WHERE user_id = $1",
            ] {
                On::<D>::Tx(&mut tx)
                    .execute(Query::new(sql).bind(user_id), op)
                    .await?;
            }
            Ok(())
        }
        .await;
        finish_tx::<D, _>(tx, result, op).await
    }
}
