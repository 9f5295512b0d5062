//! Scheduling hints for the server's threads.
//!
//! A worker's I/O thread and its Python threads hand requests to each other. Under the
//! default policy every hand-off wakes the other thread and preempts the current one,
//! which costs a context switch per request when they share a core. `SCHED_BATCH`
//! tells the kernel these threads are throughput work: a woken thread waits for the
//! current one's slice, so work is handed over in batches. `SCHED_BATCH` is Linux's; on
//! other systems the threads keep the default policy.

/// Marks the calling thread `SCHED_BATCH`; returns the policy it had, to restore later.
#[cfg(target_os = "linux")]
pub fn batch_current_thread() -> Option<i32> {
    // SAFETY: plain syscalls on the calling thread with a valid, zeroed sched_param.
    unsafe {
        let previous = libc::sched_getscheduler(0);
        if previous != libc::SCHED_OTHER {
            return None;
        }
        let param: libc::sched_param = std::mem::zeroed();
        (libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) == 0).then_some(previous)
    }
}

/// Elsewhere: nothing to change, nothing to restore.
#[cfg(not(target_os = "linux"))]
pub fn batch_current_thread() -> Option<i32> {
    None
}

/// Puts back the policy `batch_current_thread` replaced.
pub fn restore_current_thread(previous: Option<i32>) {
    #[cfg(target_os = "linux")]
    if let Some(policy) = previous {
        // SAFETY: as above.
        unsafe {
            let param: libc::sched_param = std::mem::zeroed();
            libc::sched_setscheduler(0, policy, &param);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = previous;
}
