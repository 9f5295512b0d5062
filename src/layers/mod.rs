//! Native middleware: layers around every request that run in Rust, configured
//! like their Starlette classes.

mod cors;

pub use cors::{Cors, CorsConfig};
