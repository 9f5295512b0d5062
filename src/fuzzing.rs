//! What the fuzz targets in `fuzz/` drive: each function takes the fuzzer's bytes, feeds
//! them to one parser of the engine, and checks what must hold of its answer (panicking,
//! which the fuzzer reports, when it does not). The unit tests below replay every input
//! kept in `fuzz/regressions/<target>/`, so a crash once found stays fixed in `make test`.
//!
//! Compiled for `cargo fuzz` (which sets `--cfg fuzzing`) and for the crate's tests only.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Version};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::http::forwarded::Proxies;
use crate::http::{declares_too_large, decoded_path, framing_error, Peers, RequestData};
use crate::layers::{Cors, CorsConfig};
use crate::router::{Match, Router};

/// The fuzzer's bytes as lines of text (invalid UTF-8 replaced).
fn lines(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split('\n')
        .map(str::to_owned)
        .collect()
}

/// A request target (`/path?query`) as hyper hands it over: its path decoded as routed,
/// its query parsed as `parse_qsl` does. Percent-encoding any text and decoding it gives
/// the text back; parsed pairs serialised and parsed again are the same pairs.
pub fn request_target(data: &[u8]) {
    let Ok(request) = Request::builder().uri(data).body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let path = decoded_path(parts.uri.path());
    if !parts.uri.path().contains('%') {
        assert_eq!(path, parts.uri.path());
    }
    let peers = Peers {
        client: None,
        local: None,
        secure: false,
    };
    let path = Some(path.into_owned());
    let request = RequestData::from_parts(parts, path, Vec::new(), Bytes::new(), peers, "http");
    let pairs = request.query();
    let reserialised = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    let again: Vec<(String, String)> = form_urlencoded::parse(reserialised.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // An empty query and one empty pair (`?=`) serialise alike; anything else round-trips.
    if !(pairs.len() == 1 && pairs[0].0.is_empty() && pairs[0].1.is_empty()) {
        assert_eq!(pairs, again.as_slice());
    }
    if let Some((name, _)) = pairs.last() {
        let last = pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
        assert_eq!(request.query_last(name), last.map(String::as_str));
    }
    let text = String::from_utf8_lossy(data);
    let encoded = format!("/{}", utf8_percent_encode(&text, NON_ALPHANUMERIC));
    assert_eq!(decoded_path(&encoded)[1..], *text);
}

/// A route table built from the first lines (path templates, as users write them), then
/// asked for the other lines. Registering never panics; a static template that registered
/// is found at its own path with no parameters (if it starts with `/`, as every request
/// path does: `@app.get("")` registers, and is never found, in FastAPI too), and every captured value is a piece of
/// the path asked for.
pub fn router(data: &[u8]) {
    let lines = lines(data);
    let (templates, paths) = lines.split_at(lines.len().min(8));
    let mut router: Router<usize> = Router::default();
    let mut statics = Vec::new();
    for (i, template) in templates.iter().enumerate() {
        let method = if i % 2 == 0 {
            Method::GET
        } else {
            Method::POST
        };
        if router.insert(template, &[method.clone()], i).is_ok()
            && template.starts_with('/')
            && !template.contains(['{', '}', '*', ':'])
        {
            statics.push((template.as_str(), method));
        }
    }
    for (path, method) in &statics {
        match router.find(method, path) {
            Match::Found { params, .. } => assert!(params.is_empty(), "{path:?}"),
            _ => panic!("registered static route {path:?} not found"),
        }
    }
    for path in paths {
        for method in [Method::GET, Method::HEAD, Method::POST, Method::DELETE] {
            if let Match::Found { params, .. } = router.find(&method, path) {
                for (_, value) in params {
                    assert!(path.contains(value), "{value:?} is not in {path:?}");
                }
            }
        }
        router.has_path(path);
    }
}

/// Request headers (`name: value` lines) checked for what RFC 9112 asks of framing. An
/// HTTP/1.1 request with no framing error names exactly one `Host`. Proxy headers from a
/// peer that is not a trusted proxy change nothing; from a trusted one, they are read
/// without a panic, whatever they say.
pub fn headers(data: &[u8]) {
    let headers = header_map(data);
    for version in [Version::HTTP_10, Version::HTTP_11, Version::HTTP_2] {
        let verdict = framing_error(version, &headers);
        if version == Version::HTTP_11 && verdict.is_none() {
            assert_eq!(headers.get_all(http::header::HOST).iter().count(), 1);
        }
    }
    for limit in [0, 1, 1 << 20, usize::MAX] {
        declares_too_large(&headers, limit);
    }
    let peer = Some(std::net::SocketAddr::from(([10, 0, 0, 1], 4000)));
    for (spec, trusted) in [("127.0.0.1", false), ("10.0.0.0/8,::1", true), ("*", true)] {
        let proxies = Proxies::parse(spec).expect("a valid list");
        let mut told = headers.clone();
        let mut peers = Peers {
            client: peer,
            local: None,
            secure: false,
        };
        proxies.apply(&mut told, &mut peers);
        if !trusted {
            assert_eq!((peers.client, peers.secure), (peer, false));
            assert_eq!(told, headers);
        }
    }
}

fn header_map(data: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    headers
}

/// A CORS policy (the first line a regex, the next ones allowed origins) and a request
/// (the last lines: origin, method, requested headers). Compiling or answering never
/// panics; an origin listed exactly (sent as latin-1, as Starlette reads headers) is
/// echoed, or `*` answered for `allow_origins=["*"]`.
pub fn cors(data: &[u8]) {
    let lines = lines(data);
    let [regex, rest @ ..] = lines.as_slice() else {
        return;
    };
    let (origins, request) = rest.split_at(rest.len().saturating_sub(3));
    let config = CorsConfig {
        allow_origins: origins.to_vec(),
        allow_origin_regex: (!regex.is_empty()).then(|| regex.clone()),
        allow_methods: vec!["*".to_owned()],
        allow_headers: origins.iter().take(1).cloned().collect(),
        allow_credentials: regex.len() % 2 == 1,
        ..CorsConfig::default()
    };
    let Ok(cors) = Cors::new(config) else {
        return;
    };
    let [origin, method, requested] = request else {
        return;
    };
    // Starlette reads header bytes as latin-1, so that is how a listed origin is sent.
    let latin1: Option<Vec<u8>> = origin.chars().map(|c| u8::try_from(c).ok()).collect();
    let Some(Ok(origin_value)) = latin1.as_deref().map(HeaderValue::from_bytes) else {
        return;
    };
    let mut response = HeaderMap::new();
    cors.apply(Some(&origin_value), &mut response);
    if origins.iter().any(|o| o == origin) {
        let echoed = response.get(http::header::ACCESS_CONTROL_ALLOW_ORIGIN);
        assert!(
            echoed == Some(&origin_value) || echoed.is_some_and(|v| v == "*"),
            "{origin:?} is listed but {echoed:?} was answered"
        );
    }
    let mut request_headers = HeaderMap::new();
    request_headers.insert(http::header::ORIGIN, origin_value);
    for (name, value) in [
        (http::header::ACCESS_CONTROL_REQUEST_METHOD, method),
        (http::header::ACCESS_CONTROL_REQUEST_HEADERS, requested),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            request_headers.insert(name, value);
        }
    }
    if let Some((status, _, _)) = cors.preflight(&Method::OPTIONS, &request_headers) {
        assert!(status == 200 || status == 400, "{status}");
    }
}

/// Python values built from a fuzzed description, written by the engine's JSON writer.
/// For the builtin types `json.dumps` knows the same way as `jsonable_encoder`, the writer
/// must give exactly `json.dumps(v, ensure_ascii=False, allow_nan=False,
/// separators=(",", ":"))`, and fail where it fails (NaN, infinities); nesting past the
/// writer's depth limit is a `RecursionError`, never a crash. The interpreter's own memory
/// lives as long as the process, so `make fuzz` runs this target without LeakSanitizer; a
/// reference the writer leaks shows in the value's reference count instead.
pub fn json_writer(data: &[u8]) {
    pyo3::prepare_freethreaded_python();
    Python::with_gil(|py| {
        let (value, depth) = build_value(py, data).expect("building the value");
        let value = value.bind(py);
        let references = value.get_refcnt();
        let written = crate::json::dumps(value);
        assert_eq!(
            value.get_refcnt(),
            references,
            "the writer leaked a reference"
        );
        let json = py.import("json").expect("json");
        let kwargs = PyDict::new(py);
        kwargs.set_item("ensure_ascii", false).unwrap();
        kwargs.set_item("allow_nan", false).unwrap();
        kwargs
            .set_item("separators", PyTuple::new(py, [",", ":"]).unwrap())
            .unwrap();
        let expected = json
            .call_method("dumps", (value,), Some(&kwargs))
            .map(|s| s.extract::<String>().unwrap().into_bytes());
        match (written, expected) {
            (Ok(ours), Ok(theirs)) => assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            ),
            (Err(ours), Ok(_)) => assert!(
                depth > 255 && ours.is_instance_of::<pyo3::exceptions::PyRecursionError>(py),
                "the writer failed where json.dumps did not: {ours}"
            ),
            (Ok(ours), Err(theirs)) => panic!(
                "json.dumps failed ({theirs}) where the writer gave {:?}",
                String::from_utf8_lossy(&ours)
            ),
            (Err(_), Err(_)) => {}
        }
    });
}

/// A stack machine over the bytes: each byte pushes a scalar or folds the top of the
/// stack into a container; the result is the list of what is left, and its depth.
fn build_value(py: Python<'_>, data: &[u8]) -> PyResult<(Py<PyAny>, usize)> {
    let mut stack: Vec<(PyObject, usize)> = Vec::new();
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        let item: (PyObject, usize) = match op % 12 {
            0 => (py.None(), 0),
            1 => (
                (arg % 2 == 1)
                    .into_pyobject(py)?
                    .to_owned()
                    .into_any()
                    .unbind(),
                0,
            ),
            2 => ((arg as i64 - 128).into_pyobject(py)?.into_any().unbind(), 0),
            3 => {
                let big = i128::from(arg) << 100 | 12345;
                (big.into_pyobject(py)?.into_any().unbind(), 0)
            }
            4 => {
                let floats = [0.0, -0.0, 1.5, 1e300, 1e-300, f64::NAN, f64::INFINITY, 1e16];
                let f = floats[usize::from(arg) % floats.len()] * f64::from(arg);
                (f.into_pyobject(py)?.into_any().unbind(), 0)
            }
            5 => {
                let texts = ["", "a", "\"", "\\", "\n\t", "\u{7f}", "é", "😀", "\u{2028}"];
                let text: String = texts[usize::from(arg) % texts.len()]
                    .chars()
                    .chain(char::from_u32(u32::from(arg) * 97))
                    .collect();
                (text.into_pyobject(py)?.into_any().unbind(), 0)
            }
            6 | 7 | 8 => {
                let n = usize::from(arg % 4).min(stack.len());
                let items = stack.split_off(stack.len() - n);
                let depth = items.iter().map(|(_, d)| d + 1).max().unwrap_or(1);
                let objects = items.into_iter().map(|(o, _)| o);
                let container = if op % 12 == 8 {
                    PyTuple::new(py, objects)?.into_any().unbind()
                } else {
                    PyList::new(py, objects)?.into_any().unbind()
                };
                (container, depth)
            }
            9 | 10 => {
                let n = usize::from(arg % 4).min(stack.len());
                let items = stack.split_off(stack.len() - n);
                let depth = items.iter().map(|(_, d)| d + 1).max().unwrap_or(1);
                let dict = PyDict::new(py);
                for (i, (value, _)) in items.into_iter().enumerate() {
                    let key = match (op % 12, i % 3) {
                        (9, _) | (_, 0) => format!("k{i}{arg}").into_pyobject(py)?.into_any(),
                        (_, 1) => (i as i64).into_pyobject(py)?.into_any(),
                        _ => py.None().into_bound(py),
                    };
                    dict.set_item(key, value)?;
                }
                (dict.into_any().unbind(), depth)
            }
            _ => {
                // Deep nesting: a list holding the top `arg * 4` times over.
                let (mut value, mut depth) = stack.pop().unwrap_or((py.None(), 0));
                for _ in 0..usize::from(arg) * 4 {
                    value = PyList::new(py, [value])?.into_any().unbind();
                    depth += 1;
                }
                (value, depth)
            }
        };
        stack.push(item);
    }
    let depth = stack.iter().map(|(_, d)| d + 1).max().unwrap_or(1);
    let objects = stack.into_iter().map(|(o, _)| o);
    Ok((PyList::new(py, objects)?.into_any().unbind(), depth))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Runs `target` on every input kept for it in `fuzz/regressions/<name>/`.
    fn replay(name: &str, target: fn(&[u8])) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions")
            .join(name);
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).expect("the regression inputs") {
            let path = entry.unwrap().path();
            target(&std::fs::read(&path).unwrap());
            inputs += 1;
        }
        assert!(inputs > 0, "no regression inputs in {}", dir.display());
    }

    #[test]
    fn request_target_regressions() {
        replay("request_target", super::request_target);
    }

    #[test]
    fn router_regressions() {
        replay("router", super::router);
    }

    #[test]
    fn headers_regressions() {
        replay("headers", super::headers);
    }

    #[test]
    fn cors_regressions() {
        replay("cors", super::cors);
    }

    #[test]
    fn json_writer_regressions() {
        replay("json_writer", super::json_writer);
    }
}
