//! What the layers above hand the runtime: work for the event loop's passes (and the
//! queue it waits in), and work for the sync pool. The runtime knows nothing of HTTP or
//! WebSockets; they implement these.

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use tokio::sync::Notify;

use super::task::{Awaiter, Tasks};

/// Work for the event loop's next pass.
pub enum Job {
    /// Run `coroutine` as a task of the loop; `awaiter` hears how it ended.
    Spawn(Py<PyAny>, Arc<dyn Awaiter>),
    /// Run a piece of Python on the loop's thread, during a pass (the loop is running).
    Run(LoopWork),
}

/// Python work for a pass; it may start tasks on the loop.
pub type LoopWork = Box<dyn FnOnce(Python<'_>, &Arc<Tasks>) + Send>;

impl Job {
    pub fn run(f: impl FnOnce(Python<'_>, &Arc<Tasks>) + Send + 'static) -> Self {
        Job::Run(Box::new(f))
    }
}

/// Work for a sync pool thread, which holds the GIL while it runs.
pub trait PoolWork: Send + Sync {
    /// Runs the work; a coroutine it leaves goes to the loop through `to_loop`.
    fn run(self: Arc<Self>, py: Python<'_>, to_loop: &LoopSender);
}

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

    /// Asks for a pass without queuing a job (the loop gained work some other way).
    pub(super) fn wake(&self) {
        self.queue.wake.notify_one();
    }

    pub(super) fn new() -> Self {
        Self {
            queue: Arc::new(JobQueue {
                jobs: Mutex::new(Vec::new()),
                wake: Notify::new(),
            }),
        }
    }

    /// Resolves when a job was queued or a pass asked for.
    pub(super) async fn woken(&self) {
        self.queue.wake.notified().await
    }

    /// Moves every queued job into `batch` (which is empty), keeping both lists' capacity.
    pub(super) fn take_all(&self, batch: &mut Vec<Job>) {
        std::mem::swap(batch, &mut *self.queue.jobs());
    }
}
