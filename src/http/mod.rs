//! One HTTP request, in the order it happens: admitted (`gate.rs`, when the server bounds
//! or counts requests), told by a trusted proxy where it came from (`forwarded.rs`, with
//! proxy headers on), the request in (`request.rs`), routed
//! (`routing.rs`, plans in `route.rs`), its parameters extracted (`extract.rs`), the
//! user's code called (`call.rs`), and the response out (`response.rs`, written as a
//! `body.rs` buffer or a `stream.rs` stream, its header map the one a finished request
//! left, `spare_headers.rs`), then logged (`access_log.rs`) and counted
//! (`metrics.rs`) when the server keeps an access log or metrics. `handle` is the table of
//! contents.

pub mod access_log;
mod body;
mod call;
mod chunks;
mod extract;
mod files;
pub mod forwarded;
pub mod gate;
pub mod metrics;
mod ranges;
pub mod reasons;
mod request;
mod response;
mod route;
mod routing;
mod sent;
mod session;
mod spare_headers;
mod stream;

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use pyo3::prelude::*;

use crate::layers::{self, Cors, Layers};
use crate::router::Router;
use crate::runtime::{EventLoop, InFlight, SyncPool};

pub use body::ResponseBody;
pub use call::Exchange;
pub use files::{FileChunks, StaticDirectories};
pub use request::{
    declares_too_large, decoded_path, framing_error, header_list, http_version, ip_text,
    NamedClient, Peers, PyRequestData, RequestData, RoutedHere,
};
pub use response::respond;
pub use response::{Reply, ReplyBody, ResponseTypes};
pub use route::{FastParam, FastPlan, ParamKind, ParamSource, Route, RouteKind, RouteObject};
pub use routing::{route, Routed};
pub use sent::SentReply;
pub use session::{SessionSeed, SessionSlot};

/// The HTTP half of the compiled application.
pub struct Engine {
    pub router: Router<Arc<Route>>,
    /// CORS right around the routes: inside every Python middleware.
    pub cors: Option<Cors>,
    /// The native middleware of an app without Python middleware, outermost first.
    pub layers: Layers,
    /// The app's Python middleware stack, which then answers every request; `None`
    /// without Python middleware.
    pub stack: Option<Stack>,
    pub types: ResponseTypes,
    pub hooks: Hooks,
    pub redirect_slashes: bool,
    pub max_body_size: usize,
}

/// The app's Python middleware, run by the native server around the routes.
pub struct Stack {
    /// `entry(request_data)`: the stack, whose innermost app calls the route the engine
    /// matched (`RequestData::routed`).
    pub entry: Arc<Route>,
    /// The native middleware outside every Python middleware, outermost first.
    pub layers: Layers,
}

/// The Python pieces a request may need besides its route.
pub struct Hooks {
    /// `request_class(request_data, app)` builds the `Request` handlers and dependencies see.
    pub request_class: Py<PyAny>,
    pub app: Py<PyAny>,
    /// `error_handler(request, exc) -> response` (or a coroutine).
    pub error_handler: Py<PyAny>,
    /// `inner_error_handler(request, exc) -> response | None`: the handler of an exception
    /// raised under the app's Python middleware, where only what has a handler of its own is
    /// answered (Starlette's `ExceptionMiddleware`); `None` sends it on out through the
    /// middleware, to `error_handler`.
    pub inner_error_handler: Py<PyAny>,
}

/// A protocol an HTTP/1.1 request may switch to (`Upgrade`, RFC 9110 §7.8): WebSockets.
pub trait Upgrade: Send + Sync {
    /// The handshake's answer to `req`, when `req` asks for this protocol on one of its
    /// routes; `None` leaves `req` to the HTTP routes.
    fn upgrade(&self, req: &mut Request<Incoming>, peers: Peers) -> Option<Handshake>;
}

/// The future answer to an upgrade request (101, or the HTTP error that replaced it).
pub type Handshake = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// What every HTTP request of one server shares.
pub struct Shared {
    pub engine: Arc<Engine>,
    pub pool: Arc<SyncPool>,
    /// Runs routes in the connection's own task, and takes work for its passes.
    pub event_loop: Arc<EventLoop>,
    /// Requests in Python at once; past it, requests wait here, not as Python work.
    pub in_flight: InFlight,
    pub body_timeout: Duration,
    /// Where upgrade requests go; `None` when the app serves no other protocol.
    pub upgrade: Option<Box<dyn Upgrade>>,
    /// Set once the server stops accepting: answers then close their HTTP/1 connection, so
    /// that the client's next request goes to a server that still accepts.
    pub closing: AtomicBool,
    /// What every request passes first, when the server bounds or counts them.
    pub gate: Option<Arc<gate::Gate>>,
    /// Whose proxy headers are believed, with proxy headers on.
    pub proxies: Option<forwarded::Proxies>,
    /// The HTTP versions served; a request in another is answered 505.
    pub protocols: Protocols,
    /// Where answered requests are logged, when they are.
    pub access_log: Option<access_log::AccessLog>,
    /// Where answered requests are counted, when they are.
    pub metrics: Option<Arc<metrics::Metrics>>,
    /// The name every request's client is given instead of its address (a TestClient's).
    pub client_name: Option<Arc<NamedClient>>,
    /// The `Server` header every response gets unless the app set its own.
    pub server_header: Option<http::HeaderValue>,
    /// Reason phrases as uvicorn writes them, where hyper's differ.
    pub phrases: Arc<reasons::Phrases>,
}

/// The HTTP versions a server speaks (`http="auto"`, `"1"`, `"2"`): over TLS, offered by
/// ALPN; HTTP/2 without TLS is h2c with prior knowledge.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Protocols {
    Auto,
    Http1,
    Http2,
}

impl Protocols {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "1" => Ok(Self::Http1),
            "2" => Ok(Self::Http2),
            _ => Err(format!("http {text:?}: expected auto, 1 or 2")),
        }
    }

    fn serves(self, version: http::Version) -> bool {
        match self {
            Self::Auto => true,
            Self::Http1 => version < http::Version::HTTP_2,
            Self::Http2 => version >= http::Version::HTTP_2,
        }
    }
}

/// Answers one HTTP request, as a trusted proxy says it came when proxy headers are on: an
/// upgrade goes to its protocol, a CORS preflight is answered by the layer, the rest is
/// routed, its body read, its route called, and the reply written (with CORS headers when
/// the layer is on); then logged and counted when the server keeps an access log or
/// metrics. One async function, not two nested: each level would move the request and the
/// answer between futures (about 500 instructions a request).
pub async fn handle(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
    mut peers: Peers,
) -> Result<Response<ResponseBody>, Infallible> {
    let shared = &*shared;
    if req.version() == http::Version::HTTP_2 {
        request::host_from_authority(&mut req);
    }
    if let Some(proxies) = &shared.proxies {
        proxies.apply(req.headers_mut(), &mut peers);
    }
    // Boxed, so that a server keeping neither an access log nor metrics carries one word of
    // it in each request's future.
    let mut observed = (shared.access_log.is_some() || shared.metrics.is_some()).then(|| {
        Box::new(Observed {
            seen: (shared.access_log.as_ref())
                .map(|log| log.seen(peers.client, req.method(), req.uri(), req.version())),
            counted: (shared.metrics.as_ref()).map(|m| (m.start(), req.method().clone())),
            template: None,
        })
    });
    let engine = &shared.engine;
    let to_loop = shared.event_loop.sender();
    let mut response = 'answer: {
        // Held until the answer is given.
        let _admitted = match &shared.gate {
            None => None,
            Some(gate) => match gate.admit() {
                Some(ticket) => Some(ticket),
                None => break 'answer respond(gate::busy(), to_loop),
            },
        };
        if let Some(reply) = framing_error(req.version(), req.headers()) {
            break 'answer respond(reply, to_loop);
        }
        if shared.protocols != Protocols::Auto && !shared.protocols.serves(req.version()) {
            break 'answer respond(request::version_refused(), to_loop);
        }
        // The native middleware outside every Python one: it may answer the request itself
        // (a CORS preflight, a refused host, a redirect to HTTPS).
        let layers = match &engine.stack {
            Some(stack) => &stack.layers,
            None => &engine.layers,
        };
        let mut session = None;
        let passage = match layers.is_empty() {
            true => None,
            false => {
                let head = layers::Head {
                    method: req.method(),
                    uri: req.uri(),
                    headers: req.headers(),
                    secure: peers.secure,
                    client: peers.client.map(|address| address.ip()),
                };
                let mut entry = layers.enter(&head);
                if entry.waiting {
                    layers.finish_entry(&head, &mut entry).await;
                }
                let layers::Entry {
                    passage,
                    answer,
                    session: found,
                    ..
                } = entry;
                if let Some((status, headers, body)) = answer {
                    let response = respond(Reply::full(status, headers, body), to_loop);
                    break 'answer leave_layers(layers, &passage, response, None);
                }
                if let Some((layer, found)) = found {
                    let seed = SessionSeed::new(layer, found);
                    session = Some(seed.clone());
                    req.extensions_mut().insert(seed);
                }
                Some(passage)
            }
        };
        if let Some(upgrade) = &shared.upgrade {
            if let Some(handshake) = upgrade.upgrade(&mut req, peers) {
                break 'answer respond(handshake.await, to_loop);
            }
        }
        let (parts, body) = req.into_parts();
        let version = parts.version;
        // Decoded only when it has escapes; otherwise the request keeps its path once.
        let decoded = match decoded_path(parts.uri.path()) {
            Cow::Owned(path) => Some(path),
            Cow::Borrowed(_) => None,
        };
        let path = decoded.as_deref().unwrap_or(parts.uri.path());
        // What to call: the route routing found, or, when the app has Python middleware, the
        // middleware stack (which answers every request), told the route found here for its
        // innermost app to call; routing's own answers (404, 405, preflights) are then the
        // stack's ASGI app's to give.
        let routed = routing::route(engine, &parts, path, &peers);
        if let (Some(observed), Routed::Route(route, _)) = (&mut observed, &routed) {
            observed.template = Some(route.template.clone());
        }
        // A static file, when no Python middleware has to see the request first.
        if let (None, Routed::Route(route, params)) = (&engine.stack, &routed) {
            if let Some(files) = &route.files {
                let rest = params.first().map_or("", |(_, value)| value.as_str());
                if let Some(mut reply) = files.get().serve(&parts.method, &parts.headers, rest) {
                    if let Some(range) = parts.headers.get(http::header::RANGE) {
                        let if_range = parts.headers.get(http::header::IF_RANGE);
                        ranges::apply(&mut reply, range, if_range);
                    }
                    let mut response = respond(reply, to_loop);
                    if let Some(passage) = &passage {
                        response = leave_layers(layers, passage, response, session.as_ref());
                    }
                    break 'answer response;
                }
            }
        }
        let limit = match &routed {
            Routed::Route(route, _) => route.body_limit(engine),
            Routed::Answer(_) => engine.max_body_size,
        };
        let plan = match (&engine.stack, routed) {
            (None, Routed::Route(route, params)) => Ok((route, params, None)),
            (None, Routed::Answer(reply)) => Err(reply),
            (Some(stack), Routed::Route(route, params)) => {
                let engine = engine.clone();
                let routed = Some(RoutedHere { engine, route });
                Ok((stack.entry.clone(), params, routed))
            }
            (Some(stack), Routed::Answer(_)) => Ok((stack.entry.clone(), Vec::new(), None)),
        };
        let reply = match plan {
            Err(reply) => reply,
            Ok((call, params, routed)) => {
                let timeout = shared.body_timeout;
                match request::read_body(body, limit, timeout, &parts.headers).await {
                    Ok(body) => {
                        let scheme = if peers.secure { "https" } else { "http" };
                        // Made in place in its Arc: made and then moved in, its ~460
                        // bytes would be copied twice.
                        let mut data = Arc::new_uninit();
                        let slot = Arc::get_mut(&mut data).expect("a new Arc is unshared");
                        let request = slot.write(RequestData::from_parts(
                            parts, decoded, params, body, peers, scheme,
                        ));
                        request.routed = routed;
                        request.named_client.clone_from(&shared.client_name);
                        // SAFETY: written just above.
                        let data = unsafe { data.assume_init() };
                        call::dispatch(shared, call, data).await
                    }
                    Err(reply) => reply,
                }
            }
        };
        if let Some(session) = &session {
            session.persist().await;
        }

        let mut response = respond(reply, to_loop);
        if let Some(passage) = &passage {
            response = leave_layers(layers, passage, response, session.as_ref());
        }
        if shared.closing.load(Ordering::Relaxed) && version < http::Version::HTTP_2 {
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        response
    };
    if let Some(server) = &shared.server_header {
        if let http::header::Entry::Vacant(slot) =
            response.headers_mut().entry(http::header::SERVER)
        {
            slot.insert(server.clone());
        }
    }
    if let Some(reason) = shared.phrases.for_status_line(response.status()) {
        carry_reason(&mut response, reason);
    }
    if let Some(observed) = observed {
        observed.record(shared, response.status());
    }
    Ok(response)
}

/// Gives `response` the reason phrase its status line is to carry (a status whose phrase
/// hyper would write otherwise: rare, so kept out of `handle`'s own code).
#[cold]
#[inline(never)]
fn carry_reason(response: &mut Response<ResponseBody>, reason: &hyper::ext::ReasonPhrase) {
    response.extensions_mut().insert(reason.clone());
}

/// Takes `response` out through the native `layers` the request passed: their headers (the
/// `session`'s at the sessions layer), and its body compressed when a compression layer
/// chose to.
fn leave_layers(
    layers: &Layers,
    passage: &layers::Passage,
    mut response: Response<ResponseBody>,
    session: Option<&SessionSeed>,
) -> Response<ResponseBody> {
    let status = response.status();
    let length = response.body().whole_len();
    let mut write_session = |headers: &mut http::HeaderMap| {
        if let Some(session) = session {
            session.write(headers);
        }
    };
    let encoder = layers.leave(
        passage,
        status,
        response.headers_mut(),
        length,
        &mut write_session,
    );
    if let Some(encoder) = encoder {
        response = response.map(|body| body.encoded(encoder));
    }
    response
}

/// What the access log and metrics keep of a request until it is answered.
struct Observed<'a> {
    seen: Option<access_log::Seen>,
    counted: Option<(metrics::InProgress<'a>, http::Method)>,
    /// The template of the route matched (metrics name it).
    template: Option<Arc<str>>,
}

impl Observed<'_> {
    fn record(self, shared: &Shared, status: http::StatusCode) {
        if let (Some(log), Some(seen)) = (&shared.access_log, self.seen) {
            log.record(seen, status);
        }
        if let (Some(metrics), Some((progress, method))) = (&shared.metrics, self.counted) {
            // A WebSocket handshake is not an HTTP request to count (its connections are).
            if status != http::StatusCode::SWITCHING_PROTOCOLS {
                let elapsed = progress.started.elapsed();
                metrics.observe(&method, self.template, status, elapsed);
            }
        }
    }
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRequestData>()?;
    m.add_class::<StaticDirectories>()?;
    m.add_class::<FileChunks>()?;
    m.add_class::<stream::ChunkSink>()?;
    m.add_class::<SentReply>()?;
    m.add_class::<FastPlan>()?;
    m.add_class::<FastParam>()?;
    m.add_class::<ParamSource>()?;
    m.add_class::<ParamKind>()
}
