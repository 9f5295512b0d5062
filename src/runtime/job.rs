//! What the layers above hand the runtime: work for the event loop's passes, work for
//! the sync pool, and who hears how a coroutine ended. The runtime knows nothing of
//! HTTP or WebSockets; they implement these.

use std::sync::Arc;

use pyo3::prelude::*;

use super::event_loop::LoopSender;
use super::task::Tasks;

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

/// Who is told how a coroutine task ended: an HTTP exchange waiting for its reply.
pub trait Awaiter: Send + Sync {
    /// Takes the coroutine's outcome. Returns another coroutine when the outcome leads to
    /// one (an async exception handler): it goes on as a task with the same awaiter.
    fn settle<'py>(
        &self,
        py: Python<'py>,
        outcome: PyResult<Bound<'py, PyAny>>,
    ) -> Option<Bound<'py, PyAny>>;
}

/// Work for a sync pool thread, which holds the GIL while it runs.
pub trait PoolWork: Send + Sync {
    /// Runs the work; a coroutine it leaves goes to the loop through `to_loop`.
    fn run(self: Arc<Self>, py: Python<'_>, to_loop: &LoopSender);
}
