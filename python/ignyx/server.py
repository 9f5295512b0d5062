"""Serving an app: bind, run the startup hooks on the worker's event loop, hand control
to the Rust server (which steps that loop on the same thread) with the GIL released,
then shut down in order.

``launch`` serves in the foreground (one worker, or several under ``supervisor``);
``TestClient`` serves on a background thread.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import signal
import threading
import weakref
from typing import Any, Callable, Optional

from . import _core
from ._runtime import EngineLoop
from .config import Config

logger = logging.getLogger("ignyx.error")


class Server:
    """One worker's server for `app` on `host:port`; `port=0` picks a free port."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        graceful_timeout: float = 30.0,
        **limits: Any,
    ) -> None:
        self.app = app
        self._core = _core.Server(
            app._compile(),
            host,
            port,
            graceful_timeout=graceful_timeout,
            **limits,
        )
        # None for a Unix socket.
        self.host: Optional[str] = self._core.host
        self.port: Optional[int] = self._core.port
        self.address: str = self._core.address
        self._grace = graceful_timeout
        self._thread: Optional[threading.Thread] = None
        # The event loop, while serving.
        self.loop: Optional[EngineLoop] = None

    def serve(
        self, handle_signals: bool = True, started: Optional[Callable[[], None]] = None
    ) -> Optional[str]:
        """Serves in this thread until SIGINT/SIGTERM or `shutdown()`; raises what the
        startup hooks raised. `started` is called once they have run. Returns why the
        server stopped itself (`"max_requests"`, `"max_rss"`), else None."""
        handle_signals = handle_signals and threading.current_thread() is threading.main_thread()
        loop = self.loop = EngineLoop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.app._startup())
        except BaseException:
            loop.close()
            asyncio.set_event_loop(None)
            raise
        if started is not None:
            started()
        previous = _signals_stop_the_server(self._core) if handle_signals else {}
        loop.begin()
        try:
            return self._core.serve(loop, handle_signals=handle_signals)
        finally:
            loop.end()
            loop.finish(self._grace, self.app._shutdown)
            asyncio.set_event_loop(None)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start_in_thread(self) -> None:
        """Starts serving on a background thread; returns once the startup hooks have run
        (raising what they raised) and requests are accepted."""
        ready = threading.Event()
        failed: list[BaseException] = []

        def serve() -> None:
            try:
                self.serve(handle_signals=False, started=ready.set)
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                if ready.is_set():
                    logger.exception("Server failed")
                failed.append(exc)
                ready.set()

        self._thread = threading.Thread(target=serve, name="ignyx-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failed:
            self._thread.join()
            self._thread = None
            raise failed[0]
        _IN_THREADS.add(self)

    def shutdown(self) -> None:
        """Stops a server started with `start_in_thread`, gracefully."""
        self._core.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        _IN_THREADS.discard(self)


# Servers on background threads, stopped when the interpreter exits if nothing stopped them
# (a TestClient never closed): past that point their thread could no longer take the GIL
# to finish, and the process would abort.
_IN_THREADS: weakref.WeakSet[Server] = weakref.WeakSet()


@atexit.register
def _stop_servers_in_threads() -> None:
    for server in list(_IN_THREADS):
        server.shutdown()


def _signals_stop_the_server(core: Any) -> dict[int, Any]:
    """While Rust handles SIGINT/SIGTERM (a graceful stop), Python's own handlers must not
    turn them into KeyboardInterrupt; until Rust's are in place (as the server starts), a
    signal asks the server to stop, so none is lost. Returns the handlers to put back."""
    previous: dict[int, Any] = {}

    def stop(signum: int, frame: Any) -> None:
        core.shutdown()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, stop)
    return previous


def prepare(app: Any, config: Config) -> Any:
    """`app` with the settings that belong to it applied (`root_path`, `max_body_size`)."""
    if config.root_path:
        app.root_path = config.root_path
    if config.max_body_size is not None:
        app.max_body_size = config.max_body_size
    return app
