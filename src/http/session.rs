//! Sessions, as the native sessions layer hands them to a request: the verified cookie read
//! on the way in, the Python session (`request.session`) made from it on first use, and the
//! cookie written from it when the reply is settled (`ignyx.middleware.sessions` decides
//! what Starlette's middleware would: store, clear, or leave it, and `Vary: Cookie`). The
//! headers are added on the way out at the layer's place among the other native layers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::header::{HeaderValue, SET_COOKIE};
use http::HeaderMap;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyBytes;

use crate::layers::{
    add_vary, new_session_id, seconds_now, session_json, Found, Sessions, StoreWrite,
};

/// One request's native session, shared by the request (Python's side) and the connection
/// (which writes its headers on the way out).
pub struct SessionShared {
    pub layer: Arc<Sessions>,
    /// The session the cookie carried (base64 JSON; its JSON from the store), when it had
    /// a valid one.
    pub payload: Option<Bytes>,
    /// With a store: the session's id, when the cookie carried a stored session.
    id: Option<String>,
    /// With a store: the change the response makes to it, saved before it is sent.
    write: Mutex<Option<StoreWrite>>,
    object: OnceLock<Py<PyAny>>,
    /// What the response says of it, once settled: `Vary: Cookie`, and the cookie to set.
    headers: Mutex<Option<(bool, Option<HeaderValue>)>>,
    /// Set once the request's route failed with an unhandled error: the 500 says nothing of
    /// the session, whichever middleware passes it on.
    unhandled: AtomicBool,
}

/// What the sessions layer found for a request (carried in its extensions up to its data).
#[derive(Clone)]
pub struct SessionSeed(pub Arc<SessionShared>);

impl SessionSeed {
    pub fn new(layer: Arc<Sessions>, found: Found) -> Self {
        Self(Arc::new(SessionShared {
            layer,
            payload: found.payload,
            id: found.id,
            write: Mutex::new(None),
            object: OnceLock::new(),
            headers: Mutex::new(None),
            unhandled: AtomicBool::new(false),
        }))
    }

    /// Saves the change the response made to a stored session (before it is sent: the
    /// client's next request, to any worker, reads it).
    pub async fn persist(&self) {
        let write = self.0.write.lock().ok().and_then(|mut w| w.take());
        if let Some(write) = write {
            // A failure is reported by the layer; the response goes out all the same.
            let _ = self.0.layer.save(write).await;
        }
    }

    /// Adds the session's headers to a response on its way out.
    pub fn write(&self, headers: &mut HeaderMap) {
        let settled = self.0.headers.lock().ok().and_then(|mut h| h.take());
        let Some((vary, cookie)) = settled else {
            return;
        };
        if vary {
            add_vary(headers, "Cookie");
        }
        if let Some(cookie) = cookie {
            headers.append(SET_COOKIE, cookie);
        }
    }
}

/// A request's session.
pub enum SessionSlot {
    /// The native layer's, made into a Python session on first use.
    Native(Arc<SessionShared>),
    /// The `session` of the ASGI scope the request came in (a Python middleware's).
    Scope(Py<PyAny>),
}

impl SessionSlot {
    pub fn native(seed: SessionSeed) -> Box<Self> {
        Box::new(Self::Native(seed.0))
    }

    /// The same session for a copy of the request (one a middleware altered).
    pub fn duplicate(&self, py: Python<'_>) -> Box<Self> {
        Box::new(match self {
            Self::Scope(object) => Self::Scope(object.clone_ref(py)),
            Self::Native(shared) => Self::Native(shared.clone()),
        })
    }

    /// The Python session (`ignyx.middleware.sessions.Session`).
    pub fn object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self {
            Self::Scope(object) => Ok(object.clone_ref(py)),
            Self::Native(shared) => {
                if let Some(made) = shared.object.get() {
                    return Ok(made.clone_ref(py));
                }
                let payload = shared.payload.as_deref();
                let json = match shared.layer.is_stored() {
                    true => payload.map(|j| PyBytes::new(py, j)),
                    false => payload.and_then(session_json).map(|j| PyBytes::new(py, &j)),
                };
                let payload = payload.map(|p| PyBytes::new(py, p));
                let made = hook(py, &LOAD, "_load")?.call1((payload, json))?.unbind();
                Ok(shared.object.get_or_init(|| made).clone_ref(py))
            }
        }
    }

    /// Settles what the response says of the session, when the request used it (the last
    /// reply settled counts: a middleware stack's, around its route's). An unhandled error
    /// says nothing, as Starlette's error middleware answers outside the session's.
    pub fn settle(&self, py: Python<'_>, failed: bool) -> PyResult<()> {
        let Self::Native(shared) = self else {
            return Ok(());
        };
        if failed {
            shared.unhandled.store(true, Ordering::Relaxed);
        }
        let failed = shared.unhandled.load(Ordering::Relaxed);
        let settled = match (shared.object.get(), failed) {
            (Some(object), false) => {
                let had_session = shared.payload.is_some() || shared.id.is_some();
                let outcome = hook(py, &OUTCOME, "_outcome")?.call1((object, had_session))?;
                let (accessed, store, clear, renew): (bool, Option<Vec<u8>>, bool, bool) =
                    outcome.extract()?;
                let cookie = match shared.layer.is_stored() {
                    false => match (store, clear) {
                        (Some(json), _) => shared.layer.set_cookie(&json, seconds_now()),
                        (None, true) => shared.layer.clear_cookie(),
                        (None, false) => None,
                    },
                    true => shared.stored_change(store, clear, renew),
                };
                (accessed || cookie.is_some()).then_some((accessed, cookie))
            }
            _ => None,
        };
        if let Ok(mut headers) = shared.headers.lock() {
            *headers = settled;
        }
        Ok(())
    }
}

impl SessionShared {
    /// The cookie for a change to a stored session, with the write it needs queued: a
    /// session kept keeps its id, unless it was read from no stored session or was cleared
    /// on the way (`renew`: a login after a logout must not keep an id someone else may
    /// have planted), and then gets a new one (the old one deleted); a cleared session is
    /// deleted.
    fn stored_change(
        &self,
        store: Option<Vec<u8>>,
        clear: bool,
        renew: bool,
    ) -> Option<HeaderValue> {
        let (write, cookie) = match (store, clear) {
            (Some(json), _) => {
                let keeps = self.payload.is_some() && !renew;
                let (id, replaces) = match (&self.id, keeps) {
                    (Some(id), true) => (id.clone(), None),
                    (old, _) => (new_session_id(), old.clone().filter(|_| renew)),
                };
                let cookie = self.layer.id_cookie(&id, seconds_now());
                (Some(StoreWrite::Set { id, json, replaces }), cookie)
            }
            (None, true) => {
                let write = self.id.clone().map(|id| StoreWrite::Delete { id });
                (write, self.layer.clear_cookie())
            }
            (None, false) => (None, None),
        };
        if let Ok(mut slot) = self.write.lock() {
            *slot = write;
        }
        cookie
    }
}

static LOAD: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
static OUTCOME: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

fn hook<'py>(
    py: Python<'py>,
    cell: &'static GILOnceCell<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    let function = cell.get_or_try_init(py, || -> PyResult<_> {
        Ok(py
            .import("ignyx.middleware.sessions")?
            .getattr(name)?
            .unbind())
    })?;
    Ok(function.bind(py))
}
