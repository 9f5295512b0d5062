//! The worker's one asyncio event loop, driven from the I/O thread.
//!
//! The loop (`ignyx._runtime.EngineLoop`) lives on the thread that runs tokio, and
//! a tokio task steps it: each pass runs the jobs queued since the last one (new
//! async requests, background tasks, streaming bodies, WebSocket events), then one
//! iteration of the loop. A pass is due when a job is queued, when a callback is
//! ready, when the loop's selector has I/O (its epoll descriptor is watched by
//! tokio), or when its next timer is due. Handing an async request to Python is
//! thus a function call on the same thread: no wake-up, no thread switch.
//!
//! A request's coroutine is stepped by a `CoroutineTask` (see `task.rs`) the moment
//! its job runs.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;
use tokio::sync::Notify;

use super::job::{call_route, Job, Step};
use super::task::Tasks;

/// Queues jobs for the event loop from any thread; cheap to clone.
#[derive(Clone)]
pub struct LoopSender {
    queue: Arc<JobQueue>,
}

/// The jobs queued since the last pass took them all. A pass swaps the whole list out
/// under one lock, and the two lists keep their capacity: no allocation per job.
struct JobQueue {
    jobs: Mutex<Vec<Job>>,
    wake: Notify,
}

impl JobQueue {
    fn jobs(&self) -> MutexGuard<'_, Vec<Job>> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LoopSender {
    pub fn send(&self, job: Job) {
        let first = {
            let mut jobs = self.queue.jobs();
            jobs.push(job);
            jobs.len() == 1
        };
        // Later jobs ride on the first one's wake-up: the pass it causes takes them all.
        if first {
            self.queue.wake.notify_one();
        }
    }
}

/// The Python side of the loop: what a pass calls.
struct LoopCalls {
    /// `asyncio.events._set_running_loop`, so code in a pass sees its running loop.
    set_running: Py<PyAny>,
    /// `event_loop.step(io) -> (delay, io_again)`: one loop iteration.
    step: Py<PyAny>,
    /// `run_background(task)`: schedules a response's background task.
    background: Py<PyAny>,
    /// `pump(iterator, sink)`: schedules the iteration of a streaming body.
    pump: Py<PyAny>,
}

/// What one pass left behind.
struct Next {
    /// Callbacks are ready: pass again as soon as the connections have had a turn.
    ready: bool,
    /// The selector returned events; ask it again (its descriptor may not signal twice).
    io_again: bool,
    /// The loop's next timer.
    timer: Option<Duration>,
}

/// The selector's epoll descriptor, watched by tokio (Python owns and closes it).
struct SelectorFd(RawFd);

impl AsRawFd for SelectorFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Resolves when the selector has events; never when it could not be watched.
async fn readable(fd: Option<&AsyncFd<SelectorFd>>) -> AsyncFdReadyGuard<'_, SelectorFd> {
    match fd {
        Some(fd) => match fd.readable().await {
            Ok(guard) => guard,
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// The worker's event loop as the I/O thread sees it.
pub struct EventLoop {
    sender: LoopSender,
    python: LoopCalls,
    tasks: Arc<Tasks>,
    selector: RawFd,
}

impl EventLoop {
    /// Wraps an `EngineLoop` the calling thread has `begin()`-ed.
    pub fn new(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Self>> {
        let py = event_loop.py();
        let method = |name: &str| event_loop.getattr(name).map(Bound::unbind);
        let python = LoopCalls {
            set_running: py
                .import("asyncio.events")?
                .getattr("_set_running_loop")?
                .unbind(),
            step: method("step")?,
            background: method("run_background")?,
            pump: method("pump")?,
        };
        let selector = event_loop.call_method0("selector_fileno")?.extract()?;
        Ok(Arc::new(Self {
            sender: LoopSender {
                queue: Arc::new(JobQueue {
                    jobs: Mutex::new(Vec::new()),
                    wake: Notify::new(),
                }),
            },
            python,
            tasks: Tasks::new(event_loop)?,
            selector,
        }))
    }

    pub fn sender(&self) -> LoopSender {
        self.sender.clone()
    }

    /// Steps the loop whenever it has work, forever; run it as a task of the I/O thread's
    /// runtime, which drops it when serving ends.
    pub async fn drive(self: Arc<Self>) {
        // SAFETY: the descriptor stays open while this task lives: Python closes the
        // selector only after `serve` returned, by which time the runtime (and with it this
        // task and its registration) is gone.
        let watched = unsafe {
            AsyncFd::register_with_interest(SelectorFd(self.selector), Interest::READABLE)
        };
        let selector = match watched {
            Ok(fd) => Some(fd),
            Err(err) => {
                eprintln!("ignyx: cannot watch the event loop's selector: {err}");
                None
            }
        };
        let mut io = true;
        loop {
            let next = self.pass(io);
            io = next.io_again;
            if next.ready || io {
                tokio::task::yield_now().await;
                continue;
            }
            let timer = async {
                match next.timer {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.sender.queue.wake.notified() => {}
                mut readable = readable(selector.as_ref()) => {
                    readable.clear_ready();
                    io = true;
                }
                _ = timer => {}
            }
        }
    }

    /// Runs the jobs still queued once serving has ended, so the tasks they start are among
    /// those the loop finishes during shutdown.
    pub fn drain(&self) {
        Python::with_gil(|py| {
            let _running = self.running(py);
            self.tasks.in_pass(py, || self.run_jobs(py));
        });
    }

    /// Runs the queued jobs, and those they queue, until none is left.
    fn run_jobs(&self, py: Python<'_>) {
        let mut batch = Vec::new();
        loop {
            std::mem::swap(&mut batch, &mut *self.sender.queue.jobs());
            if batch.is_empty() {
                return;
            }
            for job in batch.drain(..) {
                self.run(py, job);
            }
        }
    }

    /// One pass: the queued jobs, then one iteration of the loop.
    fn pass(&self, io: bool) -> Next {
        Python::with_gil(|py| {
            let _running = self.running(py);
            self.tasks.in_pass(py, || {
                self.tasks.run_ready(py);
                self.run_jobs(py);
            });
            if !io && self.loop_is_idle(py) {
                // Nothing for asyncio itself: spare the iteration (most passes, under load).
                return Next {
                    ready: self.tasks.has_ready(),
                    io_again: false,
                    timer: None,
                };
            }
            let stepped = self
                .python
                .step
                .bind(py)
                .call1((io,))
                .and_then(|next| next.extract::<(f64, bool)>());
            match stepped {
                Ok((delay, io_again)) => Next {
                    ready: delay == 0.0 || self.tasks.has_ready(),
                    io_again,
                    timer: (delay > 0.0).then(|| Duration::from_secs_f64(delay)),
                },
                Err(err) => {
                    err.print(py);
                    Next {
                        ready: false,
                        io_again: false,
                        timer: Some(Duration::from_millis(10)),
                    }
                }
            }
        })
    }

    /// No callback is ready and no timer is pending (asyncio's `_ready` and `_scheduled`).
    fn loop_is_idle(&self, py: Python<'_>) -> bool {
        let event_loop = self.tasks.event_loop(py);
        let empty = |name: &Bound<'_, pyo3::types::PyString>| {
            event_loop
                .getattr(name)
                .and_then(|queue| queue.len())
                .is_ok_and(|len| len == 0)
        };
        empty(pyo3::intern!(py, "_ready")) && empty(pyo3::intern!(py, "_scheduled"))
    }

    /// Marks the loop as this thread's running loop until the guard drops.
    fn running<'py>(&'py self, py: Python<'py>) -> Running<'py> {
        let set = self.python.set_running.bind(py);
        if let Err(err) = set.call1((self.tasks.event_loop(py),)) {
            err.print(py);
        }
        Running { set }
    }

    fn run(&self, py: Python<'_>, job: Job) {
        match job {
            Job::Call(exchange) => {
                if let Step::Await(coro, phase) = call_route(py, &exchange) {
                    self.tasks.spawn(py, exchange, coro, phase);
                }
            }
            Job::Await(exchange, coro, phase) => {
                self.tasks.spawn(py, exchange, coro.into_bound(py), phase)
            }
            Job::Background(task) => {
                if let Err(err) = self.python.background.bind(py).call1((task,)) {
                    err.print(py);
                }
            }
            Job::Stream(iterator, sink) => {
                let started = Py::new(py, sink)
                    .and_then(|sink| self.python.pump.bind(py).call1((iterator, sink)));
                if let Err(err) = started {
                    err.print(py);
                }
            }
            Job::WebSocket(job) => job.run(py),
            Job::Stop => {}
        }
    }
}

/// Clears the thread's running loop when a pass ends, so sync code run on this thread
/// between passes (quick sync routes) may run its own loop, as it could on a pool thread.
struct Running<'py> {
    set: &'py Bound<'py, PyAny>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.set.call1((self.set.py().None(),)) {
            err.print(self.set.py());
        }
    }
}
