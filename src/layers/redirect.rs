//! Redirects as Starlette's `RedirectResponse` writes them: 307, the location quoted as
//! Starlette quotes it, an empty body said outright (`content-length: 0`).

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, HOST, LOCATION};
use http::{HeaderMap, StatusCode, Uri};

/// An answer a layer gives instead of the app: status, headers and body.
pub type Answer = (StatusCode, HeaderMap, Bytes);

/// A 307 to `url`, or None when `url` cannot be a header.
pub fn temporary(url: &str) -> Option<Answer> {
    let quoted = percent_encoding::utf8_percent_encode(url, URL_QUOTED).to_string();
    let location = HeaderValue::from_str(&quoted).ok()?;
    let mut headers = HeaderMap::with_capacity(2);
    headers.insert(LOCATION, location);
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    Some((StatusCode::TEMPORARY_REDIRECT, headers, Bytes::new()))
}

/// The authority a request was sent to, as Starlette's `URL(scope=...)` reads it: the `Host`
/// header, else the URI's (HTTP/2), else `fallback`.
pub fn request_host(headers: &HeaderMap, uri: &Uri, fallback: impl FnOnce() -> String) -> String {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(fallback)
}

/// `uri`'s path percent-decoded, as Starlette rebuilds a request's URL from it.
pub fn decoded_path(uri: &Uri) -> String {
    percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .into_owned()
}

/// `path` and `uri`'s query after `scheme://host`, as Starlette rebuilds a request's URL
/// (it escapes `?`, `#` and `\` in the path).
pub fn url(scheme: &str, host: &str, path: &str, uri: &Uri) -> String {
    let path = path
        .replace('?', "%3F")
        .replace('#', "%23")
        .replace('\\', "%5C");
    let mut url = format!("{scheme}://{host}{path}");
    if let Some(query) = uri.query() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// What Starlette's `RedirectResponse` percent-encodes in a location: everything but
/// letters, digits, `_.-~` and `:/%#?=@[]!$&'()*+,;` (`urllib.parse.quote` with that `safe`).
const URL_QUOTED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b':')
    .remove(b'/')
    .remove(b'%')
    .remove(b'#')
    .remove(b'?')
    .remove(b'=')
    .remove(b'@')
    .remove(b'[')
    .remove(b']')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';');
