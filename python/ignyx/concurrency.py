"""Running blocking code from async code without stalling the event loop::

    from ignyx.concurrency import run_in_threadpool

    @app.get("/report")
    async def report():
        return await run_in_threadpool(build_report_blocking, year=2024)

The work goes to the running loop's default executor, so it shares the worker's one loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any, Callable, TypeVar

T = TypeVar("T")

__all__ = ["contextmanager_in_threadpool", "iterate_in_threadpool", "run_in_threadpool"]


async def run_in_threadpool(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Calls ``func(*args, **kwargs)`` in a thread and waits for its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))


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
async def contextmanager_in_threadpool(cm: AbstractContextManager[T]) -> AsyncIterator[T]:
    """Enters and exits a blocking context manager in a thread (used for ``yield`` dependencies)."""
    value = await run_in_threadpool(cm.__enter__)
    try:
        yield value
    except BaseException as exc:
        if not await run_in_threadpool(cm.__exit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        await run_in_threadpool(cm.__exit__, None, None, None)
