//! `Ready`: an awaitable that is already done, for Rust methods that Python code awaits
//! (an ASGI app's `send` and `receive` when the engine has what they need) without a
//! coroutine or a future per call.

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

/// `ignyx._core.Ready`: `await` on it gives its value at once.
#[pyclass(module = "ignyx._core", frozen)]
pub struct Ready {
    value: Option<Py<PyAny>>,
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Done on the first step, with the value (`None` ends the iteration without raising).
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        match &self.value {
            None => Ok(None),
            Some(value) => Err(PyStopIteration::new_err((value.clone_ref(py),))),
        }
    }
}

/// An awaitable giving `None`: one object serves every call.
pub fn ready(py: Python<'_>) -> PyResult<Py<Ready>> {
    static READY: GILOnceCell<Py<Ready>> = GILOnceCell::new();
    let ready = READY.get_or_try_init(py, || Py::new(py, Ready { value: None }))?;
    Ok(ready.clone_ref(py))
}

/// An awaitable giving `value`.
pub fn ready_with(py: Python<'_>, value: Py<PyAny>) -> PyResult<Py<Ready>> {
    Py::new(py, Ready { value: Some(value) })
}
