//! The access log: one line per answered request, in uvicorn's format
//! (`127.0.0.1:5123 - "GET /users/7 HTTP/1.1" 200 OK`) or as a JSON object, written
//! straight to stderr, or through the Python logger `ignyx.access` when logging is
//! configured otherwise (`--log-config`).
//!
//! A request's task formats its line into a buffer shared with a thread of its own, which
//! writes the buffer out every few milliseconds, or as soon as it fills: no request waits
//! on a write or the GIL, and no request wakes the writer (a system call each). A buffer
//! the writer cannot take in time (a log slower than the traffic, a pipe no one reads) is
//! dropped, its lines counted, and the count told when the server stops.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use http::uri::PathAndQuery;
use http::{Method, StatusCode, Uri, Version};
use pyo3::prelude::*;

use super::reasons::Phrases;
use super::request::{http_version, push_ip};

/// Bytes (or, for a logger, records) buffered before the buffer goes to the writer.
const FULL: usize = 64 * 1024;
const FULL_RECORDS: usize = 1024;
/// Full buffers waiting for the writer before new ones are dropped.
const WAITING: usize = 32;
/// How often the writer takes the lines buffered so far.
const EVERY: Duration = Duration::from_millis(20);
/// How long a stopping server waits for the log's last lines (stderr may be a pipe no one
/// reads).
const LAST_LINES: Duration = Duration::from_secs(2);

/// Where the lines go.
pub enum Sink {
    /// Straight to stderr, each text line prefixed as the server's own log lines are.
    Stderr,
    /// To this Python logger, at INFO, with uvicorn's message and arguments (so uvicorn's
    /// `AccessFormatter` formats them too).
    Logger(Py<PyAny>),
}

/// A request seen, to be logged once answered.
pub struct Seen {
    client: Option<SocketAddr>,
    method: Method,
    target: Option<PathAndQuery>,
    version: Version,
    /// When it came (JSON lines say when, and how long it took).
    at: Option<SystemTime>,
}

/// Lines not yet written: text for stderr, records for a logger.
enum Lines {
    Text(String),
    Records(Vec<Record>),
}

/// One line for a Python logger: uvicorn's arguments, or the JSON object.
struct Record {
    client: String,
    method: Method,
    path: String,
    version: &'static str,
    status: u16,
    json: Option<String>,
}

impl Lines {
    fn empty(sink: &Sink) -> Self {
        match sink {
            Sink::Stderr => Self::Text(String::with_capacity(FULL + 512)),
            Sink::Logger(_) => Self::Records(Vec::new()),
        }
    }

    fn is_full(&self) -> bool {
        match self {
            Self::Text(text) => text.len() >= FULL,
            Self::Records(records) => records.len() >= FULL_RECORDS,
        }
    }

    /// The lines so far, leaving an empty buffer of the same kind.
    fn take(&mut self) -> Self {
        match self {
            Self::Text(text) => {
                Self::Text(std::mem::replace(text, String::with_capacity(FULL + 512)))
            }
            Self::Records(records) => Self::Records(std::mem::take(records)),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Text(text) => text.is_empty(),
            Self::Records(records) => records.is_empty(),
        }
    }
}

struct Pending {
    lines: Lines,
    count: u64,
}

enum Message {
    Full(Lines),
    Close,
}

pub struct AccessLog {
    json: bool,
    phrases: Arc<Phrases>,
    pending: Arc<Mutex<Pending>>,
    sender: Sender<Message>,
    dropped: AtomicU64,
    /// Hears from the writer once it has written everything and stopped.
    stopped: Receiver<()>,
}

impl AccessLog {
    pub fn start(sink: Sink, json: bool, phrases: Arc<Phrases>) -> std::io::Result<Self> {
        let (sender, receiver) = crossbeam_channel::bounded(WAITING);
        let (done, stopped) = crossbeam_channel::bounded(1);
        let pending = Arc::new(Mutex::new(Pending {
            lines: Lines::empty(&sink),
            count: 0,
        }));
        let shared = pending.clone();
        std::thread::Builder::new()
            .name("ignyx-access-log".into())
            .spawn(move || {
                write_lines(&receiver, &shared, &sink);
                let _ = done.send(());
            })?;
        Ok(Self {
            json,
            phrases,
            pending,
            sender,
            dropped: AtomicU64::new(0),
            stopped,
        })
    }

    /// What the log keeps of a request as it comes.
    pub fn seen(
        &self,
        client: Option<SocketAddr>,
        method: &Method,
        target: &Uri,
        version: Version,
    ) -> Seen {
        Seen {
            client,
            method: method.clone(),
            target: target.path_and_query().cloned(),
            version,
            at: self.json.then(SystemTime::now),
        }
    }

    /// Adds the line of a request answered with `status`.
    pub fn record(&self, seen: Seen, status: StatusCode) {
        let elapsed = (seen.at)
            .and_then(|at| at.elapsed().ok())
            .unwrap_or_default();
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let json = self.json;
        match &mut pending.lines {
            Lines::Text(text) => {
                if json {
                    json_line(text, &seen, status, elapsed);
                } else {
                    text.push_str("INFO:     ");
                    text_line(text, &seen, status, self.phrases.of(status));
                }
                text.push('\n');
            }
            Lines::Records(records) => records.push(Record {
                client: client_text(seen.client),
                path: target_text(&seen.target).to_owned(),
                version: http_version(seen.version),
                status: status.as_u16(),
                json: json.then(|| {
                    let mut text = String::new();
                    json_line(&mut text, &seen, status, elapsed);
                    text
                }),
                method: seen.method,
            }),
        }
        pending.count += 1;
        if pending.lines.is_full() {
            let full = pending.lines.take();
            let count = std::mem::take(&mut pending.count);
            drop(pending);
            if let Err(TrySendError::Full(_)) = self.sender.try_send(Message::Full(full)) {
                self.dropped.fetch_add(count, Ordering::Relaxed);
            }
        }
    }

    /// Writes what is buffered and stops the writer, waiting for it a moment at most (a
    /// writer stuck on a full pipe is left behind); call without the GIL.
    pub fn finish(&self) {
        let _ = self.sender.send_timeout(Message::Close, LAST_LINES);
        let _ = self.stopped.recv_timeout(LAST_LINES);
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            eprintln!("WARNING:  {dropped} access log lines were dropped: the log was slower than the requests");
        }
    }
}

/// The writer: full buffers as they come, and what is buffered every `EVERY`.
fn write_lines(receiver: &Receiver<Message>, pending: &Mutex<Pending>, sink: &Sink) {
    loop {
        let closing = match receiver.recv_timeout(EVERY) {
            Ok(Message::Full(lines)) => {
                write(sink, lines);
                continue;
            }
            Ok(Message::Close) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        };
        let buffered = pending.lock().ok().and_then(|mut pending| {
            pending.count = 0;
            (!pending.lines.is_empty()).then(|| pending.lines.take())
        });
        if let Some(lines) = buffered {
            write(sink, lines);
        }
        if closing {
            return;
        }
    }
}

fn write(sink: &Sink, lines: Lines) {
    match (sink, lines) {
        (Sink::Logger(logger), Lines::Records(records)) => Python::with_gil(|py| {
            let logger = logger.bind(py);
            for record in &records {
                let logged = match &record.json {
                    Some(json) => logger.call_method1("info", ("%s", json.as_str())),
                    None => logger.call_method1(
                        "info",
                        (
                            "%s - \"%s %s HTTP/%s\" %d",
                            record.client.as_str(),
                            record.method.as_str(),
                            record.path.as_str(),
                            record.version,
                            record.status,
                        ),
                    ),
                };
                if let Err(err) = logged {
                    err.print(py);
                }
            }
        }),
        (_, Lines::Text(text)) => {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
        (Sink::Stderr, Lines::Records(_)) => {}
    }
}

/// `127.0.0.1:5123 - "GET /users/7?full=1 HTTP/1.1" 200 OK`, as uvicorn's access log.
fn text_line(out: &mut String, seen: &Seen, status: StatusCode, phrase: &str) {
    push_client(out, seen.client);
    out.push_str(" - \"");
    out.push_str(seen.method.as_str());
    out.push(' ');
    out.push_str(target_text(&seen.target));
    out.push_str(" HTTP/");
    out.push_str(http_version(seen.version));
    out.push_str("\" ");
    out.push_str(itoa::Buffer::new().format(status.as_u16()));
    out.push(' ');
    out.push_str(phrase);
}

/// `{"time": ..., "client": ..., "method": ..., "path": ..., "http_version": ..., "status":
/// ..., "duration_ms": ...}`: one JSON object, for log shippers.
fn json_line(out: &mut String, seen: &Seen, status: StatusCode, elapsed: Duration) {
    out.push_str("{\"time\":\"");
    rfc3339(out, seen.at.unwrap_or_else(SystemTime::now));
    out.push_str("\",\"client\":");
    json_string(out, &client_text(seen.client));
    out.push_str(",\"method\":");
    json_string(out, seen.method.as_str());
    out.push_str(",\"path\":");
    json_string(out, target_text(&seen.target));
    let _ = write!(
        out,
        ",\"http_version\":\"{}\",\"status\":{},\"duration_ms\":{:.3}}}",
        http_version(seen.version),
        status.as_u16(),
        elapsed.as_secs_f64() * 1000.0
    );
}

/// `127.0.0.1:5123`, `[::1]:5123`, or nothing for a Unix socket's client.
fn push_client(out: &mut String, client: Option<SocketAddr>) {
    let Some(client) = client else { return };
    if client.is_ipv6() {
        out.push('[');
        push_ip(out, client.ip());
        out.push(']');
    } else {
        push_ip(out, client.ip());
    }
    out.push(':');
    out.push_str(itoa::Buffer::new().format(client.port()));
}

fn client_text(client: Option<SocketAddr>) -> String {
    let mut text = String::new();
    push_client(&mut text, client);
    text
}

/// The path and query as the client sent them (an HTTP/2 request's URI is absolute).
fn target_text(target: &Option<PathAndQuery>) -> &str {
    target.as_ref().map_or("/", PathAndQuery::as_str)
}

fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `2026-12-05T10:27:25.123Z`.
fn rfc3339(out: &mut String, at: SystemTime) {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since.as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis()
    );
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(client: Option<SocketAddr>, target: &str) -> Seen {
        Seen {
            client,
            method: Method::GET,
            target: target.parse::<Uri>().unwrap().path_and_query().cloned(),
            version: Version::HTTP_11,
            at: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_466_445_123)),
        }
    }

    #[test]
    fn text_lines_are_uvicorns() {
        let mut out = String::new();
        let client = Some("127.0.0.1:5123".parse().unwrap());
        text_line(
            &mut out,
            &seen(client, "/users/7?full=1"),
            StatusCode::OK,
            "OK",
        );
        assert_eq!(
            out,
            "127.0.0.1:5123 - \"GET /users/7?full=1 HTTP/1.1\" 200 OK"
        );
        out.clear();
        text_line(
            &mut out,
            &seen(None, "http://h/x"),
            StatusCode::NOT_FOUND,
            "Not Found",
        );
        assert_eq!(out, " - \"GET /x HTTP/1.1\" 404 Not Found");
    }

    #[test]
    fn json_lines_are_objects_with_a_utc_time() {
        let mut out = String::new();
        let client = Some("[::1]:80".parse().unwrap());
        json_line(
            &mut out,
            &seen(client, "/a?q=%22"),
            StatusCode::OK,
            Duration::from_micros(1500),
        );
        assert_eq!(
            out,
            r#"{"time":"2026-12-05T10:27:25.123Z","client":"[::1]:80","method":"GET","path":"/a?q=%22","http_version":"1.1","status":200,"duration_ms":1.500}"#
        );
        out.clear();
        json_string(&mut out, "a\"b\\c\u{1}");
        assert_eq!(out, r#""a\"b\\c\u0001""#);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_792), (2026, 12, 5));
    }
}
