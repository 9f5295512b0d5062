"""The worker's one asyncio event loop, stepped by the Rust engine on its I/O thread.

Lifespan hooks, async handlers, async dependencies, background tasks, streaming bodies
and WebSockets all run on it. Before and after serving it is an ordinary selector loop
(``run_until_complete`` runs startup and shutdown); while serving, tokio calls
``step`` whenever the loop has work (see ``src/runtime/event_loop.rs``), so handing
it a request costs no thread switch.

uvloop is not used: it cannot be stepped from outside, and tokio already does the
I/O it would speed up; the loop here only runs Python callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import selectors
import sys
import threading
from collections import deque
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

logger = logging.getLogger("ignyx.error")


class _Selector(selectors.DefaultSelector):
    """The loop's selector; while the engine drives the loop it never blocks, and is
    asked at all only when its descriptor is readable."""

    driven = False
    #: Set by ``step``: whether this iteration should look for I/O.
    io = True
    #: Whether the last look found any.
    found = False

    def select(self, timeout: Optional[float] = None) -> list:
        if not self.driven:
            return super().select(timeout)
        if not self.io:
            return []
        events = super().select(0)
        self.found = bool(events)
        return events


class EngineLoop(asyncio.SelectorEventLoop):
    """The event loop of one server. ``begin`` / ``end`` bracket serving on the
    serving thread; in between, the engine calls ``step`` and the entry points below."""

    if TYPE_CHECKING:
        # The private parts of asyncio's loop that this one drives (typeshed has none of them).
        _selector: _Selector
        _ready: deque[asyncio.Handle]
        _scheduled: list[asyncio.TimerHandle]
        _stopping: bool
        _thread_id: Optional[int]

        def _run_once(self) -> None: ...
        def _check_closed(self) -> None: ...
        def _check_running(self) -> None: ...
        def _asyncgen_firstiter_hook(self, agen: AsyncGenerator[Any, Any]) -> None: ...
        def _asyncgen_finalizer_hook(self, agen: AsyncGenerator[Any, Any]) -> None: ...

    def __init__(self) -> None:
        super().__init__(_Selector())
        self._saved_asyncgen_hooks: Any = None

    def selector_fileno(self) -> int:
        return self._selector.fileno()

    # -- serving (what ``run_forever`` does around its iterations) ----------------

    def begin(self) -> None:
        self._check_closed()
        self._check_running()
        self._thread_id = threading.get_ident()
        self._saved_asyncgen_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook
        )
        self._selector.driven = True

    def end(self) -> None:
        self._selector.driven = False
        self._stopping = False
        self._thread_id = None
        if self._saved_asyncgen_hooks is not None:
            sys.set_asyncgen_hooks(*self._saved_asyncgen_hooks)
            self._saved_asyncgen_hooks = None

    def step(self, io: bool) -> tuple[float, bool]:
        """One iteration, never blocking. Returns ``(delay, io_again)``: 0.0 when
        callbacks are ready, the seconds to the next timer, or -1.0 for none; and
        whether the selector should be asked again."""
        selector = self._selector
        selector.io = io
        self._run_once()
        io_again = io and selector.found
        if self._ready:
            return 0.0, io_again
        if self._scheduled:
            # `_when` is what `when()` returns, without a method call on every step.
            delay = self._scheduled[0]._when - self.time()  # type: ignore[attr-defined]
            return (delay if delay > 0.0 else 0.0), io_again
        return -1.0, io_again

    def finish(self, grace: float, shutdown: Callable[[], Awaitable[None]]) -> None:
        """After serving: lets pending tasks finish within `grace` seconds, runs the
        shutdown hooks, cancels what is left and closes the loop."""
        try:
            pending = [t for t in asyncio.all_tasks(self) if not t.done()]
            if pending:
                self.run_until_complete(asyncio.wait(pending, timeout=grace))
            try:
                self.run_until_complete(shutdown())
            except Exception:
                logger.exception("Error in shutdown hook")
            for task in asyncio.all_tasks(self):
                task.cancel()
            self.run_until_complete(self.shutdown_asyncgens())
        finally:
            self.close()

    # -- entry points the engine calls during a step ---------------------------

    def run_background(self, task: Callable[[], Awaitable[None]]) -> None:
        self.create_task(_background(task))

    def pump(self, iterator: Any, sink: Any) -> None:
        self.create_task(_pump(iterator, sink))


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
