"""Running blocking code from async code without stalling the event loop::

    from ignyx.concurrency import run_in_threadpool

    @app.get("/report")
    async def report():
        return await run_in_threadpool(build_report_blocking, year=2024)

The work goes to the engine's threadpool (the one sync routes run on, of 40 threads as
FastAPI's), or, when the app is served as an ASGI app by another server, to anyio's
threadpool as in FastAPI; it runs in a copy of the caller's context (its ContextVars), as
Starlette's does.

The engine itself uses ``run_sync`` for the sync callables of an async plan (a ``def``
dependency, or a ``def`` endpoint with async dependencies): FastAPI runs those in its
threadpool, and so does Ignyx until they prove quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from time import perf_counter
from typing import Any, Callable, Optional, Protocol, TypeVar

from ._core import InlinePolicy
from ._deprecation import warn_deprecated
from ._runtime import EngineLoop

T = TypeVar("T")

__all__ = [
    "contextmanager_in_threadpool",
    "iterate_in_threadpool",
    "run_in_threadpool",
    "run_until_first_complete",
]


async def run_in_threadpool(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Calls ``func(*args, **kwargs)`` in a thread, in a copy of the current context, and
    waits for its result."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    if isinstance(loop, EngineLoop):
        return await loop.run_in_executor(None, call)
    # Another server's loop (the app served as an ASGI app): anyio's threadpool, the one
    # FastAPI uses, of 40 threads (a loop's own executor has `min(32, cores + 4)`).
    import anyio.to_thread

    return await anyio.to_thread.run_sync(call)


class Policy(Protocol):
    """What decides where a sync callable runs: ``ignyx._core.InlinePolicy``, or a route
    of the ASGI app (``ignyx._core.AsgiCall``), which follows its route's policy."""

    @property
    def inline(self) -> bool: ...
    def observe_pooled(self, seconds: float) -> None: ...
    def observe_inline(self, seconds: float) -> None: ...


async def run_sync(policy: Policy, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Calls a sync callable of an async plan: in the threadpool, as FastAPI does, until
    `policy` has seen it prove quick; then on the event loop itself, sparing the thread
    round trip, until a slow call sends it back (the policy sync routes follow, see
    ``InlinePolicy`` in ``src/runtime/inline.rs``). Either way it runs in a copy of the context, so
    what it sets in ContextVars stays with it whichever way it ran, as in FastAPI."""
    if policy.inline:
        started = perf_counter()
        try:
            return contextvars.copy_context().run(func, *args, **kwargs)
        finally:
            policy.observe_inline(perf_counter() - started)
    return await run_in_threadpool(_timed, policy, func, args, kwargs)


def _timed(policy: Policy, func: Callable[..., T], args: tuple, kwargs: dict) -> T:
    started = perf_counter()
    try:
        return func(*args, **kwargs)
    finally:
        policy.observe_pooled(perf_counter() - started)


class _Exhausted(Exception):
    """Stands in for StopIteration, which cannot cross a Future (it would become a RuntimeError)."""


def _next(iterator: Iterator[T]) -> T:
    try:
        return next(iterator)
    except StopIteration:
        raise _Exhausted from None


async def iterate_in_threadpool(iterable: Iterable[T]) -> AsyncIterator[T]:
    """Turns a blocking iterable into an async one, fetching each item in a thread."""
    iterator = iter(iterable)
    while True:
        try:
            yield await run_in_threadpool(_next, iterator)
        except _Exhausted:
            break


@asynccontextmanager
async def contextmanager_in_threadpool(
    cm: AbstractContextManager[T], policy: Optional[InlinePolicy] = None
) -> AsyncIterator[T]:
    """Enters and exits a blocking context manager in a thread (``yield`` dependencies of
    async plans); with a `policy`, on the loop itself once it proved quick (``run_sync``)."""
    run = run_in_threadpool if policy is None else functools.partial(run_sync, policy)
    value = await run(cm.__enter__)
    try:
        yield value
    except BaseException as exc:
        if not await run(cm.__exit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        await run(cm.__exit__, None, None, None)


async def run_until_first_complete(*args: tuple[Callable[..., Any], dict[str, Any]]) -> None:
    """Deprecated, as in Starlette: runs each ``(async_func, kwargs)`` at once and stops
    the others when the first returns."""
    warn_deprecated(
        "run_until_first_complete is deprecated and will be removed in a future version."
    )
    tasks = [asyncio.ensure_future(func(**kwargs)) for func, kwargs in args]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # the first one's exception, if it failed
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class DependencyConcurrency:
    """The limit of ``Depends(..., max_concurrency=n)``: at most `n` calls of that dependency
    at once in a worker (a ``yield`` dependency counts until it exits); the others wait their
    turn on the event loop."""

    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency
        self._semaphores: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def semaphore(self) -> asyncio.Semaphore:
        """This limit's semaphore on the running loop (each loop counts its own calls)."""
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.max_concurrency)
        return semaphore


@asynccontextmanager
async def limited(
    manager: contextlib.AbstractAsyncContextManager[T], semaphore: asyncio.Semaphore
) -> AsyncIterator[T]:
    """`manager` entered once `semaphore` lets it, and holding it until it exits."""
    async with semaphore, manager as value:
        yield value
