"""The worker's event-loop thread: one asyncio loop (uvloop when installed) that runs
lifespan hooks, async handlers, async dependencies, background tasks, streaming
bodies and WebSockets. The Rust engine feeds it through ``LoopBridge``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Any, Awaitable, Callable, Optional

logger = logging.getLogger("ignyx.error")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _respond(coro: Any, responder: Any) -> None:
    # Answering from inside the task saves the extra loop pass of a done-callback.
    try:
        result = await coro
    except BaseException as exc:
        responder.fail(exc)
        if not isinstance(exc, Exception):
            raise
    else:
        responder.ok(result)


if sys.version_info >= (3, 12):

    def _create_task(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task:
        # Runs to the first real suspension right now: most handlers finish here.
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:

    def _create_task(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task:
        return loop.create_task(coro)


class LoopThread:
    """Owns the event loop thread of one server."""

    def __init__(
        self,
        bridge: Any,
        startup: Callable[[], Awaitable[None]],
        shutdown: Callable[[], Awaitable[None]],
        grace: float = 30.0,
    ) -> None:
        self.bridge = bridge
        self.startup = startup
        self.shutdown = shutdown
        self.grace = grace
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="ignyx-loop", daemon=True)

    def start(self) -> None:
        """Starts the loop and runs startup hooks; raises what they raised."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> None:
        """Finishes pending tasks (within the grace period), runs shutdown hooks, joins."""
        loop = self.loop
        if loop is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join()

    def _run(self) -> None:
        from . import _core

        _core.batch_scheduling()  # see src/server/sched.rs
        loop = self.loop = new_event_loop()
        asyncio.set_event_loop(loop)
        self.bridge.attach(self._start, self._run_background, self._pump)
        loop.add_reader(self.bridge.fileno(), self.bridge.drain)
        try:
            loop.run_until_complete(self.startup())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
            loop.remove_reader(self.bridge.fileno())
            self.bridge.drain()
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=self.grace))
            try:
                loop.run_until_complete(self.shutdown())
            except Exception:
                logger.exception("Error in shutdown hook")
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    # -- callbacks the Rust bridge makes ---------------------------------------

    def _start(self, coro: Any, responder: Any) -> None:
        _create_task(self.loop, _respond(coro, responder))

    def _run_background(self, task: Callable[[], Awaitable[None]]) -> None:
        self.loop.create_task(_background(task))

    def _pump(self, iterator: Any, sink: Any) -> None:
        self.loop.create_task(_pump(iterator, sink))


async def _background(task: Callable[[], Awaitable[None]]) -> None:
    try:
        await task()
    except Exception:
        logger.exception("Exception in background task")


_END = object()


async def _pump(iterator: Any, sink: Any) -> None:
    try:
        if hasattr(iterator, "__aiter__"):
            async for chunk in iterator:
                if not sink.send(chunk):
                    break
        else:
            loop = asyncio.get_running_loop()
            iterator = iter(iterator)
            while True:
                chunk = await loop.run_in_executor(None, next, iterator, _END)
                if chunk is _END or not sink.send(chunk):
                    break
    except Exception:
        logger.exception("Exception in streaming response body")
    finally:
        sink.close()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:
                pass
