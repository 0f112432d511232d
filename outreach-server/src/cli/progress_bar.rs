//! A terminal progress bar (rows/s, ETA) for a running job.

use indicatif::{ProgressBar, ProgressStyle};
use outreach_core::ports::Job;

pub struct JobProgressBar {
    bar: ProgressBar,
}

impl JobProgressBar {
    pub fn new() -> Self {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40.cyan/blue} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self { bar }
    }

    pub fn update(&self, job: &Job) {
        self.bar.set_length(job.rows);
        self.bar.set_position(job.rows_processed);
        self.bar.set_message(job.status.as_str().to_string());
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
