//! Scheduling hints for the server's threads, and what the kernel says of them.
//!
//! A worker's I/O thread and its Python threads hand requests to each other. Under the
//! default policy every hand-off wakes the other thread and preempts the current one,
//! which costs a context switch per request when they share a core. `SCHED_BATCH`
//! tells the kernel these threads are throughput work: a woken thread waits for the
//! current one's slice, so work is handed over in batches. `SCHED_BATCH` is Linux's; on
//! other systems the threads keep the default policy.
//!
//! Whether a thread is runnable tells the sync pool a handler busy on the CPU (or waiting
//! for one on a shared core) from one that sleeps or blocks.

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

/// The kernel's id of the calling thread, for `is_runnable`.
#[cfg(target_os = "linux")]
pub fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

#[cfg(not(target_os = "linux"))]
pub fn current_tid() -> i32 {
    0
}

/// Whether a thread of this process is running, or waiting only for a CPU (the kernel's
/// state `R`), rather than sleeping or blocked on I/O, a lock or the GIL. Elsewhere than on
/// Linux nothing says so, and it answers false.
#[cfg(target_os = "linux")]
pub fn is_runnable(tid: i32) -> bool {
    let Ok(stat) = std::fs::read(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // "tid (name) S ...": the name may hold spaces and parentheses, the state follows the last ')'.
    let after_name = stat.iter().rposition(|&b| b == b')').map_or(0, |at| at + 2);
    stat.get(after_name) == Some(&b'R')
}

#[cfg(not(target_os = "linux"))]
pub fn is_runnable(_tid: i32) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_thread_on_the_cpu_is_runnable_and_a_blocked_one_is_not() {
        assert!(is_runnable(current_tid()));
        let (tell, told) = mpsc::channel();
        let (release, wait) = mpsc::channel::<()>();
        let blocked = std::thread::spawn(move || {
            tell.send(current_tid()).unwrap();
            wait.recv().unwrap();
        });
        let id = told.recv().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while is_runnable(id) && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(!is_runnable(id));
        release.send(()).unwrap();
        blocked.join().unwrap();
        assert!(!is_runnable(id)); // gone: no such thread
    }
}
