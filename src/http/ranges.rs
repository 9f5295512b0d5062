//! Byte ranges of a file reply (`FileResponse`, static files), as Starlette answers them:
//! one range is a 206 with `Content-Range`; several are one `multipart/byteranges` answer
//! (overlapping ones merged); an unreadable header is a 400 saying why, a range past the end
//! a 416; `If-Range` keeps the range only while the file is the one the client names.

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use http::{HeaderMap, StatusCode};

use super::response::{Reply, ReplyBody};

/// More ranges than this in one header are ignored: the whole file is sent.
const MAX_RANGES: usize = 100;
/// Several ranges are sent from memory up to this many bytes; past it, the whole file.
const MAX_MULTIPART: u64 = 8 * 1024 * 1024;

enum Refusal {
    Malformed(&'static str),
    NotSatisfiable,
}

/// Answers `range` (and `if_range`) for `reply`, a 200 whose body is a file; any other
/// reply is left as it is.
pub fn apply(reply: &mut Reply, range: &HeaderValue, if_range: Option<&HeaderValue>) {
    if reply.status != StatusCode::OK {
        return;
    }
    let ReplyBody::File(_, size) = &reply.body else {
        return;
    };
    let size = *size;
    if let Some(if_range) = if_range {
        let matches = |name| reply.headers.get(name).is_some_and(|v| v == if_range);
        if if_range.as_bytes().starts_with(b"W/") || !(matches(LAST_MODIFIED) || matches(ETAG)) {
            return;
        }
    }
    let ranges = match parse(range.to_str().unwrap_or(""), size) {
        Ok(ranges) => ranges,
        Err(Refusal::Malformed(message)) => {
            *reply = Reply::text(StatusCode::BAD_REQUEST, message);
            return;
        }
        Err(Refusal::NotSatisfiable) => {
            let mut refusal = Reply::text(StatusCode::RANGE_NOT_SATISFIABLE, "");
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                refusal.headers.insert(CONTENT_RANGE, value);
            }
            // Said outright: hyper leaves it out of an empty body.
            refusal
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            *reply = refusal;
            return;
        }
    };
    match ranges.as_slice() {
        [] => {}
        [(start, end)] => single(reply, *start, *end, size),
        spans => multiple(reply, spans, size),
    }
}

fn single(reply: &mut Reply, start: u64, end: u64, size: u64) {
    let ReplyBody::File(file, len) = &mut reply.body else {
        return;
    };
    if file.seek(SeekFrom::Start(start)).is_err() {
        return;
    }
    *len = end - start;
    reply.status = StatusCode::PARTIAL_CONTENT;
    set(
        &mut reply.headers,
        CONTENT_RANGE,
        format!("bytes {start}-{}/{size}", end - 1),
    );
    set(
        &mut reply.headers,
        CONTENT_LENGTH,
        (end - start).to_string(),
    );
}

fn multiple(reply: &mut Reply, spans: &[(u64, u64)], size: u64) {
    if spans.iter().map(|(s, e)| e - s).sum::<u64>() > MAX_MULTIPART {
        return; // the whole file, as a server may answer any range
    }
    let ReplyBody::File(file, _) = &mut reply.body else {
        return;
    };
    let Some(boundary) = boundary() else { return };
    let content_type = reply
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut body = Vec::new();
    for &(start, end) in spans {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {start}-{}/{size}\r\n\r\n",
                end - 1
            )
            .as_bytes(),
        );
        let at = body.len();
        body.resize(at + (end - start) as usize, 0);
        let read = file
            .seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut body[at..]));
        if read.is_err() {
            return;
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--").as_bytes());
    reply.status = StatusCode::PARTIAL_CONTENT;
    set(
        &mut reply.headers,
        CONTENT_TYPE,
        format!("multipart/byteranges; boundary={boundary}"),
    );
    set(&mut reply.headers, CONTENT_LENGTH, body.len().to_string());
    reply.body = ReplyBody::Full(Bytes::from(body));
}

fn set(headers: &mut HeaderMap, name: http::header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

/// 26 random hex digits (Starlette's `token_hex(13)`).
fn boundary() -> Option<String> {
    let mut bytes = [0u8; 13];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The byte ranges `header` asks of a file of `size` bytes, each `(start, end)` with `end`
/// excluded; none means the whole file.
fn parse(header: &str, size: u64) -> Result<Vec<(u64, u64)>, Refusal> {
    let Some((unit, specs)) = header.split_once('=') else {
        return Err(Refusal::Malformed("Malformed range header."));
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Err(Refusal::Malformed("Only support bytes range"));
    }
    let parts: Vec<&str> = specs.split(',').collect();
    if parts.len() > MAX_RANGES {
        return Ok(Vec::new());
    }
    let mut ranges: Vec<(u64, u64)> = parts.iter().filter_map(|part| one(part, size)).collect();
    if ranges.is_empty() {
        return Err(Refusal::Malformed("Range header: range must be requested"));
    }
    if ranges.iter().any(|&(start, _)| start >= size) {
        return Err(Refusal::NotSatisfiable);
    }
    if ranges.iter().any(|&(start, end)| start >= end) {
        return Err(Refusal::Malformed(
            "Range header: start must be less than end",
        ));
    }
    if ranges.len() == 1 {
        return Ok(ranges);
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ok(merged)
}

/// `start-end`, `start-` or `-suffix`; None when unreadable (Python's `int()` rules for
/// the numbers: spaces around, a sign, digits).
fn one(spec: &str, size: u64) -> Option<(u64, u64)> {
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() && last.is_empty() {
        return None;
    }
    if first.is_empty() {
        let suffix = integer(last)?;
        return Some(((size as i128 - suffix).max(0) as u64, size));
    }
    let start = integer(first)?;
    if start < 0 {
        return None; // Python's (negative start) never passes the bounds check either
    }
    let end = match last {
        "" => size,
        last => {
            let last = integer(last)?;
            if last < size as i128 {
                (last + 1).max(0) as u64
            } else {
                size
            }
        }
    };
    Some((start as u64, end))
}

fn integer(text: &str) -> Option<i128> {
    text.replace('_', "").parse::<i128>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(header: &str, size: u64) -> Vec<(u64, u64)> {
        parse(header, size).ok().unwrap()
    }

    #[test]
    fn ranges_read_as_starlette_reads_them() {
        assert_eq!(ranges("bytes=0-99", 1000), [(0, 100)]);
        assert_eq!(ranges("bytes=-50", 1000), [(950, 1000)]);
        assert_eq!(ranges("bytes=900-", 1000), [(900, 1000)]);
        assert_eq!(ranges("bytes=990-2000", 1000), [(990, 1000)]);
        assert_eq!(ranges("bytes=0-1, 1-3, 8-", 10), [(0, 4), (8, 10)]);
        assert!(matches!(
            parse("bytes=1000-", 1000),
            Err(Refusal::NotSatisfiable)
        ));
        assert!(matches!(parse("items=0-1", 10), Err(Refusal::Malformed(_))));
        assert!(matches!(parse("bytes=5-2", 10), Err(Refusal::Malformed(_))));
        assert!(matches!(parse("bytes=x-y", 10), Err(Refusal::Malformed(_))));
        assert!(matches!(parse("bytes", 10), Err(Refusal::Malformed(_))));
    }
}
