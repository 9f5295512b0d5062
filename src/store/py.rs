//! Redis for Python (`ignyx._core.RedisClient`): commands whose replies resolve asyncio
//! futures, and subscriptions whose messages reach a callback on the subscriber's event
//! loop, in batches. `ignyx.broadcast` and the Python forms of the rate limits and
//! sessions build on it; any event loop may call it (the engine's, a test client's, an
//! ASGI server's), since the connections live on the store's thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{PushInfo, PushKind, Value};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyList};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Redis, StoreError};

/// How often a subscription's connection is checked (and reconnected) while idle.
const KEEPALIVE: Duration = Duration::from_secs(1);
/// The most messages handed to Python in one call.
const BATCH: usize = 1024;

/// `ignyx._core.RedisClient(url, timeout=1.0)`.
#[pyclass(module = "ignyx._core", frozen)]
pub struct RedisClient {
    redis: Arc<Redis>,
}

/// A command's argument, as Python gives it.
#[derive(FromPyObject)]
enum Arg {
    Bytes(Vec<u8>),
    Text(String),
    Int(i64),
    Float(f64),
}

#[pymethods]
impl RedisClient {
    #[new]
    #[pyo3(signature = (url, timeout = 1.0))]
    fn new(url: &str, timeout: f64) -> PyResult<Self> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| PyValueError::new_err("timeout must be a positive number of seconds"))?;
        Ok(Self {
            redis: Redis::open(url, timeout).map_err(PyValueError::new_err)?,
        })
    }

    /// The URL, without its password.
    #[getter]
    fn url(&self) -> &str {
        self.redis.url()
    }

    #[getter]
    fn timeout(&self) -> f64 {
        self.redis.timeout().as_secs_f64()
    }

    /// Sends the command `args`; `future` (an asyncio future) gets the reply, or the error.
    /// With `again_if_cut` (a command that may be repeated), a connection that broke under
    /// it is made again and the command sent once more, within the timeout.
    #[pyo3(signature = (future, *args, again_if_cut = false))]
    fn execute(&self, future: Py<PyAny>, args: Vec<Arg>, again_if_cut: bool) -> PyResult<()> {
        if args.is_empty() {
            return Err(PyValueError::new_err("a Redis command needs a name"));
        }
        let mut command = ::redis::Cmd::new();
        for arg in &args {
            match arg {
                Arg::Bytes(bytes) => command.arg(bytes),
                Arg::Text(text) => command.arg(text),
                Arg::Int(n) => command.arg(n),
                Arg::Float(x) => command.arg(x),
            };
        }
        let task = self.redis.spawn(move |mut connection| async move {
            match command.query_async::<Value>(&mut connection).await {
                Err(error)
                    if again_if_cut && (error.is_io_error() || error.is_connection_dropped()) =>
                {
                    command.query_async::<Value>(&mut connection).await
                }
                outcome => outcome,
            }
        });
        Redis::spawn_task(async move {
            let outcome = match task.await {
                Ok(outcome) => outcome,
                Err(e) => Err(StoreError(format!("Redis operation lost: {e}"))),
            };
            Python::with_gil(|py| settle(py, &future, outcome));
        });
        Ok(())
    }

    /// A subscriber: the messages of the channels it subscribes to are handed to
    /// `callback(messages)`, a list of `(channel, message)` bytes pairs, on `event_loop`.
    fn listen(&self, event_loop: Py<PyAny>, callback: Py<PyAny>) -> PyResult<RedisListener> {
        let (sender, receiver) = mpsc::unbounded_channel::<PushInfo>();
        let connection = self
            .redis
            .subscriber(sender)
            .map_err(|e| PyValueError::new_err(e.0))?;
        let mut pinged = connection.clone();
        let keepalive = Redis::spawn_task(async move {
            loop {
                tokio::time::sleep(KEEPALIVE).await;
                // A failed ping reconnects (and subscribes again) on the next one.
                let _ = ::redis::cmd("PING").query_async::<Value>(&mut pinged).await;
            }
        });
        // Once nobody listens (the loop closed), the pings stop too.
        let pings = keepalive.abort_handle();
        let forward = Redis::spawn_task(async move {
            forward(receiver, event_loop, callback).await;
            pings.abort();
        });
        Ok(RedisListener {
            redis: self.redis.clone(),
            connection: Mutex::new(Some(connection)),
            tasks: vec![forward, keepalive],
        })
    }
}

/// `ignyx._core.RedisListener`: one subscriber's connection.
#[pyclass(module = "ignyx._core", frozen)]
pub struct RedisListener {
    redis: Arc<Redis>,
    connection: Mutex<Option<ConnectionManager>>,
    tasks: Vec<JoinHandle<()>>,
}

#[pymethods]
impl RedisListener {
    /// Subscribes to `channel`; `future` is resolved once Redis confirmed it.
    fn subscribe(&self, future: Py<PyAny>, channel: Vec<u8>) -> PyResult<()> {
        self.send(future, channel, true)
    }

    /// Unsubscribes from `channel`; `future` is resolved once Redis confirmed it.
    fn unsubscribe(&self, future: Py<PyAny>, channel: Vec<u8>) -> PyResult<()> {
        self.send(future, channel, false)
    }

    /// Closes the connection; no more messages are delivered.
    fn close(&self) {
        for task in &self.tasks {
            task.abort();
        }
        self.connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

impl RedisListener {
    fn send(&self, future: Py<PyAny>, channel: Vec<u8>, subscribe: bool) -> PyResult<()> {
        let connection = self
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(mut connection) = connection else {
            return Err(PyValueError::new_err("the subscriber is closed"));
        };
        let redis = self.redis.clone();
        Redis::spawn_task(async move {
            let call = async {
                match subscribe {
                    true => connection.subscribe(&channel).await,
                    false => connection.unsubscribe(&channel).await,
                }
            };
            let outcome = redis.within_timeout(call).await.map(|()| Value::Okay);
            Python::with_gil(|py| settle(py, &future, outcome));
        });
        Ok(())
    }
}

impl Drop for RedisListener {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Hands the messages that arrive to `callback` on `event_loop`, as many at once as have
/// arrived (up to `BATCH`).
async fn forward(
    mut receiver: mpsc::UnboundedReceiver<PushInfo>,
    event_loop: Py<PyAny>,
    callback: Py<PyAny>,
) {
    let mut batch = Vec::new();
    while let Some(push) = receiver.recv().await {
        message(push, &mut batch);
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(push) => message(push, &mut batch),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let delivered = Python::with_gil(|py| -> PyResult<()> {
            let list = PyList::empty(py);
            for (channel, data) in batch.drain(..) {
                list.append((PyBytes::new(py, &channel), PyBytes::new(py, &data)))?;
            }
            event_loop.call_method1(
                py,
                pyo3::intern!(py, "call_soon_threadsafe"),
                (callback.clone_ref(py), list),
            )?;
            Ok(())
        });
        if delivered.is_err() {
            return; // the loop is closed: nobody listens any more
        }
    }
}

/// A published message's channel and data, added to `batch` (other pushes are ignored).
fn message(push: PushInfo, batch: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    if push.kind != PushKind::Message {
        return;
    }
    let mut data = push.data.into_iter();
    if let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
        (data.next(), data.next())
    {
        batch.push((channel, payload));
    }
}

/// Resolves `future` on its own loop with a reply.
fn settle(py: Python<'_>, future: &Py<PyAny>, outcome: Result<Value, StoreError>) {
    let outcome = match outcome {
        Ok(value) => to_python(py, value).map_err(|e| StoreError(e.to_string())),
        Err(error) => Err(error),
    };
    resolve(py, future, outcome);
}

/// Resolves `future` on its own loop (from any thread) with `outcome`: its value, or a
/// `StoreError` (`ignyx._store.settle`).
pub fn resolve(py: Python<'_>, future: &Py<PyAny>, outcome: Result<PyObject, StoreError>) {
    static SETTLE: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    let resolved = (|| -> PyResult<()> {
        let settle = SETTLE.get_or_try_init(py, || -> PyResult<_> {
            Ok(py.import("ignyx._store")?.getattr("settle")?.unbind())
        })?;
        let (ok, value) = match outcome {
            Ok(value) => (true, value),
            Err(error) => (false, error.0.into_pyobject(py)?.into_any().unbind()),
        };
        let event_loop = future.call_method0(py, pyo3::intern!(py, "get_loop"))?;
        event_loop.call_method1(
            py,
            pyo3::intern!(py, "call_soon_threadsafe"),
            (settle.clone_ref(py), future.clone_ref(py), ok, value),
        )?;
        Ok(())
    })();
    // A closed loop: its future has nobody left to tell.
    drop(resolved);
}

/// A reply as Python values: bytes, int, float, bool, str, None, lists and dicts.
fn to_python(py: Python<'_>, value: Value) -> PyResult<PyObject> {
    Ok(match value {
        Value::Nil => py.None(),
        Value::Int(n) => n.into_pyobject(py)?.into_any().unbind(),
        Value::BulkString(bytes) => PyBytes::new(py, &bytes).into_any().unbind(),
        Value::SimpleString(text) => text.into_pyobject(py)?.into_any().unbind(),
        Value::Okay => "OK".into_pyobject(py)?.into_any().unbind(),
        Value::Double(x) => x.into_pyobject(py)?.into_any().unbind(),
        Value::Boolean(b) => pyo3::types::PyBool::new(py, b)
            .to_owned()
            .into_any()
            .unbind(),
        Value::VerbatimString { text, .. } => text.into_pyobject(py)?.into_any().unbind(),
        Value::BigNumber(n) => String::from_utf8_lossy(&n)
            .into_pyobject(py)?
            .into_any()
            .unbind(),
        Value::Array(items) | Value::Set(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Map(pairs) => {
            let dict = PyDict::new(py);
            for (key, value) in pairs {
                dict.set_item(to_python(py, key)?, to_python(py, value)?)?;
            }
            dict.into_any().unbind()
        }
        Value::Attribute { data, .. } => to_python(py, *data)?,
        Value::Push { data, .. } => to_python(py, Value::Array(data))?,
        Value::ServerError(error) => {
            return Err(PyValueError::new_err(format!("Redis error: {error:?}")))
        }
        _ => py.None(),
    })
}
