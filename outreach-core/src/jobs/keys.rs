//! Storage keys and ledger idempotency keys of a job, in one place so every step
//! (and every retry of a step) names the same objects.

/// The job's input file: `inputs/<user>/<job>/<filename>`.
pub fn input(user: &str, job: &str, filename: &str) -> String {
    format!("inputs/{user}/{job}/{filename}")
}

/// The input's header row, written when the job is split.
pub fn headers(user: &str, job: &str) -> String {
    format!("inputs/{user}/{job}/chunks/headers.json")
}

/// The job's copy of its do-not-contact list (one entry per line).
pub fn suppression(user: &str, job: &str) -> String {
    format!("inputs/{user}/{job}/suppression.txt")
}

/// Raw rows of chunk `n` (JSON), written when the job is split.
pub fn raw_chunk(user: &str, job: &str, n: u32) -> String {
    format!("inputs/{user}/{job}/chunks/{n:06}.json")
}

/// Enriched cells of chunk `n` (JSON); its existence means the chunk is done.
pub fn chunk_output(user: &str, job: &str, n: u32) -> String {
    format!("outputs/{user}/{job}/chunks/{n:06}.json")
}

/// The final file: `outputs/<user>/<job>/result.<ext>`.
pub fn result(user: &str, job: &str, extension: &str) -> String {
    format!("outputs/{user}/{job}/result.{extension}")
}

pub fn reserve(job: &str, attempt: u32) -> String {
    format!("reserve:{job}#{attempt}")
}

/// The whole attempt refunded (the job failed).
pub fn refund(job: &str, attempt: u32) -> String {
    format!("refund:{job}#{attempt}")
}

/// Rows that fell back because a provider failed, refunded when the job succeeds.
pub fn refund_rows(job: &str, attempt: u32) -> String {
    format!("refund-rows:{job}#{attempt}")
}

/// Rows not processed when the job was cancelled.
pub fn refund_cancel(job: &str, attempt: u32) -> String {
    format!("refund-cancel:{job}#{attempt}")
}
