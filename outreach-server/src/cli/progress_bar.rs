//! A terminal progress bar (rows/s, ETA) fed by the core's progress sink.

use indicatif::{ProgressBar, ProgressStyle};
use outreach_core::{Progress, ProgressSink};

pub struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    pub fn new() -> Self {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40.cyan/blue} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self { bar }
    }
}

impl ProgressSink for TerminalProgress {
    fn on_start(&self, rows_total: Option<u64>) {
        if let Some(total) = rows_total {
            self.bar.set_length(total);
        }
    }

    fn on_progress(&self, p: &Progress) {
        if let Some(total) = p.rows_total {
            self.bar.set_length(total);
        }
        self.bar.set_position(p.rows_done);
        self.bar.set_message(format!(
            "{} fallbacks, {} calls, {} cache hits",
            p.fallbacks,
            p.metrics.provider_calls(),
            p.metrics.cache_hits()
        ));
    }

    fn on_finish(&self, _p: &Progress) {
        self.bar.finish_and_clear();
    }
}
