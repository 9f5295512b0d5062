//! Python errors with nowhere else to go (a failed loop step, a task that could not start)
//! are printed to stderr with their traceback, and the server goes on. `PyErr::print` would
//! not do for all of them: CPython treats a `SystemExit` it is asked to print as a request to
//! end the process, which from a server thread hangs waiting for that very thread.

use pyo3::exceptions::PySystemExit;
use pyo3::intern;
use pyo3::prelude::*;

/// Prints `err` with its traceback; a `SystemExit` too, without ending the process.
pub fn report(py: Python<'_>, err: PyErr) {
    if !err.is_instance_of::<PySystemExit>(py) {
        err.print(py);
        return;
    }
    let printed = py.import(intern!(py, "traceback")).and_then(|traceback| {
        traceback.call_method1(intern!(py, "print_exception"), (err.value(py),))
    });
    if printed.is_err() {
        eprintln!("SystemExit raised in the app: {err}");
    }
}
