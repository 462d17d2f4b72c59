//! The module's one tokio runtime, and how a synchronous call waits on it.
//!
//! The runtime is pyo3-async-runtimes' lazily created multi-threaded one, so the synchronous
//! functions and their `a...` twins (awaitables on asyncio) share it. A synchronous call spawns
//! its work on the runtime and waits with the GIL released, in short slices; between slices it
//! takes the GIL back to let Python run its signal handlers, so Ctrl-C interrupts a long
//! generation: the task is aborted (its HTTP requests dropped, a clone's `git` killed) and
//! `KeyboardInterrupt` is raised at once.

use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use pyo3::prelude::*;

use crate::errors::Failure;

/// How long a synchronous call waits with the GIL released before it checks for signals.
const SLICE: Duration = Duration::from_millis(50);

/// The module's runtime.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `work` on the runtime and waits for it with the GIL released; a signal handler that
/// raises (Ctrl-C's `KeyboardInterrupt`) aborts the work and its exception is raised instead.
pub(crate) fn wait<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let (sender, receiver) = mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        // The receiver is gone only when the caller was interrupted and stopped waiting.
        let _ = sender.send(work.await);
    });
    let mut receiver = receiver;
    loop {
        // `Receiver` is not `Sync`, so it goes into the closure and comes back out.
        let (returned, outcome) = py.detach(move || {
            let outcome = receiver.recv_timeout(SLICE);
            (receiver, outcome)
        });
        receiver = returned;
        match outcome {
            Ok(result) => return result.map_err(|failure| failure.into_pyerr(py)),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    return Err(interrupt);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Failure::Task("the background task failed".to_owned()).into_pyerr(py));
            }
        }
    }
}

/// Turns `work` into an asyncio awaitable running on the runtime. Cancelling the awaitable
/// cancels the work.
pub(crate) fn awaitable<'py, T, F>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        match work.await {
            Ok(value) => Ok(value),
            Err(failure) => Err(Python::attach(|py| failure.into_pyerr(py))),
        }
    })
}
