//! `ignyx._core`: the Rust engine of Ignyx. From the bottom up:
//!
//! - `pycall`: the cheapest ways to call into Python, for the calls made per request.
//! - `runtime`: where Python runs (the event loop bridge, request tasks, the sync pool);
//!   imports nothing above it.
//! - `json`, `router`, `store`: building blocks (the JSON writer, the matchit table, Redis
//!   for state shared between processes).
//! - `layers`: native middleware (CORS, compression, sessions, rate limits...).
//! - `http`: one HTTP request, from the request in to the response out.
//! - `ws`: WebSockets (handshake, frames, sessions); builds on `http`'s request.
//! - `app`: the compiled application Python fills; `server`: the accept loop, limits,
//!   shutdown; `asgi`: the same application called by an ASGI server instead.
//! - `fuzzing`: the fuzz targets' entry points (`fuzz/`), built for them and for tests only.

mod app;
mod asgi;
#[cfg(any(fuzzing, test))]
pub mod fuzzing;
mod http;
mod json;
mod layers;
mod pycall;
mod router;
mod runtime;
mod server;
mod store;
mod ws;

use pyo3::prelude::*;

/// The engine's own allocations (per-request buffers, futures, header maps) come from
/// mimalloc: glibc's malloc spent more instructions per request than hyper's parser.
/// Python's objects keep Python's allocator. Fuzz builds keep the system allocator, which
/// the address sanitizer watches.
#[cfg(not(fuzzing))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::init(m)?;
    json::init(m)?;
    store::init(m)?;
    layers::init(m)?;
    http::init(m)?;
    ws::init(m)?;
    app::init(m)?;
    server::init(m)?;
    asgi::init(m)?;
    Ok(())
}
