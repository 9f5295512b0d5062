//! Routing a request: its route and path parameters, or routing's own answer (405 with
//! `Allow`, 404 or Starlette's trailing-slash redirect).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH, LOCATION};
use http::StatusCode;

use super::response::Reply;
use super::route::Route;
use super::{Engine, Peers};
use crate::router::{self, Match};

/// Where routing sent a request.
pub enum Routed {
    /// To a route, with the path parameters it captured.
    Route(Arc<Route>, Vec<(String, String)>),
    /// Nowhere: routing's own answer.
    Answer(Reply),
}

/// Routes the request with head `parts`, by its decoded `path`.
pub fn route(engine: &Engine, parts: &http::request::Parts, path: &str, peers: &Peers) -> Routed {
    match engine.router.find(&parts.method, path) {
        Match::Found { route, params } => Routed::Route(route.clone(), router::owned(params)),
        Match::MethodNotAllowed { allow } => Routed::Answer(method_not_allowed(allow)),
        Match::NotFound => Routed::Answer(not_found(engine, path, parts, peers)),
    }
}

/// 405, with the methods the path does allow.
fn method_not_allowed(allow: &HeaderValue) -> Reply {
    let mut reply = Reply::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    reply.headers.insert(ALLOW, allow.clone());
    reply
}

/// 404, or a 307 to the same path with the trailing slashes removed, or one added, when that
/// exists (Starlette's `redirect_slashes`), as an absolute URL built from the scheme and Host header and
/// quoted the way Starlette's `RedirectResponse` quotes it.
fn not_found(engine: &Engine, path: &str, parts: &http::request::Parts, peers: &Peers) -> Reply {
    if engine.redirect_slashes && path != "/" {
        let other = if path.ends_with('/') {
            path.trim_end_matches('/').to_owned()
        } else {
            format!("{path}/")
        };
        if engine.router.has_path(&other) {
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or_else(|| parts.uri.authority().map(|a| a.to_string()))
                .or_else(|| peers.local.map(|local| local.to_string()))
                .unwrap_or_else(|| "localhost".to_owned());
            // Starlette's `URL(scope=...)` escapes these three in the path, then the whole
            // URL is quoted.
            let other = other
                .replace('?', "%3F")
                .replace('#', "%23")
                .replace('\\', "%5C");
            let scheme = if peers.secure { "https" } else { "http" };
            let mut target = format!("{scheme}://{host}{other}");
            if let Some(query) = parts.uri.query() {
                target.push('?');
                target.push_str(query);
            }
            let target = percent_encoding::utf8_percent_encode(&target, URL_QUOTED).to_string();
            if let Ok(location) = HeaderValue::from_str(&target) {
                let mut reply = Reply::new(
                    StatusCode::TEMPORARY_REDIRECT,
                    &HeaderValue::from_static("text/plain; charset=utf-8"),
                    Bytes::new(),
                );
                reply.headers.remove(http::header::CONTENT_TYPE);
                reply.headers.insert(LOCATION, location);
                // Said outright, so that an answer to HEAD carries it too.
                reply
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
                return reply;
            }
        }
    }
    Reply::not_found()
}

/// What Starlette's `RedirectResponse` percent-encodes in a location: everything but
/// letters, digits, `_.-~` and `:/%#?=@[]!$&'()*+,;` (`urllib.parse.quote` with that `safe`).
const URL_QUOTED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b':')
    .remove(b'/')
    .remove(b'%')
    .remove(b'#')
    .remove(b'?')
    .remove(b'=')
    .remove(b'@')
    .remove(b'[')
    .remove(b']')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';');
