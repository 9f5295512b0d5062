//! hyper's timer for one server's connections: tokio's sleeps, kept for reuse.
//!
//! hyper arms a header-read timer each time an HTTP/1 connection starts reading a request
//! head, and drops it once the head is read: under keep-alive, a new `tokio::time::Sleep`
//! a request, registered in tokio's timer wheel when first polled and taken out of it
//! when dropped (about 600 instructions a request, against about 100 here). Here a sleep
//! hyper lets go of is kept, still registered, and the next one is that sleep moved to
//! its new deadline; a later deadline only updates the registered entry's expiry (tokio
//! re-files it in the wheel when the old deadline comes).
//!
//! A kept sleep may still hold the waker of the connection that last polled it: when its
//! old deadline passes before it is reused, that connection is polled once for nothing.
//! At most `SPARE` sleeps are kept; past that, they are dropped as tokio's are.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// Sleeps kept at most: more than a worker's connections wait on at once under load.
const SPARE: usize = 1024;

type TokioSleep = Pin<Box<tokio::time::Sleep>>;

/// hyper's `Timer`, made once per server.
#[derive(Clone, Default)]
pub struct ReusingTimer {
    spare: Arc<Spare>,
}

#[derive(Default)]
struct Spare(Mutex<Vec<TokioSleep>>);

impl Timer for ReusingTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let kept = self.spare.0.lock().ok().and_then(|mut spare| spare.pop());
        let sleep = match kept {
            Some(mut sleep) => {
                sleep.as_mut().reset(deadline.into());
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(deadline.into())),
        };
        Box::pin(KeptSleep {
            sleep: ManuallyDrop::new(sleep),
            spare: self.spare.clone(),
        })
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<KeptSleep>() {
            Some(kept) => kept.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// One of hyper's sleeps; its tokio sleep goes back to the spares when it is dropped.
struct KeptSleep {
    /// Moved to the spares when dropped.
    sleep: ManuallyDrop<TokioSleep>,
    spare: Arc<Spare>,
}

impl KeptSleep {
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().sleep.as_mut().reset(deadline.into());
    }
}

impl Future for KeptSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().sleep.as_mut().poll(cx)
    }
}

impl Sleep for KeptSleep {}

impl Drop for KeptSleep {
    fn drop(&mut self) {
        // SAFETY: not used again: the sleep is being dropped.
        let sleep = unsafe { ManuallyDrop::take(&mut self.sleep) };
        if let Ok(mut spare) = self.spare.0.lock() {
            if spare.len() < SPARE {
                spare.push(sleep);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `test` with a new timer, in a runtime whose time is paused (it advances when
    /// every task waits).
    fn with_timer<F: Future<Output = ()>>(test: impl FnOnce(ReusingTimer) -> F) {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(test(ReusingTimer::default()));
    }

    #[test]
    fn a_reused_sleep_waits_for_its_new_deadline() {
        with_timer(|timer| async move {
            let first = timer.sleep(Duration::from_secs(30));
            drop(first);
            assert_eq!(timer.spare.0.lock().unwrap().len(), 1);
            let start = tokio::time::Instant::now();
            let second = timer.sleep(Duration::from_secs(5));
            assert_eq!(
                timer.spare.0.lock().unwrap().len(),
                0,
                "the kept sleep was reused"
            );
            second.await;
            assert_eq!(start.elapsed(), Duration::from_secs(5));
        });
    }

    #[test]
    fn a_reused_sleep_moved_later_waits_until_then() {
        with_timer(|timer| async move {
            let start = tokio::time::Instant::now();
            let mut sleep = timer.sleep(Duration::from_secs(1));
            // Registered in the wheel at 1 s, as hyper's first poll would.
            assert!(futures_poll(&mut sleep).is_pending());
            drop(sleep);
            let sleep = timer.sleep(Duration::from_secs(30));
            sleep.await;
            assert_eq!(start.elapsed(), Duration::from_secs(30));
        });
    }

    #[test]
    fn reset_moves_the_deadline() {
        with_timer(|timer| async move {
            let start = tokio::time::Instant::now();
            let mut sleep = timer.sleep(Duration::from_secs(30));
            timer.reset(&mut sleep, timer.now() + Duration::from_secs(2));
            sleep.await;
            assert_eq!(start.elapsed(), Duration::from_secs(2));
        });
    }

    #[test]
    fn spares_are_bounded() {
        with_timer(|timer| async move {
            let sleeps: Vec<_> = (0..SPARE + 10)
                .map(|_| timer.sleep(Duration::from_secs(30)))
                .collect();
            drop(sleeps);
            assert_eq!(timer.spare.0.lock().unwrap().len(), SPARE);
        });
    }

    fn futures_poll(sleep: &mut Pin<Box<dyn Sleep>>) -> Poll<()> {
        let waker = std::task::Waker::noop();
        sleep.as_mut().poll(&mut Context::from_waker(waker))
    }
}
