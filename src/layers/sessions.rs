//! Signed-cookie sessions, configured like Starlette's `SessionMiddleware` and readable both
//! ways with it: the cookie is the session as base64 JSON, signed as itsdangerous'
//! `TimestampSigner` signs (HMAC-SHA1 with its "django-concat" key, a timestamp, URL-safe
//! base64 without padding), so a cookie written by either reads in the other with the same
//! key. A tampered, expired or malformed cookie reads as no session.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::Bytes;
use hmac::{KeyInit, Mac};
use http::header::{HeaderValue, COOKIE};
use http::HeaderMap;
use sha1::{Digest, Sha1};

type HmacSha1 = hmac::Hmac<Sha1>;

/// itsdangerous' `base64_encode`/`base64_decode`: URL-safe, unpadded out, padding optional in.
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Python's `base64.b64encode`/`b64decode` of the session's JSON: standard, padded. Only a
/// canonical payload decodes here; Python's lenient reading of any other is left to it.
const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The JSON a cookie's payload (base64) holds, when it is canonical base64.
pub fn session_json(payload: &[u8]) -> Option<Vec<u8>> {
    STANDARD.decode(payload).ok()
}

/// `SessionMiddleware(secret_key, session_cookie, max_age, path, same_site, https_only,
/// domain, partitioned)`.
#[derive(Clone, Debug)]
pub struct Sessions {
    key: Vec<u8>,
    cookie: String,
    max_age: Option<u64>,
    path: String,
    /// `httponly; samesite=lax` and the rest, as Starlette writes them.
    flags: String,
}

impl Sessions {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        secret_key: &str,
        cookie: String,
        max_age: Option<u64>,
        path: String,
        same_site: &str,
        https_only: bool,
        domain: Option<String>,
        partitioned: bool,
    ) -> Self {
        // itsdangerous' default key: sha1(salt + b"signer" + secret), salt b"itsdangerous.Signer".
        let mut digest = Sha1::new();
        digest.update(b"itsdangerous.Signer");
        digest.update(b"signer");
        digest.update(secret_key.as_bytes());
        let mut flags = format!("httponly; samesite={same_site}");
        if https_only {
            flags.push_str("; secure");
        }
        if let Some(domain) = domain {
            flags.push_str("; domain=");
            flags.push_str(&domain);
        }
        if partitioned {
            flags.push_str("; partitioned");
        }
        Self {
            key: digest.finalize().to_vec(),
            cookie,
            max_age,
            path,
            flags,
        }
    }

    /// The session the request's cookie carries, as base64 JSON, if it has a valid one
    /// (`now`: seconds since the epoch).
    pub fn read(&self, headers: &HeaderMap, now: u64) -> Option<Bytes> {
        let value = cookie_value(headers, &self.cookie)?;
        self.unsign(value.as_bytes(), now)
            .map(Bytes::copy_from_slice)
    }

    /// The `Set-Cookie` value that stores the session `json` (as base64 JSON).
    pub fn set_cookie(&self, json: &[u8], now: u64) -> Option<HeaderValue> {
        let signed = self.sign(STANDARD.encode(json).as_bytes(), now);
        let max_age = match self.max_age {
            Some(seconds) => format!("Max-Age={seconds}; "),
            None => String::new(),
        };
        let value = format!(
            "{}={}; path={}; {max_age}{}",
            self.cookie, signed, self.path, self.flags
        );
        HeaderValue::from_str(&value).ok()
    }

    /// The `Set-Cookie` value that clears the session.
    pub fn clear_cookie(&self) -> Option<HeaderValue> {
        let value = format!(
            "{}=null; path={}; expires=Thu, 01 Jan 1970 00:00:00 GMT; {}",
            self.cookie, self.path, self.flags
        );
        HeaderValue::from_str(&value).ok()
    }

    fn signature(&self, value: &[u8]) -> HmacSha1 {
        let mut mac = HmacSha1::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(value);
        mac
    }

    fn sign(&self, payload: &[u8], now: u64) -> String {
        let bytes = now.to_be_bytes();
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let mut value = String::from_utf8_lossy(payload).into_owned();
        value.push('.');
        value.push_str(&URL_SAFE.encode(&bytes[first..]));
        let signature = self.signature(value.as_bytes()).finalize().into_bytes();
        value.push('.');
        value.push_str(&URL_SAFE.encode(signature));
        value
    }

    fn unsign<'a>(&self, signed: &'a [u8], now: u64) -> Option<&'a [u8]> {
        let split = signed.iter().rposition(|&b| b == b'.')?;
        let (value, signature) = (&signed[..split], &signed[split + 1..]);
        let signature = URL_SAFE.decode(signature).ok()?;
        self.signature(value).verify_slice(&signature).ok()?;
        let split = value.iter().rposition(|&b| b == b'.')?;
        let (payload, timestamp) = (&value[..split], &value[split + 1..]);
        let timestamp = URL_SAFE.decode(timestamp).ok()?;
        if timestamp.len() > 8 {
            return None;
        }
        let signed_at = timestamp.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
        if let Some(max_age) = self.max_age {
            let age = now.checked_sub(signed_at)?; // signed in the future: refused
            if age > max_age {
                return None;
            }
        }
        Some(payload)
    }
}

/// Seconds since the epoch, as itsdangerous stamps its signatures.
pub fn seconds_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The value of cookie `name`, as Starlette's cookie parser reads the `Cookie` headers
/// (bytes as latin-1): the last one of that name wins, and a quoted value is unquoted.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (&b""[..], pair),
            };
            if key.trim_ascii() == name.as_bytes() {
                found = Some(unquote(value.trim_ascii()));
            }
        }
    }
    found
}

/// `http.cookies._unquote`: a value in double quotes loses them, and its `\"`, `\\` and
/// octal `\ooo` escapes are undone.
fn unquote(value: &[u8]) -> String {
    let latin1 = |bytes: &[u8]| bytes.iter().map(|&b| char::from(b)).collect::<String>();
    if value.len() < 2 || value[0] != b'"' || value[value.len() - 1] != b'"' {
        return latin1(value);
    }
    let inner = &value[1..value.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == b'\\' && i + 1 < inner.len() {
            let octal = inner.get(i + 1..i + 4).filter(|d| {
                (b'0'..=b'3').contains(&d[0]) && d[1..].iter().all(|c| (b'0'..=b'7').contains(c))
            });
            if let Some(digits) = octal {
                let code = digits.iter().fold(0u32, |n, d| n * 8 + u32::from(d - b'0'));
                out.push(char::from_u32(code).unwrap_or('?'));
                i += 4;
            } else {
                out.push(char::from(inner[i + 1]));
                i += 2;
            }
        } else {
            out.push(char::from(inner[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(max_age: Option<u64>) -> Sessions {
        Sessions::new(
            "secret",
            "session".into(),
            max_age,
            "/".into(),
            "lax",
            false,
            None,
            false,
        )
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_signed_session_reads_back_until_it_expires() {
        let layer = sessions(Some(100));
        let cookie = layer.set_cookie(br#"{"a": 1}"#, 1_700_000_000).unwrap();
        let value = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let headers = with_cookie(&value);
        assert_eq!(
            layer.read(&headers, 1_700_000_050).as_deref(),
            Some(&b"eyJhIjogMX0="[..])
        );
        assert_eq!(layer.read(&headers, 1_700_000_101), None);
        assert_eq!(layer.read(&headers, 1_699_999_999), None);
        assert!(value.starts_with("session=eyJhIjogMX0=."));
    }

    #[test]
    fn a_tampered_cookie_reads_as_no_session() {
        let layer = sessions(None);
        let cookie = layer.set_cookie(br#"{"a": 1}"#, 1_700_000_000).unwrap();
        let value = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .replace("eyJh", "eyJi");
        assert_eq!(layer.read(&with_cookie(&value), 1_700_000_000), None);
        assert_eq!(layer.read(&with_cookie("session=garbage"), 0), None);
        assert_eq!(layer.read(&with_cookie("session=a.b.c"), 0), None);
        assert_eq!(layer.read(&with_cookie("other=1"), 0), None);
    }

    #[test]
    fn cookies_are_written_as_starlette_writes_them() {
        let layer = Sessions::new(
            "k",
            "s".into(),
            Some(60),
            "/app".into(),
            "strict",
            true,
            Some("example.com".into()),
            false,
        );
        let set = layer.set_cookie(b"{}", 1).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("s=e30=.AQ."));
        assert!(set.ends_with(
            "; path=/app; Max-Age=60; httponly; samesite=strict; secure; domain=example.com"
        ));
        assert_eq!(
            layer.clear_cookie().unwrap(),
            "s=null; path=/app; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=strict; secure; domain=example.com"
        );
    }
}
