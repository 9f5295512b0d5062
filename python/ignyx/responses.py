"""Response classes a handler can return instead of a plain value, with Starlette's API::

    from ignyx.responses import HTMLResponse, RedirectResponse

    @app.get("/", response_class=HTMLResponse)
    async def home():
        return "<h1>Hello</h1>"

    @app.get("/old")
    async def old():
        return RedirectResponse("/new", status_code=308)

The Rust engine reads these attributes of whatever a handler returns: ``status_code`` (int),
``body`` (bytes), ``_raw_headers`` (the list of ``(name, value)`` byte pairs behind
``raw_headers``, names lower-case, or None for the default headers, which it derives from
``media_type`` and ``charset``) and ``background``; a ``StreamingResponse`` is sent from
``body_iterator`` instead of ``body``. Everything here only prepares those attributes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import sys
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime, formatdate
from mimetypes import guess_type
from typing import Any, Callable, Optional, Union
from urllib.parse import quote

from .background import BackgroundTask
from .concurrency import iterate_in_threadpool
from .datastructures import URL, MutableHeaders

__all__ = [
    "EventSourceResponse",
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]


# The default charset, one object: ``render`` recognises it by identity and takes
# ``str.encode``'s fast path (no codec lookup by name).
_UTF8 = "utf-8"


@functools.lru_cache(maxsize=64)
def _content_type(media_type: str, charset: str) -> bytes:
    """The content-type header value: ``text/*`` gets a charset (computed once per type)."""
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type += "; charset=" + charset
    return media_type.encode("latin-1")


class Response:
    """A complete HTTP response: status, headers and body bytes.

    ``content`` may be ``str`` (encoded with ``charset``), bytes-like or ``None``. Unless given
    in ``headers``, ``content-type`` comes from ``media_type`` (``text/*`` gets
    ``; charset=utf-8``) and ``content-length`` from the body, except for 1xx, 204 and 304::

        Response("pong", media_type="text/plain", headers={"x-served-by": "ignyx"})
    """

    media_type: Optional[str] = None
    charset = _UTF8
    # ``raw_headers`` is built on first use. Until then it stands for the default headers
    # (content-type from ``media_type``, content-length from the body), which the engine
    # writes itself: most responses never build the list.
    _raw_headers: Optional[list[tuple[bytes, bytes]]] = None
    # True for subclasses with their own ``init_headers``: it runs at construction, as in
    # Starlette.
    _own_init_headers = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._own_init_headers = cls.init_headers is not Response.init_headers

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
        background: Optional[BackgroundTask] = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = self.render(content)
        if headers is not None or self._own_init_headers:
            self.init_headers(headers)

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as ``(name, value)`` byte pairs, names lower-case."""
        if self._raw_headers is None:
            self.init_headers(None)
        return self._raw_headers  # type: ignore[return-value]

    @raw_headers.setter
    def raw_headers(self, value: list[tuple[bytes, bytes]]) -> None:
        self._raw_headers = value

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Sends the response as an ASGI app does (for middleware that answers by itself)."""
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})
        if self.background is not None:
            await self.background()

    def render(self, content: Any) -> bytes:
        """Turns ``content`` into the body bytes; subclasses override it to serialise."""
        if isinstance(content, str):
            charset = self.charset
            return content.encode() if charset is _UTF8 else content.encode(charset)
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, (bytearray, memoryview)):
            return bytes(content)
        return content.encode(self.charset)

    def init_headers(self, headers: Optional[Mapping[str, str]] = None) -> None:
        """Builds ``raw_headers`` from ``headers`` plus content-length and content-type."""
        if headers is None:
            raw_headers: list[tuple[bytes, bytes]] = []
            populate_content_length = populate_content_type = True
        else:
            raw_headers = [
                (key.lower().encode("latin-1"), value.encode("latin-1"))
                for key, value in headers.items()
            ]
            names = [name for name, _ in raw_headers]
            populate_content_length = b"content-length" not in names
            populate_content_type = b"content-type" not in names

        body = getattr(self, "body", None)
        # A status of None marks a placeholder response that only collects headers and cookies
        # (a handler's ``response: Response`` parameter); it is never sent as such.
        if (
            body is not None
            and populate_content_length
            and self.status_code is not None
            and not (self.status_code < 200 or self.status_code in (204, 304))
        ):
            raw_headers.append((b"content-length", b"%d" % len(body)))

        if self.media_type is not None and populate_content_type:
            raw_headers.append((b"content-type", _content_type(self.media_type, self.charset)))

        self.raw_headers = raw_headers

    @property
    def headers(self) -> MutableHeaders:
        """The headers as a case-insensitive view that writes through to ``raw_headers``."""
        return MutableHeaders(raw=self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: Optional[int] = None,
        expires: Union[datetime, str, int, None] = None,
        path: Optional[str] = "/",
        domain: Optional[str] = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Optional[str] = "lax",
        partitioned: bool = False,
    ) -> None:
        """Adds one ``set-cookie`` header; call it once per cookie.

        ``samesite`` is ``"lax"``, ``"strict"``, ``"none"`` or ``None`` (attribute left out).
        ``partitioned`` needs Python 3.14's ``http.cookies``.
        """
        # Imported here: ``http.cookies`` costs a process ~400 KiB, and most apps set no cookie.
        from http.cookies import SimpleCookie

        cookie = SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            if isinstance(expires, datetime):
                morsel["expires"] = format_datetime(expires, usegmt=True)
            else:
                morsel["expires"] = expires
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            assert samesite.lower() in (
                "strict",
                "lax",
                "none",
            ), "samesite must be either 'strict', 'lax' or 'none'"
            morsel["samesite"] = samesite
        if partitioned:
            if sys.version_info < (3, 14):
                raise ValueError("Partitioned cookies are only supported in Python 3.14 and above.")
            morsel["partitioned"] = True
        cookie_value = cookie.output(header="").strip()
        self.raw_headers.append((b"set-cookie", cookie_value.encode("latin-1")))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: Optional[str] = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Optional[str] = "lax",
        partitioned: bool = False,
    ) -> None:
        """Tells the browser to drop cookie ``key`` (an expired ``set-cookie``)."""
        self.set_cookie(
            key,
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )


class HTMLResponse(Response):
    """A ``text/html; charset=utf-8`` response."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """A ``text/plain; charset=utf-8`` response."""

    media_type = "text/plain"


def _python_json_dumps(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
        "utf-8"
    )


@functools.cache
def _json_dumps() -> Callable[[Any], bytes]:
    # Imported on first use so that this module also imports before the extension is built.
    try:
        from ._core import json_dumps
    except ImportError:
        return _python_json_dumps
    return json_dumps


class JSONResponse(Response):
    """``content`` serialised as compact UTF-8 JSON (Rust's encoder; NaN and Infinity refused).

    ``content`` must already be JSON-able; pass models through ``jsonable_encoder`` first.
    """

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
        background: Optional[BackgroundTask] = None,
    ) -> None:
        super().__init__(content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        return _json_dumps()(content)


class RedirectResponse(Response):
    """An empty response sending the client to ``url`` (307 unless told otherwise)."""

    def __init__(
        self,
        url: Union[str, URL],
        status_code: int = 307,
        headers: Optional[Mapping[str, str]] = None,
        background: Optional[BackgroundTask] = None,
    ) -> None:
        super().__init__(
            content=b"", status_code=status_code, headers=headers, background=background
        )
        self.headers["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;")


ContentStream = Union[Iterable[Union[str, bytes]], AsyncIterable[Union[str, bytes]]]


class StreamingResponse(Response):
    """A response whose body is sent chunk by chunk as ``content`` yields it::

        async def numbers():
            for n in range(3):
                yield f"{n}\\n"

        return StreamingResponse(numbers(), media_type="text/plain")

    ``content`` may be a sync or async iterable of ``str`` or ``bytes``; the engine consumes it
    from ``body_iterator``. There is no ``content-length``, and ``body`` stays empty.
    """

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
        background: Optional[BackgroundTask] = None,
    ) -> None:
        self.body_iterator = content
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.init_headers(headers)
        self.body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send_chunks(self.body_iterator, send, self.charset)
        if self.background is not None:
            await self.background()


class EventSourceResponse(StreamingResponse):
    """The response class of a Server-Sent Events path operation, one that ``yield``s
    (see ``ignyx.sse``): its items are sent as ``text/event-stream`` events, with
    ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no`` so that neither caches nor
    nginx hold them back::

        @app.post("/chat", response_class=EventSourceResponse)
        def chat(prompt: Prompt):
            for token in model.generate(prompt.text):
                yield {"token": token}
    """

    media_type = "text/event-stream"


async def send_chunks(content: ContentStream, send: Any, charset: str = "utf-8") -> None:
    """Sends a streamed body as ASGI ``http.response.body`` messages: each chunk of `content`
    (a sync iterable is read in the threadpool, ``str`` encoded), then the end."""
    chunks = content if hasattr(content, "__aiter__") else iterate_in_threadpool(content)
    async for chunk in chunks:
        if not isinstance(chunk, (bytes, memoryview)):
            chunk = chunk.encode(charset)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class FileResponse(Response):
    """The contents of the file at ``path``, streamed as it is sent (with ``Range`` requests
    answered as Starlette answers them).

    ``content-type`` is guessed from ``filename`` or ``path``; ``filename`` adds a
    ``content-disposition`` (``attachment`` unless ``content_disposition_type`` says
    ``inline``); ``content-length``, ``last-modified`` and ``etag`` come from the file's stat.
    With ``method="HEAD"`` the headers are the same and the body is empty.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
        background: Optional[BackgroundTask] = None,
        filename: Optional[str] = None,
        stat_result: Optional[os.stat_result] = None,
        method: Optional[str] = None,
        content_disposition_type: str = "attachment",
    ) -> None:
        self.path = path
        self.status_code = status_code
        self.filename = filename
        self.send_header_only = method is not None and method.upper() == "HEAD"
        if media_type is None:
            media_type = guess_type(filename or path)[0] or "application/octet-stream"
        self.media_type = media_type
        self.background = background
        self.init_headers(headers)
        self.headers.setdefault("accept-ranges", "bytes")
        if filename is not None:
            quoted = quote(filename)
            if quoted != filename:
                disposition = f"{content_disposition_type}; filename*=utf-8''{quoted}"
            else:
                disposition = f'{content_disposition_type}; filename="{filename}"'
            self.headers.setdefault("content-disposition", disposition)
        if stat_result is None:
            stat_result = self._stat_regular_file()
        self.stat_result = stat_result
        self.set_stat_headers(stat_result)
        # Never read whole: the engine streams the file, ranges answered (src/http/files.rs);
        # through ASGI, `__call__` does (ignyx._file_sending).
        self.body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from ._file_sending import send_file

        await send_file(self, scope, send)
        if self.background is not None:
            await self.background()

    def _stat_regular_file(self) -> os.stat_result:
        try:
            stat_result = os.stat(self.path)
        except FileNotFoundError:
            raise RuntimeError(f"File at path {self.path} does not exist.") from None
        if not stat.S_ISREG(stat_result.st_mode):
            raise RuntimeError(f"File at path {self.path} is not a file.")
        return stat_result

    def set_stat_headers(self, stat_result: os.stat_result) -> None:
        """Adds content-length, last-modified and etag, unless ``headers`` already had them."""
        etag_base = f"{stat_result.st_mtime}-{stat_result.st_size}"
        etag = hashlib.md5(etag_base.encode(), usedforsecurity=False).hexdigest()
        self.headers.setdefault("content-length", str(stat_result.st_size))
        self.headers.setdefault("last-modified", formatdate(stat_result.st_mtime, usegmt=True))
        self.headers.setdefault("etag", f'"{etag}"')
