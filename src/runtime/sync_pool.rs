//! The threads that run sync work: `def` routes, until they prove quick.
//!
//! One Python thread while handlers are quick: it holds the GIL as long as
//! work is queued and releases it only when idle. When work waits behind slow
//! handlers (ones that sleep or block on I/O), threads are added, one per
//! `GROW_AFTER` for as long as the queue makes no progress, up to `max_threads`;
//! work that arrives when every thread has been stuck for two `GROW_AFTER`s
//! already gets a new thread at once. Extra threads leave after `IDLE_TIMEOUT` without
//! work.
//!
//! A handler busy on the CPU gets no company, which could only wait for the GIL (when a
//! thread was added for any 1 ms without progress, a ~1 ms handler under two workers grew
//! each pool to 20 threads and its p99 to 437 ms). So a queue stalled while a pool thread
//! is runnable (on the CPU, or preempted on a shared core and waiting for it) waits
//! `BUSY_PATIENCE` checks before a thread is added: only a handler that keeps the CPU that
//! long is given a second thread, which lets the GIL's switch interval answer the quick work
//! queued behind it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use pyo3::prelude::*;

use super::job::{LoopSender, PoolWork};

const GROW_AFTER: Duration = Duration::from_millis(10);
/// `GROW_AFTER`s without progress before a thread is added while a pool thread is runnable.
const BUSY_PATIENCE: u32 = 10;
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a pool thread is handed.
enum Work {
    /// Run a piece of sync work (a request's route).
    Run(Arc<dyn PoolWork>),
    /// Leave the pool.
    Stop,
}

pub struct SyncPool {
    tx: Sender<Work>,
    rx: Receiver<Work>,
    to_loop: LoopSender,
    threads: AtomicUsize,
    busy: AtomicUsize,
    /// Jobs taken so far; unchanged across a grow check means nothing moved.
    taken: AtomicU64,
    /// When a job was last taken, in nanoseconds since `started`.
    last_taken: AtomicU64,
    started: Instant,
    /// Whether a watcher is checking the queue's progress.
    growth_armed: AtomicBool,
    max_threads: usize,
    handles: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// The kernel's ids of the pool's threads, to ask whether they are on the CPU.
    thread_ids: std::sync::Mutex<Vec<i32>>,
    /// Whether `offer` still takes work: false once `stop` began.
    open: std::sync::Mutex<bool>,
}

impl SyncPool {
    pub fn start(to_loop: LoopSender, max_threads: usize) -> Arc<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let pool = Arc::new(Self {
            tx,
            rx,
            to_loop,
            threads: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            taken: AtomicU64::new(0),
            last_taken: AtomicU64::new(0),
            started: Instant::now(),
            growth_armed: AtomicBool::new(false),
            max_threads: max_threads.max(1),
            handles: std::sync::Mutex::new(Vec::new()),
            thread_ids: std::sync::Mutex::new(Vec::new()),
            open: std::sync::Mutex::new(true),
        });
        pool.spawn_thread();
        pool
    }

    /// Threads in the pool now.
    pub fn threads(&self) -> usize {
        self.threads.load(Ordering::Relaxed)
    }

    /// Queues work; called from the I/O thread, inside the tokio runtime.
    pub fn submit(self: &Arc<Self>, work: Arc<dyn PoolWork>) {
        let _ = self.tx.send(Work::Run(work));
        if !self.backlogged() {
            return;
        }
        if self.all_stuck() && !self.any_runnable() {
            // Every thread is stuck already: this work must not wait for the watcher.
            self.spawn_thread();
        }
        if !self.growth_armed.swap(true, Ordering::AcqRel) {
            self.clone().watch();
        }
    }

    /// While work waits for a thread, adds one each `GROW_AFTER` in which every thread was
    /// running work and none was taken, unless a pool thread is runnable: then only after
    /// `BUSY_PATIENCE` such checks in a row. (A thread that is there but not running work is
    /// waiting for the GIL: the work is busy on the CPU, and another thread would only wait
    /// too.)
    fn watch(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut seen = self.taken.load(Ordering::Acquire);
            let mut stalled = 0;
            loop {
                tokio::time::sleep(GROW_AFTER).await;
                let taken = self.taken.load(Ordering::Acquire);
                if self.backlogged() {
                    stalled = if taken == seen && self.all_running() {
                        stalled + 1
                    } else {
                        0
                    };
                    if stalled >= BUSY_PATIENCE || (stalled > 0 && !self.any_runnable()) {
                        self.spawn_thread();
                        stalled = 0;
                    }
                    seen = taken;
                    continue;
                }
                self.growth_armed.store(false, Ordering::Release);
                // Work queued between the check and the disarming found the watcher armed:
                // look again, and keep watching for it.
                if !self.backlogged() || self.growth_armed.swap(true, Ordering::AcqRel) {
                    return;
                }
                seen = self.taken.load(Ordering::Acquire);
            }
        });
    }

    /// Queues work from Python code on the I/O thread (the event loop's executor work);
    /// false when the pool no longer takes work (it has stopped, or the caller is outside
    /// the serving runtime, whose tasks watch the queue).
    pub fn offer(self: &Arc<Self>, work: Arc<dyn PoolWork>) -> bool {
        if tokio::runtime::Handle::try_current().is_err() {
            return false;
        }
        // Held while queuing, so that no work is queued behind `stop`'s requests to leave.
        let Ok(open) = self.open.lock() else {
            return false;
        };
        if *open {
            self.submit(work);
        }
        *open
    }

    /// Whether more work is queued than there are threads free to take it, and a thread
    /// could be added.
    fn backlogged(&self) -> bool {
        let threads = self.threads.load(Ordering::Acquire);
        let idle = threads.saturating_sub(self.busy.load(Ordering::Acquire));
        threads < self.max_threads && self.rx.len() > idle
    }

    /// Whether every thread is running work.
    fn all_running(&self) -> bool {
        self.busy.load(Ordering::Acquire) >= self.threads.load(Ordering::Acquire)
    }

    /// Whether every thread is running work and none has taken any for two `GROW_AFTER`s
    /// (one could be a preemption on a shared core).
    fn all_stuck(&self) -> bool {
        let last = Duration::from_nanos(self.last_taken.load(Ordering::Acquire));
        self.all_running() && self.started.elapsed().saturating_sub(last) >= 2 * GROW_AFTER
    }

    /// Whether a pool thread is on the CPU or waiting for one (only when work is stalled: it
    /// reads each thread's state from `/proc`).
    fn any_runnable(&self) -> bool {
        let Ok(ids) = self.thread_ids.lock() else {
            return false;
        };
        ids.iter().any(|&id| super::sched::is_runnable(id))
    }

    /// Whether a pool thread is running a route now (and may hold the GIL for a while).
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) > 0
    }

    /// Asks every thread to leave once the queue is drained, and waits for them
    /// (call without holding the GIL).
    pub fn stop(&self) {
        if let Ok(mut open) = self.open.lock() {
            *open = false;
        }
        for _ in 0..self.threads.load(Ordering::Acquire) {
            let _ = self.tx.send(Work::Stop);
        }
        let handles = self.handles.lock().map(|mut h| std::mem::take(&mut *h));
        for handle in handles.unwrap_or_default() {
            let _ = handle.join();
        }
    }

    fn spawn_thread(self: &Arc<Self>) {
        self.threads.fetch_add(1, Ordering::AcqRel);
        let pool = self.clone();
        let spawned = std::thread::Builder::new()
            .name("ignyx-sync".into())
            .spawn(move || pool.work());
        match spawned {
            Ok(handle) => {
                if let Ok(mut handles) = self.handles.lock() {
                    handles.retain(|h| !h.is_finished());
                    handles.push(handle);
                }
            }
            Err(_) => {
                self.threads.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn work(self: Arc<Self>) {
        super::sched::batch_current_thread();
        let _listed = ListedThread::new(&self.thread_ids);
        Python::with_gil(|py| loop {
            let work = match self.rx.try_recv() {
                Ok(work) => work,
                Err(_) => match py.allow_threads(|| self.rx.recv_timeout(IDLE_TIMEOUT)) {
                    Ok(work) => work,
                    Err(RecvTimeoutError::Timeout) => {
                        if self.leave_if_extra() {
                            return;
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                },
            };
            self.taken.fetch_add(1, Ordering::AcqRel);
            let now = self.started.elapsed().as_nanos() as u64;
            self.last_taken.store(now, Ordering::Release);
            let work = match work {
                Work::Run(work) => work,
                Work::Stop => {
                    self.threads.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
            };
            self.busy.fetch_add(1, Ordering::AcqRel);
            work.run(py, &self.to_loop);
            self.busy.fetch_sub(1, Ordering::AcqRel);
        })
    }

    fn leave_if_extra(&self) -> bool {
        let mut current = self.threads.load(Ordering::Acquire);
        while current > 1 {
            match self.threads.compare_exchange(
                current,
                current - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
        false
    }
}

/// A pool thread's entry in `thread_ids`, from its start until it leaves.
struct ListedThread<'a> {
    ids: &'a std::sync::Mutex<Vec<i32>>,
    id: i32,
}

impl<'a> ListedThread<'a> {
    fn new(ids: &'a std::sync::Mutex<Vec<i32>>) -> Self {
        let id = super::sched::current_tid();
        if let Ok(mut ids) = ids.lock() {
            ids.push(id);
        }
        Self { ids, id }
    }
}

impl Drop for ListedThread<'_> {
    fn drop(&mut self) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.retain(|&id| id != self.id);
        }
    }
}
