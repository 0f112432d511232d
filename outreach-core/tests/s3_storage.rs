#![cfg(feature = "s3")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The shared `Storage` suite against a real S3-compatible server (moto), through the
//! same `STORAGE_URL`-style configuration a deployment uses.
//!
//! Needs `OUTREACH_TEST_S3_URL` and the `AWS_*` variables `scripts/services/moto.sh`
//! prints; `scripts/test-redis-s3.sh` starts moto and sets them. Without them the tests
//! fail, unless `OUTREACH_SKIP_SERVICES=1` (then they say so and pass).

use bytes::Bytes;
use outreach_core::backends::object_storage::{ObjectStorage, S3Config};
use outreach_core::ports::suite::storage;
use outreach_core::ports::Storage;

/// The bucket URL from the environment, or `None` when the run skips service tests.
fn s3_url() -> Option<String> {
    match std::env::var("OUTREACH_TEST_S3_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("OUTREACH_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!("skipped: OUTREACH_TEST_S3_URL is not set and OUTREACH_SKIP_SERVICES=1");
            None
        }
        _ => panic!(
            "OUTREACH_TEST_S3_URL is not set: run these tests through scripts/test-redis-s3.sh \
             (or scripts/test.sh), which starts moto; set OUTREACH_SKIP_SERVICES=1 to skip them"
        ),
    }
}

/// The bucket, under a fresh prefix so runs never see each other's objects.
fn store() -> Option<ObjectStorage> {
    let url = s3_url()?;
    let prefixed = format!(
        "{}/run-{}",
        url.trim_end_matches('/'),
        uuid::Uuid::new_v4().simple()
    );
    Some(ObjectStorage::from_url(&prefixed, std::path::Path::new("unused")).unwrap())
}

#[tokio::test]
async fn roundtrip() {
    let Some(store) = store() else { return };
    storage::storage_roundtrip(&store).await;
}

#[tokio::test]
async fn list_prefix() {
    let Some(store) = store() else { return };
    storage::storage_list_prefix(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_files() {
    let Some(store) = store() else { return };
    let scratch = tempfile::tempdir().unwrap();
    storage::storage_streams_files(&store, scratch.path()).await;
}

#[tokio::test]
async fn rejects_bad_keys() {
    let Some(store) = store() else { return };
    storage::storage_rejects_bad_keys(&store).await;
}

/// A prefix after the bucket is honoured: keys land under it in the bucket, and a
/// store without the prefix sees them there, while the prefixed store lists them
/// without it.
#[tokio::test]
async fn key_prefix_is_honoured() {
    let Some(url) = s3_url() else { return };
    let run = format!("run-{}", uuid::Uuid::new_v4().simple());
    let base = url.trim_end_matches('/');
    let dir = std::path::Path::new("unused");
    let prefixed = ObjectStorage::from_url(&format!("{base}/{run}/tenant"), dir).unwrap();
    let whole = ObjectStorage::from_url(&format!("{base}/{run}"), dir).unwrap();

    prefixed
        .put("inputs/a.csv", Bytes::from_static(b"email\n"))
        .await
        .unwrap();
    assert_eq!(prefixed.list("").await.unwrap(), vec!["inputs/a.csv"]);
    assert_eq!(whole.list("").await.unwrap(), vec!["tenant/inputs/a.csv"]);
    assert_eq!(
        whole.get("tenant/inputs/a.csv").await.unwrap(),
        Bytes::from_static(b"email\n")
    );
    prefixed.delete("inputs/a.csv").await.unwrap();
    assert!(whole.list("").await.unwrap().is_empty());
}

/// A bucket that does not exist is an error on use (not a panic, not `NotFound` for a
/// key), and the message names the operation.
#[tokio::test]
async fn missing_bucket_is_a_storage_error() {
    if s3_url().is_none() {
        return;
    }
    let config = S3Config::from_url(&format!(
        "s3://no-such-bucket-{}",
        uuid::Uuid::new_v4().simple()
    ))
    .unwrap();
    let store = ObjectStorage::s3(config).unwrap();
    match store.put("a", Bytes::from_static(b"x")).await {
        Err(outreach_core::Error::Storage(message)) => {
            assert!(message.contains("put"), "{message}")
        }
        other => panic!("put: expected a storage error, got {other:?}"),
    }
    match store.get("a").await {
        Err(outreach_core::Error::Storage(message)) => {
            assert!(message.contains("get"), "{message}")
        }
        other => panic!("get: expected a storage error, got {other:?}"),
    }
}
