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

use pyo3::prelude::*;

pub use channel::WsJob;
pub use connection::Closing;
pub use upgrade::{find, upgrade};

/// One WebSocket route: `call(request_data, channel)` starts its handler on the loop.
pub struct WsRoute {
    pub call: Py<PyAny>,
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<channel::WebSocketChannel>()
}
