//! What a connection's requests go to: a WebSocket handshake, or the HTTP request path.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::http::{self as h, Peers, ResponseBody};
use crate::ws;

/// What every connection of one server shares.
pub struct Shared {
    pub http: h::Shared,
    /// The app's WebSocket routes; `None` when it has none.
    pub websocket_routes: Option<Arc<ws::Routes>>,
    pub websockets: ws::WebSockets,
}

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peers: Peers,
) -> Result<Response<ResponseBody>, Infallible> {
    if let Some(found) = ws::find(shared.websocket_routes.as_deref(), &req) {
        let to_loop = shared.http.event_loop.sender();
        let reply = ws::upgrade(to_loop, &shared.websockets, req, found, peers).await;
        return Ok(h::respond(reply, to_loop));
    }
    h::handle(&shared.http, req, peers).await
}
