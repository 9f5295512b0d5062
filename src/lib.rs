//! `ignyx._core`: the Rust engine of Ignyx.

mod app;
mod cors;
mod json;
mod request;
mod response;
mod route;
mod router;
mod runtime;
mod server;
mod ws;

use pyo3::prelude::*;

/// The engine's own allocations (per-request buffers, futures, header maps) come from
/// mimalloc: glibc's malloc spent more instructions per request than hyper's parser.
/// Python's objects keep Python's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    app::init(m)?;
    json::init(m)?;
    request::init(m)?;
    route::init(m)?;
    server::init(m)?;
    ws::init(m)?;
    Ok(())
}
