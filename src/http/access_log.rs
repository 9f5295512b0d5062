//! The access log: one line per answered request, in uvicorn's format
//! (`127.0.0.1:5123 - "GET /users/7 HTTP/1.1" 200 OK`) or as a JSON object. The request's
//! task only queues what it saw; a thread of its own formats the lines and writes them,
//! straight to stderr, or through the Python logger `ignyx.access` when logging is
//! configured otherwise (`--log-config`), so the request never waits on a write or the GIL.
//! When the queue is full (a log slower than the traffic), lines are dropped and counted,
//! and the count is logged, rather than slowing the server.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use http::{Method, StatusCode, Uri, Version};
use pyo3::prelude::*;

use super::request::{http_version, ip_text};

/// Lines queued before new ones are dropped.
const QUEUE: usize = 64 * 1024;
/// Lines written at once.
const BATCH: usize = 512;

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
    target: Uri,
    version: Version,
    at: SystemTime,
}

impl Seen {
    pub fn new(
        client: Option<SocketAddr>,
        method: &Method,
        target: &Uri,
        version: Version,
    ) -> Self {
        Self {
            client,
            method: method.clone(),
            target: target.clone(),
            version,
            at: SystemTime::now(),
        }
    }
}

enum Message {
    Line(Seen, StatusCode, Duration),
    Close,
}

pub struct AccessLog {
    sender: Sender<Message>,
    dropped: AtomicU64,
    /// Hears from the writer once it has written everything and stopped.
    stopped: Receiver<()>,
}

/// How long a stopping server waits for the log's last lines (stderr may be a pipe no one
/// reads).
const LAST_LINES: Duration = Duration::from_secs(2);

impl AccessLog {
    pub fn start(sink: Sink, json: bool) -> std::io::Result<Self> {
        let (sender, receiver) = crossbeam_channel::bounded(QUEUE);
        let (done, stopped) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("ignyx-access-log".into())
            .spawn(move || {
                write_lines(&receiver, &sink, json);
                let _ = done.send(());
            })?;
        Ok(Self {
            sender,
            dropped: AtomicU64::new(0),
            stopped,
        })
    }

    /// Queues the line of a request answered with `status`, `elapsed` after it was seen.
    pub fn record(&self, seen: Seen, status: StatusCode) {
        let elapsed = seen.at.elapsed().unwrap_or_default();
        if let Err(TrySendError::Full(_)) =
            self.sender.try_send(Message::Line(seen, status, elapsed))
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes what is queued and stops the writer, waiting for it a moment at most (a
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

fn write_lines(receiver: &Receiver<Message>, sink: &Sink, json: bool) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut text = String::new();
    loop {
        let Ok(first) = receiver.recv() else { return };
        batch.push(first);
        batch.extend(receiver.try_iter().take(BATCH - 1));
        let mut closing = false;
        let lines = batch.drain(..).filter_map(|message| match message {
            Message::Line(seen, status, elapsed) => Some((seen, status, elapsed)),
            Message::Close => {
                closing = true;
                None
            }
        });
        match sink {
            Sink::Stderr => {
                text.clear();
                for (seen, status, elapsed) in lines {
                    if json {
                        json_line(&mut text, &seen, status, elapsed);
                    } else {
                        text.push_str("INFO:     ");
                        text_line(&mut text, &seen, status);
                    }
                    text.push('\n');
                }
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            Sink::Logger(logger) => {
                let lines: Vec<_> = lines.collect();
                Python::with_gil(|py| {
                    let logger = logger.bind(py);
                    for (seen, status, elapsed) in &lines {
                        let logged = if json {
                            text.clear();
                            json_line(&mut text, seen, *status, *elapsed);
                            logger.call_method1("info", ("%s", text.as_str()))
                        } else {
                            logger.call_method1(
                                "info",
                                (
                                    "%s - \"%s %s HTTP/%s\" %d",
                                    client_text(seen.client),
                                    seen.method.as_str(),
                                    target_text(&seen.target),
                                    http_version(seen.version),
                                    status.as_u16(),
                                ),
                            )
                        };
                        if let Err(err) = logged {
                            err.print(py);
                        }
                    }
                });
            }
        }
        if closing {
            return;
        }
    }
}

/// `127.0.0.1:5123 - "GET /users/7?full=1 HTTP/1.1" 200 OK`, as uvicorn's access log.
fn text_line(out: &mut String, seen: &Seen, status: StatusCode) {
    let _ = write!(
        out,
        "{} - \"{} {} HTTP/{}\" {} {}",
        client_text(seen.client),
        seen.method,
        target_text(&seen.target),
        http_version(seen.version),
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
    );
}

/// `{"time": ..., "client": ..., "method": ..., "path": ..., "http_version": ..., "status":
/// ..., "duration_ms": ...}`: one JSON object, for log shippers.
fn json_line(out: &mut String, seen: &Seen, status: StatusCode, elapsed: Duration) {
    out.push_str("{\"time\":\"");
    rfc3339(out, seen.at);
    out.push_str("\",\"client\":");
    json_string(out, &client_text(seen.client));
    out.push_str(",\"method\":");
    json_string(out, seen.method.as_str());
    out.push_str(",\"path\":");
    json_string(out, &target_text(&seen.target));
    let _ = write!(
        out,
        ",\"http_version\":\"{}\",\"status\":{},\"duration_ms\":{:.3}}}",
        http_version(seen.version),
        status.as_u16(),
        elapsed.as_secs_f64() * 1000.0
    );
}

fn client_text(client: Option<SocketAddr>) -> String {
    match client {
        Some(SocketAddr::V4(v4)) => format!("{}:{}", ip_text((*v4.ip()).into()), v4.port()),
        Some(SocketAddr::V6(v6)) => format!("[{}]:{}", v6.ip(), v6.port()),
        None => String::new(),
    }
}

/// The path and query as the client sent them (an HTTP/2 request's URI is absolute).
fn target_text(target: &Uri) -> String {
    target
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
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
            target: target.parse().unwrap(),
            version: Version::HTTP_11,
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_466_445_123),
        }
    }

    #[test]
    fn text_lines_are_uvicorns() {
        let mut out = String::new();
        let client = Some("127.0.0.1:5123".parse().unwrap());
        text_line(&mut out, &seen(client, "/users/7?full=1"), StatusCode::OK);
        assert_eq!(
            out,
            "127.0.0.1:5123 - \"GET /users/7?full=1 HTTP/1.1\" 200 OK"
        );
        out.clear();
        text_line(&mut out, &seen(None, "http://h/x"), StatusCode::NOT_FOUND);
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
