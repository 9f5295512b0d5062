//! The handshake: find the WebSocket route of an upgrade request, check the
//! request (RFC 6455 §4.2.1), start the handler on the loop, and answer with
//! what it decided: 101, or 403 when it closed first.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    HeaderName, CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Version};
use hyper::body::Incoming;
use pyo3::prelude::*;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::channel::{Decision, WebSocketChannel};
use super::session::{Ended, Session};
use super::{connection, Routes, WebSockets, WsRoute};
use crate::http::{
    decoded_path, Handshake, NamedClient, Peers, PyRequestData, Reply, ReplyBody, RequestData,
    SessionSeed, SessionSlot, Upgrade,
};
use crate::router::{self, Match};
use crate::runtime::{Job, LoopSender};

/// The close code a handler gave when it closed before accepting; the TestClient reads it
/// to raise `WebSocketDisconnect(code)` as Starlette's does.
static CLOSE_CODE: HeaderName = HeaderName::from_static("x-websocket-close-code");

/// Where a server's upgrade requests go: its WebSocket routes (`http::Upgrade`).
pub struct Upgrader {
    pub routes: Arc<Routes>,
    pub to_loop: LoopSender,
    pub websockets: Arc<WebSockets>,
    /// The name the clients are given instead of their addresses (a TestClient's).
    pub client_name: Option<Arc<NamedClient>>,
}

impl Upgrade for Upgrader {
    fn upgrade(&self, req: &mut Request<Incoming>, peers: Peers) -> Option<Handshake> {
        let Found {
            route,
            path,
            params,
        } = self.find(req)?;
        if let Some(refusal) = refusal(req) {
            return Some(Box::pin(std::future::ready(refusal)));
        }
        let accept_key = req
            .headers()
            .get(SEC_WEBSOCKET_KEY)
            .map(|key| derive_accept_key(key.as_bytes()))
            .unwrap_or_default();
        let on_upgrade = hyper::upgrade::on(&mut *req);
        let scheme = if peers.secure { "wss" } else { "ws" };
        let seed = req.extensions_mut().remove::<SessionSeed>();
        let mut data =
            RequestData::from_parts(head(req), Some(path), params, Bytes::new(), peers, scheme);
        data.named_client.clone_from(&self.client_name);
        data.session = seed.map(SessionSlot::native);
        let session = Session::new(self.to_loop.clone());
        // If this request is dropped unanswered (client gone, server stopping), Python
        // hears of it.
        let ended = Ended(session.clone());
        let (decide, decision) = oneshot::channel();
        let (outbox, outgoing) = mpsc::unbounded_channel();
        let channel = WebSocketChannel::new(session.clone(), decide, outbox);
        self.to_loop.send(Job::run(move |py, _| {
            let data = Arc::new(data);
            let started = Py::new(py, PyRequestData { data })
                .and_then(|data| Ok((data, Py::new(py, channel)?)))
                .and_then(|args| route.call.bind(py).call1(args));
            // On failure the channel is dropped unanswered: the client gets a 500.
            if let Err(err) = started {
                crate::runtime::report(py, err);
            }
        }));
        let websockets = self.websockets.clone();
        Some(Box::pin(async move {
            match decision.await {
                Ok(Decision::Accept {
                    subprotocol,
                    headers,
                }) => {
                    connection::spawn(ended, on_upgrade, session, outgoing, &websockets);
                    switching_protocols(&accept_key, subprotocol, headers)
                }
                Ok(Decision::Reject { status, close }) => rejection(status, close),
                Ok(Decision::Respond {
                    status,
                    headers,
                    body,
                }) => Reply {
                    status,
                    headers,
                    body: ReplyBody::Full(Bytes::from(body)),
                    background: None,
                },
                // The handler could not start (an error was printed).
                Err(_) => Reply::internal_error(),
            }
        }))
    }
}

/// A WebSocket route matched by an upgrade request, with its path and parameters.
struct Found {
    route: Arc<WsRoute>,
    path: String,
    params: Vec<(String, String)>,
}

impl Upgrader {
    /// The WebSocket route for `req` when it asks for `Upgrade: websocket`, with the path
    /// and its parameters; other requests cost one header check.
    #[inline]
    fn find<B>(&self, req: &Request<B>) -> Option<Found> {
        let upgrade = req.headers().get(UPGRADE)?;
        if !upgrade.as_bytes().eq_ignore_ascii_case(b"websocket") || req.method() != Method::GET {
            return None;
        }
        let path = decoded_path(req.uri().path()).into_owned();
        match self.routes.find(req.method(), &path) {
            Match::Found { route, params } => Some(Found {
                route: route.clone(),
                params: router::owned(params),
                path,
            }),
            _ => None,
        }
    }
}

/// The answer to a handshake that fails the checks of RFC 6455 §4.2.1.
fn refusal<B>(req: &Request<B>) -> Option<Reply> {
    let headers = req.headers();
    if !headers.contains_key(SEC_WEBSOCKET_KEY)
        || req.version() != Version::HTTP_11
        || !has_token(headers, &CONNECTION, "upgrade")
    {
        return Some(Reply::detail(StatusCode::BAD_REQUEST, "Bad Request"));
    }
    if headers.get(SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        let mut reply = Reply::detail(StatusCode::UPGRADE_REQUIRED, "Upgrade Required");
        reply
            .headers
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return Some(reply);
    }
    None
}

/// A copy of the request's head (the request itself stays with hyper for the upgrade).
fn head<B>(req: &Request<B>) -> Parts {
    let mut head = Request::new(());
    *head.method_mut() = req.method().clone();
    *head.uri_mut() = req.uri().clone();
    *head.version_mut() = req.version();
    *head.headers_mut() = req.headers().clone();
    head.into_parts().0
}

fn switching_protocols(
    accept_key: &str,
    subprotocol: Option<HeaderValue>,
    extra: HeaderMap,
) -> Reply {
    let mut headers = HeaderMap::with_capacity(4 + extra.len());
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(accept_key) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(subprotocol) = subprotocol {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, subprotocol);
    }
    for (name, value) in extra.iter() {
        headers.append(name.clone(), value.clone());
    }
    Reply {
        status: StatusCode::SWITCHING_PROTOCOLS,
        headers,
        body: ReplyBody::Full(Bytes::new()),
        background: None,
    }
}

fn rejection(status: StatusCode, close: Option<(u16, String)>) -> Reply {
    let mut headers = HeaderMap::new();
    let mut body = Bytes::new();
    if let Some((code, reason)) = close {
        headers.insert(CLOSE_CODE.clone(), HeaderValue::from(code));
        if !reason.is_empty() {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            body = Bytes::from(reason);
        }
    } else if let Some(reason) = status.canonical_reason() {
        return Reply::text(status, reason);
    }
    Reply {
        status,
        headers,
        body: ReplyBody::Full(body),
        background: None,
    }
}

/// True when a comma-separated header (`Connection: keep-alive, Upgrade`) lists `token`.
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|part| part.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_tokens_are_case_insensitive_lists() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert!(has_token(&headers, &CONNECTION, "upgrade"));
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
        assert!(!has_token(&headers, &CONNECTION, "upgrade"));
    }

    #[test]
    fn accept_key_follows_rfc_6455() {
        // The example of RFC 6455 §1.3.
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn closing_before_accept_is_a_403_with_the_code() {
        let reply = rejection(StatusCode::FORBIDDEN, Some((1008, "no token".into())));
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.headers[&CLOSE_CODE], "1008");
        assert!(matches!(reply.body, ReplyBody::Full(b) if b == "no token"));
    }
}
