"""Response compression executed by the engine: ``GZipMiddleware`` (Starlette's) and
``CompressionMiddleware`` (gzip, Brotli and Zstandard, negotiated by ``Accept-Encoding``
q-values)::

    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)
    app.add_middleware(CompressionMiddleware, encodings=("zstd", "br", "gzip"))

Outside every Python middleware the engine compresses without calling Python; inside one,
or under an ASGI server, it is an ASGI middleware whose compressor is still the engine's
(``ignyx._core.CompressionLayer``).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .. import _core

DEFAULT_EXCLUDED_CONTENT_TYPES = (
    "application/grpc",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "audio/*",
    "font/woff",
    "font/woff2",
    "image/avif",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/event-stream",
    "video/*",
)


class CompressionMiddleware:
    """Compresses responses of at least `minimum_size` bytes (and every streamed one) with
    the first of `encodings` the client accepts best; leaves small, already encoded,
    partial (206) and `exclude_content_types` responses alone, and adds
    ``Vary: Accept-Encoding`` to the ones it compresses."""

    def __init__(
        self,
        app: Any = None,
        minimum_size: int = 500,
        encodings: Sequence[str] = ("zstd", "br", "gzip"),
        *,
        gzip_level: int = 9,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        exclude_content_types: Sequence[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self.app = app
        self.options: dict[str, Any] = {
            "minimum_size": minimum_size,
            "encodings": list(encodings),
            "gzip_level": gzip_level,
            "brotli_quality": brotli_quality,
            "zstd_level": zstd_level,
            "exclude_content_types": list(exclude_content_types),
        }
        # Checked now, as a configuration error belongs to the app's start.
        self._layer = _core.CompressionLayer(**self.options)

    def native(self) -> tuple[str, dict[str, Any]]:
        """How the engine runs it (outside every Python middleware)."""
        return ("compression", self.options)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(bytes(k), bytes(v)) for k, v in scope.get("headers", ())]
        encoding = self._layer.negotiate(headers)
        await self.app(scope, receive, _Compressing(self._layer, encoding, send).send)


class GZipMiddleware(CompressionMiddleware):
    """Starlette's ``GZipMiddleware``: gzip for clients whose ``Accept-Encoding`` mentions
    it, at `compresslevel`, for bodies of at least `minimum_size` bytes."""

    def __init__(
        self,
        app: Any = None,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 128 * 1024,
        *,
        exclude_content_types: Sequence[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        # `thread_minimum_size` is Starlette's threshold for compressing off its event loop;
        # the engine compresses off the event loop anyway.
        self.thread_minimum_size = thread_minimum_size
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        super().__init__(
            app,
            minimum_size,
            ("gzip",),
            gzip_level=compresslevel,
            exclude_content_types=exclude_content_types,
        )


class _Compressing:
    """One response on its way out through a compression middleware run in Python."""

    def __init__(self, layer: Any, encoding: Optional[str], send: Any) -> None:
        self.layer = layer
        self.encoding = encoding
        self.downstream = send
        self.start: Optional[dict[str, Any]] = None
        self.encoder: Any = None
        self.passthrough = False

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.start = message
            headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
            if not self.layer.applies(message["status"], headers):
                self.passthrough = True
                await self.downstream(message)
            return
        if kind != "http.response.body" or self.passthrough:
            await self.downstream(message)
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self.start is not None:
            start, self.start = self.start, None
            if not more and len(body) < self.layer.minimum_size:
                self.passthrough = True
                await self.downstream(start)
                await self.downstream(message)
                return
            headers = list(start.get("headers", ()))
            vary = [bytes(v).decode("latin-1") for k, v in headers if bytes(k).lower() == b"vary"]
            headers = [(k, v) for k, v in headers if bytes(k).lower() != b"vary"]
            # Said even when the client accepts no coding, as Starlette says it.
            headers.append((b"vary", ", ".join([*vary, "Accept-Encoding"]).encode("latin-1")))
            if self.encoding is None:
                self.passthrough = True
                await self.downstream({**start, "headers": headers})
                await self.downstream(message)
                return
            self.encoder = self.layer.encoder(self.encoding)
            compressed = self.encoder.chunk(body, more)
            headers = [(k, v) for k, v in headers if bytes(k).lower() != b"content-length"]
            headers.append((b"content-encoding", self.encoding.encode()))
            if not more:
                headers.append((b"content-length", str(len(compressed)).encode()))
            await self.downstream({**start, "headers": headers})
            await self.downstream({**message, "body": compressed})
            return
        await self.downstream({**message, "body": self.encoder.chunk(body, more)})
