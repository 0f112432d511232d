//! Issue 12, item 7: disk without bounds. Ten one-row previews of a 47 MB upload wrote
//! 468 MB (every job copied its input), nothing was ever deleted, and no user had a
//! quota. Now a job reads the upload in place, uploads stop at a per-user quota before
//! anything is stored or charged, retention removes old jobs and uploads, and
//! `DELETE /me/data` erases a user's files and rows, keeping only the ledger.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;

use axum::http::StatusCode;
use chrono::Utc;
use outreach_core::retention;
use serde_json::json;
use support::*;

/// Bytes of every file under `dir` except the database's.
fn stored_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let name = entry.file_name().to_string_lossy().to_string();
            if meta.is_dir() {
                stack.push(entry.path());
            } else if !name.contains(".db") && !name.contains("sqlite") {
                total += meta.len();
            }
        }
    }
    total
}

/// A prospect list of `rows` rows with a long notes column (about 250 bytes a row).
fn big_csv(rows: usize) -> Vec<u8> {
    let mut s = String::from("name,email,notes\n");
    let notes = "n".repeat(220);
    for i in 0..rows {
        s.push_str(&format!(
            "Person {i},person{i}@company{}.com,{notes}\n",
            i % 7
        ));
    }
    s.into_bytes()
}

async fn keys(h: &Harness, prefix: &str) -> Vec<String> {
    h.state.jobs.storage().list(prefix).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_one_row_previews_of_a_big_upload_write_almost_nothing() {
    let h = Harness::with(Options {
        max_upload_bytes: 10_000_000,
        ..Options::default()
    })
    .await;
    let t = token("previewer");
    let csv = big_csv(8_000);
    let upload = csv.len() as u64;
    let file = h.upload(&t, "big.csv", &csv).await;
    let data = h.dir.path().join("data");
    let before = stored_bytes(&data);

    for _ in 0..10 {
        let job = h
            .create_job(
                &t,
                json!({ "file_path": file, "email_col": "email", "limit": 1 }),
            )
            .await;
        let done = h.wait_job(&t, &job).await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
    let written = stored_bytes(&data) - before;
    // Before: 10 copies of the input (~20 MB here). Now: one row's chunk and result
    // per job, a few KB each.
    assert!(
        written < upload / 10,
        "10 previews wrote {written} bytes for a {upload}-byte upload"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn over_the_quota_an_upload_is_refused_before_anything_is_stored_or_charged() {
    let csv = big_csv(400);
    let size = csv.len() as u64;
    let h = Harness::with(Options {
        worker: false,
        user_quota_bytes: Some(size * 3 / 2),
        ..Options::default()
    })
    .await;
    let t = token("hoarder");
    let first = h.upload(&t, "a.csv", &csv).await;
    let balance = h.me(&t).await["credits_remaining"].clone();

    let r = h.call(multipart("/files", Some(&t), "b.csv", &csv)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.text().contains("storage quota"), "{}", r.text());
    assert_eq!(
        keys(&h, "uploads/hoarder/").await,
        vec![first.clone()],
        "nothing stored"
    );
    assert_eq!(
        h.me(&t).await["credits_remaining"],
        balance,
        "nothing charged"
    );
    // Someone else's quota is their own.
    h.upload(&token("neighbour"), "a.csv", &csv).await;

    // Erasing frees the quota.
    let r = h.call(delete("/me/data", Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    h.upload(&t, "b.csv", &csv).await;
}

/// Bytes of every object stored for `user`, read back one by one (not through the
/// listing the server uses).
async fn bytes_of(h: &Harness, user: &str) -> u64 {
    let storage = h.state.jobs.storage();
    let mut total = 0;
    for prefix in ["uploads", "inputs", "outputs", "pushes", "events"] {
        for key in keys(h, &format!("{prefix}/{user}/")).await {
            total += storage.get(&key).await.unwrap().len() as u64;
        }
    }
    total
}

/// The quota counts what jobs store too (chunks, results), not only uploads: a user
/// whose results fill the quota cannot upload more. A paid job is never failed by it:
/// the job that goes over finishes and its result downloads, and so does a job created
/// while over; only new uploads are refused.
#[tokio::test(flavor = "multi_thread")]
async fn results_count_against_the_quota_but_never_fail_a_job() {
    let csv = big_csv(40);
    let size = csv.len() as u64;
    let quota = size * 3 / 2;
    let h = Harness::with(Options {
        user_quota_bytes: Some(quota),
        ..Options::default()
    })
    .await;
    let t = token("filler");
    let file = h.upload(&t, "a.csv", &csv).await;
    let job = h
        .create_job(&t, json!({ "file_path": file, "email_col": "email" }))
        .await;
    let done = h.wait_job(&t, &job).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let used = bytes_of(&h, "filler").await;
    assert!(
        used > quota,
        "the job's chunks and result ({} bytes) took the user over the quota",
        used - size
    );
    let r = h
        .call(get(&format!("/jobs/{job}/download"), Some(&t)))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the result downloads over the quota"
    );

    // A tiny upload would fit if only uploads counted (size + 50 < 1.5 × size).
    let tiny = b"email\nx@example.com\n";
    let r = h
        .call(multipart("/files", Some(&t), "tiny.csv", tiny))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(
        r.text()
            .contains(&format!("storage quota exceeded: {used} of {quota} bytes")),
        "every stored byte is counted: {}",
        r.text()
    );
    assert_eq!(keys(&h, "uploads/filler/").await, vec![file.clone()]);

    // Jobs are not refused or failed by the quota: only uploads are.
    let again = h
        .create_job(
            &t,
            json!({ "file_path": file, "email_col": "email", "limit": 2 }),
        )
        .await;
    let done = h.wait_job(&t, &again).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    // Erasing frees it.
    let r = h.call(delete("/me/data", Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    h.upload(&t, "tiny.csv", tiny).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_old_jobs_and_uploads_and_keeps_new_ones_and_the_ledger() {
    let h = Harness::start().await;
    let t = token("keeper");
    let old_file = h.upload(&t, "old.csv", &prospects_csv(3)).await;
    let old_job = h
        .create_job(&t, json!({ "file_path": old_file, "email_col": "email" }))
        .await;
    h.wait_job(&t, &old_job).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cutoff = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let new_file = h.upload(&t, "new.csv", &prospects_csv(3)).await;
    let new_job = h
        .create_job(&t, json!({ "file_path": new_file, "email_col": "email" }))
        .await;
    h.wait_job(&t, &new_job).await;
    let ledger_before = h.call(get("/ledger", Some(&t))).await.json()["total"].clone();
    assert!(!keys(&h, &format!("outputs/keeper/{old_job}/"))
        .await
        .is_empty());

    let store = h.state.jobs.store();
    let removed = retention::sweep(store.as_ref(), h.state.jobs.storage().as_ref(), cutoff)
        .await
        .unwrap();
    assert_eq!((removed.jobs, removed.uploads), (1, 1), "{removed:?}");

    // Old: no result, no chunks, no upload, no job.
    assert!(keys(&h, &format!("outputs/keeper/{old_job}/"))
        .await
        .is_empty());
    assert!(keys(&h, &format!("inputs/keeper/{old_job}/"))
        .await
        .is_empty());
    assert!(!keys(&h, "uploads/keeper/").await.contains(&old_file));
    let r = h.call(get(&format!("/jobs/{old_job}"), Some(&t))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // New: all there, downloadable.
    assert!(keys(&h, "uploads/keeper/").await.contains(&new_file));
    let r = h
        .call(get(&format!("/jobs/{new_job}/download"), Some(&t)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // The ledger keeps every entry, the old job's included.
    let ledger = h.call(get("/ledger", Some(&t))).await.json();
    assert_eq!(ledger["total"], ledger_before);
    assert!(ledger.to_string().contains(&old_job), "{ledger}");

    // A second sweep finds nothing more.
    let again = retention::sweep(store.as_ref(), h.state.jobs.storage().as_ref(), cutoff)
        .await
        .unwrap();
    assert_eq!(again, retention::Removed::default());
}

#[tokio::test(flavor = "multi_thread")]
async fn erasing_leaves_no_file_and_no_row_of_the_user_but_the_ledger() {
    let h = Harness::start().await;
    let t = token("leaver");
    let other = token("stayer");
    let mut jobs = Vec::new();
    for name in ["a.csv", "b.csv"] {
        let f = h.upload(&t, name, &prospects_csv(3)).await;
        let job = h
            .create_job(&t, json!({ "file_path": f, "email_col": "email" }))
            .await;
        h.wait_job(&t, &job).await;
        jobs.push(job);
    }
    let of = h.upload(&other, "o.csv", &prospects_csv(2)).await;
    let other_job = h
        .create_job(&other, json!({ "file_path": of, "email_col": "email" }))
        .await;
    h.wait_job(&other, &other_job).await;
    let ledger_before = h.call(get("/ledger", Some(&t))).await.json();

    let r = h.call(delete("/me/data", Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["jobs"], 2);

    for root in ["uploads", "inputs", "outputs"] {
        let left = keys(&h, &format!("{root}/leaver/")).await;
        assert!(left.is_empty(), "{root}: {left:?}");
    }
    let list = h.call(get("/jobs", Some(&t))).await.json();
    assert_eq!(list["total"], 0, "{list}");
    for job in &jobs {
        let r = h.call(get(&format!("/jobs/{job}"), Some(&t))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(
            h.state.jobs.store().logs(job).await.is_err(),
            "logs of {job}"
        );
    }
    let store = h.state.jobs.store();
    let far = Utc::now() + chrono::Duration::days(1);
    assert!(!store
        .uploads_before(far)
        .await
        .unwrap()
        .iter()
        .any(|o| o.user_id == "leaver"));
    assert!(!store
        .finished_jobs_before(far)
        .await
        .unwrap()
        .iter()
        .any(|o| o.user_id == "leaver"));
    assert_eq!(store.stored_bytes("leaver").await.unwrap(), 0);
    // The ledger is whole; the account still works.
    let ledger = h.call(get("/ledger", Some(&t))).await.json();
    assert_eq!(ledger, ledger_before);
    // The other user lost nothing.
    assert!(!keys(&h, "uploads/stayer/").await.is_empty());
    assert!(!keys(&h, &format!("outputs/stayer/{other_job}/"))
        .await
        .is_empty());
    let r = h
        .call(get(&format!("/jobs/{other_job}/download"), Some(&other)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn erasing_waits_for_running_jobs() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("busy");
    let f = h.upload(&t, "a.csv", &prospects_csv(3)).await;
    h.create_job(&t, json!({ "file_path": f, "email_col": "email" }))
        .await;
    let r = h.call(delete("/me/data", Some(&t))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.code(), "jobs_running");
    assert_eq!(keys(&h, "uploads/busy/").await, vec![f]);
}
