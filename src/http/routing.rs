//! Routing a request: its route and path parameters, or routing's own answer (405 with
//! `Allow`, 404 or Starlette's trailing-slash redirect).

use std::sync::Arc;

use http::header::{HeaderValue, ALLOW};
use http::StatusCode;

use super::response::Reply;
use super::route::Route;
use super::{Engine, Peers};
use crate::layers;
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
            let host = layers::request_host(&parts.headers, &parts.uri, || {
                peers
                    .local
                    .map_or_else(|| "localhost".to_owned(), |local| local.to_string())
            });
            let scheme = if peers.secure { "https" } else { "http" };
            let url = layers::request_url(scheme, &host, &other, &parts.uri);
            if let Some((status, headers, body)) = layers::redirect_to(&url) {
                return Reply::full(status, headers, body);
            }
        }
    }
    Reply::not_found()
}
