//! Static files served by the engine: the common case of `ignyx.staticfiles.StaticFiles`
//! (a `GET` or `HEAD` for a file that is there, answered 200 or 304 with Starlette's
//! `FileResponse` headers) without calling Python. Anything else (a directory, a missing
//! file, `html=True` pages, a range, an unusual path) is left to the Python app, which
//! gives Starlette's answers to all of it.

use std::collections::HashMap;
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, LAST_MODIFIED, RANGE,
};
use http::{HeaderMap, Method, StatusCode};
use md5::{Digest, Md5};
use pyo3::prelude::*;

use super::response::{Reply, ReplyBody};
#[cfg(not(unix))]
use portable::MetadataExt;

/// Files up to this size are read whole; larger ones are streamed.
const READ_WHOLE: u64 = 256 * 1024;

/// `ignyx._core.StaticDirectories`: the directories a `StaticFiles` mount serves, searched
/// in order, with the content type of each file extension.
#[pyclass(module = "ignyx._core", frozen)]
pub struct StaticDirectories {
    /// The directories, resolved when symlinks are not followed (as `realpath`).
    roots: Vec<PathBuf>,
    follow_symlink: bool,
    /// `.css` -> `text/css; charset=utf-8`, as `mimetypes` and `FileResponse` say.
    types: HashMap<String, HeaderValue>,
    /// Extensions `mimetypes` treats as encodings or aliases (`.gz`, `.tgz`): left to Python.
    unusual: Vec<String>,
}

#[pymethods]
impl StaticDirectories {
    #[new]
    fn new(
        directories: Vec<PathBuf>,
        follow_symlink: bool,
        types: HashMap<String, String>,
        unusual: Vec<String>,
    ) -> PyResult<Self> {
        let roots = directories
            .into_iter()
            .map(|dir| match follow_symlink {
                true => std::path::absolute(&dir).unwrap_or(dir),
                false => std::fs::canonicalize(&dir).unwrap_or(dir),
            })
            .collect();
        let types = types
            .into_iter()
            .filter_map(|(ext, value)| Some((ext, HeaderValue::from_str(&value).ok()?)))
            .collect();
        Ok(Self {
            roots,
            follow_symlink,
            types,
            unusual,
        })
    }
}

impl StaticDirectories {
    /// The answer to a request for `rest` (the path under the mount), when it is a plain
    /// `GET` or `HEAD` of a regular file; None leaves the request to the Python app.
    pub fn serve(&self, method: &Method, headers: &HeaderMap, rest: &str) -> Option<Reply> {
        let head = match *method {
            Method::GET => false,
            Method::HEAD => true,
            _ => return None,
        };
        if !plain(rest) {
            return None;
        }
        let (path, meta) = self.find(rest)?;
        let content_type = self.content_type(&path)?;
        let (etag, modified) = validators(&meta);
        let mut reply_headers = HeaderMap::with_capacity(5);
        if not_modified(headers, &etag, &modified) {
            reply_headers.insert(ETAG, etag);
            return Some(Reply::full(
                StatusCode::NOT_MODIFIED,
                reply_headers,
                Bytes::new(),
            ));
        }
        reply_headers.insert(CONTENT_TYPE, content_type);
        reply_headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        reply_headers.insert(CONTENT_LENGTH, HeaderValue::from(meta.len()));
        reply_headers.insert(LAST_MODIFIED, modified);
        reply_headers.insert(ETAG, etag);
        // A HEAD with a range still needs the file: the range is answered from it.
        let body = if head && !headers.contains_key(RANGE) {
            ReplyBody::Full(Bytes::new())
        } else if meta.len() <= READ_WHOLE && !headers.contains_key(RANGE) {
            let bytes = std::fs::read(&path).ok()?;
            if bytes.len() as u64 != meta.len() {
                return None; // changed under us: let Python read it
            }
            reply_headers.remove(CONTENT_LENGTH); // the body says it
            ReplyBody::Full(Bytes::from(bytes))
        } else {
            let file = std::fs::File::open(&path).ok()?;
            ReplyBody::File(file, meta.len())
        };
        let mut reply = Reply::full(StatusCode::OK, reply_headers, Bytes::new());
        reply.body = body;
        Some(reply)
    }

    /// The file `rest` names in the first directory that has it, unless it would lie
    /// outside that directory.
    fn find(&self, rest: &str) -> Option<(PathBuf, std::fs::Metadata)> {
        for root in &self.roots {
            let joined = root.join(rest);
            let full = match self.follow_symlink {
                true => joined,
                false => match std::fs::canonicalize(&joined) {
                    Ok(full) => full,
                    Err(_) => continue,
                },
            };
            if !full.starts_with(root) {
                return None; // Python's answer (a 404) for a path that escapes
            }
            match std::fs::metadata(&full) {
                Ok(meta) if meta.is_file() => return Some((full, meta)),
                Ok(_) => return None, // a directory: Python's (html pages, redirects)
                Err(_) => continue,
            }
        }
        None
    }

    fn content_type(&self, path: &Path) -> Option<HeaderValue> {
        let name = path.file_name()?.to_str()?;
        let ext = match name.rfind('.') {
            Some(0) | None => return Some(HeaderValue::from_static("application/octet-stream")),
            Some(dot) => &name[dot..],
        };
        if self.unusual.iter().any(|unusual| unusual == ext) {
            return None;
        }
        let found = self
            .types
            .get(ext)
            .or_else(|| self.types.get(&ext.to_ascii_lowercase()));
        Some(
            found
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream")),
        )
    }
}

/// A path Rust may look up as it is: segments that are names, not `.`/`..`, no empty ones,
/// no backslash or NUL. Anything else is Python's.
fn plain(rest: &str) -> bool {
    !rest.is_empty()
        && !rest.contains(['\\', '\0'])
        && rest
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// The `ETag` (md5 of `f"{st_mtime}-{st_size}"`, Python's float text) and `Last-Modified`
/// Starlette's `FileResponse` gives a file.
fn validators(meta: &std::fs::Metadata) -> (HeaderValue, HeaderValue) {
    // CPython's st_mtime: seconds plus nanoseconds times 1e-9, as one double.
    let mtime = meta.mtime() as f64 + meta.mtime_nsec() as f64 * 1e-9;
    let mut text = ryu::Buffer::new().format(mtime).to_owned();
    text.push('-');
    text.push_str(itoa::Buffer::new().format(meta.len()));
    let digest = Md5::digest(text.as_bytes());
    let mut etag = String::with_capacity(34);
    etag.push('"');
    for byte in digest {
        etag.push_str(&format!("{byte:02x}"));
    }
    etag.push('"');
    let seconds = u64::try_from(meta.mtime()).unwrap_or(0);
    let modified = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(seconds));
    (
        HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"\"")),
        HeaderValue::from_str(&modified).unwrap_or_else(|_| HeaderValue::from_static("")),
    )
}

/// Whether the client has this version: `If-None-Match` (any of its tags, `W/` ignored, or
/// `*`), else `If-Modified-Since` not before `Last-Modified`.
fn not_modified(headers: &HeaderMap, etag: &HeaderValue, modified: &HeaderValue) -> bool {
    if let Some(tags) = text(headers, &IF_NONE_MATCH).filter(|t| !t.is_empty()) {
        if tags.trim() == "*" {
            return true;
        }
        let etag = etag.to_str().unwrap_or("");
        return tags
            .split(',')
            .any(|tag| tag.trim().trim_start_matches("W/") == etag);
    }
    let Some(since) = text(headers, &IF_MODIFIED_SINCE) else {
        return false;
    };
    match (
        httpdate::parse_http_date(since),
        httpdate::parse_http_date(modified.to_str().unwrap_or("")),
    ) {
        (Ok(since), Ok(modified)) => since >= modified,
        _ => false,
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `ignyx._core.FileChunks`: a file reply's bytes as an iterator of chunks, for an ASGI
/// server (which sends what the app gives it, not files).
#[pyclass(module = "ignyx._core")]
pub struct FileChunks {
    file: std::fs::File,
    remaining: u64,
}

impl FileChunks {
    pub fn new(file: std::fs::File, remaining: u64) -> Self {
        Self { file, remaining }
    }
}

#[pymethods]
impl FileChunks {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, pyo3::types::PyBytes>>> {
        use std::io::Read;
        if self.remaining == 0 {
            return Ok(None);
        }
        let mut chunk = vec![0u8; self.remaining.min(64 * 1024) as usize];
        let read = py.allow_threads(|| self.file.read(&mut chunk))?;
        if read == 0 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the file is shorter than expected",
            ));
        }
        self.remaining -= read as u64;
        Ok(Some(pyo3::types::PyBytes::new(py, &chunk[..read])))
    }
}

/// Windows: a file's `mtime()`/`mtime_nsec()` as Unix's `MetadataExt` gives them (and
/// CPython's `os.stat` there), from the portable modification time, so the `ETag` and
/// `Last-Modified` are made the same way.
#[cfg(not(unix))]
mod portable {
    use std::time::UNIX_EPOCH;

    pub trait MetadataExt {
        fn mtime(&self) -> i64;
        fn mtime_nsec(&self) -> i64;
    }

    impl MetadataExt for std::fs::Metadata {
        fn mtime(&self) -> i64 {
            since_epoch(self).0
        }

        fn mtime_nsec(&self) -> i64 {
            since_epoch(self).1
        }
    }

    /// Seconds (rounded down) and nanoseconds since 1970; 0 when the time is unknown.
    fn since_epoch(meta: &std::fs::Metadata) -> (i64, i64) {
        let Ok(modified) = meta.modified() else {
            return (0, 0);
        };
        match modified.duration_since(UNIX_EPOCH) {
            Ok(after) => (after.as_secs() as i64, i64::from(after.subsec_nanos())),
            Err(before) => {
                let before = before.duration();
                let (seconds, nanos) = (before.as_secs() as i64, i64::from(before.subsec_nanos()));
                match nanos {
                    0 => (-seconds, 0),
                    _ => (-seconds - 1, 1_000_000_000 - nanos),
                }
            }
        }
    }
}
