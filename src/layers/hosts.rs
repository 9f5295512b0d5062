//! Host checks, configured like Starlette's `TrustedHostMiddleware` and
//! `HTTPSRedirectMiddleware`.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode, Uri};

use super::redirect::{self, Answer};

/// `TrustedHostMiddleware(allowed_hosts=[...], www_redirect=True)`: a request whose `Host` is
/// not one of the patterns gets 400 `Invalid host header` (or, when `www.` + its host is
/// allowed, a redirect there).
#[derive(Clone, Debug)]
pub struct TrustedHosts {
    patterns: Vec<String>,
    allow_any: bool,
    www_redirect: bool,
}

impl TrustedHosts {
    pub fn new(patterns: Vec<String>, www_redirect: bool) -> Result<Self, String> {
        for pattern in &patterns {
            let inner_star = pattern.get(1..).is_some_and(|rest| rest.contains('*'));
            let bad_prefix =
                pattern.starts_with('*') && pattern != "*" && !pattern.starts_with("*.");
            if inner_star || bad_prefix {
                return Err("Domain wildcard patterns must be like '*.example.com'.".to_owned());
            }
        }
        Ok(Self {
            allow_any: patterns.iter().any(|p| p == "*"),
            patterns,
            www_redirect,
        })
    }

    /// The answer to a request for a host that is not allowed; None lets it through.
    pub fn check(&self, headers: &HeaderMap, uri: &Uri, scheme: &str) -> Option<Answer> {
        if self.allow_any {
            return None;
        }
        let authority = redirect::request_host(headers, uri, String::new);
        let host = authority.split(':').next().unwrap_or("");
        let mut www = false;
        for pattern in &self.patterns {
            let wildcard = pattern.strip_prefix('*');
            if host == pattern || wildcard.is_some_and(|suffix| host.ends_with(suffix)) {
                return None;
            }
            if pattern.strip_prefix("www.") == Some(host) {
                www = true;
            }
        }
        if www && self.www_redirect {
            let path = redirect::decoded_path(uri);
            let url = redirect::url(scheme, &format!("www.{authority}"), &path, uri);
            if let Some(answer) = redirect::temporary(&url) {
                return Some(answer);
            }
        }
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Some((
            StatusCode::BAD_REQUEST,
            headers,
            Bytes::from_static(b"Invalid host header"),
        ))
    }
}

/// `HTTPSRedirectMiddleware`: a request over plain HTTP (or WebSocket) is sent to the same
/// URL over HTTPS (or WSS), the port dropped when it is 80 or 443.
pub fn https_redirect(headers: &HeaderMap, uri: &Uri, scheme: &str) -> Option<Answer> {
    let secure_scheme = match scheme {
        "http" => "https",
        "ws" => "wss",
        _ => return None,
    };
    let authority = redirect::request_host(headers, uri, String::new);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host, port.parse::<u16>().ok())
        }
        _ => (authority.as_str(), None),
    };
    let netloc = match port {
        Some(80 | 443) => host,
        _ => authority.as_str(),
    };
    let path = redirect::decoded_path(uri);
    redirect::temporary(&redirect::url(secure_scheme, netloc, &path, uri))
}
