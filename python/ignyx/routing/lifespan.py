"""A router's lifespan: its ``lifespan=`` context, or else the startup and shutdown
handlers it was given (``on_startup=``, ``@app.on_event``); an included router's
lifespan runs inside its parent's, and the states they yield are merged, as in FastAPI."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, Optional

Lifespan = Callable[[Any], AbstractAsyncContextManager[Optional[Mapping[str, Any]]]]


def as_lifespan(lifespan: Callable[[Any], Any]) -> Lifespan:
    """`lifespan` as a function of the app giving an async context manager: an async
    generator function or a plain generator function is wrapped as one."""
    if inspect.isasyncgenfunction(lifespan):
        return asynccontextmanager(lifespan)
    if inspect.isgeneratorfunction(lifespan):
        sync = contextmanager(lifespan)

        @asynccontextmanager
        async def lifted(app: Any) -> AsyncIterator[Any]:
            with sync(app) as state:
                yield state

        return lifted
    return lifespan


class HandlersLifespan:
    """The lifespan of a router given no ``lifespan=``: its startup handlers on the way in,
    its shutdown handlers on the way out."""

    def __init__(self, router: Any) -> None:
        self._router = router

    def __call__(self, app: Any) -> HandlersLifespan:
        return self

    async def __aenter__(self) -> None:
        await _run_all(self._router.on_startup)

    async def __aexit__(self, *exc_info: object) -> None:
        await _run_all(self._router.on_shutdown)


def merged(outer: Lifespan, inner: Lifespan) -> Lifespan:
    """`inner` run inside `outer`; the state is both their states, `outer`'s winning."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Optional[Mapping[str, Any]]]:
        async with outer(app) as outer_state, inner(app) as inner_state:
            if outer_state is None and inner_state is None:
                yield None
            else:
                yield {**(inner_state or {}), **(outer_state or {})}

    return lifespan


async def _run_all(handlers: list[Callable[[], Any]]) -> None:
    for handler in handlers:
        result = handler()
        if inspect.isawaitable(result):
            await result
