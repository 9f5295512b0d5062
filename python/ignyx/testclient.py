"""``TestClient(app)``: httpx's API against the app served by the real Rust engine.

The app is served on a free port of 127.0.0.1 from a background thread, so tests
exercise the same routing, extraction and serialisation as production::

    client = TestClient(app)
    assert client.get("/users/1").json() == {"id": 1}
"""

from __future__ import annotations

from typing import Any, Optional

import httpx

from ._ws_client import WebSocketDenialResponse
from .server import Server

__all__ = ["TestClient", "WebSocketDenialResponse"]


class _LoopbackTransport(httpx.HTTPTransport):
    """Sends every request to the local server while keeping the URL the test wrote."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self._host = host
        self._port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=self._host, port=self._port)
        return super().handle_request(request)


class TestClient(httpx.Client):
    """An httpx client bound to `app`; use it as a context manager to stop the server."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: Any,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        cookies: Optional[dict[str, str]] = None,
        headers: Optional[dict[str, str]] = None,
        follow_redirects: bool = True,
    ) -> None:
        self.app = app
        self._server_errors: list[BaseException] = []
        if raise_server_exceptions:
            app._exception_sink = self._server_errors.append
        self._server: Optional[Server] = Server(app, "127.0.0.1", 0, graceful_timeout=5.0)
        self._server.start_in_thread()
        host, port = self._server.host, self._server.port
        assert host is not None and port is not None  # a TCP socket
        transport = _LoopbackTransport(host, port)
        super().__init__(
            base_url=base_url,
            transport=transport,
            cookies=cookies,
            headers={"user-agent": "testclient", **(headers or {})},
            follow_redirects=follow_redirects,
        )

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        """Sends `request`; an exception the app did not handle is raised here, as in
        Starlette's TestClient (the server has already answered 500)."""
        response = super().send(request, **kwargs)
        if self._server_errors:
            error = self._server_errors.pop(0)
            self._server_errors.clear()
            raise error
        return response

    @property
    def port(self) -> int:
        assert self._server is not None, "the client is closed"
        assert self._server.port is not None
        return self._server.port

    def websocket_connect(self, url: str, subprotocols: Any = None, **kwargs: Any) -> Any:
        from ._ws_client import connect

        return connect(self, url, subprotocols=subprotocols, **kwargs)

    def close(self) -> None:
        super().close()
        server, self._server = getattr(self, "_server", None), None
        if server is not None:
            server.shutdown()
            if self.app._exception_sink == self._server_errors.append:
                self.app._exception_sink = None

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
