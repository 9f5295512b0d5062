//! A worker's end of life by memory (`max_rss`): the process's resident memory, checked
//! every second, past its bound stops the server through the request gate. Only on Linux
//! (`/proc`): elsewhere the resident memory is unknown and the watch is off.

use std::sync::Arc;
use std::time::Duration;

use crate::http::gate::{Gate, Recycled};

/// Stops the server once this process's resident memory passes `max_bytes`, checked every
/// second; run it as a task of the serving runtime.
pub async fn watch_rss(gate: Arc<Gate>, max_bytes: u64) {
    if cfg!(not(target_os = "linux")) {
        return; // the resident memory is unknown there (see `resident_bytes`)
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        if resident_bytes().is_some_and(|rss| rss > max_bytes) {
            gate.recycle(Recycled::MaxRss);
            return;
        }
    }
}

/// This process's resident memory, from `/proc/self/statm` (Linux).
#[cfg(target_os = "linux")]
pub(super) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok()?)
}

/// Not Linux (no `/proc`): unknown, so `max_rss` is never reached and the metrics leave the
/// resident memory out.
#[cfg(not(target_os = "linux"))]
pub(super) fn resident_bytes() -> Option<u64> {
    None
}
