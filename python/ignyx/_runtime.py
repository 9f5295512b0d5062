"""The worker's one asyncio event loop, stepped by the Rust engine on its I/O thread.

Lifespan hooks, async handlers, async dependencies, background tasks, streaming bodies
and WebSockets all run on it. Before and after serving it is an ordinary selector loop
(``run_until_complete`` runs startup and shutdown); while serving, tokio calls
``step`` whenever the loop has work (see ``src/runtime/event_loop.rs``), so handing
it a request costs no thread switch. What stepping it needs of asyncio's internals is
in ``_asyncio_internals``.

uvloop is not used: it cannot be stepped from outside, and tokio already does the
I/O it would speed up; the loop here only runs Python callbacks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from typing import Any, Awaitable, Callable, Optional, TypeVar

from typing_extensions import TypeVarTuple, Unpack

from ._asyncio_internals import DrivenLoop

logger = logging.getLogger("ignyx.error")

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

# What user code may raise that the server reports and survives: every error, and the exits
# a handler may raise itself (signals reach the engine, not Python code). Not cancellation.
USER_FAULTS = (Exception, SystemExit, KeyboardInterrupt)


class EngineLoop(DrivenLoop):
    """The event loop of one server. ``begin`` / ``end`` bracket serving on the
    serving thread; in between, the engine calls ``step`` and the entry points below."""

    def __init__(self) -> None:
        super().__init__()
        # The requests' own work still running, which shutdown waits for.
        self._owed: set[asyncio.Task] = set()
        # Of those, the responses' background tasks.
        self._background: set[asyncio.Task] = set()
        # Where an exception user code raised after its response (a background task, a
        # `yield` dependency's exit) goes besides the log: a TestClient's list, to raise it.
        self.fault_sink: Optional[Callable[[BaseException], None]] = None
        # While serving: the engine's sync pool (`ignyx._core.PoolThreads`), the default
        # executor unless the app chose its own.
        self._threads: Any = None
        self._executor_chosen = False

    def use_threads(self, threads: Any) -> None:
        """Called by the engine as serving begins: `run_in_executor(None, ...)` runs on
        `threads`, the pool that runs sync routes (FastAPI runs both on one threadpool of
        40), as long as it takes work; before and after serving, asyncio's executor."""
        self._threads = threads

    def set_default_executor(self, executor: Any) -> None:
        self._executor_chosen = True
        super().set_default_executor(executor)

    def run_in_executor(
        self,
        executor: Optional[concurrent.futures.Executor],
        func: Callable[[Unpack[_Ts]], _T],
        *args: Unpack[_Ts],
    ) -> asyncio.Future[_T]:
        if executor is None and self._threads is not None and not self._executor_chosen:
            done: concurrent.futures.Future[_T] = concurrent.futures.Future()
            if self._threads.run(functools.partial(_run_work, done, func, args)):
                return asyncio.wrap_future(done, loop=self)
        return super().run_in_executor(executor, func, *args)

    def finish(self, grace: float, shutdown: Callable[[], Awaitable[None]]) -> None:
        """After serving: lets the requests' own work (background tasks, streamed bodies)
        finish within `grace` seconds, runs the shutdown hooks, then cancels every task
        left (WebSocket handlers, the app's own tasks, as uvicorn leaves them) and lets
        them unwind before closing the loop."""
        self._threads = None
        try:
            owed = [task for task in self._owed if not task.done()]
            if owed:
                self.run_until_complete(asyncio.wait(owed, timeout=grace))
            try:
                self.run_until_complete(shutdown())
            except Exception:
                logger.exception("Error in shutdown hook")
            left = [task for task in asyncio.all_tasks(self) if not task.done()]
            for task in left:
                task.cancel()
            if left:
                unwound = asyncio.gather(*left, return_exceptions=True)
                self.run_until_complete(asyncio.wait([unwound], timeout=grace))
            self.run_until_complete(self.shutdown_asyncgens())
        finally:
            self.close()

    def backgrounds_done(self) -> concurrent.futures.Future[None]:
        """From another thread (a TestClient's, holding a response): a future done once the
        background tasks of every response sent so far have finished."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def wait() -> None:
            running = [task for task in self._background if not task.done()]
            if not running:
                done.set_result(None)
                return
            waiting = self.create_task(asyncio.wait(running))
            waiting.add_done_callback(lambda _: done.set_result(None))

        # The engine hands a response's background task over in a job before the response's
        # last bytes leave, and each pass runs its jobs before its one loop iteration: two
        # iterations from now, every job queued before this call has run.
        self.call_soon_threadsafe(self.call_soon, wait)
        return done

    def _owe(self, task: asyncio.Task) -> None:
        """Counts `task` as a request's work, which shutdown waits for."""
        self._owed.add(task)
        task.add_done_callback(self._owed.discard)

    # -- entry points the engine calls during a step ---------------------------

    def run_background(self, task: Callable[[], Awaitable[None]]) -> None:
        running = self.create_task(_background(task))
        self._owe(running)
        self._background.add(running)
        running.add_done_callback(self._background.discard)

    def pump(self, iterator: Any, sink: Any) -> None:
        self._owe(self.create_task(_pump(iterator, sink)))


def _run_work(done: concurrent.futures.Future[Any], func: Callable[..., Any], args: Any) -> None:
    """Runs executor work in a pool thread, as a `ThreadPoolExecutor`'s thread would:
    skipped when cancelled before it began, its result or exception kept in `done`."""
    if not done.set_running_or_notify_cancel():
        return
    try:
        result = func(*args)
    except BaseException as exc:
        done.set_exception(exc)
    else:
        done.set_result(result)


async def _background(task: Callable[[], Awaitable[None]]) -> None:
    try:
        await task()
    except USER_FAULTS as exc:
        logger.exception("Exception in background task")
        report_fault(exc)


def report_fault(exc: BaseException) -> None:
    """Hands `exc`, which user code raised after its response was sent, to the running
    engine loop's `fault_sink` (a TestClient's), when it has one."""
    sink = getattr(asyncio.get_running_loop(), "fault_sink", None)
    if sink is not None:
        sink(exc)


_END = object()

# Seconds a failed streaming body waits before it is cut (see `_pump`).
_FLUSH_WAIT = 0.01


async def _writable(sink: Any) -> None:
    """Waits until the client has taken most of what was sent (backpressure)."""
    waiting = asyncio.get_running_loop().create_future()
    sink.wait_writable(waiting)
    await waiting


async def _pump(iterator: Any, sink: Any) -> None:
    try:
        if hasattr(iterator, "__aiter__"):
            async for chunk in iterator:
                if not sink.send(chunk):
                    break
                if sink.must_wait:
                    await _writable(sink)
        else:
            loop = asyncio.get_running_loop()
            iterator = iter(iterator)
            while True:
                chunk = await loop.run_in_executor(None, next, iterator, _END)
                if chunk is _END or not sink.send(chunk):
                    break
                if sink.must_wait:
                    await _writable(sink)
    except USER_FAULTS:
        logger.exception("Exception in streaming response body")
        # hyper drops what it has not written yet when a body fails: one short wait lets it
        # write the chunks already sent, so the client gets them before the cut.
        await asyncio.sleep(_FLUSH_WAIT)
        sink.abort()  # the client sees the body cut, not complete
    finally:
        sink.close()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:
                pass
