"""Serving an app: bind, run the startup hooks on the worker's event loop, hand control
to the Rust server (which steps that loop on the same thread) with the GIL released,
then shut down in order.

``Ignyx.run`` serves in the foreground; ``TestClient`` serves on a background thread.
Several workers are processes sharing the port through SO_REUSEPORT.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from typing import Any, Callable, Optional

from . import _core
from ._runtime import EngineLoop

logger = logging.getLogger("ignyx")


class Server:
    """One worker's server for `app` on `host:port`; `port=0` picks a free port."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        reuse_port: bool = False,
        graceful_timeout: float = 30.0,
        **limits: Any,
    ) -> None:
        self.app = app
        self._core = _core.Server(
            app._compile(),
            host,
            port,
            reuse_port=reuse_port,
            graceful_timeout=graceful_timeout,
            **limits,
        )
        self.host = self._core.host
        self.port = self._core.port
        self._grace = graceful_timeout
        self._thread: Optional[threading.Thread] = None

    def serve(
        self, handle_signals: bool = True, started: Optional[Callable[[], None]] = None
    ) -> None:
        """Serves in this thread until SIGINT/SIGTERM or `shutdown()`; raises what the
        startup hooks raised. `started` is called once they have run."""
        handle_signals = handle_signals and threading.current_thread() is threading.main_thread()
        loop = EngineLoop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.app._startup())
        except BaseException:
            loop.close()
            asyncio.set_event_loop(None)
            raise
        if started is not None:
            started()
        previous = _quiet_python_signal_handlers() if handle_signals else {}
        loop.begin()
        try:
            self._core.serve(loop, handle_signals=handle_signals)
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

    def shutdown(self) -> None:
        """Stops a server started with `start_in_thread`, gracefully."""
        self._core.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _quiet_python_signal_handlers() -> dict[int, Any]:
    """While Rust handles SIGINT/SIGTERM (a graceful stop), Python's own handlers must not
    also turn them into KeyboardInterrupt; returns the handlers to put back."""
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _ignore)
    return previous


def _ignore(signum: int, frame: Any) -> None:
    pass


def run(app: Any, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """Serves `app` in the foreground with `workers` processes; returns after shutdown."""
    if workers <= 1:
        server = Server(app, host, port, **options)
        _announce(server.host, server.port, 1)
        server.serve(handle_signals=True)
        return
    _run_workers(app, host, port, workers, **options)


def _announce(host: str, port: int, workers: int) -> None:
    suffix = f" with {workers} workers" if workers > 1 else ""
    print(f"Ignyx serving on http://{host}:{port}{suffix} (Ctrl+C to stop)", file=sys.stderr)


def _run_workers(app: Any, host: str, port: int, workers: int, **options: Any) -> None:
    children: list[int] = []
    _announce(host, port, workers)
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                Server(app, host, port, reuse_port=True, **options).serve(handle_signals=True)
            except BaseException:  # noqa: BLE001 - a worker reports and exits
                logger.exception("Worker failed")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, _frame: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for pid in children:
            while True:
                try:
                    os.waitpid(pid, 0)
                    break
                except InterruptedError:
                    continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
