"""The bodies of streaming path operations: their generator's items, encoded, as the
async iterator of chunks a ``StreamingResponse`` sends.

Items the generator makes without waiting for anything leave together (up to
``_BURST_BYTES``); as soon as it waits, what it made leaves, so each item reaches the client
as soon as the generator has to wait for the next. A sync generator is run in a worker
thread, an async one on the loop, each step of it in the request's context. Closing the
body (the client left) closes the generator, so its ``finally`` runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import types
from collections import deque
from typing import Any, AsyncIterator, Awaitable, Callable, Generator, Iterator, Optional

from .. import sse

# How much a generator may run ahead of the client, in encoded bytes: one chunk at most,
# and for a sync generator, what it makes before its worker thread is let go until the
# body has been taken. hyper holds a few chunks per connection while the socket drains, so
# the chunk's size is what each streaming connection costs: 64 KiB bursts held ~400 KiB a
# stream of /jsonl, 16 KiB ones about a quarter of that, at the same CPU per request.
_BURST_BYTES = 16 * 1024


@types.coroutine
def _resume(steps: Any, waiting: Any, run: Callable[..., Any]) -> Generator[Any, Any, Any]:
    """Awaits the rest of an awaitable whose steps (``__await__()``) are under way and now
    wait on `waiting`: what each step waits on is handed to the task, and each step runs
    with `run`, a context's ``run``."""
    while True:
        try:
            sent, thrown = (yield waiting), None
        except BaseException as exc:  # a cancellation, passed on to the awaitable
            sent, thrown = None, exc
        try:
            waiting = run(steps.send, sent) if thrown is None else run(steps.throw, thrown)
        except StopIteration as done:
            return done.value


async def _awaited(awaitable: Awaitable[Any], run: Callable[..., Any]) -> Any:
    """`awaitable`'s result, each of its steps run with `run`."""
    steps = awaitable.__await__()
    try:
        waiting = run(steps.send, None)
    except StopIteration as done:
        return done.value
    return await _resume(steps, waiting, run)


class AsyncItems:
    """An async generator's items, each step of the generator run in the request's context
    (the generator sees what its dependencies set in ContextVars).

    Encoded items (`encode` given) that the generator makes without waiting for anything
    leave together, up to `_BURST_BYTES`; as soon as it waits, what it made leaves. Raw
    items leave one by one. Closing this closes the generator."""

    def __init__(
        self,
        items: AsyncIterator[Any],
        encode: Optional[Callable[[Any], bytes]],
        context: contextvars.Context,
    ) -> None:
        self._items = items
        self._encode = encode
        self._run = context.run
        # A step of the generator that began waiting after the items before it were made:
        # they left first, and the next batch begins by awaiting it.
        self._held: Optional[tuple[Any, Any]] = None
        # An error that came after a batch, raised once the batch has left.
        self._error: Optional[BaseException] = None
        self._done = False

    def __aiter__(self) -> AsyncItems:
        return self

    async def __anext__(self) -> Any:
        return await self._next()

    @types.coroutine
    def _next(self) -> Generator[Any, Any, Any]:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self._done:
            raise StopAsyncIteration
        encode, run = self._encode, self._run
        batch: list[bytes] = []
        size = 0
        while True:
            try:
                if self._held is not None:
                    (steps, waiting), self._held = self._held, None
                    item = yield from _resume(steps, waiting, run)
                else:
                    steps = self._items.__anext__().__await__()
                    try:
                        waiting = run(steps.send, None)
                    except StopIteration as done:
                        item = done.value
                    else:
                        if batch:
                            self._held = (steps, waiting)
                            return b"".join(batch)
                        item = yield from _resume(steps, waiting, run)
                if encode is None:
                    return item
                chunk = encode(item)
            except StopAsyncIteration:
                self._done = True
                if not batch:
                    raise
                return b"".join(batch)
            except Exception as exc:
                # Only a step that did not wait can fail with a batch made: the batch
                # leaves, then the error.
                if not batch:
                    raise
                self._error = exc
                return b"".join(batch)
            batch.append(chunk)
            size += len(chunk)
            if size >= _BURST_BYTES:
                return b"".join(batch)

    async def aclose(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            # The generator is inside a step, waiting: cancel it there, as the task it
            # would run in elsewhere would be cancelled.
            steps, _ = held
            try:
                waiting = self._run(steps.throw, asyncio.CancelledError())
                await _resume(steps, waiting, self._run)  # it caught that and went on
            except (Exception, asyncio.CancelledError):
                pass
        close = getattr(self._items, "aclose", None)
        if close is not None:
            await _awaited(close(), self._run)


_NOTHING: Any = object()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _size_of(chunk: Any) -> int:
    return len(chunk) if isinstance(chunk, (bytes, str)) else 1


class ThreadedItems:
    """A sync generator's items, made in a worker thread and taken from the event loop.

    The thread runs the generator in bursts: it stops when `_BURST_BYTES` wait to be taken
    and starts again once half of them have been, so a slow client holds no thread. Encoded
    items (`encode` given) that wait together are taken as one chunk; raw ones one by one.
    """

    def __init__(
        self,
        iterator: Iterator[Any],
        encode: Optional[Callable[[Any], bytes]],
        context: contextvars.Context,
    ) -> None:
        self._iterator = iterator
        self._encode = encode
        self._context = context
        self._lock = threading.Lock()
        self._made: deque[Any] = deque()
        self._size = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._waiter: Optional[asyncio.Future[None]] = None
        self._running = False  # a burst is in a thread
        self._finished = False  # exhausted, failed or closed: nothing more will come
        self._closing = False
        self._error: Optional[BaseException] = None

    def __aiter__(self) -> ThreadedItems:
        return self

    async def __anext__(self) -> Any:
        loop = self._loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                chunk, waiter = _NOTHING, None
                if self._made:
                    chunk = self._take()
                elif self._finished:
                    error, self._error = self._error, None
                    if error is not None:
                        raise error
                    raise StopAsyncIteration
                else:
                    waiter = self._waiter = loop.create_future()
                # Started again once half of what the last burst made has been taken.
                start = not (self._running or self._finished or self._closing)
                start = start and self._size <= _BURST_BYTES // 2
                self._running = self._running or start
            if start:
                # A copy per burst: two bursts may overlap for an instant (one returning as
                # the next starts), and a context cannot be entered by two threads at once.
                loop.run_in_executor(None, self._context.copy().run, self._burst)
            if waiter is None:
                return chunk
            await waiter

    def _take(self) -> Any:
        if self._encode is None:
            chunk = self._made.popleft()
            self._size -= _size_of(chunk)
            return chunk
        chunk = b"".join(self._made)
        self._made.clear()
        self._size = 0
        return chunk

    def _burst(self) -> None:
        iterator, encode = self._iterator, self._encode
        while not self._closing:
            try:
                item = next(iterator)
            except StopIteration:
                return self._end(None)
            except BaseException as exc:
                return self._end(exc)
            try:
                chunk = item if encode is None else encode(item)
            except BaseException as exc:
                return self._end(self._close_iterator() or exc)
            with self._lock:
                self._made.append(chunk)
                self._size += _size_of(chunk)
                self._wake()
                if self._closing:
                    break
                if self._size >= _BURST_BYTES:
                    self._running = False
                    return None
        return self._end(self._close_iterator())

    def _close_iterator(self) -> Optional[BaseException]:
        """Closes the generator (its ``finally`` runs); what it raised doing so, if anything."""
        close = getattr(self._iterator, "close", None)
        try:
            if close is not None:
                close()
        except BaseException as exc:
            return exc
        return None

    def _end(self, error: Optional[BaseException]) -> None:
        with self._lock:
            self._finished, self._running = True, False
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_resolve, waiter)

    async def aclose(self) -> None:
        """Stops the generator: at once when no thread is in it, else when its current item
        is made (a thread cannot be interrupted)."""
        with self._lock:
            if self._finished or self._closing:
                return
            self._closing = True
            running = self._running
        if not running:
            loop = asyncio.get_running_loop()
            run = self._context.copy().run
            self._end(await loop.run_in_executor(None, run, self._close_iterator))


async def _step(events: AsyncIterator[bytes]) -> Any:
    try:
        return await events.__anext__()
    except StopAsyncIteration:
        return _NOTHING


class KeepAlive:
    """An event stream with a keep-alive comment after each `sse._PING_INTERVAL` seconds of
    silence. The next event is awaited in a task of its own, which a timeout leaves running:
    the generator is never interrupted by the timer."""

    def __init__(self, events: AsyncIterator[bytes]) -> None:
        self._events = events
        self._next: Optional[asyncio.Task[Any]] = None

    def __aiter__(self) -> KeepAlive:
        return self

    async def __anext__(self) -> bytes:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_task(_step(self._events))
        done, _ = await asyncio.wait((self._next,), timeout=sse._PING_INTERVAL)
        if not done:
            return sse.KEEPALIVE_COMMENT
        step, self._next = self._next, None
        event = step.result()
        if event is _NOTHING:
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        """Stops the generator, interrupting the event it is making (the client left)."""
        pending, self._next = self._next, None
        if pending is not None and not pending.done():
            pending.cancel()
            await asyncio.wait((pending,))
        if pending is not None and not pending.cancelled():
            pending.exception()  # retrieved: the body is closing, no one else will
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()
