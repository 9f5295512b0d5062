//! The metrics endpoint (`--metrics-port`): `GET /metrics` on a listener of its own, in
//! Prometheus' text format: the request metrics (`http/metrics.rs`) and this worker's gauges
//! (sync-pool threads, event-loop lag, open WebSockets, resident memory).
//!
//! It is not the app's HTTP server: each scrape is one small request on its own
//! connection, answered here in a few lines, so the app's connection code stays the only
//! copy of hyper's (see `Connections`). Under a supervisor, each worker answers on a Unix
//! socket of its own and the supervisor serves the sum of them on the port.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::listener::{Listener, Stream};
use super::memory::resident_bytes;
use crate::http::metrics::{gauge, Metrics};
use crate::runtime::{Job, LoopSender, SyncPool};
use crate::ws::WebSockets;

/// What a scrape reads.
pub struct Sources {
    pub requests: Arc<Metrics>,
    pub pool: Arc<SyncPool>,
    pub websockets: Arc<WebSockets>,
    /// The event loop's last measured lag, in nanoseconds.
    pub lag: Arc<AtomicU64>,
    /// `,worker="0"` under a supervisor, else empty.
    pub extra: String,
}

impl Sources {
    fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.requests.render(&mut out, &self.extra);
        let extra = &self.extra;
        gauge(
            &mut out,
            "ignyx_sync_pool_threads",
            "Threads running sync (def) handlers.",
            extra,
            self.pool.threads() as f64,
        );
        gauge(
            &mut out,
            "ignyx_event_loop_lag_seconds",
            "How late the event loop last ran a job due at once, in seconds.",
            extra,
            self.lag.load(Ordering::Relaxed) as f64 / 1e9,
        );
        gauge(
            &mut out,
            "ignyx_websocket_connections",
            "WebSocket connections open.",
            extra,
            self.websockets.open() as f64,
        );
        if let Some(bytes) = resident_bytes() {
            gauge(
                &mut out,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                extra,
                bytes as f64,
            );
        }
        out
    }
}

/// Answers scrapes on `listener` until the runtime ends.
pub async fn serve(listener: Listener, sources: Arc<Sources>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let sources = sources.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(stream, &sources)).await;
        });
    }
}

/// Reads one request head (at most 8 KiB) and answers it, closing the connection.
async fn answer(mut stream: Stream, sources: &Sources) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 || head.len() + read > 8192 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let (status, content_type, body) = match (method, path) {
        (b"GET" | b"HEAD", b"/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            sources.render(),
        ),
        (b"GET" | b"HEAD", _) => ("404 Not Found", "text/plain", "Not Found".to_owned()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "Method Not Allowed".to_owned(),
        ),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    if method != b"HEAD" {
        response.push_str(&body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Measures, every second, how long a job sent to the event loop waits before it runs.
pub async fn measure_lag(to_loop: LoopSender, lag: Arc<AtomicU64>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let (sent, lag) = (Instant::now(), lag.clone());
        to_loop.send(Job::run(move |_, _| {
            let waited = u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
            lag.store(waited, Ordering::Relaxed);
        }));
    }
}
