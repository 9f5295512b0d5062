"""CORS, configured like Starlette's ``CORSMiddleware`` and executed in Rust::

    app.add_middleware(CORSMiddleware, allow_origins=["https://example.com"])

Outside every Python middleware (added last) the engine runs it without calling Python;
inside one, or when an ASGI server serves the app, it is an ASGI middleware whose checks
are the engine's (``ignyx._core.CorsLayer``). The options are read once.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .. import _core


class CORSMiddleware:
    """Cross-Origin Resource Sharing per the Fetch spec: preflights are answered by the
    engine without calling Python, and only a matching origin is echoed."""

    def __init__(
        self,
        app: Any = None,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: Optional[str] = None,
        allow_private_network: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        self.options: dict[str, Any] = {
            "allow_origins": list(allow_origins),
            "allow_methods": list(allow_methods),
            "allow_headers": list(allow_headers),
            "allow_credentials": allow_credentials,
            "allow_origin_regex": allow_origin_regex,
            "allow_private_network": allow_private_network,
            "expose_headers": list(expose_headers),
            "max_age": max_age,
        }
        self.app = app
        self._layer: Optional[_core.CorsLayer] = None

    def _install(self, core: Any) -> None:
        """Runs this middleware in the engine, inside every Python one."""
        core.set_cors(**self.options)

    def native(self) -> tuple[str, dict[str, Any]]:
        """How the engine runs it outside every Python middleware."""
        return ("cors", self.options)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        layer = self._layer
        if layer is None:
            layer = self._layer = _core.CorsLayer(**self.options)
        headers = scope.get("headers", ())
        method = scope.get("method", "GET")
        answer = None
        if method == "OPTIONS":
            answer = layer.preflight(method, [(bytes(k), bytes(v)) for k, v in headers])
        if answer is not None:
            status, reply_headers, body = answer
            reply_headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": reply_headers})
            await send({"type": "http.response.body", "body": body})
            return
        origin = None
        for name, value in headers:
            if name == b"origin" or name.lower() == b"origin":
                origin = bytes(value)
                break

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                sent = message.get("headers", ())
                try:
                    applied = layer.apply(origin, sent)
                except TypeError:
                    # Pairs as lists, or bytes-like values: normalised first.
                    applied = layer.apply(origin, [(bytes(k), bytes(v)) for k, v in sent])
                message = {**message, "headers": applied}
            await send(message)

        await self.app(scope, receive, send_with_cors)
