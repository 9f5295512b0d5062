"""What the host-checking middleware answer with when they run in Python: a request's URL
as Starlette rebuilds it, a 307 redirect, a plain-text refusal."""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import SplitResult, quote, urlsplit

_LOCATION_SAFE = ":/%#?=@[]!$&'()*+,;"


def request_url(
    scope: dict[str, Any], *, scheme: Optional[str] = None, netloc: Optional[str] = None
) -> SplitResult:
    """The URL the request was sent to (``Host`` header, else the server's address), with
    `scheme` or `netloc` replaced when given."""
    host = None
    for name, value in scope.get("headers", ()):
        if bytes(name).lower() == b"host":
            host = bytes(value).decode("latin-1")
            break
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
    path = scope.get("root_path", "") + scope["path"]
    path = path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    query = scope.get("query_string", b"").decode("latin-1")
    url = urlsplit(f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else ""))
    return url._replace(
        scheme=scheme if scheme is not None else url.scheme,
        netloc=netloc if netloc is not None else url.netloc,
    )


async def redirect(url: SplitResult, scope: dict[str, Any], send: Any) -> None:
    """A 307 to `url`, quoted as Starlette's ``RedirectResponse`` quotes it."""
    location = quote(url.geturl(), safe=_LOCATION_SAFE)
    headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
    await _answer(scope, send, 307, headers, b"")


async def plain_text(status: int, text: str, scope: dict[str, Any], send: Any) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await _answer(scope, send, status, headers, body)


async def _answer(
    scope: dict[str, Any], send: Any, status: int, headers: list[Any], body: bytes
) -> None:
    # To a WebSocket handshake, an HTTP answer is its denial response.
    prefix = "websocket." if scope["type"] == "websocket" else ""
    await send({"type": f"{prefix}http.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}http.response.body", "body": body})
