"""``TestClient(app)``: httpx's API against the app served by the real Rust engine.

The app is served on a free port of 127.0.0.1 from a background thread, so tests
exercise the same routing, extraction and serialisation as production::

    client = TestClient(app)
    assert client.get("/users/1").json() == {"id": 1}

As with Starlette's TestClient, a request returns once the response's background tasks
have run, and an exception the app did not handle is raised in the test (unless
``raise_server_exceptions=False``: then the response is the app's 500).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import httpx

from ._ws_client import WebSocketDenialResponse, WebSocketTestSession, connect
from .server import Server

__all__ = ["TestClient", "WebSocketDenialResponse", "WebSocketTestSession"]


class _LoopbackTransport(httpx.HTTPTransport):
    """Sends every request to the app's server on 127.0.0.1, leaving the request itself as
    the test wrote it (its URL, which cookies and redirects are resolved against)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self._host = host
        self._port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = httpx.Request(
            request.method,
            request.url.copy_with(scheme="http", host=self._host, port=self._port),
            headers=request.headers,  # with the Host the test's URL names
            stream=request.stream,
            extensions=request.extensions,
        )
        return super().handle_request(sent)


class _FinishedOnClose(httpx.SyncByteStream):
    """A streamed response's body; closing it finishes the request (`TestClient._finish`)."""

    def __init__(self, stream: Any, client: TestClient) -> None:
        self._stream = stream
        self._client = client

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)

    def close(self) -> None:
        self._stream.close()
        self._client._finish()


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
        # No keep-alive pings: a session's client answers them only while it reads.
        # Its requests' client is Starlette's TestClient's, not the loopback socket's peer.
        self._server: Optional[Server] = Server(
            app,
            "127.0.0.1",
            0,
            graceful_timeout=5.0,
            ws_ping_interval=None,
            client_name=("testclient", 50000),
        )
        self._server.start_in_thread()
        host, port = self._server.host, self._server.port
        assert host is not None and port is not None  # a TCP socket
        if raise_server_exceptions and self._server.loop is not None:
            self._server.loop.fault_sink = self._server_errors.append
        transport = _LoopbackTransport(host, port)
        super().__init__(
            base_url=base_url,
            transport=transport,
            cookies=cookies,
            headers={"user-agent": "testclient", **(headers or {})},
            follow_redirects=follow_redirects,
        )

    def send(
        self, request: httpx.Request, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """Sends `request`; returns once the response's background tasks have run (a
        streamed response: once it is closed). An exception the app did not handle is
        raised here, as in Starlette's TestClient (the server has answered 500)."""
        response = super().send(request, stream=stream, **kwargs)
        if stream:
            response.stream = _FinishedOnClose(response.stream, self)
        else:
            self._finish()
        return response

    def _finish(self) -> None:
        """Waits for the background tasks of the responses sent so far, then raises the
        first exception the app did not handle since the last request."""
        loop = self._server.loop if self._server is not None else None
        if loop is not None and not loop.is_closed():
            done = loop.backgrounds_done()
            while not loop.is_closed():  # a server that stopped runs nothing more
                try:
                    done.result(timeout=1.0)
                    break
                except concurrent.futures.TimeoutError:
                    pass
        if self._server_errors:
            error = self._server_errors[0]
            self._server_errors.clear()
            raise error

    @property
    def port(self) -> int:
        assert self._server is not None, "the client is closed"
        assert self._server.port is not None
        return self._server.port

    def websocket_connect(
        self, url: str, subprotocols: Optional[Sequence[str]] = None, **kwargs: Any
    ) -> WebSocketTestSession:
        """Opens a WebSocket session to `url` (``with client.websocket_connect("/ws") as
        ws: ...``); a handshake the app refuses raises `WebSocketDisconnect`."""
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
