//! What a server checks per request only when it is configured to: a bound on requests
//! at once (`limit_concurrency`: past it, 503, as uvicorn answers), and a worker's end of
//! life (`max_requests`, or `max_rss` as the server watches it: it stops accepting,
//! finishes what it has, and its supervisor starts another). `Shared::gate` is `None`
//! without the per-request settings, and requests then cost one branch.

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION};
use http::StatusCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::Notify;

use super::response::Reply;

/// Why a server stopped serving, when it stopped itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recycled {
    MaxRequests,
    MaxRss,
}

impl Recycled {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxRequests => "max_requests",
            Self::MaxRss => "max_rss",
        }
    }
}

pub struct Gate {
    limit: Option<usize>,
    active: AtomicUsize,
    max_requests: Option<u64>,
    served: AtomicU64,
    stop: Arc<Notify>,
    recycled: OnceLock<Recycled>,
}

/// A request let in; it no longer counts once dropped.
pub struct Ticket(Arc<Gate>);

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.0.limit.is_some() {
            self.0.active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Gate {
    pub fn new(limit: Option<usize>, max_requests: Option<u64>, stop: Arc<Notify>) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.map(|n| n.max(1)),
            active: AtomicUsize::new(0),
            max_requests: max_requests.map(|n| n.max(1)),
            served: AtomicU64::new(0),
            stop,
            recycled: OnceLock::new(),
        })
    }

    /// Whether requests pass through `admit` (else they are served without the gate).
    pub fn checks_requests(&self) -> bool {
        self.limit.is_some() || self.max_requests.is_some()
    }

    /// Lets a request in, or `None` when `limit` requests are already in (answer `busy()`).
    pub fn admit(self: &Arc<Self>) -> Option<Ticket> {
        if let Some(limit) = self.limit {
            if self.active.fetch_add(1, Ordering::Relaxed) >= limit {
                self.active.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
        }
        if let Some(max) = self.max_requests {
            if self.served.fetch_add(1, Ordering::Relaxed) + 1 == max {
                self.recycle(Recycled::MaxRequests);
            }
        }
        Some(Ticket(self.clone()))
    }

    /// Stops the server (once), for `why`.
    pub fn recycle(&self, why: Recycled) {
        if self.recycled.set(why).is_ok() {
            self.stop.notify_one();
        }
    }

    pub fn recycled(&self) -> Option<Recycled> {
        self.recycled.get().copied()
    }
}

/// The answer past `limit_concurrency`, as uvicorn gives it.
pub fn busy() -> Reply {
    let mut reply = Reply::new(
        StatusCode::SERVICE_UNAVAILABLE,
        &HeaderValue::from_static("text/plain; charset=utf-8"),
        Bytes::from_static(b"Service Unavailable"),
    );
    reply
        .headers
        .insert(CONNECTION, HeaderValue::from_static("close"));
    reply
}
