//! The loop's `call_soon`, made in Rust: asyncio's is Python (a method, then a `Handle`
//! built by its Python `__init__`, then `Handle._run` calling `Context.run`), and every
//! future that completes goes through it once per done-callback: a request that awaits a
//! database query pays it several times (a fortunes request of `make bench-tfb`, eight).
//!
//! `CallSoon` is installed on the loop as its `call_soon` (`ignyx._asyncio_internals`
//! does it, unless the loop is in debug mode, where asyncio's own checks and tracebacks
//! are wanted). It appends a `Handle` to the loop's ready deque, which asyncio's iteration
//! runs as it runs its own: it skips a handle whose `_cancelled` is true and calls
//! `_run()` on the others. `call_soon_threadsafe` and the loop's own I/O callbacks keep
//! asyncio's `Handle`s, in the same deque.

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyTuple, PyWeakrefReference};

/// `ignyx._core.CallSoon`: `call_soon(callback, *args, context=None)` for one loop.
#[pyclass(module = "ignyx._core", frozen)]
pub struct CallSoon {
    /// `loop._ready.append`.
    append: Py<PyAny>,
    /// The loop, weakly: it holds this object, and each handle points back to it.
    event_loop: Py<PyWeakrefReference>,
}

#[pymethods]
impl CallSoon {
    #[new]
    fn new(ready: &Bound<'_, PyAny>, event_loop: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            append: ready.getattr("append")?.unbind(),
            event_loop: PyWeakrefReference::new(event_loop)?.unbind(),
        })
    }

    /// Schedules `callback(*args)` for the loop's next iteration, in `context` (a copy of
    /// the current one when `None`), as `asyncio.BaseEventLoop.call_soon` does.
    #[pyo3(signature = (callback, *args, context = None))]
    fn __call__(
        &self,
        py: Python<'_>,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<Py<Handle>> {
        let context = match context {
            Some(context) => context,
            // SAFETY: returns a new reference to a new Context, or NULL with an error set.
            None => {
                unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent()) }?.unbind()
            }
        };
        let handle = Py::new(
            py,
            Handle {
                event_loop: self.event_loop.clone_ref(py),
                context,
                scheduled: Mutex::new(Some(Scheduled { callback, args })),
            },
        )?;
        self.append.call1(py, (handle.clone_ref(py),))?;
        Ok(handle)
    }
}

/// What a handle runs; gone once it is cancelled (asyncio's `Handle.cancel` drops its
/// callback and arguments too).
struct Scheduled {
    callback: Py<PyAny>,
    args: Py<PyTuple>,
}

/// `ignyx._core.Handle`: a callback `CallSoon` scheduled, with `asyncio.Handle`'s methods
/// (`cancel`, `cancelled`, `get_context`) and the attributes asyncio's loop reads of a
/// handle (`_cancelled`, `_run`, `_callback`, `_args`, `_loop`).
#[pyclass(module = "ignyx._core", frozen)]
pub struct Handle {
    event_loop: Py<PyWeakrefReference>,
    context: Py<PyAny>,
    /// `None`: cancelled.
    scheduled: Mutex<Option<Scheduled>>,
}

impl Handle {
    fn scheduled(&self) -> MutexGuard<'_, Option<Scheduled>> {
        self.scheduled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `ignyx._asyncio_internals`, where asyncio's formats are written.
fn internals(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static INTERNALS: GILOnceCell<Py<PyModule>> = GILOnceCell::new();
    INTERNALS.import(py, "ignyx", "_asyncio_internals")
}

#[pymethods]
impl Handle {
    fn cancel(&self) {
        self.scheduled().take();
    }

    fn cancelled(&self) -> bool {
        self.scheduled().is_none()
    }

    fn get_context(&self, py: Python<'_>) -> Py<PyAny> {
        self.context.clone_ref(py)
    }

    #[getter]
    fn _cancelled(&self) -> bool {
        self.cancelled()
    }

    #[getter]
    fn _callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.scheduled().as_ref().map(|s| s.callback.clone_ref(py))
    }

    /// The loop, or `None` once it is gone.
    #[getter]
    fn _loop<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.event_loop.bind(py).upgrade()
    }

    #[getter]
    fn _args(&self, py: Python<'_>) -> Option<Py<PyTuple>> {
        self.scheduled().as_ref().map(|s| s.args.clone_ref(py))
    }

    /// Runs the callback in the handle's context. An exception goes to the loop's exception
    /// handler, as asyncio's `Handle._run` sends it; `SystemExit` and `KeyboardInterrupt`
    /// propagate.
    fn _run(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let Some((callback, args)) = this
            .scheduled()
            .as_ref()
            .map(|s| (s.callback.clone_ref(py), s.args.clone_ref(py)))
        else {
            return Ok(());
        };
        // SAFETY: `context` is a contextvars.Context (asyncio's contract for `context=`);
        // entering one already entered fails with RuntimeError, as `Context.run` does.
        if unsafe { ffi::PyContext_Enter(this.context.as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        let ran = callback.bind(py).call1(args.bind(py));
        // SAFETY: exits the context entered above, on the same thread.
        if unsafe { ffi::PyContext_Exit(this.context.as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        match ran {
            Ok(_) => Ok(()),
            Err(err)
                if err.is_instance_of::<PySystemExit>(py)
                    || err.is_instance_of::<PyKeyboardInterrupt>(py) =>
            {
                Err(err)
            }
            Err(err) => internals(py)?
                .getattr("callback_failed")?
                .call1((slf, err.into_value(py)))
                .map(drop),
        }
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        internals(slf.py())?
            .getattr("handle_repr")?
            .call1((slf,))?
            .extract()
    }
}
