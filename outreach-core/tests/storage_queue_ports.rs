#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The shared `Storage` and `JobQueue` suites against the embedded backends: a local
//! directory, object_store's in-memory store, and the in-process queue.

use std::sync::Arc;
use std::time::Duration;

use outreach_core::backends::memory_queue::MemoryQueue;
use outreach_core::backends::object_storage::ObjectStorage;
use outreach_core::ports::suite::{queue, storage};
use outreach_core::ports::JobQueue;

/// Short, so the redelivery tests are quick; the suite only checks lower bounds.
const VISIBILITY: Duration = Duration::from_millis(300);

fn local() -> (tempfile::TempDir, ObjectStorage) {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStorage::local(&dir.path().join("store")).unwrap();
    (dir, store)
}

fn queue() -> Arc<dyn JobQueue> {
    Arc::new(MemoryQueue::new(VISIBILITY))
}

mod local_storage {
    use super::*;

    #[tokio::test]
    async fn roundtrip() {
        let (_dir, store) = local();
        storage::storage_roundtrip(&store).await;
    }

    #[tokio::test]
    async fn list_prefix() {
        let (_dir, store) = local();
        storage::storage_list_prefix(&store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_files() {
        let (dir, store) = local();
        let scratch = dir.path().join("scratch");
        std::fs::create_dir(&scratch).unwrap();
        storage::storage_streams_files(&store, &scratch).await;
    }

    #[tokio::test]
    async fn rejects_bad_keys() {
        let (dir, store) = local();
        storage::storage_rejects_bad_keys(&store).await;
        // Nothing escaped the store's directory.
        let siblings: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(siblings, vec!["store"]);
    }

    #[tokio::test]
    async fn suite_does_not_assume_an_empty_store() {
        let (_dir, store) = local();
        use outreach_core::ports::Storage;
        store
            .put("suite-existing/a", bytes::Bytes::from_static(b"x"))
            .await
            .unwrap();
        storage::storage_roundtrip(&store).await;
        storage::storage_list_prefix(&store).await;
        assert_eq!(store.list("").await.unwrap(), vec!["suite-existing/a"]);
    }
}

mod memory_storage {
    use super::*;

    #[tokio::test]
    async fn roundtrip() {
        storage::storage_roundtrip(&ObjectStorage::memory()).await;
    }

    #[tokio::test]
    async fn list_prefix() {
        storage::storage_list_prefix(&ObjectStorage::memory()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_files() {
        let dir = tempfile::tempdir().unwrap();
        storage::storage_streams_files(&ObjectStorage::memory(), dir.path()).await;
    }

    #[tokio::test]
    async fn rejects_bad_keys() {
        storage::storage_rejects_bad_keys(&ObjectStorage::memory()).await;
    }
}

mod memory_queue {
    use super::*;

    #[tokio::test]
    async fn delivers_fifo() {
        queue::queue_delivers_fifo(queue()).await;
    }

    #[tokio::test]
    async fn redelivers_unacked() {
        queue::queue_redelivers_unacked(queue(), VISIBILITY).await;
    }

    #[tokio::test]
    async fn ack_removes() {
        queue::queue_ack_removes(queue(), VISIBILITY).await;
    }

    #[tokio::test]
    async fn retry_delays() {
        queue::queue_retry_delays(queue()).await;
    }

    #[tokio::test]
    async fn receive_times_out_empty() {
        queue::queue_receive_times_out_empty(queue()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_consumers_each_task_once() {
        // A long visibility timeout: a redelivery caused by a descheduled consumer would
        // be correct behaviour, and must not fail the test.
        let queue: Arc<dyn JobQueue> = Arc::new(MemoryQueue::new(Duration::from_secs(30)));
        queue::queue_concurrent_consumers_each_task_once(queue).await;
    }

    /// Long enough that a heartbeat (every third) survives scheduling noise.
    const LEASE: Duration = Duration::from_secs(1);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lease_renewed_while_work_is_slow() {
        queue::queue_lease_renewed_while_work_is_slow(Arc::new(MemoryQueue::new(LEASE))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lease_lapses_without_heartbeat() {
        queue::queue_lease_lapses_without_heartbeat(Arc::new(MemoryQueue::new(LEASE))).await;
    }

    #[tokio::test]
    async fn release_hands_back_promptly() {
        queue::queue_release_hands_back_promptly(Arc::new(MemoryQueue::new(Duration::from_secs(
            30,
        ))))
        .await;
    }

    #[tokio::test]
    async fn suite_does_not_assume_an_empty_queue() {
        use outreach_core::ports::Task;
        let shared = queue();
        for n in 0..3 {
            shared
                .enqueue(Task::Chunk {
                    job_id: "someone-else".into(),
                    chunk: n,
                })
                .await
                .unwrap();
        }
        queue::queue_delivers_fifo(Arc::clone(&shared)).await;
        queue::queue_ack_removes(Arc::clone(&shared), VISIBILITY).await;
        queue::queue_receive_times_out_empty(Arc::clone(&shared)).await;
        // The other tasks are still there, handed back rather than lost.
        let mut left = Vec::new();
        while let Some(delivery) = shared.receive(Duration::from_secs(10)).await.unwrap() {
            shared.ack(&delivery).await.unwrap();
            left.push(delivery.task);
            if left.len() == 3 {
                break;
            }
        }
        assert_eq!(left.len(), 3, "foreign tasks were lost: {left:?}");
    }
}
