//! Native middleware: layers around every request that run in Rust, configured like their
//! Starlette classes (CORS, GZip, TrustedHost, HTTPSRedirect), in Starlette's order: the
//! first is the outermost.

mod compress;
mod cors;
mod hosts;
mod py;
mod redirect;
mod sessions;

use http::header::{HeaderValue, ORIGIN};
use http::{HeaderMap, Method, StatusCode, Uri};
use pyo3::prelude::*;

pub use compress::{add_vary, Compression, Encoder, Encoding};
pub use cors::Cors;
#[cfg(any(fuzzing, test))]
pub use cors::CorsConfig;
pub use hosts::TrustedHosts;
pub use py::{
    config as cors_config, layer_of, BodyEncoder, CompressionLayer, CorsLayer, SessionLayer,
};
pub use redirect::{request_host, temporary as redirect_to, url as request_url, Answer};
pub use sessions::Sessions;

/// One native middleware.
pub enum Layer {
    Cors(Box<Cors>),
    TrustedHosts(TrustedHosts),
    HttpsRedirect,
    Compression(Compression),
    Sessions(std::sync::Arc<Sessions>),
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
    /// The sessions layer passed, and the session the request's cookie carries.
    pub session: Option<(std::sync::Arc<Sessions>, Option<bytes::Bytes>)>,
}

/// A request's head, as the layers read it.
pub struct Head<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// The decoded path, as Starlette rebuilds the URL from it.
    pub path: &'a str,
    /// `http`, `https`, `ws` or `wss`.
    pub scheme: &'a str,
    /// Seconds since the epoch (sessions check their cookie's age against it).
    pub now: u64,
}

impl Layers {
    pub fn new(layers: Vec<Layer>) -> Self {
        Self { layers }
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Takes a request through the layers, outermost first: the answer of the first one
    /// that answers it instead of the app (a preflight, a refused host, a redirect), and
    /// what the way out needs.
    pub fn enter(&self, head: &Head<'_>) -> (Passage, Option<Answer>) {
        let mut passage = Passage {
            passed: 0,
            origin: None,
            encoding: None,
            session: None,
        };
        let websocket = head.scheme.starts_with("ws");
        for layer in &self.layers {
            let answer = match layer {
                Layer::Cors(cors) if !websocket => {
                    passage.origin = head.headers.get(ORIGIN).cloned();
                    cors.preflight(head.method, head.headers)
                }
                Layer::Cors(_) => None,
                Layer::TrustedHosts(hosts) => {
                    hosts.check(head.headers, head.uri, head.path, head.scheme)
                }
                Layer::HttpsRedirect => {
                    hosts::https_redirect(head.headers, head.uri, head.path, head.scheme)
                }
                Layer::Compression(compression) if !websocket => {
                    passage.encoding = compression.negotiate(head.headers);
                    None
                }
                Layer::Compression(_) => None,
                Layer::Sessions(sessions) => {
                    let payload = sessions.read(head.headers, head.now);
                    passage.session = Some((sessions.clone(), payload));
                    None
                }
            };
            if answer.is_some() {
                return (passage, answer);
            }
            passage.passed += 1;
        }
        (passage, None)
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
    m.add_class::<BodyEncoder>()
}
