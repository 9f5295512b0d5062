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

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    app::init(m)?;
    json::init(m)?;
    request::init(m)?;
    server::init(m)?;
    ws::init(m)?;
    Ok(())
}
