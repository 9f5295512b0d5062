//! The I/O thread's hold on the GIL over a run of requests.
//!
//! Each request the I/O thread answers takes the GIL (`Python::with_gil`) and gives it back:
//! about 600 instructions a request, a third of the engine's own cost on a small route. When
//! no pool thread is running Python, the thread instead keeps the GIL from one request to the
//! next (`hold`), so that each request's `with_gil` nests in the hold and costs a counter;
//! it lets the GIL go after `RUN` requests, whenever it is about to park (nothing ready), and
//! before handing work to the pool (`release`), so that another thread wanting the GIL waits
//! for at most a run, as it would wait for one long request.

use std::cell::Cell;

use pyo3::ffi;

/// How many requests one hold lasts before the GIL is let go and taken again: another
/// thread that wants it (a pool thread, a `run_in_threadpool`) gets it within a run.
const RUN: u32 = 16;

/// This thread's hold: the state `PyGILState_Ensure` gave, and the requests it has lasted.
struct Hold {
    state: ffi::PyGILState_STATE,
    requests: u32,
}

thread_local! {
    static HELD: Cell<Option<Hold>> = const { Cell::new(None) };
}

/// Takes the GIL for the requests to come, or counts one more under the hold taken already
/// (letting the GIL go and taking it again after `RUN`). Call it outside any
/// `Python::with_gil`, on a thread that then calls `release` before it parks or ends.
pub fn hold() {
    HELD.with(|held| {
        let next = match held.take() {
            Some(hold) if hold.requests < RUN => Hold {
                requests: hold.requests + 1,
                ..hold
            },
            Some(hold) => {
                // SAFETY: `state` came from this thread's `PyGILState_Ensure`, still held.
                unsafe { ffi::PyGILState_Release(hold.state) };
                ensure()
            }
            None => ensure(),
        };
        held.set(Some(next));
    });
}

/// Lets the GIL go if this thread holds it (see `hold`).
pub fn release() {
    HELD.with(|held| {
        if let Some(hold) = held.take() {
            // SAFETY: `state` came from this thread's `PyGILState_Ensure`, still held.
            unsafe { ffi::PyGILState_Release(hold.state) };
        }
    });
}

fn ensure() -> Hold {
    // SAFETY: the interpreter is running (it called into the engine), and `hold` is called
    // outside `with_gil`, so the state is released by `release` or the next `hold`, in order.
    let state = unsafe { ffi::PyGILState_Ensure() };
    Hold { state, requests: 1 }
}
