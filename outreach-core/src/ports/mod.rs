//! Ports for jobs and credits: where files live ([`Storage`]), who owns what credits
//! ([`CreditLedger`]), what jobs exist ([`JobStore`]) and what work is pending
//! ([`JobQueue`]). Embedded defaults: local directory, SQLite, in-process queue.
//! At scale (cargo features): S3, PostgreSQL, Redis. A fifth, small port,
//! [`LocalAccounts`], keeps password sign-ins for servers without Supabase Auth.
//!
//! Why four ports rather than one "backend": they scale independently (a team may keep
//! SQLite but want S3, or PostgreSQL with the in-process queue), and each has a small
//! contract that one shared test suite checks against every implementation.

pub mod accounts;
pub mod job_store;
pub mod ledger;
pub mod queue;
pub mod storage;
/// Shared test suites: one per port, run against every implementation.
#[cfg(any(test, feature = "test-suite"))]
pub mod suite;
pub mod user_data;

pub use accounts::{normalize_email, LocalAccounts, LocalUser, NewLocalUser};
pub use job_store::{
    ChunkProgress, ChunkStats, Job, JobCampaign, JobFinish, JobLog, JobMeta, JobRecords, JobStatus,
    JobStore, NewJob, ProviderCalls, Timing, TimingSeconds, TokenCounts,
};
pub use ledger::{Account, Applied, CreditLedger, LedgerEntry, NewEntry, PlanUpdate};
pub use queue::{Delivery, JobQueue, Task};
pub use storage::Storage;
pub use user_data::{Owned, UserData};
