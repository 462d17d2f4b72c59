//! The module's tokio runtime, and how a synchronous call waits on it.
//!
//! The runtime is one multi-threaded runtime per process, so the synchronous functions and
//! their `a...` twins (awaitables on asyncio) share it. A synchronous call spawns its work on
//! the runtime and waits with the GIL released, in short slices; between slices it takes the
//! GIL back to let Python run its signal handlers, so Ctrl-C interrupts a long generation: the
//! task is aborted (its HTTP requests dropped, a clone's `git` killed) and `KeyboardInterrupt`
//! is raised at once.
//!
//! Fork safety: a child made by `os.fork()` (gunicorn `--preload`, Celery's prefork pool,
//! `multiprocessing`) inherits the parent's runtime as memory only: its worker threads exist in
//! the parent alone, so work spawned on it in the child would never run. The runtime is
//! therefore tied to the process id it was built in; the first call in a child builds a new
//! one. The parent's is leaked, never dropped: dropping it would wait for those threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{self, ContextExt};
use tokio::runtime::Runtime;

use crate::errors::Failure;

/// How long a synchronous call waits with the GIL released before it checks for signals.
const SLICE: Duration = Duration::from_millis(50);

/// The runtime of this process and the id of the process it was built in.
static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The module's runtime in this process: built on first use, and again on the first use in a
/// child process made by `fork()`.
pub(crate) fn runtime() -> &'static Runtime {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((built_in, runtime)) = *slot
        && built_in == pid
    {
        return runtime;
    }
    // A first use, or the first use in a forked child. What the slot held (the parent's
    // runtime) stays allocated and untouched.
    let runtime: &'static Runtime = Box::leak(Box::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("changelog-runtime")
            .build()
            .expect("cannot start the tokio runtime (threads or an event fd)"),
    ));
    *slot = Some((pid, runtime));
    runtime
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
    generic::future_into_py::<ProcessRuntime, _, T>(py, async move {
        match work.await {
            Ok(value) => Ok(value),
            Err(failure) => Err(Python::attach(|py| failure.into_pyerr(py))),
        }
    })
}

/// [`runtime`] as pyo3-async-runtimes drives it (its own tokio runtime is built once per
/// address space, and so is the parent's in a forked child).
struct ProcessRuntime;

tokio::task_local! {
    static TASK_LOCALS: OnceLock<TaskLocals>;
}

/// A task's failure, as pyo3-async-runtimes reads it.
struct JoinError(tokio::task::JoinError);

impl generic::JoinError for JoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }

    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

/// A task's handle, as pyo3-async-runtimes awaits it.
struct JoinHandle(tokio::task::JoinHandle<()>);

impl Future for JoinHandle {
    type Output = Result<(), JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map_err(JoinError)
    }
}

impl generic::Runtime for ProcessRuntime {
    type JoinError = JoinError;
    type JoinHandle = JoinHandle;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        JoinHandle(runtime().spawn(fut))
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        JoinHandle(runtime().spawn_blocking(f))
    }
}

impl ContextExt for ProcessRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceLock::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|cell| cell.get().cloned())
            .unwrap_or_default()
    }
}
