//! The `UserData` suite: sizes, what retention finds, deleting and erasing rows.

use std::sync::Arc;

use chrono::Utc;

use super::fresh_user;
use super::jobs::new_job;
use crate::ports::{JobFinish, JobStatus, JobStore};

pub async fn run_all(jobs: Arc<dyn JobStore>) {
    sizes_retention_and_erasure(&*jobs).await;
}

async fn finished(jobs: &dyn JobStore, user: &str) -> String {
    let job = jobs.create_job(new_job(user, 3)).await.unwrap();
    assert!(jobs
        .transition(&job.id, JobStatus::Queued, JobStatus::InProgress)
        .await
        .unwrap());
    let done = JobFinish {
        status: JobStatus::Succeeded,
        result_path: None,
        error: None,
        timing: None,
    };
    assert!(jobs.finish(&job.id, done).await.unwrap());
    job.id
}

pub async fn sizes_retention_and_erasure(jobs: &dyn JobStore) {
    let (user, _) = fresh_user();
    let (other, _) = fresh_user();
    assert_eq!(jobs.stored_bytes(&user).await.unwrap(), 0);
    let upload = format!("uploads/{user}/u1/a.csv");
    jobs.record_file(&user, None, "a.csv", &upload, "upload")
        .await
        .unwrap();
    jobs.set_file_size(&user, &upload, 1_000).await.unwrap();
    let old_job = finished(jobs, &user).await;
    let result = format!("outputs/{user}/{old_job}/result.csv");
    jobs.record_file(&user, Some(&old_job), "r.csv", &result, "final_output")
        .await
        .unwrap();
    jobs.set_file_size(&user, &result, 24).await.unwrap();
    jobs.add_log(&old_job, 1, 1, "done").await.unwrap();
    assert_eq!(jobs.stored_bytes(&user).await.unwrap(), 1_024);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cutoff = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let new_job_id = finished(jobs, &user).await;
    let running = jobs.create_job(new_job(&user, 1)).await.unwrap().id;
    let other_job = finished(jobs, &other).await;

    let expired: Vec<_> = jobs
        .finished_jobs_before(cutoff)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.user_id == user)
        .map(|o| o.id)
        .collect();
    assert_eq!(expired, vec![old_job.clone()], "only the old finished job");
    let uploads: Vec<_> = jobs
        .uploads_before(cutoff)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.user_id == user)
        .map(|o| o.id)
        .collect();
    assert_eq!(uploads, vec![upload.clone()]);

    // Deleting a job takes its logs and file records; twice is a no-op.
    jobs.delete_job(&old_job).await.unwrap();
    jobs.delete_job(&old_job).await.unwrap();
    assert!(jobs.get_job(None, &old_job).await.is_err());
    assert!(jobs.logs(&old_job).await.is_err());
    assert_eq!(jobs.stored_bytes(&user).await.unwrap(), 1_000);
    jobs.delete_file(&user, &upload).await.unwrap();
    assert_eq!(jobs.stored_bytes(&user).await.unwrap(), 0);

    // Erasure: every job and file row of the user, no one else's.
    jobs.record_file(
        &user,
        None,
        "b.csv",
        &format!("uploads/{user}/u2/b.csv"),
        "upload",
    )
    .await
    .unwrap();
    jobs.erase_user(&user).await.unwrap();
    assert_eq!(jobs.list_jobs(&user, 0, 10).await.unwrap().1, 0);
    for id in [&new_job_id, &running] {
        assert!(jobs.get_job(None, id).await.is_err());
    }
    let far = Utc::now() + chrono::Duration::days(1);
    assert!(!jobs
        .uploads_before(far)
        .await
        .unwrap()
        .iter()
        .any(|o| o.user_id == user));
    assert!(jobs.get_job(None, &other_job).await.is_ok());
}
