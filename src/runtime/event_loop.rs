//! The bridge to the worker's one asyncio event loop.
//!
//! The loop runs on a long-lived Python thread (`ignyx._runtime`). Rust queues
//! jobs on a channel and wakes the loop through an eventfd the loop watches with
//! `add_reader`; a wake is written only when the loop is not already due to
//! drain, so a burst of requests costs one wake-up. Coroutines are stepped
//! eagerly from Rust: one that finishes without suspending is answered at once,
//! one that suspends becomes a Task whose completion answers the request.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use pyo3::exceptions::PyOSError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

use super::job::{call_route, fail, settle, Exchange, Job, Phase, Step};

struct Waker {
    fd: OwnedFd,
    pending: AtomicBool,
}

impl Waker {
    fn new() -> PyResult<Self> {
        // SAFETY: eventfd has no memory preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(PyOSError::new_err(std::io::Error::last_os_error().to_string()));
        }
        Ok(Self {
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            pending: AtomicBool::new(false),
        })
    }

    fn wake(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
            unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    fn clear(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking eventfd.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
        self.pending.store(false, Ordering::Release);
    }
}

/// Sends jobs to the event loop thread; cheap to clone.
#[derive(Clone)]
pub struct LoopSender {
    tx: Sender<Job>,
    waker: Arc<Waker>,
}

impl LoopSender {
    pub fn send(&self, job: Job) {
        let _ = self.tx.send(job);
        self.waker.wake();
    }
}

/// `ignyx._core.LoopBridge`: the loop thread registers `fileno()` with
/// `loop.add_reader(fd, bridge.drain)` and calls `attach(loop, suspend)` first.
#[pyclass(module = "ignyx._core", frozen)]
pub struct LoopBridge {
    rx: Receiver<Job>,
    sender: LoopSender,
    /// `suspend(coro, yielded, context, on_done) -> None`: continues a coroutine as a Task.
    suspend: GILOnceCell<Py<PyAny>>,
    /// `run_background(task) -> None`: schedules a response's background task.
    background: GILOnceCell<Py<PyAny>>,
    /// `pump(iterator, sink) -> None`: schedules the iteration of a streaming body.
    pump: GILOnceCell<Py<PyAny>>,
}

impl LoopBridge {
    pub fn new() -> PyResult<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        Ok(Self {
            rx,
            sender: LoopSender {
                tx,
                waker: Arc::new(Waker::new()?),
            },
            suspend: GILOnceCell::new(),
            background: GILOnceCell::new(),
            pump: GILOnceCell::new(),
        })
    }

    pub fn sender(&self) -> LoopSender {
        self.sender.clone()
    }

    fn run(&self, py: Python<'_>, job: Job) {
        match job {
            Job::Call(exchange) => {
                if let Step::Await(coro, phase) = call_route(py, &exchange) {
                    self.step(py, exchange, coro, phase);
                }
            }
            Job::Await(exchange, coro, phase) => self.step(py, exchange, coro.into_bound(py), phase),
            Job::Background(task) => {
                if let Some(run) = self.background.get(py) {
                    if let Err(err) = run.bind(py).call1((task,)) {
                        err.print(py);
                    }
                }
            }
            Job::Stream(iterator, sink) => {
                let started = match self.pump.get(py) {
                    Some(pump) => Py::new(py, sink).and_then(|sink| pump.bind(py).call1((iterator, sink))),
                    None => Ok(py.None().into_bound(py)),
                };
                if let Err(err) = started {
                    err.print(py);
                }
            }
            Job::Stop => {}
        }
    }

    /// Runs the coroutine up to its first real suspension, in a fresh context.
    fn step(&self, py: Python<'_>, exchange: Arc<Exchange>, coro: Bound<'_, PyAny>, phase: Phase) {
        let (status, yielded, context) = send_in_context(py, &coro);
        match status {
            Sent::Returned => {
                let value = yielded;
                let step = settle(py, &exchange, Ok(value), phase);
                self.after(py, exchange, step);
            }
            Sent::Yielded => {
                let Some(suspend) = self.suspend.get(py) else {
                    exchange.send(crate::response::Reply::internal_error());
                    return;
                };
                let on_done = Responder {
                    exchange: exchange.clone(),
                    phase,
                    sender: self.sender.clone(),
                };
                let scheduled = Py::new(py, on_done)
                    .and_then(|on_done| suspend.bind(py).call1((coro, yielded, context, on_done)));
                if let Err(err) = scheduled {
                    let step = fail(py, &exchange, err, phase);
                    self.after(py, exchange, step);
                }
            }
            Sent::Raised(err) => {
                let step = fail(py, &exchange, err, phase);
                self.after(py, exchange, step);
            }
        }
    }

    fn after(&self, py: Python<'_>, exchange: Arc<Exchange>, step: Step<'_>) {
        if let Step::Await(coro, phase) = step {
            self.step(py, exchange, coro, phase);
        }
    }
}

enum Sent {
    Returned,
    Yielded,
    Raised(PyErr),
}

/// `coro.send(None)` inside a copy of the current context; returns the value it
/// returned or yielded, and the context (for the Task that continues it).
fn send_in_context<'py>(
    py: Python<'py>,
    coro: &Bound<'py, PyAny>,
) -> (Sent, Bound<'py, PyAny>, Option<Bound<'py, PyAny>>) {
    // SAFETY: PyContext_CopyCurrent returns a new reference or NULL with an error set.
    let context = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent()) };
    let context = match context {
        Ok(context) => context,
        Err(err) => return (Sent::Raised(err), py.None().into_bound(py), None),
    };
    // SAFETY: the context is a live Context object; enter/exit are paired on this thread.
    unsafe { ffi::PyContext_Enter(context.as_ptr()) };
    let (sent, value) = send(py, coro);
    // SAFETY: exits the context entered above.
    unsafe { ffi::PyContext_Exit(context.as_ptr()) };
    (sent, value, Some(context))
}

#[cfg(Py_3_10)]
fn send<'py>(py: Python<'py>, coro: &Bound<'py, PyAny>) -> (Sent, Bound<'py, PyAny>) {
    extern "C" {
        // pyo3-ffi 0.23 declares this without its return value.
        #[link_name = "PyIter_Send"]
        fn iter_send(
            iter: *mut ffi::PyObject,
            arg: *mut ffi::PyObject,
            result: *mut *mut ffi::PyObject,
        ) -> std::os::raw::c_int;
    }
    let mut result: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: `coro` is a live coroutine and `result` a valid out-pointer; the GIL is held.
    let status = unsafe { iter_send(coro.as_ptr(), ffi::Py_None(), &mut result) };
    if status < 0 {
        return (Sent::Raised(PyErr::fetch(py)), py.None().into_bound(py));
    }
    // SAFETY: on success PyIter_Send stores a new reference in `result`.
    let value = unsafe { Bound::from_owned_ptr(py, result) };
    (if status == 0 { Sent::Returned } else { Sent::Yielded }, value)
}

#[cfg(not(Py_3_10))]
fn send<'py>(py: Python<'py>, coro: &Bound<'py, PyAny>) -> (Sent, Bound<'py, PyAny>) {
    match coro.call_method1(pyo3::intern!(py, "send"), (py.None(),)) {
        Ok(value) => (Sent::Yielded, value),
        Err(err) if err.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) => {
            let value = err
                .value(py)
                .getattr("value")
                .unwrap_or_else(|_| py.None().into_bound(py));
            (Sent::Returned, value)
        }
        Err(err) => (Sent::Raised(err), py.None().into_bound(py)),
    }
}

#[pymethods]
impl LoopBridge {
    /// Called once on the loop thread before serving.
    fn attach(&self, py: Python<'_>, suspend: Py<PyAny>, run_background: Py<PyAny>, pump: Py<PyAny>) {
        let _ = self.suspend.set(py, suspend);
        let _ = self.background.set(py, run_background);
        let _ = self.pump.set(py, pump);
    }

    fn fileno(&self) -> RawFd {
        self.sender.waker.fd.as_raw_fd()
    }

    /// Runs every queued job; the loop calls this when the eventfd is readable.
    fn drain(&self, py: Python<'_>) {
        self.sender.waker.clear();
        while let Ok(job) = self.rx.try_recv() {
            self.run(py, job);
        }
    }
}

/// Called by the Task that continues a suspended coroutine, when it finishes.
#[pyclass(module = "ignyx._core", frozen)]
pub struct Responder {
    exchange: Arc<Exchange>,
    phase: Phase,
    sender: LoopSender,
}

#[pymethods]
impl Responder {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) {
        let result = task.call_method0(pyo3::intern!(py, "result"));
        let step = match result {
            Err(err) if err.is_instance_of::<pyo3::exceptions::asyncio::CancelledError>(py) => {
                // The request was abandoned (client gone or shutdown); nobody waits.
                return;
            }
            other => settle(py, &self.exchange, other, self.phase),
        };
        if let Step::Await(coro, phase) = step {
            // An async error handler: continue it on the loop.
            let job = Job::Await(self.exchange.clone(), coro.unbind(), phase);
            self.sender.send(job);
        }
    }
}
