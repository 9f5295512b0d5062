//! `ignyx._core.WebSocketChannel`: what `ignyx.websockets.WebSocket` calls to
//! answer the handshake, receive and send.

use std::sync::{Arc, Mutex};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use pyo3::exceptions::{PyConnectionError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use super::session::Session;

/// How the handler answered the upgrade request.
pub enum Decision {
    Accept {
        subprotocol: Option<HeaderValue>,
        headers: HeaderMap,
    },
    /// An HTTP answer instead of the upgrade; `close` is the code and reason of a
    /// `close()` before `accept()`.
    Reject {
        status: StatusCode,
        close: Option<(u16, String)>,
    },
    /// A whole HTTP response instead of the upgrade (ASGI's `websocket.http.response`).
    Respond {
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
    },
}

#[pyclass(module = "ignyx._core", frozen)]
pub struct WebSocketChannel {
    session: Arc<Session>,
    handshake: Mutex<Option<oneshot::Sender<Decision>>>,
    /// To the connection's writer. Dropping the channel without closing ends the connection (1011).
    outbox: mpsc::UnboundedSender<Message>,
}

impl WebSocketChannel {
    pub fn new(
        session: Arc<Session>,
        handshake: oneshot::Sender<Decision>,
        outbox: mpsc::UnboundedSender<Message>,
    ) -> Self {
        Self {
            session,
            handshake: Mutex::new(Some(handshake)),
            outbox,
        }
    }

    /// Answers the handshake; false when it was answered already.
    fn decide(&self, decision: Decision) -> bool {
        let sender = self.handshake.lock().ok().and_then(|mut h| h.take());
        match sender {
            Some(sender) => {
                if sender.send(decision).is_err() {
                    // The client left before the answer.
                    self.session.finish(1006);
                }
                true
            }
            None => false,
        }
    }

    fn send(&self, message: Message, len: usize) -> PyResult<bool> {
        let wait = self.session.queued(len);
        self.outbox
            .send(message)
            .map_err(|_| PyConnectionError::new_err("the WebSocket is closed"))?;
        Ok(wait)
    }
}

#[pymethods]
impl WebSocketChannel {
    /// Completes the handshake with a 101 carrying `subprotocol` and extra `headers`.
    #[pyo3(signature = (subprotocol = None, headers = Vec::new()))]
    fn accept(&self, subprotocol: Option<&str>, headers: Vec<(Vec<u8>, Vec<u8>)>) -> PyResult<()> {
        let subprotocol = subprotocol
            .map(HeaderValue::from_str)
            .transpose()
            .map_err(|e| PyValueError::new_err(format!("invalid subprotocol: {e}")))?;
        let decision = Decision::Accept {
            subprotocol,
            headers: header_map(headers)?,
        };
        if self.decide(decision) {
            Ok(())
        } else {
            Err(PyRuntimeError::new_err(
                "the handshake was already answered",
            ))
        }
    }

    /// Closes with `code` and `reason`; before `accept()` the client gets HTTP 403.
    #[pyo3(signature = (code = 1000, reason = ""))]
    fn close(&self, code: u16, reason: &str) {
        let rejection = Decision::Reject {
            status: StatusCode::FORBIDDEN,
            close: Some((code, reason.to_owned())),
        };
        if self.decide(rejection) {
            self.session.finish(code);
            return;
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: truncate(reason, 123).to_owned().into(),
        };
        // Nothing to do if the connection is already gone.
        let _ = self.outbox.send(Message::Close(Some(frame)));
    }

    /// Answers the upgrade request with an HTTP response instead (a denial response sent
    /// before accept).
    fn respond(
        &self,
        status: u16,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        body: Vec<u8>,
    ) -> PyResult<()> {
        let status = StatusCode::from_u16(status)
            .map_err(|_| PyValueError::new_err(format!("invalid status code {status}")))?;
        let headers = header_map(headers)?;
        if self.decide(Decision::Respond {
            status,
            headers,
            body,
        }) {
            self.session.finish(1006);
            Ok(())
        } else {
            Err(PyRuntimeError::new_err(
                "the handshake was already answered",
            ))
        }
    }

    /// Answers the upgrade request with a bare HTTP `status` instead (an error before accept).
    fn deny(&self, status: u16) -> PyResult<()> {
        let status = StatusCode::from_u16(status)
            .map_err(|_| PyValueError::new_err(format!("invalid status code {status}")))?;
        if self.decide(Decision::Reject {
            status,
            close: None,
        }) {
            self.session.finish(1006);
        }
        Ok(())
    }

    /// The next message if one is queued: `str`, `bytes`, or `(code, reason)` once closed.
    fn receive(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.session.receive(py)
    }

    /// Resolves the asyncio `future` with the next message.
    fn wait(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        self.session.wait(py, future)
    }

    /// Queues a text message; true when the caller should await `wait_writable`.
    fn send_text(&self, data: String) -> PyResult<bool> {
        let len = data.len();
        self.send(Message::Text(data), len)
    }

    /// Queues a binary message; true when the caller should await `wait_writable`.
    fn send_bytes(&self, data: Vec<u8>) -> PyResult<bool> {
        let len = data.len();
        self.send(Message::Binary(data), len)
    }

    /// Resolves the asyncio `future` once queued messages are mostly written.
    fn wait_writable(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        self.session.wait_writable(py, future)
    }
}

/// Close reasons are limited to 123 bytes on the wire.
fn truncate(reason: &str, max: usize) -> &str {
    if reason.len() <= max {
        return reason;
    }
    let mut end = max;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn reasons_are_cut_on_a_char_boundary() {
        assert_eq!(truncate("short", 123), "short");
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate(&"a".repeat(200), 123).len(), 123);
    }
}

fn header_map(headers: Vec<(Vec<u8>, Vec<u8>)>) -> PyResult<HeaderMap> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name = HeaderName::from_bytes(&name)
            .map_err(|e| PyValueError::new_err(format!("invalid header name: {e}")))?;
        let value = HeaderValue::from_bytes(&value)
            .map_err(|e| PyValueError::new_err(format!("invalid header value: {e}")))?;
        map.append(name, value);
    }
    Ok(map)
}
