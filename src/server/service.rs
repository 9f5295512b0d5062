//! One HTTP request, from hyper to a reply: CORS preflight, routing, body
//! limits, the trip through Python, and the reply written back.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH, LOCATION};
use http::{Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use tokio::sync::oneshot;

use super::body::ResponseBody;
use super::in_flight::InFlight;
use crate::app::Engine;
use crate::request::RequestData;
use crate::response::{Reply, ReplyBody};
use crate::router::Match;
use crate::runtime::{EventLoop, Exchange, Job, SyncPool};

/// What every connection of one server shares.
pub struct Shared {
    pub engine: Arc<Engine>,
    pub pool: Arc<SyncPool>,
    /// Runs routes in the connection's own task, and takes work for its passes.
    pub event_loop: Arc<EventLoop>,
    /// Requests in Python at once; past it, requests wait here, not as Python work.
    pub in_flight: InFlight,
    pub body_timeout: Duration,
    pub websockets: crate::ws::WebSockets,
}

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    client: SocketAddr,
    local: SocketAddr,
) -> Result<Response<ResponseBody>, Infallible> {
    let engine = &shared.engine;
    if let Some(found) = crate::ws::find(engine, &req) {
        let (to_loop, websockets) = (shared.event_loop.sender(), &shared.websockets);
        let reply = crate::ws::upgrade(to_loop, websockets, req, found, client, local).await;
        return Ok(handshake_response(reply));
    }
    let (mut parts, body) = req.into_parts();
    if let Some(cors) = &engine.cors {
        if let Some((status, headers, body)) = cors.preflight(&parts.method, &parts.headers) {
            let mut response = Response::new(ResponseBody::full(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            return Ok(response);
        }
    }

    // The request's headers move to Python; CORS only needs the origin afterwards.
    let origin = match &engine.cors {
        Some(_) => parts.headers.get(http::header::ORIGIN).cloned(),
        None => None,
    };
    let raw_path = parts.uri.path();
    // Without escapes there is nothing to decode (the http crate has checked it is UTF-8).
    let path = if raw_path.contains('%') {
        percent_decode_str(raw_path)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        raw_path.to_owned()
    };
    let reply = match engine.router.find(&parts.method, &path) {
        Match::Found { route, params } => {
            let path_params = params
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let route = route.clone();
            match read_body(
                body,
                engine.max_body_size,
                shared.body_timeout,
                &parts.headers,
            )
            .await
            {
                Ok(bytes) => {
                    let mut data = RequestData::new(
                        parts.method.clone(),
                        path,
                        Bytes::copy_from_slice(raw_path.as_bytes()),
                        parts
                            .uri
                            .query()
                            .map(|q| Bytes::copy_from_slice(q.as_bytes()))
                            .unwrap_or_default(),
                        parts.version,
                        std::mem::take(&mut parts.headers),
                        bytes,
                        Some(client),
                        Some(local),
                    );
                    data.path_params = path_params;
                    dispatch(&shared, route, Arc::new(data)).await
                }
                Err(reply) => reply,
            }
        }
        Match::MethodNotAllowed { allow } => {
            let mut reply = Reply::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            reply.headers.insert(ALLOW, allow.clone());
            reply
        }
        Match::NotFound => not_found(engine, &path, &parts, local),
    };

    let mut response = Response::new(
        match reply.body {
            ReplyBody::Full(bytes) => ResponseBody::full(bytes),
            ReplyBody::Stream(iterator) => {
                super::stream::start(iterator, shared.event_loop.sender())
            }
        }
        .with_background(reply.background, shared.event_loop.sender()),
    );
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    if let Some(cors) = &engine.cors {
        cors.apply(origin.as_ref(), response.headers_mut());
    }
    Ok(response)
}

async fn dispatch(
    shared: &Arc<Shared>,
    route: Arc<crate::route::Route>,
    data: Arc<RequestData>,
) -> Reply {
    let engine = shared.engine.clone();
    let event_loop = &shared.event_loop;
    if !route.is_async && route.inline.is_inline() {
        // A route proven quick: run it right here, with no thread switch. It takes no
        // in-flight slot: the limit is on work queued for Python, and this is none.
        return match event_loop.call_sync(Exchange::inline(engine, route, data)) {
            Ok(reply) => reply,
            Err(pending) => later(pending).await,
        };
    }
    let _slot = shared.in_flight.enter().await;
    // An async route is stepped right here, unless a pool thread may be holding the GIL:
    // then each request would wait for it in turn, where the loop's next pass takes it
    // once for all the requests queued by then.
    if route.is_async && !shared.pool.is_busy() {
        return match event_loop.call_eagerly(&Exchange::inline(engine, route, data)) {
            Ok(reply) => reply,
            Err(pending) => later(pending).await,
        };
    }
    let is_async = route.is_async;
    let (exchange, reply) = Exchange::new(engine, route, data);
    if is_async {
        event_loop.sender().send(Job::Call(exchange));
    } else {
        shared.pool.submit(exchange);
    }
    later(reply).await
}

/// The reply that comes through `pending` (a bare 500 if its sender was dropped).
async fn later(pending: oneshot::Receiver<Reply>) -> Reply {
    pending.await.unwrap_or_else(|_| Reply::internal_error())
}

/// The answer to a WebSocket upgrade request (101, or the HTTP error that replaced it).
fn handshake_response(reply: Reply) -> Response<ResponseBody> {
    let body = match reply.body {
        ReplyBody::Full(bytes) => bytes,
        ReplyBody::Stream(_) => Bytes::new(),
    };
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}

async fn read_body(
    body: Incoming,
    limit: usize,
    timeout: Duration,
    headers: &http::HeaderMap,
) -> Result<Bytes, Reply> {
    let too_large = || Reply::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // Most requests have no body: no timer, no collecting.
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err))
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Ok(Err(_)) => Err(Reply::detail(StatusCode::BAD_REQUEST, "Bad Request")),
        Err(_) => Err(Reply::detail(
            StatusCode::REQUEST_TIMEOUT,
            "Request Timeout",
        )),
    }
}

/// 404, or a 307 to the same path with the trailing slash toggled when that exists (Starlette's
/// `redirect_slashes`), as an absolute URL built from the Host header like Starlette's.
fn not_found(
    engine: &Engine,
    path: &str,
    parts: &http::request::Parts,
    local: SocketAddr,
) -> Reply {
    if engine.redirect_slashes && path != "/" {
        let other = match path.strip_suffix('/') {
            Some(stripped) => stripped.to_owned(),
            None => format!("{path}/"),
        };
        if engine.router.has_path(&other) {
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or_else(|| parts.uri.authority().map(|a| a.to_string()))
                .unwrap_or_else(|| local.to_string());
            let mut target = format!(
                "http://{host}{}",
                percent_encoding::utf8_percent_encode(&other, PATH_SAFE)
            );
            if let Some(query) = parts.uri.query() {
                target.push('?');
                target.push_str(query);
            }
            if let Ok(location) = HeaderValue::from_str(&target) {
                let mut reply = Reply::new(
                    StatusCode::TEMPORARY_REDIRECT,
                    &HeaderValue::from_static("text/plain; charset=utf-8"),
                    Bytes::new(),
                );
                reply.headers.remove(http::header::CONTENT_TYPE);
                reply.headers.insert(LOCATION, location);
                return reply;
            }
        }
    }
    Reply::not_found()
}

const PATH_SAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');
