//! Where a sync callable runs: the sync pool, or inline on the I/O thread once proven quick.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use pyo3::prelude::*;

/// Sync routes start on the sync pool. One whose calls prove quick (`PROMOTE_AFTER`
/// calls under `QUICK`, with at most one slow call in 16: a quick call preempted on a
/// busy core looks slow now and then, a blocking one always does) is then run inline on
/// the I/O thread, saving two thread switches per request. An inline call that turns out
/// slow (over `SLOW`: a sleep, a blocking query, or just preemption) sends the route back
/// to the pool to prove itself again: a blocking handler stalls other requests at most
/// once (never, if it is slow from its first calls), while a quick one preempted by bad
/// luck soon returns. After `MAX_DEMOTIONS` the route stays on the pool.
///
/// Python holds one per sync callable of an async plan (`ignyx._core.InlinePolicy`): a
/// sync dependency, or a sync endpoint with async dependencies, runs on the threadpool
/// until it proves quick, then on the event loop itself.
#[pyclass(module = "ignyx._core", frozen)]
#[derive(Default)]
pub struct InlinePolicy {
    quick_calls: AtomicU32,
    slow_calls: AtomicU32,
    demotions: AtomicU32,
    inline: AtomicBool,
}

const QUICK: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_millis(2);
const PROMOTE_AFTER: u32 = 64;
const MAX_DEMOTIONS: u32 = 8;

impl InlinePolicy {
    pub fn is_inline(&self) -> bool {
        self.inline.load(Ordering::Relaxed)
    }

    /// Records how long a call took on the sync pool.
    pub fn observe_pooled(&self, took: Duration) {
        if self.is_inline() || self.demotions.load(Ordering::Relaxed) >= MAX_DEMOTIONS {
            return;
        }
        if took < QUICK {
            let quick = self.quick_calls.fetch_add(1, Ordering::Relaxed) + 1;
            if quick >= PROMOTE_AFTER && self.slow_calls.load(Ordering::Relaxed) * 16 <= quick {
                self.inline.store(true, Ordering::Relaxed);
            }
        } else {
            self.slow_calls.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records how long an inline call took on the I/O thread.
    pub fn observe_inline(&self, took: Duration) {
        if took > SLOW && self.inline.swap(false, Ordering::Relaxed) {
            self.demotions.fetch_add(1, Ordering::Relaxed);
            self.quick_calls.store(0, Ordering::Relaxed);
            self.slow_calls.store(0, Ordering::Relaxed);
        }
    }
}

#[pymethods]
impl InlinePolicy {
    #[new]
    fn py_new() -> Self {
        Self::default()
    }

    /// Whether the callable may run inline now.
    #[getter]
    fn inline(&self) -> bool {
        self.is_inline()
    }

    /// `observe_pooled`, with the call's duration in seconds.
    #[pyo3(name = "observe_pooled")]
    fn py_observe_pooled(&self, seconds: f64) {
        self.observe_pooled(Duration::try_from_secs_f64(seconds).unwrap_or_default());
    }

    /// `observe_inline`, with the call's duration in seconds.
    #[pyo3(name = "observe_inline")]
    fn py_observe_inline(&self, seconds: f64) {
        self.observe_inline(Duration::try_from_secs_f64(seconds).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promote(policy: &InlinePolicy) {
        for _ in 0..PROMOTE_AFTER {
            policy.observe_pooled(Duration::from_micros(20));
        }
    }

    #[test]
    fn quick_routes_go_inline_and_a_slow_inline_call_sends_them_back_to_prove_again() {
        let policy = InlinePolicy::default();
        for _ in 0..PROMOTE_AFTER - 1 {
            policy.observe_pooled(Duration::from_micros(20));
        }
        assert!(!policy.is_inline());
        policy.observe_pooled(Duration::from_micros(20));
        assert!(policy.is_inline());
        policy.observe_inline(Duration::from_micros(30));
        assert!(policy.is_inline());
        policy.observe_inline(Duration::from_millis(50));
        assert!(!policy.is_inline());
        // Blocking on the pool too: it stays there.
        for _ in 0..PROMOTE_AFTER * 2 {
            policy.observe_pooled(Duration::from_millis(50));
        }
        assert!(!policy.is_inline());
        // Quick again on the pool (mostly): back inline.
        for _ in 0..PROMOTE_AFTER * 40 {
            policy.observe_pooled(Duration::from_micros(20));
        }
        assert!(policy.is_inline());
    }

    #[test]
    fn a_route_demoted_too_often_stays_on_the_pool() {
        let policy = InlinePolicy::default();
        for _ in 0..MAX_DEMOTIONS {
            promote(&policy);
            assert!(policy.is_inline());
            policy.observe_inline(Duration::from_millis(50));
        }
        promote(&policy);
        assert!(!policy.is_inline());
    }

    #[test]
    fn routes_that_are_often_slow_stay_on_the_pool() {
        let policy = InlinePolicy::default();
        for _ in 0..PROMOTE_AFTER * 4 {
            policy.observe_pooled(Duration::from_micros(20));
            policy.observe_pooled(Duration::from_secs(1));
        }
        assert!(!policy.is_inline());
    }

    #[test]
    fn an_occasional_slow_call_does_not_keep_a_quick_route_off_the_io_thread() {
        let policy = InlinePolicy::default();
        policy.observe_pooled(Duration::from_millis(5));
        policy.observe_pooled(Duration::from_millis(5));
        for _ in 0..PROMOTE_AFTER {
            policy.observe_pooled(Duration::from_micros(20));
        }
        assert!(policy.is_inline());
    }
}
