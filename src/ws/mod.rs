//! WebSockets: the upgrade handshake, framing and ping/pong in Rust
//! (hyper upgrade + tokio-tungstenite), the handler on the event loop.
//!
//! A WebSocket route lives in its own matchit table, so HTTP routing, 405s and
//! trailing-slash redirects never see it and a path may serve both a page (GET)
//! and a socket. An upgrade request that matches it dispatches a job to the loop
//! that starts the Python handler with a `WebSocketChannel`; the handler's
//! `accept()` (or `close()`) decides the HTTP answer (101, or 403 like
//! Starlette). After the 101, one tokio task per connection reads frames into
//! the channel's inbox and writes what Python queued: an idle connection is a
//! parked task and a few buffers, never a thread.

mod channel;
mod connection;
mod session;
mod upgrade;

use std::time::Duration;

use pyo3::prelude::*;

pub use connection::WebSockets;
pub use upgrade::Upgrader;

/// What every WebSocket of a server is held to.
#[derive(Clone, Copy, Debug)]
pub struct WsLimits {
    /// Largest message (and frame) accepted; past it the socket closes with 1009.
    pub max_size: usize,
    /// How often the server pings an open socket (uvicorn's `ws_ping_interval`); `None`: never.
    pub ping_interval: Option<Duration>,
    /// How long a ping may go unanswered before the socket closes with 1011.
    pub ping_timeout: Duration,
}

/// One WebSocket route: `call(request_data, channel)` starts its handler on the loop.
pub struct WsRoute {
    pub call: Py<PyAny>,
}

/// The WebSocket routes of an app, in a table of their own.
pub type Routes = crate::router::Router<std::sync::Arc<WsRoute>>;

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<channel::WebSocketChannel>()
}
