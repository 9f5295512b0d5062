//! The worker's one asyncio event loop, driven from the I/O thread.
//!
//! The loop (`ignyx._runtime.EngineLoop`) lives on the thread that runs tokio. An
//! async request is stepped right in its connection's task (`call_eagerly`): a
//! handler that waits for nothing real is answered there, a function call on the
//! same thread. The rest is a tokio task's: each pass steps the request coroutines
//! that are ready again, runs the jobs queued since the last one (coroutines from
//! sync routes, background tasks, streaming bodies, WebSocket events), then one
//! iteration of the loop. A pass is due when a job is queued, when a request leaves
//! work behind, when the loop's selector has I/O (its epoll descriptor is watched by
//! tokio), or when its next timer is due. On Windows the selector (`select()`) has no
//! descriptor to watch: it is asked every `SELECTOR_POLL` instead (see `SelectorWatch`).
//!
//! Request coroutines are stepped by `CoroutineTask`s (see `task.rs`).

#[cfg(unix)]
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::prelude::*;
#[cfg(unix)]
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
#[cfg(unix)]
use tokio::io::Interest;

use super::job::{Job, LoopSender};
use super::task::Tasks;

/// How many bare yields (`asyncio.sleep(0)`) in a row `call_eagerly` resumes at once; past
/// them, the coroutine waits for a pass, so timers and I/O are not held back.
pub const EAGER_TURNS: u32 = 8;

/// The Python side of the loop: what a pass calls.
struct LoopCalls {
    /// `set_running_loop(loop)` (`ignyx._asyncio_internals`), so code in a pass sees its
    /// running loop.
    set_running: Py<PyAny>,
    /// `event_loop.step(io) -> (delay, io_again, timers)`: one loop iteration.
    step: Py<PyAny>,
}

/// The loop's timer heap as the last iteration left it (`timer_heap()`, and what `step`
/// hands over). Only an iteration replaces the heap or takes from it; in between, a new
/// timer makes it longer.
struct Timers {
    heap: Py<PyAny>,
    len: usize,
}

impl Timers {
    fn of(heap: Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            len: heap.len()?,
            heap: heap.unbind(),
        })
    }

    fn len(&self, py: Python<'_>) -> usize {
        self.heap.bind(py).len().unwrap_or(0)
    }

    fn is_empty(&self, py: Python<'_>) -> bool {
        self.len(py) == 0
    }

    /// A timer was scheduled since the last iteration.
    fn added(&self, py: Python<'_>) -> bool {
        self.len(py) != self.len
    }
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
#[cfg(unix)]
struct SelectorFd(RawFd);

#[cfg(unix)]
impl AsRawFd for SelectorFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Resolves when the selector has events; never when it could not be watched.
#[cfg(unix)]
async fn readable(fd: Option<&AsyncFd<SelectorFd>>) -> AsyncFdReadyGuard<'_, SelectorFd> {
    match fd {
        Some(fd) => match fd.readable().await {
            Ok(guard) => guard,
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// When the loop's selector may have I/O for a pass to look at.
#[cfg(unix)]
struct SelectorWatch(Option<AsyncFd<SelectorFd>>);

#[cfg(unix)]
impl SelectorWatch {
    /// Resolves when the selector's descriptor is readable.
    async fn io(&self) {
        readable(self.0.as_ref()).await.clear_ready();
    }
}

/// How often the selector is asked for I/O on Windows, where it (`select()`) has no
/// descriptor to watch. A simple polling fallback, not a faithful wake-up: the loop's I/O
/// (a socket a handler awaits) waits up to this long for a pass, or up to the system
/// timer's resolution if coarser (15.6 ms by default), and an idle loop steps each time.
#[cfg(not(unix))]
const SELECTOR_POLL: Duration = Duration::from_millis(1);

/// Windows: the selector is polled (see `SELECTOR_POLL`).
#[cfg(not(unix))]
struct SelectorWatch;

#[cfg(not(unix))]
impl SelectorWatch {
    /// Resolves after `SELECTOR_POLL`: a pass then asks the selector.
    async fn io(&self) {
        tokio::time::sleep(SELECTOR_POLL).await;
    }
}

/// The worker's event loop as the I/O thread sees it.
pub struct EventLoop {
    sender: LoopSender,
    python: LoopCalls,
    tasks: Arc<Tasks>,
    #[cfg(unix)]
    selector: RawFd,
    /// The loop is the I/O thread's running loop (see `mark_running`).
    running_here: AtomicBool,
    timers: Mutex<Timers>,
}

impl EventLoop {
    /// Wraps an `EngineLoop` the calling thread has `begin()`-ed.
    pub fn new(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Self>> {
        // Its transports read sockets 256 KiB at a time (see `malloc_threshold`).
        super::raise_past_socket_reads();
        let py = event_loop.py();
        let method = |name: &str| event_loop.getattr(name).map(Bound::unbind);
        let python = LoopCalls {
            set_running: py
                .import("ignyx._asyncio_internals")?
                .getattr("set_running_loop")?
                .unbind(),
            step: method("step")?,
        };
        #[cfg(unix)]
        let selector = event_loop.call_method0("selector_fileno")?.extract()?;
        Ok(Arc::new(Self {
            sender: LoopSender::new(),
            python,
            tasks: Tasks::new(event_loop)?,
            #[cfg(unix)]
            selector,
            running_here: AtomicBool::new(false),
            timers: Mutex::new(Timers::of(event_loop.call_method0("timer_heap")?)?),
        }))
    }

    /// Queues work for the passes.
    pub fn sender(&self) -> &LoopSender {
        &self.sender
    }

    /// Steps the loop whenever it has work, forever; run it as a task of the I/O thread's
    /// runtime, which drops it when serving ends.
    pub async fn drive(self: Arc<Self>) {
        let selector = self.watch_selector();
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
                _ = self.sender.woken() => {}
                _ = selector.io() => io = true,
                _ = timer => {}
            }
        }
    }

    /// The selector's descriptor, registered with tokio.
    #[cfg(unix)]
    fn watch_selector(&self) -> SelectorWatch {
        // SAFETY: the descriptor stays open while this task lives: Python closes the
        // selector only after `serve` returned, by which time the runtime (and with it this
        // task and its registration) is gone.
        let watched = unsafe {
            AsyncFd::register_with_interest(SelectorFd(self.selector), Interest::READABLE)
        };
        SelectorWatch(match watched {
            Ok(fd) => Some(fd),
            Err(err) => {
                eprintln!("ignyx: cannot watch the event loop's selector: {err}");
                None
            }
        })
    }

    /// Windows: nothing to register (see `SelectorWatch`).
    #[cfg(not(unix))]
    fn watch_selector(&self) -> SelectorWatch {
        SelectorWatch
    }

    /// Runs `call` in a connection's task as if in a pass (the loop running): an async
    /// route is called and its coroutine stepped right there (`Tasks::spawn` with
    /// `EAGER_TURNS`), so a handler that waits for nothing real is answered within this
    /// call, with no pass and no second poll of the connection. `finished` tells from
    /// `call`'s result whether it is all done; if not, or if the call left the loop work
    /// (a waiting task, callbacks, a new timer), a pass is asked for.
    pub fn call_eagerly<R>(
        &self,
        call: impl FnOnce(Python<'_>, &Arc<Tasks>) -> R,
        finished: impl FnOnce(&R) -> bool,
    ) -> R {
        Python::with_gil(|py| {
            self.mark_running(py);
            let result = self.tasks.in_pass(py, || call(py, &self.tasks));
            if !finished(&result)
                || self.tasks.has_ready()
                || self.tasks.has_callbacks(py)
                || self.timers().added(py)
            {
                self.sender.wake();
            }
            result
        })
    }

    /// Runs `call` (a sync route proven quick, see `InlinePolicy`) in a connection's task,
    /// outside the loop: the thread has no running loop meanwhile, as on a pool thread,
    /// so the route may run one of its own.
    pub fn call_outside_loop<R>(&self, call: impl FnOnce(Python<'_>) -> R) -> R {
        Python::with_gil(|py| {
            self.stop_running(py);
            call(py)
        })
    }

    /// Runs the jobs still queued once serving has ended, so the tasks they start are among
    /// those the loop finishes during shutdown.
    pub fn drain(&self) {
        Python::with_gil(|py| {
            self.mark_running(py);
            self.tasks.in_pass(py, || self.run_jobs(py));
            self.stop_running(py);
        });
    }

    /// Runs the queued jobs, and those they queue, until none is left.
    fn run_jobs(&self, py: Python<'_>) {
        let mut batch = Vec::new();
        loop {
            self.sender.take_all(&mut batch);
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
            self.mark_running(py);
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
                .and_then(|next| next.extract::<(f64, bool, Bound<'_, PyAny>)>())
                .and_then(|(delay, io_again, heap)| {
                    *self.timers() = Timers::of(heap)?;
                    Ok((delay, io_again))
                });
            match stepped {
                Ok((delay, io_again)) => Next {
                    ready: delay == 0.0 || self.tasks.has_ready(),
                    io_again,
                    timer: (delay > 0.0).then(|| Duration::from_secs_f64(delay)),
                },
                Err(err) => {
                    super::report(py, err);
                    Next {
                        ready: false,
                        io_again: false,
                        timer: Some(Duration::from_millis(10)),
                    }
                }
            }
        })
    }

    /// No callback is ready and no timer is pending.
    fn loop_is_idle(&self, py: Python<'_>) -> bool {
        !self.tasks.has_callbacks(py) && self.timers().is_empty(py)
    }

    fn timers(&self) -> MutexGuard<'_, Timers> {
        self.timers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the loop this thread's running loop, and leaves it so until `stop_running`:
    /// between passes too, since each change costs a `getpid` syscall on Python 3.11.
    fn mark_running(&self, py: Python<'_>) {
        if !self.running_here.swap(true, Ordering::Relaxed) {
            self.set_running(self.tasks.event_loop(py));
        }
    }

    /// Leaves this thread without a running loop (see `call_outside_loop`).
    fn stop_running(&self, py: Python<'_>) {
        if self.running_here.swap(false, Ordering::Relaxed) {
            self.set_running(&py.None().into_bound(py));
        }
    }

    fn set_running(&self, event_loop: &Bound<'_, PyAny>) {
        let py = event_loop.py();
        if let Err(err) = self.python.set_running.bind(py).call1((event_loop,)) {
            super::report(py, err);
        }
    }

    fn run(&self, py: Python<'_>, job: Job) {
        match job {
            Job::Spawn(coroutine, awaiter) => {
                self.tasks.spawn(py, awaiter, coroutine.into_bound(py), 0)
            }
            Job::Run(work) => work(py, &self.tasks),
        }
    }
}
