//! The benchmark's ceiling: hyper with no Python in it, answering the apps' GET routes
//! that need no framework (`/plaintext`, `/sync`, `/users/{id}`) with the same bodies and
//! headers; anything else is a 404, so the harness skips it.
//!
//!     bare_hyper 8000

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, VARY};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the port is free");
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .keep_alive(true);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            tokio::task::spawn_local(async move {
                let service = service_fn(|request: Request<Incoming>| async move {
                    Ok::<_, Infallible>(answer(request.uri().path()))
                });
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

fn answer(path: &str) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    const JSON: &str = "application/json";
    let (status, content_type, body) = match path {
        "/plaintext" => (StatusCode::OK, TEXT, Bytes::from_static(b"Hello, World!")),
        "/sync" => (
            StatusCode::OK,
            JSON,
            Bytes::from_static(br#"{"message":"Hello, World!"}"#),
        ),
        _ => match path.strip_prefix("/users/").map(str::parse::<i64>) {
            Some(Ok(id)) => (
                StatusCode::OK,
                JSON,
                Bytes::from(format!(r#"{{"id":{id},"name":"user"}}"#)),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                JSON,
                Bytes::from_static(br#"{"detail":"Not Found"}"#),
            ),
        },
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(VARY, HeaderValue::from_static("Origin"));
    response
}
