//! State shared beyond one process: Redis, through the `redis` crate's connection manager
//! (which reconnects by itself). Every connection lives on one thread of the store's own,
//! started the first time a Redis URL is used, so the server's threads, a test client's
//! and an ASGI server's event loop all reach the same connections; an app that names no
//! Redis URL starts nothing.

mod py;
mod redis;

pub use self::redis::{Redis, StoreError};
pub use py::{resolve, RedisClient, RedisListener};

use pyo3::prelude::*;

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RedisClient>()?;
    m.add_class::<RedisListener>()
}
