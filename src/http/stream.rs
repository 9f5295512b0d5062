//! Streaming response bodies: the event loop iterates the Python iterator and
//! pushes each chunk through a `ChunkSink`; hyper sends them as they arrive.

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::body::{chunk_channel, ChunkSender, ResponseBody};
use crate::runtime::{Job, LoopSender};

/// Starts pumping `iterator` on the event loop and returns the body that sends its chunks.
pub fn start(iterator: Py<PyAny>, to_loop: &LoopSender) -> ResponseBody {
    let (tx, rx) = chunk_channel();
    let sink = ChunkSink {
        tx: std::sync::Mutex::new(Some(tx)),
    };
    to_loop.send(Job::run(move |py, tasks| {
        let pump = pyo3::intern!(py, "pump");
        let started = Py::new(py, sink)
            .and_then(|sink| tasks.event_loop(py).call_method1(pump, (iterator, sink)));
        if let Err(err) = started {
            crate::runtime::report(py, err);
        }
    }));
    ResponseBody::stream(rx, to_loop)
}

/// `ignyx._core.ChunkSink`: where the loop puts a streaming response's chunks.
#[pyclass(module = "ignyx._core", frozen)]
pub struct ChunkSink {
    tx: std::sync::Mutex<Option<ChunkSender>>,
}

#[pymethods]
impl ChunkSink {
    /// Queues one chunk (bytes or str); False once the client has gone.
    fn send(&self, chunk: &Bound<'_, PyAny>) -> PyResult<bool> {
        let bytes = if let Ok(b) = chunk.downcast::<PyBytes>() {
            Bytes::copy_from_slice(b.as_bytes())
        } else if let Ok(s) = chunk.downcast::<PyString>() {
            Bytes::copy_from_slice(s.to_str()?.as_bytes())
        } else {
            Bytes::copy_from_slice(&chunk.extract::<Vec<u8>>()?)
        };
        let Ok(tx) = self.tx.lock() else {
            return Ok(false);
        };
        match tx.as_ref() {
            Some(tx) if bytes.is_empty() => Ok(!tx.is_closed()),
            Some(tx) => Ok(tx.send(bytes)),
            None => Ok(false),
        }
    }

    /// Whether the client is behind: await `wait_writable` before sending more.
    #[getter]
    fn must_wait(&self) -> bool {
        let tx = self.tx.lock();
        tx.ok()
            .is_some_and(|tx| tx.as_ref().is_some_and(ChunkSender::must_wait))
    }

    /// Resolves `future` once the client has caught up (or left).
    fn wait_writable(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        let tx = self.tx.lock();
        match tx.ok().as_ref().and_then(|tx| tx.as_ref()) {
            Some(tx) => tx.wait_writable(py, future),
            None => future
                .bind(py)
                .call_method1(pyo3::intern!(py, "set_result"), (py.None(),))
                .map(drop),
        }
    }

    /// Ends the body.
    fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }

    /// Ends the body unfinished (the iterator failed): the client sees it cut.
    fn abort(&self) {
        if let Some(tx) = self.tx.lock().ok().and_then(|mut tx| tx.take()) {
            tx.abort();
        }
    }
}
