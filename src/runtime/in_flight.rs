//! The bound on requests handed to Python at once.
//!
//! Past the bound, a request waits here, in its connection's task, rather than as
//! queued Python work. A counter and a `Notify`, not tokio's `Semaphore`: that one
//! locks its waiter list on every release, and this bound is taken and released by
//! every request that leaves the I/O thread's inline path. Waiters are woken in the
//! order they started waiting, though a request arriving just as a slot frees may
//! take it first (the semaphore would have queued it).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

pub struct InFlight {
    limit: usize,
    count: AtomicUsize,
    /// Requests waiting for a slot; releases wake one only when there are some.
    waiting: AtomicUsize,
    freed: Notify,
}

/// A slot, given back when dropped.
pub struct Slot<'a>(&'a InFlight);

impl InFlight {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            count: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            freed: Notify::new(),
        }
    }

    /// Waits for a slot.
    pub async fn enter(&self) -> Slot<'_> {
        if let Some(slot) = self.try_enter() {
            return slot;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(self);
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before looking again, so a release in between is not missed.
            freed.as_mut().enable();
            if let Some(slot) = self.try_enter() {
                return slot;
            }
            freed.await;
        }
    }

    fn try_enter(&self) -> Option<Slot<'_>> {
        self.count
            // SeqCst both ways: a waiter counts itself, then reads `count`; a release
            // lowers `count`, then reads `waiting`. One of them sees the other.
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self))
    }

    /// Slots taken now.
    #[cfg(test)]
    fn taken(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let limit = self.0;
        limit.count.fetch_sub(1, Ordering::SeqCst);
        if limit.waiting.load(Ordering::SeqCst) > 0 {
            limit.freed.notify_one();
        }
    }
}

/// Counts a request among the waiting until it has its slot (or stops waiting).
struct Waiting<'a>(&'a InFlight);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Waits for every task, failing if one is never woken.
    async fn join_all(tasks: Vec<tokio::task::JoinHandle<()>>) {
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("a waiter was never woken")
                .unwrap();
        }
    }

    #[test]
    fn never_more_than_the_limit_and_every_waiter_gets_a_slot() {
        runtime().block_on(async {
            let limit = Arc::new(InFlight::new(2));
            let peak = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let (limit, peak) = (limit.clone(), peak.clone());
                    tokio::spawn(async move {
                        let _slot = limit.enter().await;
                        peak.fetch_max(limit.taken(), Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    })
                })
                .collect();
            join_all(tasks).await;
            assert_eq!(peak.load(Ordering::SeqCst), 2);
            assert_eq!(limit.taken(), 0);
        });
    }

    #[test]
    fn two_releases_at_once_wake_two_waiters() {
        runtime().block_on(async {
            let limit = Arc::new(InFlight::new(2));
            let (first, second) = (limit.enter().await, limit.enter().await);
            let entered = Arc::new(AtomicUsize::new(0));
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let (limit, entered) = (limit.clone(), entered.clone());
                    tokio::spawn(async move {
                        let _slot = limit.enter().await;
                        entered.fetch_add(1, Ordering::SeqCst);
                        // Both must hold a slot at once: nothing else will release one.
                        while entered.load(Ordering::SeqCst) < 2 {
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            tokio::task::yield_now().await;
            drop(first);
            drop(second);
            join_all(waiters).await;
            assert_eq!(limit.taken(), 0);
        });
    }

    #[test]
    fn a_waiter_that_gives_up_is_no_longer_counted() {
        runtime().block_on(async {
            let limit = InFlight::new(1);
            let held = limit.enter().await;
            let gave_up = tokio::time::timeout(Duration::from_millis(10), limit.enter()).await;
            assert!(gave_up.is_err());
            assert_eq!(limit.waiting.load(Ordering::SeqCst), 0);
            drop(held);
            assert_eq!(limit.taken(), 0);
        });
    }
}
