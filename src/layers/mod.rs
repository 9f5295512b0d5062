//! Native middleware: layers around every request that run in Rust, configured
//! like their Starlette classes.

mod cors;
mod py;

use pyo3::prelude::*;

pub use cors::Cors;
#[cfg(any(fuzzing, test))]
pub use cors::CorsConfig;
pub use py::{config as cors_config, CorsLayer};

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CorsLayer>()
}
