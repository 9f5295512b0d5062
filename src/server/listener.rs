//! The listening socket: a TCP port (SO_REUSEADDR on Unix), a Unix domain socket, or a
//! socket inherited as a descriptor (from a supervisor that bound it for all its workers,
//! or from systemd); and the descriptors to accept on it.
//!
//! On Windows only TCP is: a Unix socket (`uds=`) or an inherited descriptor (`fd=`) is an
//! error when the server starts (see `bind_unix` and `from_fd` there).

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
#[cfg(unix)]
use std::os::fd::{AsFd as AsSocket, AsRawFd, FromRawFd, RawFd};
#[cfg(unix)]
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
#[cfg(unix)]
use std::os::unix::net::UnixListener;
#[cfg(windows)]
use std::os::windows::io::AsSocket;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Windows: the type of the `fd=` setting, which is refused there (see `from_fd`).
#[cfg(not(unix))]
pub type RawFd = i32;

/// Where a server listens, before the runtime that accepts on it exists.
pub enum Listening {
    Tcp(TcpListener),
    /// `path` is removed when the server stops, if the server created it.
    #[cfg(unix)]
    Unix {
        listener: UnixListener,
        path: Option<PathBuf>,
    },
}

/// The listener, registered with the serving runtime.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// An accepted connection, over TCP or a Unix socket, decrypted by TLS or not: one type, so
/// that hyper's connection code is compiled once.
pub enum Stream {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    Tls(Box<tokio_rustls::server::TlsStream<Stream>>),
}

/// What a client speaking HTTP/2 without TLS sends first (RFC 9113, 3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection opens with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    Http1,
    Http2,
}

impl Opening {
    /// Told from `first`, the bytes received so far; `None` while they are only the start
    /// of HTTP/2's preface.
    fn of(first: &[u8]) -> Option<Self> {
        let n = first.len().min(H2_PREFACE.len());
        if first[..n] != H2_PREFACE[..n] {
            Some(Self::Http1)
        } else if n == H2_PREFACE.len() {
            Some(Self::Http2)
        } else {
            None
        }
    }
}

impl Stream {
    /// The protocol the client opens with, `None` if it closes first. Over TLS, the one ALPN
    /// chose (HTTP/1 without it: HTTP/2 over TLS is chosen by ALPN, RFC 9113 3.2); otherwise
    /// told from the first bytes, read without taking them (`MSG_PEEK`) so that hyper reads
    /// them whole into its own buffer. Read apart first (as hyper-util's detection does),
    /// they made hyper's next read grow that buffer to twice its size for the connection's
    /// life (16 KiB instead of 8), copying it.
    pub async fn opening(&self) -> Option<Opening> {
        match self {
            Self::Tcp(stream) => peek_opening(stream).await,
            #[cfg(unix)]
            Self::Unix(stream) => peek_opening(stream).await,
            Self::Tls(stream) => match stream.get_ref().1.alpn_protocol() {
                Some(b"h2") => Some(Opening::Http2),
                _ => Some(Opening::Http1),
            },
        }
    }
}

/// A socket whose first bytes can be read without taking them.
trait Peek: AsSocket {
    async fn readable(&self) -> io::Result<()>;
    /// `peek` on the socket, the readiness `readable` saw cleared if it would block.
    fn try_peek<R>(&self, peek: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
}

impl Peek for tokio::net::TcpStream {
    async fn readable(&self) -> io::Result<()> {
        tokio::net::TcpStream::readable(self).await
    }
    fn try_peek<R>(&self, peek: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.try_io(tokio::io::Interest::READABLE, peek)
    }
}

#[cfg(unix)]
impl Peek for tokio::net::UnixStream {
    async fn readable(&self) -> io::Result<()> {
        tokio::net::UnixStream::readable(self).await
    }
    fn try_peek<R>(&self, peek: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.try_io(tokio::io::Interest::READABLE, peek)
    }
}

/// Waits for the first bytes of `stream` and tells its opening from them. Bytes that are
/// only the start of HTTP/2's preface are left for more to come: the peek reports them as
/// "would block", which clears the readiness it was woken for (and no later one), so the
/// next wait is for new bytes.
async fn peek_opening(stream: &impl Peek) -> Option<Opening> {
    let mut first = [MaybeUninit::<u8>::uninit(); H2_PREFACE.len()];
    loop {
        stream.readable().await.ok()?;
        let peeked = stream.try_peek(|| {
            let n = SockRef::from(stream).peek(&mut first)?;
            // SAFETY: `peek` initialised the first `n` bytes.
            let received = unsafe { &*(&first[..n] as *const [MaybeUninit<u8>] as *const [u8]) };
            match (n, Opening::of(received)) {
                (0, _) => Ok(None),
                (_, Some(opening)) => Ok(Some(opening)),
                (_, None) => Err(io::Error::from(io::ErrorKind::WouldBlock)),
            }
        });
        match peeked {
            Ok(opening) => return opening,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            #[cfg(unix)]
            Self::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => tls::read(stream, cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
            #[cfg(unix)]
            Self::Unix(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => tls::write(stream, cx, buf),
        }
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            #[cfg(unix)]
            Self::Unix(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Tls(stream) => tls::write_vectored(stream, cx, bufs),
        }
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(stream) => stream.is_write_vectored(),
            #[cfg(unix)]
            Self::Unix(stream) => stream.is_write_vectored(),
            Self::Tls(stream) => stream.is_write_vectored(),
        }
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            #[cfg(unix)]
            Self::Unix(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => tls::flush(stream, cx),
        }
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            #[cfg(unix)]
            Self::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => tls::shutdown(stream, cx),
        }
    }
}

/// A TLS stream's reads and writes, out of line: inlined, rustls' code would make `Stream`'s
/// own too large to inline into hyper's, for every connection (about 50 instructions a
/// request each way).
mod tls {
    use super::*;

    type Tls = tokio_rustls::server::TlsStream<Stream>;

    #[inline(never)]
    pub fn read(s: &mut Tls, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(s).poll_read(cx, buf)
    }

    #[inline(never)]
    pub fn write(s: &mut Tls, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(s).poll_write(cx, buf)
    }

    #[inline(never)]
    pub fn write_vectored(
        s: &mut Tls,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(s).poll_write_vectored(cx, bufs)
    }

    #[inline(never)]
    pub fn flush(s: &mut Tls, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(s).poll_flush(cx)
    }

    #[inline(never)]
    pub fn shutdown(s: &mut Tls, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(s).poll_shutdown(cx)
    }
}

/// Listens where a server's settings say: on the inherited descriptor `fd`, else on the Unix
/// socket `uds`, else on `host:port`; returns the socket and where it listens, as a URL to
/// print (`http://127.0.0.1:8000`, `unix:/run/app.sock`, `descriptor 3 (http://...)`). An
/// error says where it could not listen.
pub fn open(
    host: &str,
    port: u16,
    uds: Option<&Path>,
    fd: Option<RawFd>,
    backlog: i32,
) -> std::io::Result<(Listening, String)> {
    let (opened, place) = match (fd, uds) {
        (Some(fd), _) => (from_fd(fd), format!("descriptor {fd}")),
        (None, Some(path)) => (bind_unix(path, backlog), path.display().to_string()),
        (None, None) => (bind(host, port, backlog), format!("{host}:{port}")),
    };
    let socket = opened
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {place}: {e}")))?;
    let address = match fd {
        Some(fd) => format!("descriptor {fd} ({})", socket.describe()),
        None => socket.describe(),
    };
    Ok((socket, address))
}

impl Listening {
    fn describe(&self) -> String {
        match self {
            Self::Tcp(listener) => listener
                .local_addr()
                .map_or_else(|_| "http://?".to_owned(), |local| format!("http://{local}")),
            #[cfg(unix)]
            Self::Unix { listener, .. } => {
                let local = listener.local_addr().ok();
                let path = local.as_ref().and_then(|a| a.as_pathname());
                format!("unix:{}", path.map_or("?".into(), Path::to_string_lossy))
            }
        }
    }

    #[cfg(unix)]
    pub fn as_raw_fd(&self) -> RawFd {
        match self {
            Self::Tcp(listener) => listener.as_raw_fd(),
            Self::Unix { listener, .. } => listener.as_raw_fd(),
        }
    }

    /// Windows: the socket's handle, as Python's `socket.fileno()` gives it there (or -1 if
    /// it does not fit); `fd=` refuses it, since a socket is not inherited by descriptor.
    #[cfg(windows)]
    pub fn as_raw_fd(&self) -> RawFd {
        use std::os::windows::io::AsRawSocket;
        match self {
            Self::Tcp(listener) => RawFd::try_from(listener.as_raw_socket()).unwrap_or(-1),
        }
    }

    /// The TCP address listened on (`None` for a Unix socket).
    pub fn local_addr(&self) -> std::io::Result<Option<SocketAddr>> {
        match self {
            Self::Tcp(listener) => listener.local_addr().map(Some),
            #[cfg(unix)]
            Self::Unix { .. } => Ok(None),
        }
    }

    /// Registers the socket with the current tokio runtime.
    pub fn into_listener(self) -> std::io::Result<Listener> {
        Ok(match self {
            Self::Tcp(listener) => Listener::Tcp(tokio::net::TcpListener::from_std(listener)?),
            #[cfg(unix)]
            Self::Unix { listener, .. } => {
                Listener::Unix(tokio::net::UnixListener::from_std(listener)?)
            }
        })
    }

    /// The socket file this server created, to remove when it stops.
    pub fn created_path(&self) -> Option<PathBuf> {
        match self {
            #[cfg(unix)]
            Self::Unix { path, .. } => path.clone(),
            Self::Tcp(_) => None,
        }
    }
}

impl Listener {
    /// The next connection, with the client's address when it has one.
    pub async fn accept(&self) -> std::io::Result<(Stream, Option<SocketAddr>)> {
        match self {
            Self::Tcp(listener) => {
                let (stream, client) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok((Stream::Tcp(stream), Some(client)))
            }
            #[cfg(unix)]
            Self::Unix(listener) => Ok((Stream::Unix(listener.accept().await?.0), None)),
        }
    }
}

fn bind(host: &str, port: u16, backlog: i32) -> std::io::Result<Listening> {
    let addr: SocketAddr = (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("cannot resolve {host}"),
        )
    })?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Not on Windows, where SO_REUSEADDR would let a second server bind the same port
    // (as asyncio does not set it there).
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.set_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(Listening::Tcp(socket.into()))
}

/// Listens on a Unix domain socket at `path`, as uvicorn's `--uds` does: a socket file
/// left there by an earlier server is replaced, and the new one is open to every local
/// user (0o666), as a proxy such as nginx needs.
#[cfg(unix)]
fn bind_unix(path: &Path, backlog: i32) -> std::io::Result<Listening> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&socket2::SockAddr::unix(path)?)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(Listening::Unix {
        listener: socket.into(),
        path: Some(path.to_owned()),
    })
}

/// Listens on a socket already bound and listening, inherited as descriptor `fd` (which
/// stays open for its owner: the server works on a duplicate).
#[cfg(unix)]
fn from_fd(fd: RawFd) -> std::io::Result<Listening> {
    // SAFETY: `dup` returns a new descriptor this server owns, or -1 (checked).
    let own = unsafe { libc::dup(fd) };
    if own < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `own` is a valid descriptor that nothing else owns.
    let socket = unsafe { Socket::from_raw_fd(own) };
    if socket.r#type()? != Type::STREAM {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is not a stream socket"),
        ));
    }
    socket.set_nonblocking(true)?;
    Ok(if socket.local_addr()?.is_unix() {
        Listening::Unix {
            listener: socket.into(),
            path: None,
        }
    } else {
        Listening::Tcp(socket.into())
    })
}

/// Raises this process's soft limit on open descriptors to its hard limit, as nginx's
/// `worker_rlimit_nofile` and Go's runtime do: each connection holds one, and the usual
/// soft limit (1,024) would refuse connections long before memory runs short.
#[cfg(unix)]
pub fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for getrlimit to fill and setrlimit to read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Windows: Unix domain sockets (`uds=`) are refused when the server starts.
#[cfg(not(unix))]
fn bind_unix(_path: &Path, _backlog: i32) -> std::io::Result<Listening> {
    Err(unsupported(
        "a Unix domain socket (uds=) is not supported on Windows",
    ))
}

/// Windows: a listening socket inherited by descriptor (`fd=`) is refused when the server
/// starts (sockets are not shared with workers by descriptor there).
#[cfg(not(unix))]
fn from_fd(_fd: RawFd) -> std::io::Result<Listening> {
    Err(unsupported(
        "an inherited socket (fd=) is not supported on Windows",
    ))
}

#[cfg(not(unix))]
fn unsupported(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Unsupported, what)
}

/// Windows: nothing to raise (no per-process soft limit on sockets).
#[cfg(not(unix))]
pub fn raise_descriptor_limit() {}

#[cfg(test)]
mod tests {
    use super::{Opening, H2_PREFACE};

    #[test]
    fn the_opening_is_told_from_the_first_bytes() {
        assert_eq!(Opening::of(b"GET / HTTP/1.1\r\n"), Some(Opening::Http1));
        assert_eq!(Opening::of(b"POST / HTTP/1.1\r\n"), Some(Opening::Http1));
        assert_eq!(Opening::of(b"PRI * HTTP/1.1\r\n"), Some(Opening::Http1));
        assert_eq!(Opening::of(H2_PREFACE), Some(Opening::Http2));
        // The start of the preface: more is needed to tell.
        assert_eq!(Opening::of(b"P"), None);
        assert_eq!(Opening::of(b"PRI * HTTP/2.0\r\n"), None);
    }
}
