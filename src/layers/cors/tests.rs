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
fn test_regex_takes_lookarounds_and_backreferences_as_python_does() {
    let allowed = |pattern: &str, origin: &str| {
        let cors = cors(CorsConfig {
            allow_origin_regex: Some(pattern.into()),
            ..CorsConfig::default()
        });
        simple(&cors, &[("origin", origin.as_bytes())], &[])
            .iter()
            .any(|(name, _)| name == "access-control-allow-origin")
    };
    let lookahead = r"https://(?!admin\.)[a-z]+\.example\.org";
    assert!(allowed(lookahead, "https://shop.example.org"));
    assert!(!allowed(lookahead, "https://admin.example.org"));
    let lookbehind = r"https://[a-z.]+(?<!\.evil)\.com";
    assert!(allowed(lookbehind, "https://good.com"));
    assert!(!allowed(lookbehind, "https://x.evil.com"));
    let backreference = r"https://(\w+)\.\1\.example\.org";
    assert!(allowed(backreference, "https://eu.eu.example.org"));
    assert!(!allowed(backreference, "https://eu.us.example.org"));
    // Anchored as a whole, whatever the pattern holds.
    assert!(!allowed(lookahead, "https://shop.example.org.evil.com"));
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
