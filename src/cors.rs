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
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use regex::Regex;

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
            .is_some_and(|regex| regex.is_match(&origin))
            || self.allow_origins.contains(origin.as_ref())
    }
}

/// Compiles `pattern` so that it only matches whole strings, like Python's
/// `re.fullmatch`.
fn compile_fullmatch(pattern: &str) -> Result<Regex, String> {
    let invalid = |err: regex::Error| format!("invalid allow_origin_regex {pattern:?}: {err}");
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

/// Joins every existing `Vary` value and `Origin` into a single header.
fn append_vary_origin(headers: &mut HeaderMap) {
    let mut joined = Vec::new();
    for value in headers.get_all(VARY) {
        joined.extend_from_slice(value.as_bytes());
        joined.extend_from_slice(b", ");
    }
    joined.extend_from_slice(b"Origin");
    // Valid header bytes joined by ", " are still valid.
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(VARY, value);
    }
}

#[cfg(test)]
mod tests {
    //! Expected answers were printed by Starlette 1.10's `CORSMiddleware`
    //! (through its `TestClient`) for the same configuration and request.
    use super::*;

    const VARY_ALL: &str = "Origin, Access-Control-Request-Method, \
        Access-Control-Request-Headers, Access-Control-Request-Private-Network";
    const SAFELISTED: &str = "Accept, Accept-Language, Content-Language, Content-Type";
    const TEXT: &str = "text/plain; charset=utf-8";

    fn cors(config: CorsConfig) -> Cors {
        Cors::new(config).expect("valid configuration")
    }

    fn origins(list: &[&str]) -> CorsConfig {
        CorsConfig {
            allow_origins: list.iter().map(|&o| o.to_owned()).collect(),
            ..CorsConfig::default()
        }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|&s| s.to_owned()).collect()
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for &(name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
                HeaderValue::from_bytes(value).expect("test header value"),
            );
        }
        map
    }

    /// Every header as (name, raw bytes), sorted, so whole answers compare.
    fn listing(map: &HeaderMap) -> Vec<(String, Vec<u8>)> {
        let mut all: Vec<_> = map
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect();
        all.sort();
        all
    }

    fn expected(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        listing(&headers(pairs))
    }

    fn preflight(cors: &Cors, request: &[(&str, &[u8])]) -> (u16, Vec<(String, Vec<u8>)>, Bytes) {
        let (status, headers, body) = cors
            .preflight(&Method::OPTIONS, &headers(request))
            .expect("a preflight");
        (status.as_u16(), listing(&headers), body)
    }

    /// Runs `apply` over a handler's response headers.
    fn simple(
        cors: &Cors,
        request: &[(&str, &[u8])],
        response: &[(&str, &[u8])],
    ) -> Vec<(String, Vec<u8>)> {
        let mut response = headers(response);
        cors.apply(headers(request).get(ORIGIN), &mut response);
        listing(&response)
    }

    #[test]
    fn test_default_config_is_starlettes() {
        let config = CorsConfig::default();
        assert!(config.allow_origins.is_empty());
        assert_eq!(config.allow_methods, ["GET"]);
        assert!(config.allow_headers.is_empty());
        assert!(!config.allow_credentials);
        assert_eq!(config.allow_origin_regex, None);
        assert!(config.expose_headers.is_empty());
        assert_eq!(config.max_age, 600);
        assert!(!config.allow_private_network);
    }

    #[test]
    fn test_allowed_preflight_echoes_origin_and_lists_policy() {
        let cors = cors(CorsConfig {
            allow_methods: strings(&["GET", "POST"]),
            allow_headers: strings(&["X-Token"]),
            ..origins(&["https://a.com", "https://b.com"])
        });
        let answer = preflight(
            &cors,
            &[
                ("origin", b"https://b.com"),
                ("access-control-request-method", b"POST"),
                ("access-control-request-headers", b"x-token, Content-Type"),
            ],
        );
        let policy = format!("{SAFELISTED}, X-Token");
        assert_eq!(
            answer,
            (
                200,
                expected(&[
                    ("vary", VARY_ALL.as_bytes()),
                    ("access-control-allow-methods", b"GET, POST"),
                    ("access-control-max-age", b"600"),
                    ("access-control-allow-headers", policy.as_bytes()),
                    ("access-control-allow-origin", b"https://b.com"),
                    ("content-type", TEXT.as_bytes()),
                ]),
                Bytes::from_static(b"OK"),
            )
        );
    }

    #[test]
    fn test_preflight_from_unlisted_origin_gives_400_without_allow_origin() {
        let cors = cors(origins(&["https://a.com", "https://b.com"]));
        let answer = preflight(
            &cors,
            &[
                ("origin", b"https://evil.com"),
                ("access-control-request-method", b"GET"),
            ],
        );
        assert_eq!(
            answer,
            (
                400,
                expected(&[
                    ("vary", VARY_ALL.as_bytes()),
                    ("access-control-allow-methods", b"GET"),
                    ("access-control-max-age", b"600"),
                    ("access-control-allow-headers", SAFELISTED.as_bytes()),
                    ("content-type", TEXT.as_bytes()),
                ]),
                Bytes::from_static(b"Disallowed CORS origin"),
            )
        );
    }

    #[test]
    fn test_preflight_names_every_failed_check_in_order() {
        let cors = cors(origins(&["https://a.com"]));
        let (status, _, body) = preflight(
            &cors,
            &[
                ("origin", b"https://evil.com"),
                ("access-control-request-method", b"PUT"),
                ("access-control-request-headers", b"X-Nope"),
                ("access-control-request-private-network", b"true"),
            ],
        );
        assert_eq!(status, 400);
        assert_eq!(
            body,
            "Disallowed CORS origin, method, headers, private-network"
        );
    }

    #[test]
    fn test_preflight_method_failure_still_echoes_allowed_origin() {
        let cors = cors(origins(&["https://a.com"]));
        for method in [&b"PUT"[..], b"get"] {
            let answer = preflight(
                &cors,
                &[
                    ("origin", b"https://a.com"),
                    ("access-control-request-method", method),
                ],
            );
            assert_eq!(
                answer,
                (
                    400,
                    expected(&[
                        ("vary", VARY_ALL.as_bytes()),
                        ("access-control-allow-methods", b"GET"),
                        ("access-control-max-age", b"600"),
                        ("access-control-allow-headers", SAFELISTED.as_bytes()),
                        ("access-control-allow-origin", b"https://a.com"),
                        ("content-type", TEXT.as_bytes()),
                    ]),
                    Bytes::from_static(b"Disallowed CORS method"),
                )
            );
        }
    }

    #[test]
    fn test_preflight_with_unlisted_header_fails_on_headers() {
        let cors = cors(CorsConfig {
            allow_headers: strings(&["X-A"]),
            ..origins(&["https://a.com"])
        });
        for requested in [&b"X-A, X-B"[..], b"", b"accept,", b"x-a,,accept"] {
            let (status, headers, body) = preflight(
                &cors,
                &[
                    ("origin", b"https://a.com"),
                    ("access-control-request-method", b"GET"),
                    ("access-control-request-headers", requested),
                ],
            );
            assert_eq!(
                (status, body),
                (400, Bytes::from_static(b"Disallowed CORS headers"))
            );
            assert!(headers.contains(&(
                "access-control-allow-origin".into(),
                b"https://a.com".to_vec()
            )));
        }
    }

    #[test]
    fn test_preflight_header_check_ignores_case_and_spaces() {
        let cors = cors(CorsConfig {
            allow_headers: strings(&["X-Token"]),
            ..origins(&["https://a.com"])
        });
        let (status, _, body) = preflight(
            &cors,
            &[
                ("origin", b"https://a.com"),
                ("access-control-request-method", b"GET"),
                (
                    "access-control-request-headers",
                    b"  X-TOKEN ,accept-language,\tCONTENT-type",
                ),
            ],
        );
        assert_eq!((status, body), (200, Bytes::from_static(b"OK")));
    }

    #[test]
    fn test_wildcard_preflight_without_credentials_answers_star_and_mirrors_headers() {
        let cors = cors(CorsConfig {
            allow_methods: strings(&["*"]),
            allow_headers: strings(&["*"]),
            ..origins(&["*"])
        });
        let answer = preflight(
            &cors,
            &[
                ("origin", b"https://x.com"),
                ("access-control-request-method", b"QUERY"),
                ("access-control-request-headers", b"X-Anything, Y"),
            ],
        );
        assert_eq!(
            answer,
            (
                200,
                expected(&[
                    ("vary", VARY_ALL.as_bytes()),
                    ("access-control-allow-origin", b"*"),
                    (
                        "access-control-allow-methods",
                        b"DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY",
                    ),
                    ("access-control-max-age", b"600"),
                    ("access-control-allow-headers", b"X-Anything, Y"),
                    ("content-type", TEXT.as_bytes()),
                ]),
                Bytes::from_static(b"OK"),
            )
        );
    }

    #[test]
    fn test_wildcard_preflight_with_credentials_echoes_origin() {
        let cors = cors(CorsConfig {
            allow_methods: strings(&["*"]),
            allow_headers: strings(&["*"]),
            allow_credentials: true,
            max_age: 42,
            ..origins(&["*"])
        });
        let answer = preflight(
            &cors,
            &[
                ("origin", b"https://x.com"),
                ("access-control-request-method", b"DELETE"),
            ],
        );
        assert_eq!(
            answer,
            (
                200,
                expected(&[
                    ("vary", VARY_ALL.as_bytes()),
                    (
                        "access-control-allow-methods",
                        b"DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY",
                    ),
                    ("access-control-max-age", b"42"),
                    ("access-control-allow-credentials", b"true"),
                    ("access-control-allow-origin", b"https://x.com"),
                    ("content-type", TEXT.as_bytes()),
                ]),
                Bytes::from_static(b"OK"),
            )
        );
    }

    #[test]
    fn test_private_network_preflight_needs_opt_in() {
        let request: &[(&str, &[u8])] = &[
            ("origin", b"https://x.com"),
            ("access-control-request-method", b"GET"),
            ("access-control-request-private-network", b"true"),
        ];
        let mut policy = vec![
            ("vary", VARY_ALL.as_bytes()),
            ("access-control-allow-origin", &b"*"[..]),
            ("access-control-allow-methods", b"GET"),
            ("access-control-max-age", b"600"),
            ("access-control-allow-headers", SAFELISTED.as_bytes()),
            ("content-type", TEXT.as_bytes()),
        ];
        assert_eq!(
            preflight(&cors(origins(&["*"])), request),
            (
                400,
                expected(&policy),
                Bytes::from_static(b"Disallowed CORS private-network"),
            )
        );

        let opted_in = cors(CorsConfig {
            allow_private_network: true,
            ..origins(&["*"])
        });
        policy.push(("access-control-allow-private-network", b"true"));
        assert_eq!(
            preflight(&opted_in, request),
            (200, expected(&policy), Bytes::from_static(b"OK"))
        );
    }

    #[test]
    fn test_regex_origin_must_match_whole_origin() {
        let cors = cors(CorsConfig {
            allow_origin_regex: Some(r"https://.*\.example\.org".into()),
            ..CorsConfig::default()
        });
        let ask = |origin: &[u8]| {
            let (status, headers, _) = preflight(
                &cors,
                &[
                    ("origin", origin),
                    ("access-control-request-method", b"GET"),
                ],
            );
            let echoed = headers
                .into_iter()
                .find(|(name, _)| name == "access-control-allow-origin")
                .map(|(_, value)| value);
            (status, echoed)
        };
        assert_eq!(
            ask(b"https://api.example.org"),
            (200, Some(b"https://api.example.org".to_vec()))
        );
        assert_eq!(ask(b"https://api.example.org.evil.com"), (400, None));
        assert_eq!(ask(b"evil https://api.example.org"), (400, None));
    }

    #[test]
    fn test_only_options_with_origin_and_request_method_is_a_preflight() {
        let cors = cors(origins(&["*"]));
        let full = headers(&[
            ("origin", b"https://a.com"),
            ("access-control-request-method", b"GET"),
        ]);
        assert!(cors.preflight(&Method::GET, &full).is_none());
        assert!(cors
            .preflight(&Method::OPTIONS, &headers(&[("origin", b"https://a.com")]))
            .is_none());
        assert!(cors
            .preflight(
                &Method::OPTIONS,
                &headers(&[("access-control-request-method", b"GET")])
            )
            .is_none());
        assert!(cors.preflight(&Method::OPTIONS, &full).is_some());
    }

    #[test]
    fn test_preflight_lists_headers_sorted_and_methods_as_given() {
        let cors = cors(CorsConfig {
            allow_methods: strings(&["POST", "GET", "POST"]),
            allow_headers: strings(&["x-b", "X-A", "content-type", "Content-Type"]),
            ..origins(&["https://a.com"])
        });
        let (status, headers, _) = preflight(
            &cors,
            &[
                ("origin", b"https://a.com"),
                ("access-control-request-method", b"GET"),
            ],
        );
        assert_eq!(status, 200);
        let listed = format!("{SAFELISTED}, X-A, content-type, x-b");
        assert!(headers.contains(&("access-control-allow-headers".into(), listed.into_bytes())));
        assert!(headers.contains(&(
            "access-control-allow-methods".into(),
            b"POST, GET, POST".to_vec()
        )));
    }

    #[test]
    fn test_listed_origin_is_echoed_with_credentials_and_exposed_headers() {
        let cors = cors(CorsConfig {
            expose_headers: strings(&["X-Total", "X-Page"]),
            allow_credentials: true,
            ..origins(&["https://a.com", "https://b.com"])
        });
        assert_eq!(
            simple(
                &cors,
                &[("origin", b"https://b.com")],
                &[("content-type", TEXT.as_bytes())]
            ),
            expected(&[
                ("content-type", TEXT.as_bytes()),
                ("access-control-allow-credentials", b"true"),
                ("access-control-expose-headers", b"X-Total, X-Page"),
                ("access-control-allow-origin", b"https://b.com"),
                ("vary", b"Origin"),
            ])
        );
    }

    #[test]
    fn test_unlisted_origin_gets_no_allow_origin_not_the_whole_list() {
        let cors = cors(CorsConfig {
            expose_headers: strings(&["X-Total"]),
            allow_credentials: true,
            ..origins(&["https://a.com", "https://b.com"])
        });
        assert_eq!(
            simple(&cors, &[("origin", b"https://evil.com")], &[]),
            expected(&[
                ("access-control-allow-credentials", b"true"),
                ("access-control-expose-headers", b"X-Total"),
                ("vary", b"Origin"),
            ])
        );
    }

    #[test]
    fn test_wildcard_without_credentials_answers_star_even_with_cookies() {
        let cors = cors(origins(&["*"]));
        let want = expected(&[("access-control-allow-origin", b"*"), ("vary", b"Origin")]);
        assert_eq!(simple(&cors, &[("origin", b"https://x.com")], &[]), want);
        assert_eq!(
            simple(
                &cors,
                &[("origin", b"https://x.com"), ("cookie", b"a=b")],
                &[]
            ),
            want
        );
    }

    #[test]
    fn test_wildcard_with_credentials_echoes_origin() {
        let cors = cors(CorsConfig {
            allow_credentials: true,
            ..origins(&["*"])
        });
        assert_eq!(
            simple(&cors, &[("origin", b"https://x.com")], &[]),
            expected(&[
                ("access-control-allow-origin", b"https://x.com"),
                ("access-control-allow-credentials", b"true"),
                ("vary", b"Origin"),
            ])
        );
    }

    #[test]
    fn test_request_without_origin_only_gets_vary() {
        let cors = cors(CorsConfig {
            allow_credentials: true,
            expose_headers: strings(&["X-Total"]),
            ..origins(&["*"])
        });
        assert_eq!(simple(&cors, &[], &[]), expected(&[("vary", b"Origin")]));
    }

    #[test]
    fn test_vary_merges_with_existing_values() {
        let cors = cors(origins(&["https://a.com"]));
        assert_eq!(
            simple(
                &cors,
                &[("origin", b"https://a.com")],
                &[("vary", b"Accept-Encoding")]
            ),
            expected(&[
                ("vary", b"Accept-Encoding, Origin"),
                ("access-control-allow-origin", b"https://a.com"),
            ])
        );
        assert_eq!(
            simple(
                &cors,
                &[],
                &[("vary", b"Accept-Encoding"), ("vary", b"Cookie")]
            ),
            expected(&[("vary", b"Accept-Encoding, Cookie, Origin")])
        );
    }

    #[test]
    fn test_simple_regex_behaves_like_python_fullmatch() {
        let cors = cors(CorsConfig {
            allow_origin_regex: Some(r"https://a\.com|https://ab\.com".into()),
            ..CorsConfig::default()
        });
        assert_eq!(
            simple(&cors, &[("origin", b"https://ab.com")], &[]),
            expected(&[
                ("access-control-allow-origin", b"https://ab.com"),
                ("vary", b"Origin"),
            ])
        );
        assert_eq!(
            simple(&cors, &[("origin", b"https://a.com.evil")], &[]),
            expected(&[("vary", b"Origin")])
        );
    }

    #[test]
    fn test_bad_configuration_is_an_error() {
        let regex = |pattern: &str| {
            Cors::new(CorsConfig {
                allow_origin_regex: Some(pattern.into()),
                ..CorsConfig::default()
            })
        };
        assert!(regex("https://(").is_err());
        // Would otherwise become `^(?:a)|(b)$`, matching any string ending in b.
        assert!(regex("a)|(b").is_err());
        assert!(Cors::new(CorsConfig {
            expose_headers: strings(&["X-A\r\nX-Injected: 1"]),
            ..CorsConfig::default()
        })
        .is_err());
        assert!(Cors::new(CorsConfig {
            allow_headers: strings(&["X-\u{263a}"]),
            ..CorsConfig::default()
        })
        .is_err());
    }

    #[test]
    fn test_non_ascii_header_bytes_are_read_as_latin1() {
        let listed = cors(CorsConfig {
            allow_headers: strings(&["X-\u{c9}"]),
            expose_headers: strings(&["X-\u{c9}"]),
            ..origins(&["https://\u{e9}.com"])
        });
        // Latin-1 bytes match, UTF-8 bytes of the same text do not: as in Starlette.
        assert_eq!(
            simple(&listed, &[("origin", b"https://\xe9.com")], &[]),
            expected(&[
                ("access-control-allow-origin", b"https://\xe9.com"),
                ("access-control-expose-headers", b"X-\xc9"),
                ("vary", b"Origin"),
            ])
        );
        assert_eq!(
            simple(&listed, &[("origin", "https://\u{e9}.com".as_bytes())], &[]),
            expected(&[
                ("access-control-expose-headers", b"X-\xc9"),
                ("vary", b"Origin")
            ])
        );
        let (status, _, _) = preflight(
            &listed,
            &[
                ("origin", b"https://\xe9.com"),
                ("access-control-request-method", b"G\xffT"),
                ("access-control-request-headers", b"x-\xc9, x-\xe9"),
            ],
        );
        assert_eq!(status, 400);

        let any = cors(CorsConfig {
            allow_credentials: true,
            ..origins(&["*"])
        });
        assert_eq!(
            simple(&any, &[("origin", b"https://\xff.com")], &[]),
            expected(&[
                ("access-control-allow-origin", b"https://\xff.com"),
                ("access-control-allow-credentials", b"true"),
                ("vary", b"Origin"),
            ])
        );
    }
}
