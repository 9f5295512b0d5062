//! The benchmark's ceiling: hyper with no Python in it, answering the apps' routes that
//! need no framework with the same bodies and headers: `GET /plaintext`, `GET /sync` and
//! `GET /async` (the same answer), `GET /users/{id}`, and `POST /users`, whose body is
//! collected and parsed by serde_json into `User { name, age }` and answered as the apps
//! answer it (`{"name":"a","age":1}`; a body that is not such a user gets a 422 with a
//! JSON `detail`). Anything else is a 404, so the harness skips it.
//!
//!     bare_hyper 8000

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, VARY};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use serde::{Deserialize, Serialize};

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
                    if request.method() == Method::POST && request.uri().path() == "/users" {
                        return Ok::<_, Infallible>(create_user(request.into_body()).await);
                    }
                    Ok(answer(request.uri().path()))
                });
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// The apps' `User(BaseModel)`: the fields in their order, so that it serializes as the apps
/// answer it.
#[derive(Deserialize, Serialize)]
struct User {
    name: String,
    age: i64,
}

/// `POST /users`: the whole body, parsed into a `User` and written back as JSON.
async fn create_user(body: Incoming) -> Response<Full<Bytes>> {
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return respond(StatusCode::BAD_REQUEST, JSON, error_body("unreadable body")),
    };
    match serde_json::from_slice::<User>(&bytes) {
        Ok(user) => {
            let json = serde_json::to_vec(&user).expect("a User serializes");
            respond(StatusCode::OK, JSON, Bytes::from(json))
        }
        Err(e) => respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            JSON,
            error_body(&e.to_string()),
        ),
    }
}

fn error_body(detail: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "detail": detail }).to_string())
}

fn answer(path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/plaintext" => (StatusCode::OK, TEXT, Bytes::from_static(b"Hello, World!")),
        "/sync" | "/async" => (
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
    respond(status, content_type, body)
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(VARY, HeaderValue::from_static("Origin"));
    response
}
