//! Signed-cookie sessions, configured like Starlette's `SessionMiddleware` and readable both
//! ways with it: the cookie is the session as base64 JSON, signed as itsdangerous'
//! `TimestampSigner` signs (HMAC-SHA1 with its "django-concat" key, a timestamp, URL-safe
//! base64 without padding), so a cookie written by either reads in the other with the same
//! key. A tampered, expired or malformed cookie reads as no session.
//!
//! With a store (`SessionMiddleware(backend="redis://...")`), the cookie carries only a
//! random id, signed the same way, and the session's JSON is kept in Redis under
//! `key_prefix` + id, expiring with `max_age`. A session Redis cannot give back in time
//! reads as a new one (its stored copy is left alone: it gets a new id if written).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use std::sync::Arc;

use bytes::Bytes;
use hmac::{KeyInit, Mac};
use http::header::{HeaderValue, COOKIE};
use http::HeaderMap;
use sha1::{Digest, Sha1};

use crate::store::{Redis, StoreError};

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
/// domain, partitioned, backend)`.
pub struct Sessions {
    key: Vec<u8>,
    cookie: String,
    max_age: Option<u64>,
    path: String,
    /// `httponly; samesite=lax` and the rest, as Starlette writes them.
    flags: String,
    /// Where the sessions are kept when the cookie carries only their id.
    store: Option<SessionStore>,
}

/// Server-side sessions: Redis, each under `prefix` + its id.
pub struct SessionStore {
    pub redis: Arc<Redis>,
    pub prefix: String,
    /// Told when Redis fails (the request goes on with a new session, or unsaved).
    pub report: Box<dyn Fn(&str) + Send + Sync>,
}

/// What a request's cookie gave: the session (base64 JSON in the cookie; its JSON from the
/// store) and, with a store, the id its signature vouches for (even when Redis could not
/// give the session back: clearing the session still ends it).
#[derive(Default)]
pub struct Found {
    pub payload: Option<Bytes>,
    pub id: Option<String>,
}

/// A change to a stored session, made once its response is settled.
pub enum StoreWrite {
    /// Keeps `json` under `id`, and deletes `replaces` (the id of a session given a new one).
    Set {
        id: String,
        json: Vec<u8>,
        replaces: Option<String>,
    },
    Delete {
        id: String,
    },
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
            store: None,
        }
    }

    /// Keeps the sessions in `store`; the cookie carries their ids.
    pub fn with_store(mut self, store: SessionStore) -> Self {
        self.store = Some(store);
        self
    }

    pub fn is_stored(&self) -> bool {
        self.store.is_some()
    }

    /// The session of a request with these headers: from its cookie, or from the store
    /// by the id its cookie carries.
    pub async fn find(&self, headers: &HeaderMap, now: u64) -> Found {
        let payload = self.read(headers, now);
        let Some(store) = &self.store else {
            return Found { payload, id: None };
        };
        let Some(id) = payload else {
            return Found::default();
        };
        let id = String::from_utf8_lossy(&id).into_owned();
        let key = format!("{}{id}", store.prefix);
        let loaded = store
            .redis
            .run_again_if_cut(move |mut connection| {
                let key = key.clone();
                async move {
                    ::redis::cmd("GET")
                        .arg(key)
                        .query_async::<Option<Vec<u8>>>(&mut connection)
                        .await
                }
            })
            .await;
        let payload = match loaded {
            Ok(json) => json.map(Bytes::from),
            Err(error) => {
                (store.report)(&format!(
                    "session store failed (a new session is used): {error}"
                ));
                None
            }
        };
        // Without a payload (expired, deleted, or unreadable) the session is a new one: it
        // gets a new id if it is written.
        Found {
            payload,
            id: Some(id),
        }
    }

    /// Applies a change to a stored session.
    pub async fn save(&self, write: StoreWrite) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let prefix = store.prefix.clone();
        let max_age = self.max_age;
        let mut pipeline = ::redis::pipe();
        match write {
            StoreWrite::Set { id, json, replaces } => {
                let set = pipeline.cmd("SET").arg(format!("{prefix}{id}")).arg(json);
                if let Some(seconds) = max_age {
                    set.arg("EX").arg(seconds.max(1));
                }
                if let Some(old) = replaces {
                    pipeline.cmd("DEL").arg(format!("{prefix}{old}"));
                }
            }
            StoreWrite::Delete { id } => {
                pipeline.cmd("DEL").arg(format!("{prefix}{id}"));
            }
        }
        let saved = store
            .redis
            .run_again_if_cut(move |mut connection| {
                let pipeline = pipeline.clone();
                async move { pipeline.query_async::<()>(&mut connection).await }
            })
            .await;
        if let Err(error) = &saved {
            (store.report)(&format!(
                "session store failed (the session was not saved): {error}"
            ));
        }
        saved
    }

    /// The `Set-Cookie` value that carries the stored session's `id`.
    pub fn id_cookie(&self, id: &str, now: u64) -> Option<HeaderValue> {
        self.cookie_of(self.sign(id.as_bytes(), now))
    }

    /// What the request's cookie carries, if it has a valid one (`now`: seconds since the
    /// epoch): the session as base64 JSON, or with a store the session's id.
    pub fn read(&self, headers: &HeaderMap, now: u64) -> Option<Bytes> {
        let value = cookie_value(headers, &self.cookie)?;
        let payload = self.unsign(value.as_bytes(), now)?;
        // With a store, only what has the shape of our ids.
        if self.store.is_some() && !is_session_id(payload) {
            return None;
        }
        Some(Bytes::copy_from_slice(payload))
    }

    /// The `Set-Cookie` value that stores the session `json` (as base64 JSON).
    pub fn set_cookie(&self, json: &[u8], now: u64) -> Option<HeaderValue> {
        self.cookie_of(self.sign(STANDARD.encode(json).as_bytes(), now))
    }

    fn cookie_of(&self, signed: String) -> Option<HeaderValue> {
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

/// A new session id: 32 random bytes, URL-safe base64 (43 characters).
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source");
    URL_SAFE.encode(bytes)
}

/// Whether a verified cookie value has the shape of an id this module makes.
fn is_session_id(value: &[u8]) -> bool {
    value.len() == 43
        && value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
