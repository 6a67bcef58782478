//! Running a long core call without the GIL while staying responsive.
//!
//! The GIL is released for the whole call, and no thread is started for it:
//! starting and joining one cost more than the ten steps of a small fit
//! (BENCHMARKS.md, "What one call costs").
//!
//! - On one thread the work runs on the calling thread. Between batches,
//!   every 100 ms, on Python's main thread, it takes the GIL back to run
//!   signal handlers, so Ctrl-C raises `KeyboardInterrupt` promptly;
//!   per-epoch callbacks run there too. While another Python thread holds
//!   the GIL that check waits for it: up to the interpreter's switch
//!   interval (5 ms) for Python code, the whole call for a C call that
//!   keeps the GIL.
//! - On more, the work runs on a worker of fnn's pool while the calling
//!   thread, usually Python's main thread, waits without the GIL and wakes
//!   every 100 ms to run signal handlers. Per-epoch callbacks are sent back
//!   to it, so Python code only ever runs on the calling thread.
//!
//! Python code runs with subnormals kept, not with the work's flushing of
//! them (`simd::FlushSubnormals`). On one thread, a callback that changes
//! the floating-point mode itself has that change undone when it returns.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::error::Result as CoreResult;
use crate::parallel::beside;
use crate::simd::with_default_float_mode;
use crate::train::{EpochRecord, Monitor};
use crate::FnnError;

const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Runs `f` attached to Python, in the floating-point mode Python expects.
fn in_python<R>(f: impl FnOnce(Python<'_>) -> R) -> R {
    with_default_float_mode(|| Python::attach(f))
}

/// The monitor of work on the calling thread: runs signal handlers and
/// callbacks itself, remembering the first Python exception.
struct InlineMonitor<F> {
    on_epoch: Option<F>,
    /// When to run the signal handlers next; None off Python's main thread,
    /// where they never run, so that training never waits there for a GIL
    /// that another thread holds.
    next_check: Option<Instant>,
    failure: Option<PyErr>,
}

impl<F: FnMut(Python<'_>, &EpochRecord) -> PyResult<bool>> Monitor for InlineMonitor<F> {
    fn poll(&mut self) -> CoreResult<()> {
        let Some(next) = self.next_check else {
            return Ok(());
        };
        let now = Instant::now();
        if now < next {
            return Ok(());
        }
        self.next_check = Some(now + SIGNAL_CHECK_INTERVAL);
        in_python(|py| py.check_signals()).map_err(|e| {
            self.failure.get_or_insert(e);
            FnnError::Interrupted
        })
    }

    fn epoch_end(&mut self, record: &EpochRecord) -> CoreResult<bool> {
        self.poll()?;
        let Some(f) = self.on_epoch.as_mut() else {
            return Ok(false);
        };
        // As on the pool: a callback's exception stops training after this
        // epoch (restoring the best weights, if asked), then is raised.
        Ok(in_python(|py| f(py, record)).unwrap_or_else(|e| {
            self.failure.get_or_insert(e);
            true
        }))
    }
}

/// Whether the calling thread is Python's main thread, the one where signal
/// handlers run.
fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let current = threading.call_method0("current_thread")?;
    Ok(current.is(&threading.call_method0("main_thread")?))
}

/// The pool worker's side: checks the cancel flag, forwards epoch records.
struct WorkerMonitor<'a> {
    cancel: &'a AtomicBool,
    wants_epochs: bool,
    records: mpsc::Sender<EpochRecord>,
    answers: mpsc::Receiver<bool>,
}

impl Monitor for WorkerMonitor<'_> {
    fn poll(&mut self) -> CoreResult<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(FnnError::Interrupted)
        } else {
            Ok(())
        }
    }

    fn epoch_end(&mut self, record: &EpochRecord) -> CoreResult<bool> {
        self.poll()?;
        if !self.wants_epochs {
            return Ok(false);
        }
        self.records
            .send(*record)
            .map_err(|_| FnnError::Interrupted)?;
        self.answers.recv().map_err(|_| FnnError::Interrupted)
    }
}

/// Runs `work` on `threads` threads with the GIL released. `on_epoch` runs on
/// the calling thread, attached to Python, after each epoch; returning `true`
/// stops training. A Python exception raised by a signal handler or by
/// `on_epoch` cancels the work and is re-raised.
pub fn supervise<R: Send>(
    py: Python<'_>,
    threads: usize,
    work: impl FnOnce(&mut dyn Monitor) -> CoreResult<R> + Send,
    on_epoch: Option<impl FnMut(Python<'_>, &EpochRecord) -> PyResult<bool> + Send>,
) -> PyResult<CoreResult<R>> {
    if threads <= 1 {
        let main = on_main_thread(py)?;
        let mut monitor = InlineMonitor {
            on_epoch,
            next_check: main.then(|| Instant::now() + SIGNAL_CHECK_INTERVAL),
            failure: None,
        };
        let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(|| work(&mut monitor))));
        if let Some(err) = monitor.failure {
            return Err(err);
        }
        return outcome.map_err(|_| panicked());
    }
    on_workers(py, threads, work, on_epoch)
}

/// [`supervise`] on `threads` ≥ 2: the work on a pool worker, Python here.
fn on_workers<R: Send>(
    py: Python<'_>,
    threads: usize,
    work: impl FnOnce(&mut dyn Monitor) -> CoreResult<R> + Send,
    mut on_epoch: Option<impl FnMut(Python<'_>, &EpochRecord) -> PyResult<bool> + Send>,
) -> PyResult<CoreResult<R>> {
    let cancel = AtomicBool::new(false);
    let (record_tx, record_rx) = mpsc::channel::<EpochRecord>();
    let (answer_tx, answer_rx) = mpsc::channel::<bool>();
    let wants_epochs = on_epoch.is_some();
    let cancel = &cancel;
    let job = move || {
        let mut monitor = WorkerMonitor {
            cancel,
            wants_epochs,
            records: record_tx,
            answers: answer_rx,
        };
        work(&mut monitor)
        // `monitor` drops here, and with it the channel: the waiting ends.
    };
    let wait = move || {
        let mut failure: Option<PyErr> = None;
        loop {
            match record_rx.recv_timeout(SIGNAL_CHECK_INTERVAL) {
                Ok(record) => {
                    let answer = match on_epoch.as_mut() {
                        Some(f) => in_python(|py| f(py, &record)),
                        None => Ok(false),
                    };
                    let stop = answer.unwrap_or_else(|e| {
                        failure.get_or_insert(e);
                        cancel.store(true, Ordering::Relaxed);
                        true
                    });
                    // The worker may already have ended; then nobody listens.
                    let _ = answer_tx.send(stop);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = in_python(|py| py.check_signals()) {
                        failure.get_or_insert(e);
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return failure,
            }
        }
    };
    let (outcome, failure) = match py.detach(|| beside(threads, job, wait)) {
        Ok(both) => both,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(err) = failure {
        return Err(err);
    }
    outcome.map_err(|_| panicked())
}

fn panicked() -> PyErr {
    PyRuntimeError::new_err("internal error: the fnn training thread panicked")
}
