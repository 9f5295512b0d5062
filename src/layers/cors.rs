//! CORS answered in Rust, with the observable behaviour of Starlette's
//! `CORSMiddleware` (the one FastAPI re-exports).
//!
//! Everything that depends only on the configuration is rendered into
//! `HeaderValue`s once, in [`Cors::new`]; per request the engine only
//! decides which origin to echo and which preflight checks failed.
//!
//! ```ignore
//! let cors = Cors::new(CorsConfig {
//!     allow_origins: vec!["https://app.example.com".into()],
//!     allow_credentials: true,
//!     ..CorsConfig::default()
//! })?;
//! if let Some((status, headers, body)) = cors.preflight(&method, &request_headers) {
//!     return reply(status, headers, body);
//! }
//! cors.apply(request_headers.get(ORIGIN), response.headers_mut());
//! ```

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use bytes::Bytes;
use fancy_regex::Regex;
use http::header::{
    Entry, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
    CONTENT_TYPE, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

/// What `allow_methods=["*"]` stands for, in Starlette's order.
const ALL_METHODS: [&str; 8] = [
    "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY",
];

/// Request headers a preflight may always ask for, whatever `allow_headers` says.
const SAFELISTED_HEADERS: [&str; 4] = [
    "Accept",
    "Accept-Language",
    "Content-Language",
    "Content-Type",
];

/// Every preflight answer depends on these request headers.
const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, \
     Access-Control-Request-Headers, Access-Control-Request-Private-Network";

const REQUEST_PRIVATE_NETWORK: &str = "access-control-request-private-network";
const ALLOW_PRIVATE_NETWORK: &str = "access-control-allow-private-network";

/// The options of Starlette's `CORSMiddleware`, with the same defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub allow_credentials: bool,
    pub allow_origin_regex: Option<String>,
    pub expose_headers: Vec<String>,
    pub max_age: u32,
    /// Answers Private Network Access preflights (`Access-Control-Request-Private-Network`).
    pub allow_private_network: bool,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allow_origins: Vec::new(),
            allow_methods: vec!["GET".to_owned()],
            allow_headers: Vec::new(),
            allow_credentials: false,
            allow_origin_regex: None,
            expose_headers: Vec::new(),
            max_age: 600,
            allow_private_network: false,
        }
    }
}

/// A compiled CORS policy: answers preflights and decorates other responses.
#[derive(Debug, Clone)]
pub struct Cors {
    allow_all_origins: bool,
    allow_all_headers: bool,
    allow_private_network: bool,
    /// Whether a preflight names the origin instead of answering `*`.
    preflight_explicit_origin: bool,
    /// Whether an actual response names the origin instead of answering `*`.
    simple_echoes_any_origin: bool,
    allow_origins: HashSet<String>,
    allow_origin_regex: Option<Regex>,
    allow_methods: Vec<String>,
    /// Lowercased, safelisted headers included.
    allow_headers: HashSet<String>,
    preflight_headers: HeaderMap,
    simple_headers: Vec<(HeaderName, HeaderValue)>,
}

impl Cors {
    /// Checks and pre-renders `config`; an invalid regex or a value that cannot
    /// be sent as a header is an error.
    pub fn new(config: CorsConfig) -> Result<Cors, String> {
        let allow_all_origins = config.allow_origins.iter().any(|o| o == "*");
        let allow_all_headers = config.allow_headers.iter().any(|h| h == "*");
        let allow_methods: Vec<String> = if config.allow_methods.iter().any(|m| m == "*") {
            ALL_METHODS.iter().map(|&m| m.to_owned()).collect()
        } else {
            config.allow_methods
        };
        let allow_origin_regex = config
            .allow_origin_regex
            .as_deref()
            .map(compile_fullmatch)
            .transpose()?;
        let preflight_explicit_origin = !allow_all_origins || config.allow_credentials;
        let listed_headers: BTreeSet<&str> = SAFELISTED_HEADERS
            .iter()
            .copied()
            .chain(config.allow_headers.iter().map(String::as_str))
            .collect();

        let mut simple_headers = Vec::new();
        if allow_all_origins {
            simple_headers.push((ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")));
        }
        if config.allow_credentials {
            simple_headers.push((
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ));
        }
        if !config.expose_headers.is_empty() {
            let exposed = config.expose_headers.join(", ");
            simple_headers.push((
                ACCESS_CONTROL_EXPOSE_HEADERS,
                header_value(&exposed, "expose_headers")?,
            ));
        }

        let mut preflight_headers = HeaderMap::new();
        preflight_headers.insert(VARY, HeaderValue::from_static(PREFLIGHT_VARY));
        if !preflight_explicit_origin {
            preflight_headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        preflight_headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            header_value(&allow_methods.join(", "), "allow_methods")?,
        );
        preflight_headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(config.max_age));
        if !allow_all_headers {
            let listed = listed_headers
                .iter()
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            preflight_headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                header_value(&listed, "allow_headers")?,
            );
        }
        if config.allow_credentials {
            preflight_headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        preflight_headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );

        Ok(Cors {
            allow_all_origins,
            allow_all_headers,
            allow_private_network: config.allow_private_network,
            preflight_explicit_origin,
            simple_echoes_any_origin: allow_all_origins && config.allow_credentials,
            allow_headers: listed_headers.iter().map(|h| h.to_lowercase()).collect(),
            allow_origins: config.allow_origins.into_iter().collect(),
            allow_origin_regex,
            allow_methods,
            preflight_headers,
            simple_headers,
        })
    }

    /// Some(response parts) when the request is a CORS preflight (method OPTIONS
    /// with both `origin` and `access-control-request-method` headers): the
    /// full answer, without calling any handler. The body is "OK" (200) or
    /// names the failed checks (400); `content-length` is left to the server.
    pub fn preflight(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Option<(StatusCode, HeaderMap, Bytes)> {
        if method != Method::OPTIONS {
            return None;
        }
        let origin = headers.get(ORIGIN)?;
        let requested_method = headers.get(ACCESS_CONTROL_REQUEST_METHOD)?;
        let requested_headers = headers.get(ACCESS_CONTROL_REQUEST_HEADERS);

        let mut answer = self.preflight_headers.clone();
        let mut failures: Vec<&str> = Vec::new();

        if self.is_allowed_origin(origin) {
            if self.preflight_explicit_origin {
                answer.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            }
        } else {
            failures.push("origin");
        }

        let requested_method = latin1(requested_method);
        if !self.allow_methods.iter().any(|m| *m == requested_method) {
            failures.push("method");
        }

        match requested_headers {
            // Allowing every header means mirroring whatever was asked for.
            Some(requested) if self.allow_all_headers => {
                answer.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            }
            Some(requested) => {
                let requested = latin1(requested).to_lowercase();
                if requested
                    .split(',')
                    .any(|name| !self.allow_headers.contains(name.trim()))
                {
                    failures.push("headers");
                }
            }
            None => {}
        }

        if headers.contains_key(REQUEST_PRIVATE_NETWORK) {
            if self.allow_private_network {
                answer.insert(ALLOW_PRIVATE_NETWORK, HeaderValue::from_static("true"));
            } else {
                failures.push("private-network");
            }
        }

        if failures.is_empty() {
            Some((StatusCode::OK, answer, Bytes::from_static(b"OK")))
        } else {
            // Browsers enforce CORS on any status; 400 just tells a human why.
            let text = format!("Disallowed CORS {}", failures.join(", "));
            Some((StatusCode::BAD_REQUEST, answer, Bytes::from(text)))
        }
    }

    /// Adds the CORS response headers for a simple/actual request (one that
    /// has an `origin` header) to `response_headers`.
    ///
    /// Call it for every non-preflight response, with or without `origin`:
    /// like Starlette, it always appends `Origin` to `Vary`, because the
    /// answer would have differed had the request carried another origin.
    pub fn apply(&self, origin: Option<&HeaderValue>, response_headers: &mut HeaderMap) {
        if let Some(origin) = origin {
            for (name, value) in &self.simple_headers {
                response_headers.insert(name.clone(), value.clone());
            }
            // With credentials a browser refuses `*`, so the origin is named instead.
            let echo = if self.allow_all_origins {
                self.simple_echoes_any_origin
            } else {
                self.is_allowed_origin(origin)
            };
            if echo {
                response_headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            }
        }
        append_vary_origin(response_headers);
    }

    fn is_allowed_origin(&self, origin: &HeaderValue) -> bool {
        if self.allow_all_origins {
            return true;
        }
        let origin = latin1(origin);
        self.allow_origin_regex
            .as_ref()
            // An error is a match given up on (its backtracking limit): not allowed.
            .is_some_and(|regex| regex.is_match(origin.as_ref()).unwrap_or(false))
            || self.allow_origins.contains(origin.as_ref())
    }
}

/// Compiles `pattern` so that it only matches whole strings, like Python's
/// `re.fullmatch`. `fancy_regex` takes what Python's `re` does beyond the `regex` crate
/// (lookarounds, backreferences) and leaves the rest to `regex`.
fn compile_fullmatch(pattern: &str) -> Result<Regex, String> {
    let invalid =
        |err: fancy_regex::Error| format!("invalid allow_origin_regex {pattern:?}: {err}");
    // Checked alone first, so that a stray `)` cannot escape the anchoring group.
    Regex::new(pattern).map_err(invalid)?;
    Regex::new(&format!("^(?:{pattern})$")).map_err(invalid)
}

/// Renders configuration text the way Starlette puts it on the wire (latin-1).
fn header_value(text: &str, option: &str) -> Result<HeaderValue, String> {
    let bytes: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(c).ok()).collect();
    bytes
        .and_then(|bytes| HeaderValue::from_bytes(&bytes).ok())
        .ok_or_else(|| format!("{option} cannot be sent as a header value: {text:?}"))
}

/// A request header as Starlette sees it: bytes decoded as latin-1, so any
/// value a client sends can be compared without failing.
fn latin1(value: &HeaderValue) -> Cow<'_, str> {
    match value.to_str() {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(value.as_bytes().iter().map(|&b| char::from(b)).collect()),
    }
}

/// Joins every existing `Vary` value and `Origin` into a single header. Most responses have
/// none: they get a static `Vary: Origin`, with nothing allocated.
fn append_vary_origin(headers: &mut HeaderMap) {
    static ORIGIN_ONLY: HeaderValue = HeaderValue::from_static("Origin");
    let mut vary = match headers.entry(VARY) {
        Entry::Vacant(slot) => {
            slot.insert(ORIGIN_ONLY.clone());
            return;
        }
        Entry::Occupied(vary) => vary,
    };
    let mut joined = Vec::new();
    for value in vary.iter() {
        joined.extend_from_slice(value.as_bytes());
        joined.extend_from_slice(b", ");
    }
    joined.extend_from_slice(b"Origin");
    // Valid header bytes joined by ", " are still valid.
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        vary.insert(value);
    }
}

#[cfg(test)]
mod tests;
