//! Where Python runs: the worker's one asyncio event loop, stepped on the I/O thread
//! (`event_loop.rs`), with request coroutines stepped from Rust (`task.rs`) and its
//! `call_soon` made in Rust (`callbacks.rs`); a pool of threads for sync code
//! (`sync_pool.rs`), which is also the loop's executor (`executor.rs`); and the rules for
//! what runs where (`inline.rs`, `in_flight.rs`, `sched.rs`, `gil.rs`,
//! `malloc_threshold.rs`). The work itself comes from the layers
//! above as trait objects (`job.rs`): this module imports nothing above it.

mod callbacks;
mod event_loop;
mod executor;
pub mod gil;
mod in_flight;
mod inline;
mod job;
mod malloc_threshold;
mod ready;
mod report;
mod sched;
mod sync_pool;
mod task;

use pyo3::prelude::*;

pub use callbacks::{CallSoon, Handle};
pub use event_loop::{EventLoop, EAGER_TURNS};
pub use executor::PoolThreads;
pub use in_flight::InFlight;
pub use inline::InlinePolicy;
pub use job::{Job, LoopSender, PoolWork};
pub use malloc_threshold::raise_past_socket_reads;
pub use ready::{ready, ready_with, Ready};
pub use report::report;
pub use sched::{batch_current_thread, restore_current_thread};
pub use sync_pool::SyncPool;
pub use task::{Awaiter, CoroutineTask};

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CallSoon>()?;
    m.add_class::<Handle>()?;
    m.add_class::<CoroutineTask>()?;
    m.add_class::<Ready>()?;
    m.add_class::<PoolThreads>()?;
    m.add_class::<InlinePolicy>()
}
