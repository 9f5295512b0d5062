//! The answers of routing itself: 405 with `Allow`, and 404 or Starlette's trailing-slash
//! redirect.

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, LOCATION};
use http::StatusCode;

use super::response::Reply;
use super::Engine;

/// 405, with the methods the path does allow.
pub fn method_not_allowed(allow: &HeaderValue) -> Reply {
    let mut reply = Reply::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    reply.headers.insert(ALLOW, allow.clone());
    reply
}

/// 404, or a 307 to the same path with the trailing slash toggled when that exists (Starlette's
/// `redirect_slashes`), as an absolute URL built from the Host header like Starlette's.
pub fn not_found(
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
