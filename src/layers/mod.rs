//! Native middleware: layers around every request that run in Rust, configured like their
//! Starlette classes (CORS, GZip, TrustedHost, HTTPSRedirect, sessions) and our rate
//! limits, in Starlette's order: the first is the outermost.

mod compress;
mod cors;
mod hosts;
mod py;
mod ratelimit;
mod redirect;
mod sessions;

use std::net::IpAddr;
use std::sync::Arc;

use http::header::{HeaderName, HeaderValue, ORIGIN};
use http::{HeaderMap, Method, StatusCode, Uri};
use pyo3::prelude::*;

pub use compress::{add_vary, Compression, Encoder, Encoding};
pub use cors::Cors;
#[cfg(any(fuzzing, test))]
pub use cors::CorsConfig;
pub use hosts::TrustedHosts;
pub use py::{
    config as cors_config, layer_of, BodyEncoder, CompressionLayer, CorsLayer, RateLimiter,
    SessionLayer,
};
pub use ratelimit::{Checked, ClientKey, RateLimit, Verdict};
pub use redirect::{request_host, temporary as redirect_to, url as request_url, Answer};
pub use sessions::{new_session_id, seconds_now, session_json, Found, Sessions, StoreWrite};

/// One native middleware.
pub enum Layer {
    Cors(Box<Cors>),
    TrustedHosts(TrustedHosts),
    HttpsRedirect,
    Compression(Compression),
    Sessions(Arc<Sessions>),
    RateLimit(Arc<RateLimit>, LimitKey),
}

/// Whom a rate limit counts requests of.
pub enum LimitKey {
    /// The client's address (as trusted proxies give it, when proxy headers are on).
    Client,
    /// The value of this header; requests without it count by client address.
    Header(HeaderName),
}

impl LimitKey {
    fn of(&self, head: &Head<'_>) -> ClientKey {
        if let Self::Header(name) = self {
            if let Some(value) = head.headers.get(name) {
                // Latin-1, as the ASGI form reads it: every byte value a key of its own.
                let text: String = value.as_bytes().iter().map(|&b| char::from(b)).collect();
                return ClientKey::Text(format!("h:{text}").into());
            }
        }
        match head.client {
            Some(address) => ClientKey::Address(address),
            None => ClientKey::Text("unknown".into()),
        }
    }
}

/// The native middleware a request passes, outermost first.
#[derive(Default)]
pub struct Layers {
    layers: Vec<Layer>,
}

/// What a request told the layers it passed, for its response on the way out.
pub struct Passage {
    /// How many layers it went through (all, unless one of them answered).
    passed: usize,
    origin: Option<HeaderValue>,
    encoding: Option<Encoding>,
    /// What a rate limit's headers tell the response.
    limited: Option<Verdict>,
}

/// A request on its way in through the layers.
pub struct Entry {
    pub passage: Passage,
    /// A layer's answer instead of the app's.
    pub answer: Option<Answer>,
    pub session: Option<FoundSession>,
    /// Stopped before a layer that must wait (see `Layers::finish_entry`).
    pub waiting: bool,
}

/// The sessions layer a request passed, and the session its cookie gave.
pub type FoundSession = (Arc<Sessions>, Found);

/// A request's head, as the layers read it; each layer works out what else it needs (the
/// scheme, the decoded path, the time) only when it needs it.
pub struct Head<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// Whether it came over TLS (to this server, or to a trusted proxy before it).
    pub secure: bool,
    /// The client's address (as a trusted proxy gives it, when proxy headers are on).
    pub client: Option<IpAddr>,
}

impl Head<'_> {
    /// `http`, `https`, `ws` or `wss`.
    fn scheme(&self) -> &'static str {
        let websocket = self
            .headers
            .get(http::header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        match (websocket, self.secure) {
            (false, false) => "http",
            (false, true) => "https",
            (true, false) => "ws",
            (true, true) => "wss",
        }
    }
}

impl Layers {
    pub fn new(layers: Vec<Layer>) -> Self {
        Self { layers }
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Takes a request through the layers, outermost first, as far as they go without
    /// waiting: the answer of the first one that answers it instead of the app (a
    /// preflight, a refused host, a redirect), what the way out needs, and the session
    /// found. When a layer must wait (a rate limit's check, a session read from Redis), the
    /// entry stops before it, `waiting`, and `finish_entry` takes it the rest of the way: an
    /// app without such layers never awaits here.
    pub fn enter(&self, head: &Head<'_>) -> Entry {
        let mut entry = Entry {
            passage: Passage {
                passed: 0,
                origin: None,
                encoding: None,
                limited: None,
            },
            answer: None,
            session: None,
            waiting: false,
        };
        self.advance(head, &mut entry);
        entry
    }

    /// Takes a `waiting` entry through the rest of the layers.
    pub async fn finish_entry(&self, head: &Head<'_>, entry: &mut Entry) {
        while entry.waiting {
            entry.waiting = false;
            match &self.layers[entry.passage.passed] {
                Layer::Sessions(sessions) => {
                    let found = sessions.find(head.headers, sessions::seconds_now()).await;
                    entry.session = Some((sessions.clone(), found));
                }
                Layer::RateLimit(limit, key) => match limit.check(&key.of(head)).await {
                    Checked::Pass(verdict) => entry.passage.limited = verdict,
                    Checked::Refused(answer) => {
                        entry.answer = Some(answer);
                        return;
                    }
                },
                _ => unreachable!("only sessions and rate limits wait"),
            }
            entry.passage.passed += 1;
            self.advance(head, entry);
        }
    }

    /// Runs the layers from where `entry` stands until one answers, one must wait, or all
    /// are passed.
    fn advance(&self, head: &Head<'_>, entry: &mut Entry) {
        let passage = &mut entry.passage;
        for layer in &self.layers[passage.passed..] {
            let answer = match layer {
                Layer::Cors(cors) => {
                    passage.origin = head.headers.get(ORIGIN).cloned();
                    cors.preflight(head.method, head.headers)
                }
                Layer::TrustedHosts(hosts) => hosts.check(head.headers, head.uri, head.scheme()),
                Layer::HttpsRedirect => {
                    hosts::https_redirect(head.headers, head.uri, head.scheme())
                }
                Layer::Compression(compression) => {
                    passage.encoding = compression.negotiate(head.headers);
                    None
                }
                Layer::Sessions(_) | Layer::RateLimit(..) => {
                    entry.waiting = true;
                    return;
                }
            };
            if answer.is_some() {
                entry.answer = answer;
                return;
            }
            passage.passed += 1;
        }
    }

    /// Takes a response out through the layers the request passed, innermost first: CORS
    /// headers added, and the encoder its body goes through when a compression layer
    /// compresses it (`body_len`: the size of a whole body, None for a stream; its headers
    /// are already marked). Several compression layers compress once, at the innermost.
    pub fn leave(
        &self,
        passage: &Passage,
        status: StatusCode,
        headers: &mut HeaderMap,
        body_len: Option<usize>,
        write_session: &mut dyn FnMut(&mut HeaderMap),
    ) -> Option<Encoder> {
        let mut encoder = None;
        let mut compressed = false;
        for layer in self.layers[..passage.passed].iter().rev() {
            match layer {
                Layer::Cors(cors) => cors.apply(passage.origin.as_ref(), headers),
                Layer::Compression(compression) => {
                    if compressed || !compression.applies(status, headers) {
                        continue;
                    }
                    if body_len.is_some_and(|len| len < compression.minimum_size) {
                        continue;
                    }
                    // Said even when the client accepts no coding, as Starlette says it.
                    compress::add_vary(headers, "Accept-Encoding");
                    compressed = true;
                    if let Some(encoding) = passage.encoding {
                        compression.mark(encoding, headers);
                        encoder = Some(compression.encoder(encoding));
                    }
                }
                // The session's headers were settled with the reply, under the GIL.
                Layer::Sessions(_) => write_session(headers),
                Layer::RateLimit(limit, _) => {
                    if let Some(verdict) = &passage.limited {
                        limit.write_headers(verdict, headers);
                    }
                }
                Layer::TrustedHosts(_) | Layer::HttpsRedirect => {}
            }
        }
        encoder
    }
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CorsLayer>()?;
    m.add_class::<CompressionLayer>()?;
    m.add_class::<SessionLayer>()?;
    m.add_class::<RateLimiter>()?;
    m.add_class::<BodyEncoder>()
}
