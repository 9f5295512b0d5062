//! A timer that keeps tokio's time driver from being woken by every connection.
//!
//! When the runtime parks, the time driver notes its earliest timer; a timer armed
//! later that is due sooner (or any timer, when none was pending) wakes the driver
//! through its eventfd: a `write` syscall. hyper arms a header-read timer each time a
//! kept-alive connection waits for its next request. Under load most connections are
//! answering a request when the runtime parks, so few such timers are pending, and
//! without this floor nearly every request paid that syscall (seen under `/async`:
//! one eventfd write per request). A timer that is always due within `period`
//! (shorter than any connection timer) keeps the noted wake-up earlier than theirs.

use std::time::Duration;

use tokio::time::{interval, MissedTickBehavior};

/// Ticks every `period`, forever; run it as a task of the serving runtime.
pub async fn hold(period: Duration) {
    let mut ticks = interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
    }
}
