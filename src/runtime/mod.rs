//! Where Python runs: a pool of threads for sync routes and a bridge to the
//! worker's one asyncio event loop for everything async.

mod event_loop;
mod job;
mod sync_pool;

pub use event_loop::{LoopBridge, LoopSender, Responder};
pub use job::{call_route, Exchange, Job, Step};
pub use sync_pool::SyncPool;
