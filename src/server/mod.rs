//! The HTTP server of one worker: a current-thread tokio runtime owns the
//! listener and every connection, and steps the asyncio event loop on the same
//! thread; sync routes run inline when quick, else on the sync pool.
//! SIGINT/SIGTERM (Ctrl+C/Ctrl+Break on Windows; or `Server.shutdown()`, or the worker's end
//! of life in `gate`) stop accepting, let in-flight requests finish within a grace period,
//! then `serve` returns.

mod listener;
mod memory;
mod metrics;
mod timer;
mod tls;
mod wake_floor;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::{http1, http2};
use hyper::service::{service_fn, HttpService};
use hyper_util::rt::{TokioExecutor, TokioIo};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use tokio::sync::{watch, Notify};

use crate::app::{App, Engine};
use crate::http::access_log::{AccessLog, Sink as AccessSink};
use crate::http::gate::{Gate, Recycled};
use crate::http::reasons::Phrases;
use crate::http::{self as h, Peers, Protocols};
use crate::runtime::{self, EventLoop, InFlight, SyncPool};
use crate::ws::{Upgrader, WebSockets, WsLimits};
use listener::{Listening, Opening, Stream};
pub use tls::Tls;

struct Limits {
    max_in_flight: usize,
    limit_concurrency: Option<usize>,
    max_requests: Option<u64>,
    max_rss: Option<u64>,
    max_head_size: Option<usize>,
    sync_threads: usize,
    protocols: Protocols,
    graceful_timeout: Duration,
    header_timeout: Duration,
    body_timeout: Duration,
    websockets: WsLimits,
}

/// `ignyx._core.Server`: binds at construction, serves in `serve()`.
#[pyclass(module = "ignyx._core", frozen)]
pub struct Server {
    listener: Mutex<Option<Listening>>,
    local: Option<SocketAddr>,
    address: String,
    /// The Unix socket file this server created (removed when it stops).
    socket_file: Option<std::path::PathBuf>,
    engine: Arc<Engine>,
    stop: Arc<Notify>,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    proxies: Option<h::forwarded::Proxies>,
    /// `"stderr"` or a Python logger, and whether lines are JSON.
    access_log: Option<(Py<PyAny>, bool)>,
    /// Where scrapes of this worker's metrics come, when it counts them, and the label
    /// naming the worker under a supervisor.
    metrics: Mutex<Option<(Listening, String)>>,
    metrics_file: Option<std::path::PathBuf>,
    /// The name every request's client gets instead of its address (a TestClient's).
    client_name: Option<Arc<h::NamedClient>>,
    /// Whether responses carry `Server: ignyx` (uvicorn's `server_header`).
    server_header: bool,
}

#[pymethods]
impl Server {
    /// Listens on `host:port`, or on the Unix socket `uds`, or on the inherited listening
    /// socket `fd`; the first of `fd`, `uds` given wins over `host:port`.
    #[new]
    #[pyo3(signature = (app, host = "127.0.0.1", port = 8000, *, uds = None, fd = None,
        backlog = 2048, max_in_flight = 2048, sync_threads = 40,
        graceful_timeout = 30.0, header_timeout = 30.0, body_timeout = 60.0,
        limit_concurrency = None, max_requests = None, max_rss = None, max_head_size = None,
        ws_max_size = 16 * 1024 * 1024, ws_ping_interval = Some(20.0), ws_ping_timeout = 20.0,
        http = "auto", tls = None, proxy_headers = false, forwarded_allow_ips = "127.0.0.1,::1",
        access_log = None, access_log_format = "text",
        metrics_port = None, metrics_host = "127.0.0.1", metrics_uds = None, metrics_worker = None,
        client_name = None, server_header = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        mut app: PyRefMut<'_, App>,
        host: &str,
        port: u16,
        uds: Option<std::path::PathBuf>,
        fd: Option<i32>,
        backlog: i32,
        max_in_flight: usize,
        sync_threads: usize,
        graceful_timeout: f64,
        header_timeout: f64,
        body_timeout: f64,
        limit_concurrency: Option<usize>,
        max_requests: Option<u64>,
        max_rss: Option<u64>,
        max_head_size: Option<usize>,
        ws_max_size: usize,
        ws_ping_interval: Option<f64>,
        ws_ping_timeout: f64,
        http: &str,
        tls: Option<PyRef<'_, Tls>>,
        proxy_headers: bool,
        forwarded_allow_ips: &str,
        access_log: Option<Py<PyAny>>,
        access_log_format: &str,
        metrics_port: Option<u16>,
        metrics_host: &str,
        metrics_uds: Option<std::path::PathBuf>,
        metrics_worker: Option<u32>,
        client_name: Option<(String, u16)>,
        server_header: bool,
    ) -> PyResult<Self> {
        let json = match access_log_format {
            "text" => false,
            "json" => true,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "access_log_format {other:?}: expected text or json"
                )))
            }
        };
        let protocols = Protocols::parse(http).map_err(pyo3::exceptions::PyValueError::new_err)?;
        let proxies = match proxy_headers {
            true => Some(
                h::forwarded::Proxies::parse(forwarded_allow_ips)
                    .map_err(pyo3::exceptions::PyValueError::new_err)?,
            ),
            false => None,
        };
        listener::raise_descriptor_limit();
        let (bound, address) = listener::open(host, port, uds.as_deref(), fd, backlog)
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        let local = bound
            .local_addr()
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        let metrics = match (metrics_port, &metrics_uds) {
            (None, None) => None,
            (port, uds) => {
                let port = port.unwrap_or(0);
                let (socket, _) = listener::open(metrics_host, port, uds.as_deref(), None, 128)
                    .map_err(|e| PyOSError::new_err(format!("metrics: {e}")))?;
                let label = metrics_worker.map_or_else(String::new, |n| format!(",worker=\"{n}\""));
                Some((socket, label))
            }
        };
        let metrics_file = metrics
            .as_ref()
            .and_then(|(socket, _)| socket.created_path());
        let address = match tls {
            Some(_) => address.replacen("http://", "https://", 1),
            None => address,
        };
        Ok(Self {
            address,
            socket_file: bound.created_path(),
            listener: Mutex::new(Some(bound)),
            local,
            engine: Arc::new(app.build()?),
            stop: Arc::new(Notify::new()),
            limits: Limits {
                max_in_flight: max_in_flight.max(1),
                limit_concurrency,
                max_requests,
                max_rss,
                // hyper's own floor for its read buffer.
                max_head_size: max_head_size.map(|n| n.max(8192)),
                sync_threads: sync_threads.max(1),
                protocols,
                graceful_timeout: Duration::from_secs_f64(graceful_timeout.max(0.0)),
                header_timeout: Duration::from_secs_f64(header_timeout.max(0.001)),
                body_timeout: Duration::from_secs_f64(body_timeout.max(0.001)),
                websockets: WsLimits {
                    max_size: ws_max_size.max(1),
                    ping_interval: ws_ping_interval
                        .filter(|&seconds| seconds > 0.0)
                        .map(Duration::from_secs_f64),
                    ping_timeout: Duration::from_secs_f64(ws_ping_timeout.max(0.001)),
                },
            },
            tls: tls.map(|tls| tls.acceptor(protocols)),
            proxies,
            access_log: access_log.map(|sink| (sink, json)),
            metrics: Mutex::new(metrics),
            metrics_file,
            client_name: client_name.map(|(host, port)| Arc::new(h::NamedClient { host, port })),
            server_header,
        })
    }

    /// The address listened on (`None` for a Unix socket).
    #[getter]
    fn host(&self) -> Option<String> {
        self.local.map(|local| local.ip().to_string())
    }

    #[getter]
    fn port(&self) -> Option<u16> {
        self.local.map(|local| local.port())
    }

    /// Where it listens, as a URL to print (`http://127.0.0.1:8000`, `unix:/run/app.sock`).
    #[getter]
    fn address(&self) -> &str {
        &self.address
    }

    /// Serves until `shutdown()` or, with `handle_signals`, SIGINT/SIGTERM, stepping
    /// `event_loop` (an `ignyx._runtime.EngineLoop` begun on this thread) between
    /// connections. The GIL is released except while Python runs. Returns why the server
    /// stopped itself (`"max_requests"`, `"max_rss"`), or `None` when it was told to.
    #[pyo3(signature = (event_loop, handle_signals = false))]
    fn serve(
        &self,
        py: Python<'_>,
        event_loop: &Bound<'_, PyAny>,
        handle_signals: bool,
    ) -> PyResult<Option<&'static str>> {
        let listener = self
            .listener
            .lock()
            .ok()
            .and_then(|mut l| l.take())
            .ok_or_else(|| PyRuntimeError::new_err("this server has already served"))?;
        let engine_loop = event_loop;
        let event_loop = EventLoop::new(engine_loop)?;
        let pool = SyncPool::start(event_loop.sender().clone(), self.limits.sync_threads);
        // The loop's executor while serving (see `runtime::PoolThreads`).
        let threads = Py::new(py, runtime::PoolThreads::new(pool.clone()))?;
        engine_loop.call_method1("use_threads", (threads,))?;
        let websockets = Arc::new(WebSockets::new(self.limits.websockets));
        let upgrade = self.engine.websockets.clone().map(|routes| {
            Box::new(Upgrader {
                routes,
                to_loop: event_loop.sender().clone(),
                websockets: websockets.clone(),
                client_name: self.client_name.clone(),
            }) as Box<dyn h::Upgrade>
        });
        let stop = self.stop.clone();
        let gate = Gate::new(
            self.limits.limit_concurrency,
            self.limits.max_requests,
            stop.clone(),
        );
        let phrases = Arc::new(Phrases::of_python(py)?);
        let access_log = match &self.access_log {
            None => None,
            Some((sink, json)) => {
                let sink = match sink.bind(py).extract::<&str>() {
                    Ok("stderr") => AccessSink::Stderr,
                    _ => AccessSink::Logger(sink.clone_ref(py)),
                };
                let log = AccessLog::start(sink, *json, phrases.clone());
                Some(log.map_err(|e| PyOSError::new_err(e.to_string()))?)
            }
        };
        let metrics = self.metrics.lock().ok().and_then(|mut m| m.take());
        let counted = metrics
            .as_ref()
            .map(|_| Arc::new(h::metrics::Metrics::default()));
        let shared = Arc::new(h::Shared {
            engine: self.engine.http.clone(),
            pool: pool.clone(),
            event_loop: event_loop.clone(),
            in_flight: InFlight::new(self.limits.max_in_flight),
            body_timeout: self.limits.body_timeout,
            upgrade,
            closing: AtomicBool::new(false),
            gate: gate.checks_requests().then(|| gate.clone()),
            proxies: self.proxies.clone(),
            protocols: self.limits.protocols,
            access_log,
            metrics: counted.clone(),
            client_name: self.client_name.clone(),
            server_header: self
                .server_header
                .then(|| http::HeaderValue::from_static("ignyx")),
            phrases,
        });
        let result = py.allow_threads(|| {
            let previous = runtime::batch_current_thread();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                // A run of requests keeps the GIL (`runtime::gil`) until the thread idles.
                .on_thread_park(runtime::gil::release)
                .build()?;
            runtime.spawn(event_loop.clone().drive());
            // Due sooner than any connection timer (header reads, request bodies).
            let floor = self.limits.header_timeout.min(self.limits.body_timeout) / 2;
            runtime.spawn(wake_floor::hold(floor));
            if let Some(max_bytes) = self.limits.max_rss {
                runtime.spawn(memory::watch_rss(gate.clone(), max_bytes));
            }
            if let (Some((socket, extra)), Some(requests)) = (metrics, counted) {
                let lag = Arc::new(AtomicU64::new(0));
                runtime.spawn(metrics::measure_lag(
                    event_loop.sender().clone(),
                    lag.clone(),
                ));
                let sources = Arc::new(metrics::Sources {
                    requests,
                    pool: pool.clone(),
                    websockets: websockets.clone(),
                    lag,
                    extra,
                });
                runtime.spawn(async move {
                    if let Ok(listener) = socket.into_listener() {
                        metrics::serve(listener, sources).await;
                    }
                });
            }
            let served = runtime.block_on(run(
                listener,
                shared.clone(),
                &websockets,
                Stopping {
                    stop,
                    handle_signals,
                },
                &self.limits,
                self.tls.clone(),
            ));
            runtime::gil::release();
            drop(runtime);
            if let Some(log) = &shared.access_log {
                log.finish();
            }
            pool.stop();
            event_loop.drain();
            runtime::restore_current_thread(previous);
            served
        });
        for path in [&self.socket_file, &self.metrics_file]
            .into_iter()
            .flatten()
        {
            let _ = std::fs::remove_file(path);
        }
        result.map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(gate.recycled().map(Recycled::as_str))
    }

    /// Asks a running (or about to run) `serve` to stop gracefully; callable from any thread.
    fn shutdown(&self) {
        self.stop.notify_one();
    }
}

/// What ends the accept loop: `shutdown()` or the gate (the worker's end of life), both
/// through `stop`, or a signal.
struct Stopping {
    stop: Arc<Notify>,
    handle_signals: bool,
}

async fn run(
    listener: Listening,
    shared: Arc<h::Shared>,
    websockets: &WebSockets,
    stopping: Stopping,
    limits: &Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let listener = listener.into_listener()?;
    let timer = timer::ReusingTimer::default();
    let mut http1 = http1::Builder::new();
    http1
        .timer(timer.clone())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    if let Some(size) = limits.max_head_size {
        http1.max_buf_size(size);
    }
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2.timer(timer);
    // Each connection's task holds a receiver: at the first change, it finishes gracefully.
    let (stopping_tx, stopping_rx) = watch::channel(());
    let mut signals = Signals::new(stopping.handle_signals)?;
    if stopping.handle_signals {
        // A signal that came before this server's own handlers went to Python's, which
        // asks this server to stop (`shutdown`): run it now rather than at the next Python
        // the loop runs.
        Python::with_gil(|py| py.check_signals().map_err(|err| err.print(py))).ok();
    }
    let serve = Connections {
        builders: Arc::new(Builders { http1, http2 }),
        stopping: stopping_rx,
        shared: &shared,
        tls,
        header_timeout: limits.header_timeout,
    };

    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => serve.spawn(stream, Peers { client, local, secure: false }),
                Err(_) => {
                    // Out of descriptors or a reset before accept: back off briefly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stopping.stop.notified() => break,
            _ = signals.recv() => break,
        }
    }
    drop((listener, serve));
    // Open WebSockets close (1012) and their handlers hear it, on the loop this runtime keeps
    // stepping. A kept-alive HTTP/1.1 connection may have a request on its way: for a moment
    // every answer closes its connection (the client reconnects, to a server that accepts);
    // then idle connections close and the rest finish what they are doing. All within the
    // grace period.
    let websockets = websockets.close_all();
    let closing_down = async {
        shared.closing.store(true, Ordering::Relaxed);
        let lingered = tokio::time::Instant::now() + LINGER;
        while stopping_tx.receiver_count() > 0 && tokio::time::Instant::now() < lingered {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stopping_tx.send_replace(());
        tokio::join!(stopping_tx.closed(), websockets)
    };
    tokio::select! {
        _ = closing_down => {}
        _ = tokio::time::sleep(limits.graceful_timeout) => {}
    }
    Ok(())
}

/// How long a stopping server goes on answering requests on its open connections (each
/// answer closing its connection) before it closes the idle ones. Without it, a client that
/// sent its next request just as the server stopped would lose it.
const LINGER: Duration = Duration::from_secs(1);

/// Serves accepted connections, each in its own task, watched for a graceful shutdown; over
/// TLS, once the handshake is done (within the time a request head may take); by HTTP/1 or
/// HTTP/2 as the connection opens (`Stream::opening`).
/// One stream type and one service: each other kind would be another copy of hyper's
/// connection code, which made every request dearer (about 350 instructions).
struct Connections<'a> {
    builders: Arc<Builders>,
    /// Changes once, when the server stops: connections finish what they are doing and close.
    stopping: watch::Receiver<()>,
    shared: &'a Arc<h::Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    header_timeout: Duration,
}

impl Connections<'_> {
    /// One task type for every connection, TLS or not: a second would be another copy of
    /// the connection's polling code (and its inlining), paid by every request.
    fn spawn(&self, stream: Stream, mut peers: Peers) {
        let (shared, builders, mut stopping) = (
            self.shared.clone(),
            self.builders.clone(),
            self.stopping.clone(),
        );
        let (tls, timeout) = (self.tls.clone(), self.header_timeout);
        tokio::spawn(async move {
            let stream = match tls {
                None => stream,
                // Boxed: inline, the handshake's state (~1.9 KiB) would size every
                // connection's task, TLS or not.
                Some(tls) => {
                    match Box::pin(tokio::time::timeout(timeout, tls.accept(stream))).await {
                        Ok(Ok(stream)) => {
                            peers.secure = true;
                            Stream::Tls(Box::new(stream))
                        }
                        _ => return,
                    }
                }
            };
            // A client that has sent nothing yet waits here, outside hyper, for as long as
            // a request head may take; the server stopping lets it go, as it does an idle
            // connection.
            let opening = tokio::select! {
                biased;
                opening = tokio::time::timeout(timeout, stream.opening()) => opening,
                _ = stopping.changed() => return,
            };
            let service = service_fn(move |req| h::handle(shared.clone(), req, peers));
            let io = TokioIo::new(stream);
            match opening {
                Ok(Some(Opening::Http1)) => {
                    let connection = builders.http1.serve_connection(io, service);
                    until_stopped(connection.with_upgrades(), stopping).await
                }
                // Boxed: inline, an HTTP/2 connection's state would size every
                // connection's task.
                Ok(Some(Opening::Http2)) => {
                    let connection = builders.http2.serve_connection(io, service);
                    Box::pin(until_stopped(connection, stopping)).await
                }
                Ok(None) | Err(_) => {}
            }
        });
    }
}

/// Serves `connection` to its end; once the server stops, asks it to finish gracefully: an
/// idle one closes, a request in flight is answered (closing the connection after it).
/// `stopping` changes once, or goes with the server: either way, it is time.
async fn until_stopped<C: Graceful>(connection: C, mut stopping: watch::Receiver<()>) {
    let mut connection = std::pin::pin!(connection);
    // Polled once, to be woken by the change; after that only when the version it saw has
    // moved (an atomic load), not at every wake-up of the connection (a `select!` polled it
    // each time: ~250 instructions a request).
    let seen = stopping.clone();
    let mut stop = std::pin::pin!(stopping.changed());
    let mut waiting = false;
    let stopped = std::future::poll_fn(|cx| {
        if connection.as_mut().poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        if !waiting || seen.has_changed().unwrap_or(true) {
            waiting = true;
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
        }
        Poll::Pending
    })
    .await;
    if stopped {
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}

/// A hyper connection that can be asked to finish gracefully.
trait Graceful: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<S, B> Graceful for http1::UpgradeableConnection<TokioIo<Stream>, S>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::UpgradeableConnection::graceful_shutdown(self)
    }
}

impl<S, B> Graceful for http2::Connection<TokioIo<Stream>, S, TokioExecutor>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    TokioExecutor: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http2::Connection::graceful_shutdown(self)
    }
}

/// How connections are served, by the protocol they open with.
struct Builders {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

#[cfg(unix)]
struct Signals {
    inner: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

#[cfg(unix)]
impl Signals {
    fn new(enabled: bool) -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let inner = if enabled {
            Some((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        } else {
            None
        };
        Ok(Self { inner })
    }

    async fn recv(&mut self) {
        match &mut self.inner {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// Windows: Ctrl+C and Ctrl+Break stand for SIGINT and SIGTERM.
#[cfg(windows)]
struct Signals {
    inner: Option<(
        tokio::signal::windows::CtrlC,
        tokio::signal::windows::CtrlBreak,
    )>,
}

#[cfg(windows)]
impl Signals {
    fn new(enabled: bool) -> std::io::Result<Self> {
        use tokio::signal::windows::{ctrl_break, ctrl_c};
        let inner = if enabled {
            Some((ctrl_c()?, ctrl_break()?))
        } else {
            None
        };
        Ok(Self { inner })
    }

    async fn recv(&mut self) {
        match &mut self.inner {
            Some((ctrl_c, ctrl_break)) => {
                tokio::select! {
                    _ = ctrl_c.recv() => {}
                    _ = ctrl_break.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// `ignyx._core.ListeningSocket`: a listening socket bound once for several workers (by
/// their supervisor), each of which serves it with `Server(app, fd=socket.fileno())`.
#[pyclass(module = "ignyx._core", frozen)]
pub struct ListeningSocket {
    socket: Mutex<Option<Listening>>,
    address: String,
}

#[pymethods]
impl ListeningSocket {
    /// Listens as `Server` does, with the same arguments.
    #[new]
    #[pyo3(signature = (host = "127.0.0.1", port = 8000, *, uds = None, fd = None, backlog = 2048))]
    fn new(
        host: &str,
        port: u16,
        uds: Option<std::path::PathBuf>,
        fd: Option<i32>,
        backlog: i32,
    ) -> PyResult<Self> {
        let (socket, address) = listener::open(host, port, uds.as_deref(), fd, backlog)
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self {
            address,
            socket: Mutex::new(Some(socket)),
        })
    }

    fn fileno(&self) -> PyResult<i32> {
        let socket = self
            .socket
            .lock()
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let socket = socket
            .as_ref()
            .ok_or_else(|| PyOSError::new_err("the socket is closed"))?;
        Ok(socket.as_raw_fd())
    }

    /// Where it listens, as a URL to print.
    #[getter]
    fn address(&self) -> &str {
        &self.address
    }

    /// Closes the socket, and removes the Unix socket file it created.
    fn close(&self) {
        let socket = self.socket.lock().ok().and_then(|mut s| s.take());
        if let Some(path) = socket.as_ref().and_then(Listening::created_path) {
            drop(socket);
            let _ = std::fs::remove_file(path);
        }
    }
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Server>()?;
    m.add_class::<Tls>()?;
    m.add_class::<ListeningSocket>()
}
