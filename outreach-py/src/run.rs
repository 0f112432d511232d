//! Runs on the global runtime, watched from Python through a [`RunHandle`].
//!
//! Every long call (enrich, research, personalize) is started on the global runtime and
//! handed back as a handle. The facade's sync path waits on it in short slices with
//! the GIL released, so Python's signal handlers run between slices (Ctrl-C raises
//! `KeyboardInterrupt` within ~0.1 s), progress is reported from the caller's thread,
//! and leaving the wait for any reason cancels the task. The async path polls the same
//! handle from the event loop, so cancelling the awaiting task cancels the run too.
//! One mechanism, two front doors.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use outreach_core::metrics::Metrics;
use outreach_core::{Error, MetricsSnapshot, Progress, ProgressSink};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::errors::{config_error, to_py_err, OutreachError};

/// The process's one tokio runtime, started on first use. Its worker threads never
/// touch Python objects.
pub fn runtime() -> PyResult<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("outreach-worker")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| config_error(format!("cannot start the async runtime: {e}")))
}

/// What a finished task hands back; converted to Python objects in `RunHandle::result`.
pub type Converter = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// Progress as last reported by the engine, with a version so the facade only redraws
/// on change.
#[derive(Debug, Default, Clone, Copy)]
struct ProgressState {
    started: bool,
    rows_done: u64,
    rows_total: Option<u64>,
    fallbacks: u64,
    metrics: MetricsSnapshot,
    version: u64,
    seen: u64,
}

#[derive(Default)]
struct State {
    /// `Some` once the task has finished (or was cancelled).
    outcome: Option<Result<Converter, Error>>,
    taken: bool,
    progress: ProgressState,
}

/// What the task and the handle share.
#[derive(Default)]
pub struct Shared {
    state: Mutex<State>,
    finished: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written (every
        // critical section is a plain assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self, outcome: Result<Converter, Error>) {
        let mut state = self.lock();
        if state.outcome.is_none() {
            state.outcome = Some(outcome);
        }
        drop(state);
        self.finished.notify_all();
    }
}

/// The engine's [`ProgressSink`], recording into the shared state. Metrics are this
/// run's own (the providers' counters are shared by every run of a pipeline).
pub struct HandleProgress {
    shared: Arc<Shared>,
    run_metrics: Arc<Metrics>,
}

impl HandleProgress {
    fn record(&self, p: &Progress) {
        let mut state = self.shared.lock();
        let s = &mut state.progress;
        s.started = true;
        s.rows_done = p.rows_done;
        s.rows_total = p.rows_total.or(s.rows_total);
        s.fallbacks = p.fallbacks;
        s.metrics = self.run_metrics.snapshot();
        s.version += 1;
    }
}

impl ProgressSink for HandleProgress {
    fn on_start(&self, rows_total: Option<u64>) {
        let mut state = self.shared.lock();
        let s = &mut state.progress;
        s.started = true;
        s.rows_total = rows_total;
        s.version += 1;
    }
    fn on_progress(&self, progress: &Progress) {
        self.record(progress);
    }
    fn on_finish(&self, progress: &Progress) {
        self.record(progress);
    }
}

/// What a task gets to work with: the progress sink and the run's metrics scope.
pub struct RunContext {
    pub progress: HandleProgress,
    pub metrics: Arc<Metrics>,
}

/// Start `make(ctx)` on the global runtime, counting its provider calls into a metrics
/// scope of its own, and return the handle that watches it.
///
/// The future is driven by `Runtime::block_on` on a thread of its own rather than
/// `tokio::spawn`ed: the core's `enrich_rows` future cannot be proven `Send` by rustc
/// (a higher-ranked lifetime in its chunk stream, rust-lang/rust#110338), and a run is
/// one future anyway (its rows interleave inside it), so nothing is lost. The runtime's
/// workers still carry the HTTP connections, timers and blocking file work.
pub fn spawn<F, Fut>(make: F) -> PyResult<RunHandle>
where
    F: FnOnce(RunContext) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Converter, Error>>,
{
    let runtime = runtime()?;
    let shared = Arc::new(Shared::default());
    let cancel = Arc::new(Notify::new());
    let metrics = Arc::new(Metrics::default());
    let ctx = RunContext {
        progress: HandleProgress {
            shared: shared.clone(),
            run_metrics: metrics.clone(),
        },
        metrics: metrics.clone(),
    };
    let task_shared = shared.clone();
    let task_cancel = cancel.clone();
    std::thread::Builder::new()
        .name("outreach-run".into())
        .spawn(move || {
            let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
                runtime.block_on(async move {
                    let fut = outreach_core::metrics::scoped(metrics, make(ctx));
                    tokio::select! {
                        outcome = fut => outcome,
                        // Dropping the run's future stops every request at its next await.
                        _ = task_cancel.notified() => Err(Error::Cancelled),
                    }
                })
            }));
            task_shared.finish(run.unwrap_or_else(|panic| Ok(internal_error(panic))));
        })
        .map_err(|e| config_error(format!("cannot start a run thread: {e}")))?;
    Ok(RunHandle { shared, cancel })
}

/// A panic in the core becomes an `OutreachError`, never a crash of the interpreter.
fn internal_error(panic: Box<dyn std::any::Any + Send>) -> Converter {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Box::new(move |_py| {
        Err(OutreachError::new_err(format!(
            "internal error (please report): {message}"
        )))
    })
}

/// A run in progress on the global runtime. Dropping the handle cancels the run.
#[pyclass(frozen, module = "outreach._outreach")]
pub struct RunHandle {
    shared: Arc<Shared>,
    cancel: Arc<Notify>,
}

impl RunHandle {
    fn abort(&self) {
        // `notify_one` stores a permit, so a cancel that comes before the run starts
        // waiting is not lost.
        self.cancel.notify_one();
        self.shared.finish(Err(Error::Cancelled));
    }

    /// Block (GIL released) until done or `timeout` passes; true when done.
    fn wait_detached(&self, py: Python<'_>, timeout: Duration) -> bool {
        let shared = self.shared.clone();
        py.detach(move || {
            let state = shared.lock();
            let (state, _) = shared
                .finished
                .wait_timeout_while(state, timeout, |s| s.outcome.is_none())
                .unwrap_or_else(|p| p.into_inner());
            state.outcome.is_some()
        })
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        self.abort();
    }
}

#[pymethods]
impl RunHandle {
    /// Wait up to `timeout` seconds with the GIL released; True when the run is over.
    /// Runs pending signal handlers before returning, so Ctrl-C raises
    /// `KeyboardInterrupt` from here (the caller then cancels the run).
    #[pyo3(signature = (timeout))]
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = if timeout.is_finite() && timeout > 0.0 {
            Duration::from_secs_f64(timeout.min(3600.0))
        } else {
            Duration::ZERO
        };
        let done = self.wait_detached(py, timeout);
        py.check_signals()?;
        Ok(done)
    }

    /// True when the run is over (finished, failed or cancelled).
    fn done(&self) -> bool {
        self.shared.lock().outcome.is_some()
    }

    /// Cancel the run: requests in flight are dropped, nothing more is written.
    /// Does nothing when the run is already over.
    fn cancel(&self) {
        self.abort();
    }

    /// The latest progress if it changed since the last call, else None:
    /// `(rows_done, rows_total, fallbacks, metrics)`.
    #[allow(clippy::type_complexity)]
    fn progress<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(u64, Option<u64>, u64, Bound<'py, PyDict>)>> {
        let snapshot = {
            let mut state = self.shared.lock();
            let p = &mut state.progress;
            if !p.started || p.version == p.seen {
                return Ok(None);
            }
            p.seen = p.version;
            *p
        };
        Ok(Some((
            snapshot.rows_done,
            snapshot.rows_total,
            snapshot.fallbacks,
            metrics_dict(py, &snapshot.metrics)?,
        )))
    }

    /// The run's result; waits (GIL released, Ctrl-C honoured) when it is not over yet.
    /// Raises the run's error, mapped to its `OutreachError` subclass.
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        loop {
            if self.wait_detached(py, Duration::from_millis(100)) {
                break;
            }
            if let Err(interrupted) = py.check_signals() {
                self.abort();
                return Err(interrupted);
            }
        }
        let outcome = {
            let mut state = self.shared.lock();
            if state.taken {
                return Err(OutreachError::new_err("the result was already taken"));
            }
            state.taken = true;
            state.outcome.take()
        };
        match outcome {
            Some(Ok(convert)) => convert(py),
            Some(Err(e)) => Err(to_py_err(e)),
            None => Err(to_py_err(Error::Cancelled)),
        }
    }
}

/// A metrics snapshot as a plain dict.
pub fn metrics_dict<'py>(py: Python<'py>, m: &MetricsSnapshot) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("search_calls", m.search_calls)?;
    d.set_item("llm_calls", m.llm_calls)?;
    d.set_item("search_cache_hits", m.search_cache_hits)?;
    d.set_item("research_cache_hits", m.research_cache_hits)?;
    d.set_item("retries", m.retries)?;
    d.set_item("prompt_tokens", m.prompt_tokens)?;
    d.set_item("completion_tokens", m.completion_tokens)?;
    Ok(d)
}
