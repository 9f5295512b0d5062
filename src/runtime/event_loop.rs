//! The bridge to the worker's one asyncio event loop.
//!
//! The loop runs on a long-lived Python thread (`ignyx._runtime`). Rust queues
//! jobs on a channel and wakes the loop through an eventfd the loop watches with
//! `add_reader`; a wake is written only when the loop is not already due to
//! drain, so a burst of requests costs one wake-up. Each coroutine runs as an
//! asyncio Task (so `current_task()`, `asyncio.timeout` and cancellation behave
//! as users expect), started eagerly on Python 3.12+: one that finishes without
//! suspending is answered at once, with no event-loop round trip.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

use super::job::{call_route, fail, settle, Exchange, Job, Phase, Step};

struct Waker {
    fd: OwnedFd,
    pending: AtomicBool,
    /// True while the loop thread drains jobs (it holds the GIL then).
    draining: AtomicBool,
}

impl Waker {
    fn new() -> PyResult<Self> {
        // SAFETY: eventfd has no memory preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(PyOSError::new_err(
                std::io::Error::last_os_error().to_string(),
            ));
        }
        Ok(Self {
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            pending: AtomicBool::new(false),
            draining: AtomicBool::new(false),
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
    /// True when the loop has nothing queued from Rust and is not draining.
    pub fn is_idle(&self) -> bool {
        !self.waker.pending.load(Ordering::Acquire) && !self.waker.draining.load(Ordering::Acquire)
    }

    pub fn send(&self, job: Job) {
        let _ = self.tx.send(job);
        self.waker.wake();
    }
}

/// `ignyx._core.LoopBridge`: the loop thread registers `fileno()` with
/// `loop.add_reader(fd, bridge.drain)` and calls `attach(...)` first.
#[pyclass(module = "ignyx._core", frozen)]
pub struct LoopBridge {
    rx: Receiver<Job>,
    sender: LoopSender,
    /// `start(coro, responder) -> None`: runs a coroutine as a Task that ends by calling
    /// `responder.ok(result)` or `responder.fail(exc)`.
    start: GILOnceCell<Py<PyAny>>,
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
            start: GILOnceCell::new(),
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
            Job::Await(exchange, coro, phase) => {
                self.step(py, exchange, coro.into_bound(py), phase)
            }
            Job::Background(task) => {
                if let Some(run) = self.background.get(py) {
                    if let Err(err) = run.bind(py).call1((task,)) {
                        err.print(py);
                    }
                }
            }
            Job::Stream(iterator, sink) => {
                let started = match self.pump.get(py) {
                    Some(pump) => {
                        Py::new(py, sink).and_then(|sink| pump.bind(py).call1((iterator, sink)))
                    }
                    None => Ok(py.None().into_bound(py)),
                };
                if let Err(err) = started {
                    err.print(py);
                }
            }
            Job::WebSocket(job) => job.run(py),
            Job::Stop => {}
        }
    }

    /// Runs the coroutine as a Task (started eagerly where asyncio supports it); the
    /// `Responder` settles the request when the Task is done.
    fn step(&self, py: Python<'_>, exchange: Arc<Exchange>, coro: Bound<'_, PyAny>, phase: Phase) {
        let Some(start) = self.start.get(py) else {
            exchange.send(crate::response::Reply::internal_error());
            return;
        };
        let on_done = Responder {
            exchange: exchange.clone(),
            phase,
            sender: self.sender.clone(),
        };
        let started =
            Py::new(py, on_done).and_then(|on_done| start.bind(py).call1((coro, on_done)));
        if let Err(err) = started {
            let step = fail(py, &exchange, err, phase);
            self.after(py, exchange, step);
        }
    }

    fn after(&self, py: Python<'_>, exchange: Arc<Exchange>, step: Step<'_>) {
        if let Step::Await(coro, phase) = step {
            self.step(py, exchange, coro, phase);
        }
    }
}

#[pymethods]
impl LoopBridge {
    /// Called once on the loop thread before serving.
    fn attach(&self, py: Python<'_>, start: Py<PyAny>, run_background: Py<PyAny>, pump: Py<PyAny>) {
        let _ = self.start.set(py, start);
        let _ = self.background.set(py, run_background);
        let _ = self.pump.set(py, pump);
    }

    fn fileno(&self) -> RawFd {
        self.sender.waker.fd.as_raw_fd()
    }

    /// Runs every queued job; the loop calls this when the eventfd is readable.
    fn drain(&self, py: Python<'_>) {
        let waker = &self.sender.waker;
        waker.draining.store(true, Ordering::Release);
        waker.clear();
        while let Ok(job) = self.rx.try_recv() {
            self.run(py, job);
        }
        waker.draining.store(false, Ordering::Release);
    }
}

/// Receives the outcome of a request's coroutine, on the loop thread.
#[pyclass(module = "ignyx._core", frozen)]
pub struct Responder {
    exchange: Arc<Exchange>,
    phase: Phase,
    sender: LoopSender,
}

#[pymethods]
impl Responder {
    /// The coroutine returned `value`.
    fn ok(&self, py: Python<'_>, value: Bound<'_, PyAny>) {
        self.finish(py, Ok(value));
    }

    /// The coroutine raised `exc`; a cancelled request has nobody waiting for it.
    fn fail(&self, py: Python<'_>, exc: Bound<'_, PyAny>) {
        if exc.is_instance_of::<pyo3::exceptions::asyncio::CancelledError>() {
            return;
        }
        self.finish(py, Err(PyErr::from_value(exc)));
    }
}

impl Responder {
    fn finish(&self, py: Python<'_>, result: PyResult<Bound<'_, PyAny>>) {
        if let Step::Await(coro, phase) = settle(py, &self.exchange, result, self.phase) {
            // An async error handler: continue it on the loop.
            let job = Job::Await(self.exchange.clone(), coro.unbind(), phase);
            self.sender.send(job);
        }
    }
}
