//! Where Python runs: a pool of threads for sync routes, and the worker's one
//! asyncio event loop, stepped on the I/O thread, for everything async.

mod event_loop;
mod job;
mod sync_pool;
mod task;

pub use event_loop::{EventLoop, LoopSender};
pub use job::{Exchange, Job};
pub use sync_pool::SyncPool;
pub use task::CoroutineTask;
