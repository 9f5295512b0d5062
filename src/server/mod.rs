//! The HTTP server of one worker: a current-thread tokio runtime owns the
//! listener and every connection, and steps the asyncio event loop on the same
//! thread; sync routes run inline when quick, else on the sync pool.
//! SIGINT/SIGTERM (or `Server.shutdown()`) stop accepting, let in-flight
//! requests finish within a grace period, then `serve` returns.

mod listener;
mod wake_floor;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use tokio::sync::Notify;

use crate::app::{App, Engine};
use crate::http::{self as h, Peers};
use crate::runtime::{self, EventLoop, InFlight, SyncPool};
use crate::ws::{Upgrader, WebSockets, WsLimits};

struct Limits {
    max_in_flight: usize,
    sync_threads: usize,
    graceful_timeout: Duration,
    header_timeout: Duration,
    body_timeout: Duration,
    websockets: WsLimits,
}

/// `ignyx._core.Server`: binds at construction, serves in `serve()`.
#[pyclass(module = "ignyx._core", frozen)]
pub struct Server {
    listener: Mutex<Option<std::net::TcpListener>>,
    local: SocketAddr,
    engine: Arc<Engine>,
    stop: Arc<Notify>,
    limits: Limits,
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (app, host, port, *, backlog = 2048, reuse_port = false,
        max_in_flight = 2048, sync_threads = 40, graceful_timeout = 30.0,
        header_timeout = 30.0, body_timeout = 60.0, ws_max_size = 16 * 1024 * 1024,
        ws_ping_interval = Some(20.0), ws_ping_timeout = 20.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        mut app: PyRefMut<'_, App>,
        host: &str,
        port: u16,
        backlog: i32,
        reuse_port: bool,
        max_in_flight: usize,
        sync_threads: usize,
        graceful_timeout: f64,
        header_timeout: f64,
        body_timeout: f64,
        ws_max_size: usize,
        ws_ping_interval: Option<f64>,
        ws_ping_timeout: f64,
    ) -> PyResult<Self> {
        let listener = listener::bind(host, port, backlog, reuse_port)
            .map_err(|e| PyOSError::new_err(format!("cannot listen on {host}:{port}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self {
            listener: Mutex::new(Some(listener)),
            local,
            engine: Arc::new(app.build()?),
            stop: Arc::new(Notify::new()),
            limits: Limits {
                max_in_flight: max_in_flight.max(1),
                sync_threads: sync_threads.max(1),
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
        })
    }

    #[getter]
    fn host(&self) -> String {
        self.local.ip().to_string()
    }

    #[getter]
    fn port(&self) -> u16 {
        self.local.port()
    }

    /// Serves until `shutdown()` or, with `handle_signals`, SIGINT/SIGTERM, stepping
    /// `event_loop` (an `ignyx._runtime.EngineLoop` begun on this thread) between
    /// connections. The GIL is released except while Python runs.
    #[pyo3(signature = (event_loop, handle_signals = false))]
    fn serve(
        &self,
        py: Python<'_>,
        event_loop: &Bound<'_, PyAny>,
        handle_signals: bool,
    ) -> PyResult<()> {
        let listener = self
            .listener
            .lock()
            .ok()
            .and_then(|mut l| l.take())
            .ok_or_else(|| PyRuntimeError::new_err("this server has already served"))?;
        let event_loop = EventLoop::new(event_loop)?;
        let pool = SyncPool::start(event_loop.sender().clone(), self.limits.sync_threads);
        let websockets = Arc::new(WebSockets::new(self.limits.websockets));
        let upgrade = self.engine.websockets.clone().map(|routes| {
            Box::new(Upgrader {
                routes,
                to_loop: event_loop.sender().clone(),
                websockets: websockets.clone(),
            }) as Box<dyn h::Upgrade>
        });
        let shared = Arc::new(h::Shared {
            engine: self.engine.http.clone(),
            pool: pool.clone(),
            event_loop: event_loop.clone(),
            in_flight: InFlight::new(self.limits.max_in_flight),
            body_timeout: self.limits.body_timeout,
            upgrade,
        });
        let stop = self.stop.clone();
        let result = py.allow_threads(|| {
            let previous = runtime::batch_current_thread();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.spawn(event_loop.clone().drive());
            // Due sooner than any connection timer (header reads, request bodies).
            let floor = self.limits.header_timeout.min(self.limits.body_timeout) / 2;
            runtime.spawn(wake_floor::hold(floor));
            let served = runtime.block_on(run(
                listener,
                shared,
                &websockets,
                stop,
                handle_signals,
                &self.limits,
            ));
            drop(runtime);
            pool.stop();
            event_loop.drain();
            runtime::restore_current_thread(previous);
            served
        });
        result.map_err(|e| PyOSError::new_err(e.to_string()))
    }

    /// Asks a running (or about to run) `serve` to stop gracefully; callable from any thread.
    fn shutdown(&self) {
        self.stop.notify_one();
    }
}

async fn run(
    listener: std::net::TcpListener,
    shared: Arc<h::Shared>,
    websockets: &WebSockets,
    stop: Arc<Notify>,
    handle_signals: bool,
    limits: &Limits,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let local = listener.local_addr()?;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut signals = Signals::new(handle_signals)?;

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(conn) => conn,
                    Err(_) => {
                        // Out of descriptors or a reset before accept: back off briefly.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let peers = Peers {
                    client: Some(client),
                    local: Some(local),
                };
                let service = service_fn(move |req| h::handle(shared.clone(), req, peers));
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = stop.notified() => break,
            _ = signals.recv() => break,
        }
    }
    drop(listener);
    // HTTP connections finish what they are doing; open WebSockets close (1012) and their
    // handlers hear it, on the loop this runtime keeps stepping. Both within the grace.
    let websockets = websockets.close_all();
    tokio::select! {
        _ = async { tokio::join!(graceful.shutdown(), websockets) } => {}
        _ = tokio::time::sleep(limits.graceful_timeout) => {}
    }
    Ok(())
}

struct Signals {
    inner: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

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

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Server>()
}
