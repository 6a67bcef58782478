//! Running a long core call without the GIL while staying responsive.
//!
//! The work runs on a worker thread (inside the fnn thread pool when parallel);
//! the calling thread, usually Python's main thread, waits with the GIL
//! released and wakes every 100 ms to run signal handlers, so Ctrl-C raises
//! `KeyboardInterrupt` promptly. Per-epoch callbacks are sent back to the
//! calling thread so Python code only ever runs there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::error::Result as CoreResult;
use crate::parallel::run_with_threads;
use crate::train::{EpochRecord, Monitor};
use crate::FnnError;

const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The worker's side: checks the cancel flag, forwards epoch records.
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
    mut on_epoch: Option<impl FnMut(Python<'_>, &EpochRecord) -> PyResult<bool> + Send>,
) -> PyResult<CoreResult<R>> {
    let cancel = AtomicBool::new(false);
    let (record_tx, record_rx) = mpsc::channel::<EpochRecord>();
    let (answer_tx, answer_rx) = mpsc::channel::<bool>();
    let wants_epochs = on_epoch.is_some();
    let (outcome, failure) = py.detach(move || {
        std::thread::scope(|scope| {
            let cancel = &cancel;
            let worker = scope.spawn(move || {
                let mut monitor = WorkerMonitor {
                    cancel,
                    wants_epochs,
                    records: record_tx,
                    answers: answer_rx,
                };
                run_with_threads(threads, || work(&mut monitor)).and_then(|r| r)
            });
            let mut failure: Option<PyErr> = None;
            loop {
                match record_rx.recv_timeout(SIGNAL_CHECK_INTERVAL) {
                    Ok(record) => {
                        let answer = match on_epoch.as_mut() {
                            Some(f) => Python::attach(|py| f(py, &record)),
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
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            failure.get_or_insert(e);
                            cancel.store(true, Ordering::Relaxed);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            (worker.join(), failure)
        })
    });
    if let Some(err) = failure {
        return Err(err);
    }
    outcome.map_err(|_| PyRuntimeError::new_err("internal error: the fnn training thread panicked"))
}
