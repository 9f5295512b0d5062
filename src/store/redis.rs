//! A Redis server, as a rate limit, a session store or a broadcast reaches it: each `Redis`
//! has one multiplexed connection per process (the `redis` crate's `ConnectionManager`,
//! which reconnects after a failure), made on first use on the store's thread, and every
//! operation bounded by the configured timeout, so a request never hangs on Redis.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ::redis::aio::{AsyncPushSender, ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, IntoConnectionInfo, ProtocolVersion, RedisResult};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// Why an operation on the store failed: unreachable, too slow, or a command refused.
#[derive(Clone, Debug)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One Redis server (`redis://`, `rediss://` or `unix://` URL).
pub struct Redis {
    client: Client,
    timeout: Duration,
    /// The URL without its password, for messages.
    shown: String,
    /// The connection of this process (a forked worker makes its own).
    connection: Mutex<Option<(u32, ConnectionManager)>>,
}

impl Redis {
    /// The server at `url`; nothing is connected until the first operation. Every
    /// operation (connecting included) gives up after `timeout`.
    pub fn open(url: &str, timeout: Duration) -> Result<Arc<Self>, String> {
        let info = url
            .into_connection_info()
            .map_err(|e| format!("invalid Redis URL {:?}: {e}", shown(url)))?;
        // RESP3: subscriptions share the connection manager's reconnection.
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = Client::open(info.set_redis_settings(settings))
            .map_err(|e| format!("invalid Redis URL {:?}: {e}", shown(url)))?;
        Ok(Arc::new(Self {
            client,
            timeout,
            shown: shown(url),
            connection: Mutex::new(None),
        }))
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Runs `work` with this process's connection, on the store's thread, within the
    /// timeout. The handle may be awaited from any runtime, or dropped.
    pub fn spawn<T, F, Fut>(self: &Arc<Self>, work: F) -> JoinHandle<Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send,
    {
        let this = self.clone();
        store_runtime().spawn(async move {
            let connection = this.connection()?;
            this.within_timeout(work(connection)).await
        })
    }

    /// Runs `work` (an operation that may be repeated: a read, a `SET`, a `DEL`) and waits
    /// for its outcome; a connection that broke under it (Redis closed an idle connection,
    /// or restarted) is made again and the operation tried once more, within the timeout.
    pub async fn run_again_if_cut<T, F, Fut>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(ConnectionManager) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = RedisResult<T>> + Send,
    {
        let work = Arc::new(work);
        let again = work.clone();
        self.run(move |connection| async move {
            match work(connection.clone()).await {
                Err(error) if error.is_io_error() || error.is_connection_dropped() => {
                    again(connection).await
                }
                outcome => outcome,
            }
        })
        .await
    }

    /// Runs `work` and waits for its outcome (from any tokio runtime).
    pub async fn run<T, F, Fut>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send,
    {
        match self.spawn(work).await {
            Ok(result) => result,
            Err(e) => Err(StoreError(format!("Redis operation lost: {e}"))),
        }
    }

    /// What `operation` gives, unless it fails or outlasts the timeout: the error says which.
    pub async fn within_timeout<T>(
        &self,
        operation: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(result) => result.map_err(|e| self.failed(&e)),
            Err(_) => Err(StoreError(format!(
                "Redis at {} did not answer within {:?}",
                self.shown, self.timeout
            ))),
        }
    }

    /// A connection of its own for subscriptions: what arrives on it goes to `push`, and
    /// it subscribes again to its channels after a reconnection. Its tasks run on the
    /// store's thread.
    pub fn subscriber(&self, push: impl AsyncPushSender) -> Result<ConnectionManager, StoreError> {
        let runtime = store_runtime();
        let _entered = runtime.enter();
        let config = self
            .config()
            .set_push_sender(push)
            .set_automatic_resubscription();
        ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| self.failed(&e))
    }

    /// Spawns `work` on the store's thread.
    pub fn spawn_task<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        store_runtime().spawn(future)
    }

    fn config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200))
    }

    /// This process's connection, made (lazily: it connects on its first command) the
    /// first time; on the store's thread.
    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let pid = std::process::id();
        let mut slot = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((owner, connection)) = slot.as_ref() {
            if *owner == pid {
                return Ok(connection.clone());
            }
        }
        let connection =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config())
                .map_err(|e| self.failed(&e))?;
        *slot = Some((pid, connection.clone()));
        Ok(connection)
    }

    fn failed(&self, error: &::redis::RedisError) -> StoreError {
        StoreError(format!("Redis at {}: {error}", self.shown))
    }
}

/// `url` with its password replaced by `***`.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        Some((_, host)) => format!("{scheme}://***@{host}"),
        None => url.to_owned(),
    }
}

/// The store's runtime: one thread, started by the first Redis operation of a process (a
/// forked worker starts its own).
fn store_runtime() -> Handle {
    static RUNTIME: OnceLock<Mutex<Option<(u32, Handle)>>> = OnceLock::new();
    let pid = std::process::id();
    let mut slot = RUNTIME
        .get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some((owner, handle)) = slot.as_ref() {
        if *owner == pid {
            return handle.clone();
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the store's runtime");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("ignyx-store".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .expect("the store's thread");
    *slot = Some((pid, handle.clone()));
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_not_shown() {
        assert_eq!(
            shown("redis://:secret@host:6379/0"),
            "redis://:***@host:6379/0"
        );
        assert_eq!(
            shown("redis://user:secret@host/1"),
            "redis://user:***@host/1"
        );
        assert_eq!(shown("redis://token@host"), "redis://***@host");
        assert_eq!(shown("redis://host:6379"), "redis://host:6379");
    }

    #[test]
    fn an_invalid_url_is_refused_when_opened() {
        let error = Redis::open("http://host", Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(error.starts_with("invalid Redis URL"), "{error}");
    }

    #[test]
    fn an_unreachable_server_fails_within_the_timeout() {
        // A port nothing listens on: refused at once, or given up after the timeout.
        let redis = Redis::open("redis://127.0.0.1:1/0", Duration::from_millis(300)).unwrap();
        let started = std::time::Instant::now();
        let handle = redis
            .spawn(|mut c| async move { ::redis::cmd("PING").query_async::<String>(&mut c).await });
        let result = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(handle)
            .unwrap();
        assert!(result.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
