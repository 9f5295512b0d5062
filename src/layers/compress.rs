//! Response compression, configured like Starlette's `GZipMiddleware` (gzip when the
//! client's `Accept-Encoding` mentions it; small, already-encoded, partial and excluded
//! responses left alone), and, opt-in, Brotli and Zstandard chosen by `Accept-Encoding`
//! q-values.
//!
//! Gzip goes through zlib itself (flate2's zlib backend) with the window and levels Python's
//! `zlib.compressobj` uses, so a body compressed here has Starlette's bytes.

use bytes::Bytes;
use flate2::{Compress, Compression as Level, FlushCompress, Status};
use http::header::{
    HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY,
};
use http::{HeaderMap, StatusCode};

/// A content coding the engine can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Brotli,
    Zstd,
}

impl Encoding {
    pub fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }

    pub fn parse(token: &str) -> Option<Self> {
        match token {
            "gzip" => Some(Self::Gzip),
            "br" => Some(Self::Brotli),
            "zstd" => Some(Self::Zstd),
            _ => None,
        }
    }
}

/// The compression layer's settings.
#[derive(Clone, Debug)]
pub struct Compression {
    pub minimum_size: usize,
    /// Offered codings, most preferred first. `[Gzip]` alone is Starlette's `GZipMiddleware`,
    /// which looks for `gzip` anywhere in `Accept-Encoding`; more are negotiated by q-values.
    pub encodings: Vec<Encoding>,
    pub gzip_level: u32,
    pub brotli_quality: u32,
    pub zstd_level: i32,
    /// Media types never compressed (`image/png`, or a whole type as `video/*`).
    pub exclude_content_types: Vec<String>,
}

impl Compression {
    pub fn new(
        minimum_size: usize,
        encodings: &[String],
        gzip_level: u32,
        brotli_quality: u32,
        zstd_level: i32,
        exclude_content_types: &[String],
    ) -> Result<Self, String> {
        let encodings = encodings
            .iter()
            .map(|name| {
                Encoding::parse(name)
                    .ok_or_else(|| format!("unknown encoding {name:?}: expected gzip, br or zstd"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if encodings.is_empty() {
            return Err("at least one encoding is needed".to_owned());
        }
        if gzip_level > 9 {
            return Err(format!("compresslevel {gzip_level}: expected 0 to 9"));
        }
        Ok(Self {
            minimum_size,
            encodings,
            gzip_level,
            brotli_quality: brotli_quality.min(11),
            zstd_level,
            exclude_content_types: exclude_content_types
                .iter()
                .map(|t| {
                    t.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
                .collect(),
        })
    }

    /// The coding to answer `request_headers` with, if any.
    pub fn negotiate(&self, request_headers: &HeaderMap) -> Option<Encoding> {
        let accepted = request_headers.get(ACCEPT_ENCODING)?.to_str().ok()?;
        if let [Encoding::Gzip] = self.encodings.as_slice() {
            // Starlette's test, a substring.
            return accepted.contains("gzip").then_some(Encoding::Gzip);
        }
        let mut best: Option<(f32, usize, Encoding)> = None;
        for item in accepted.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality <= 0.0 {
                continue;
            }
            let offered = |encoding: &Encoding| token == encoding.token() || token == "*";
            for (rank, encoding) in self.encodings.iter().enumerate() {
                if !offered(encoding) {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((q, r, _)) => quality > q || (quality == q && rank < r),
                };
                if better {
                    best = Some((quality, rank, *encoding));
                }
            }
        }
        best.map(|(_, _, encoding)| encoding)
    }

    /// Whether a response with `status` and `headers` may be compressed at all, by its
    /// headers (Starlette leaves encoded, partial and excluded responses as they are).
    pub fn applies(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        if status == StatusCode::PARTIAL_CONTENT || headers.contains_key(CONTENT_ENCODING) {
            return false;
        }
        let media_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let whole = format!("{}/*", media_type.split('/').next().unwrap_or(""));
        let grpc = media_type.starts_with("application/grpc+");
        !self.exclude_content_types.iter().any(|excluded| {
            *excluded == media_type
                || *excluded == whole
                || (grpc && excluded == "application/grpc")
        })
    }

    /// Marks `headers` as those of a body compressed with `encoding`: the coding, and no
    /// `Content-Length` (the engine writes the new one).
    pub fn mark(&self, encoding: Encoding, headers: &mut HeaderMap) {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.token()));
        headers.remove(CONTENT_LENGTH);
    }

    /// The encoder of one response body.
    pub fn encoder(&self, encoding: Encoding) -> Encoder {
        match encoding {
            // Python's zlib.compressobj(level, DEFLATED, 16 + MAX_WBITS): zlib's own gzip
            // wrapper, memLevel 8.
            Encoding::Gzip => Encoder::Gzip(Box::new(Compress::new_gzip(
                Level::new(self.gzip_level),
                15,
            ))),
            Encoding::Brotli => Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                self.brotli_quality,
                22,
            ))),
            Encoding::Zstd => {
                match zstd::stream::write::Encoder::new(Vec::new(), self.zstd_level) {
                    Ok(encoder) => Encoder::Zstd(Box::new(encoder)),
                    Err(_) => Encoder::Gzip(Box::new(Compress::new_gzip(
                        Level::new(self.gzip_level),
                        15,
                    ))),
                }
            }
        }
    }
}

/// `token` added to what the response varies on (`Vary`), as Starlette's
/// `add_vary_header` adds it: one header, the earlier values first.
pub fn add_vary(headers: &mut HeaderMap, token: &str) {
    let mut values: Vec<&str> = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    values.push(token);
    if let Ok(value) = HeaderValue::from_str(&values.join(", ")) {
        headers.insert(VARY, value);
    }
}

/// One body's compressor: `chunk` for each part, the last one with `more = false`.
pub enum Encoder {
    Gzip(Box<Compress>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(Box<zstd::stream::write::Encoder<'static, Vec<u8>>>),
    Done,
}

impl Encoder {
    /// The compressed form of `data`: flushed so that the client can decode everything so
    /// far when `more` (a streamed body, as Starlette's `Z_SYNC_FLUSH`), finished when not.
    pub fn chunk(&mut self, data: &[u8], more: bool) -> Bytes {
        use std::io::Write;
        let out = match self {
            Self::Gzip(compress) => gzip(compress, data, more),
            Self::Brotli(writer) => {
                let _ = writer.write_all(data);
                let _ = writer.flush();
                std::mem::take(writer.get_mut())
            }
            Self::Zstd(encoder) => {
                let _ = encoder.write_all(data);
                let _ = encoder.flush();
                std::mem::take(encoder.get_mut())
            }
            Self::Done => Vec::new(),
        };
        if more {
            return Bytes::from(out);
        }
        let tail = match std::mem::replace(self, Self::Done) {
            Self::Brotli(writer) => writer.into_inner(),
            Self::Zstd(encoder) => encoder.finish().unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut out = out;
        out.extend_from_slice(&tail);
        Bytes::from(out)
    }
}

fn gzip(compress: &mut Compress, mut data: &[u8], more: bool) -> Vec<u8> {
    let flush = if more {
        FlushCompress::Sync
    } else {
        FlushCompress::Finish
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let before = compress.total_in();
        let status = compress.compress_vec(data, &mut out, flush);
        data = &data[(compress.total_in() - before) as usize..];
        match status {
            Ok(Status::StreamEnd) => return out,
            Ok(_) if data.is_empty() && out.len() < out.capacity() => return out,
            Ok(_) => continue,
            Err(_) => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip_only() -> Compression {
        Compression::new(
            500,
            &["gzip".into()],
            9,
            4,
            3,
            &["image/png".into(), "video/*".into()],
        )
        .unwrap()
    }

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn gzip_alone_is_chosen_as_starlette_does() {
        let layer = gzip_only();
        assert_eq!(
            layer.negotiate(&accepting("gzip, deflate")),
            Some(Encoding::Gzip)
        );
        assert_eq!(layer.negotiate(&accepting("x-gzip")), Some(Encoding::Gzip));
        assert_eq!(layer.negotiate(&accepting("br")), None);
        assert_eq!(layer.negotiate(&HeaderMap::new()), None);
    }

    #[test]
    fn q_values_choose_among_several() {
        let names = ["zstd".into(), "br".into(), "gzip".into()];
        let layer = Compression::new(0, &names, 9, 4, 3, &[]).unwrap();
        assert_eq!(
            layer.negotiate(&accepting("gzip, br, zstd")),
            Some(Encoding::Zstd)
        );
        assert_eq!(
            layer.negotiate(&accepting("gzip;q=1, br;q=0.5")),
            Some(Encoding::Gzip)
        );
        assert_eq!(
            layer.negotiate(&accepting("br;q=0, gzip;q=0.1")),
            Some(Encoding::Gzip)
        );
        assert_eq!(layer.negotiate(&accepting("*")), Some(Encoding::Zstd));
        assert_eq!(layer.negotiate(&accepting("identity")), None);
    }

    #[test]
    fn excluded_and_encoded_responses_are_left_alone() {
        let layer = gzip_only();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
        assert!(!layer.applies(StatusCode::OK, &headers));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        assert!(layer.applies(StatusCode::OK, &headers));
        assert!(!layer.applies(StatusCode::PARTIAL_CONTENT, &headers));
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
        assert!(!layer.applies(StatusCode::OK, &headers));
    }

    #[test]
    fn every_coding_round_trips_in_chunks() {
        use std::io::Read;
        let text = b"hello compressed world ".repeat(200);
        for name in ["gzip", "br", "zstd"] {
            let layer = Compression::new(0, &[name.into()], 6, 4, 3, &[]).unwrap();
            let mut encoder = layer.encoder(layer.encodings[0]);
            let mut out = encoder.chunk(&text[..1000], true).to_vec();
            out.extend_from_slice(&encoder.chunk(&text[1000..], false));
            let mut back = Vec::new();
            match name {
                "gzip" => {
                    flate2::read::GzDecoder::new(&out[..])
                        .read_to_end(&mut back)
                        .unwrap();
                }
                "br" => {
                    brotli::Decompressor::new(&out[..], 4096)
                        .read_to_end(&mut back)
                        .unwrap();
                }
                _ => back = zstd::decode_all(&out[..]).unwrap(),
            }
            assert_eq!(back, text, "{name}");
        }
    }
}
