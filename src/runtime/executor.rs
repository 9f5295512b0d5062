//! The sync pool as the event loop's executor: what Python hands to a thread with
//! `loop.run_in_executor(None, ...)` (`run_in_threadpool`, `asyncio.to_thread`, a sync
//! generator's bursts) runs on the threads that run sync routes, as FastAPI runs both on
//! one threadpool. The pool grows only while its work is stuck, so quick work shares one
//! thread instead of spreading over asyncio's executor's.

use std::sync::Arc;

use pyo3::prelude::*;

use super::job::{LoopSender, PoolWork};
use super::report;
use super::sync_pool::SyncPool;

/// `ignyx._core.PoolThreads`: given to the `EngineLoop` while it serves.
#[pyclass(module = "ignyx._core", frozen)]
pub struct PoolThreads {
    pool: Arc<SyncPool>,
}

impl PoolThreads {
    pub fn new(pool: Arc<SyncPool>) -> Self {
        Self { pool }
    }
}

#[pymethods]
impl PoolThreads {
    /// Calls `callable()` in a pool thread (what it raises is printed: wrap it to keep its
    /// outcome); false, and nothing called, once the pool no longer takes work.
    fn run(&self, callable: Py<PyAny>) -> bool {
        self.pool.offer(Arc::new(Call(callable)))
    }
}

struct Call(Py<PyAny>);

impl PoolWork for Call {
    fn run(self: Arc<Self>, py: Python<'_>, _to_loop: &LoopSender) {
        if let Err(err) = self.0.bind(py).call0() {
            report(py, err);
        }
    }
}
