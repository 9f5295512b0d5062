"""Publish and subscribe, for WebSockets and streams that must see what other requests,
workers or hosts send::

    broadcast = Broadcast("redis://127.0.0.1:6379/0")  # or "memory://"
    app = FastAPI(on_startup=[broadcast.connect], on_shutdown=[broadcast.disconnect])

    @app.websocket("/rooms/{room}")
    async def room(websocket: WebSocket, room: str):
        await websocket.accept()
        async with broadcast.subscribe(channel=room) as subscriber:
            async for event in subscriber:
                await websocket.send_text(event.message)

    @app.post("/rooms/{room}")
    async def post(room: str, text: str):
        await broadcast.publish(channel=room, message=text)

``memory://`` reaches the subscribers of this process's event loop only (one worker).
``redis://``, ``rediss://`` and ``unix://`` go through Redis's PUBLISH and SUBSCRIBE, so
every worker and host on that Redis gets every message: each process has one connection
that publishes and one that listens, subscribed in Redis to a channel while at least one
of its local subscribers is, and each message that arrives is handed to every local
subscriber of its channel. Channel names go to Redis as they are written (no prefix), so
other Redis clients may publish to the same channels.

A handler like the one above, which only sends, notices that its client has gone at its
next send; one that also reads from its socket (``examples/broadcast_chat.py``) leaves the
channel at once.

Messages are ``str`` or ``bytes``; Redis carries bytes, and so does ``memory://``, so both
backends give the same thing: ``event.data`` is the bytes, ``event.message`` the same
decoded as UTF-8 (a ``str`` is sent encoded as UTF-8; ``event.message`` raises
``UnicodeDecodeError`` for binary data, which ``event.data`` reads).

Each subscriber has a queue of ``queue_size`` events (1000 by default), so a slow one
never holds up a fast one or the publisher: when its queue is full, the oldest event is
dropped for the newest, and ``subscriber.dropped`` counts what it lost (a WebSocket
handler may check it and tell its client, or close). Like Redis's own PUBLISH, delivery
is at most once: what is published while a process's connection to Redis is down is lost
for that process.

``connect()`` must have run before publishing or subscribing (a ``RuntimeError`` says so
otherwise); it checks that Redis answers, so an app whose Redis cannot be reached fails
to start with ``StoreError``. ``connect()`` and ``disconnect()`` may be called any number
of times; ``disconnect()`` ends every subscriber's iteration (after the events it had
queued), so WebSocket handlers return at shutdown. A lifespan may also write ``async with
broadcast: yield``. A Broadcast belongs to the event loop it was connected on (the
worker's): subscribing happens there, while publishing may come from any event loop (a
test's, another thread's).

When Redis stops, ``publish`` raises ``StoreError`` (a ``ConnectionError``, also importable
from here) within ``timeout`` seconds, and so does entering ``subscribe`` when that needs
a new Redis subscription; subscribers already there keep waiting, and receive again once
Redis is back (the connection is checked every second, reconnected and subscribed again
by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Optional, Union

from . import _core
from ._store import StoreError, execute

__all__ = ["Broadcast", "Event", "StoreError", "Subscriber"]

DEFAULT_QUEUE_SIZE = 1000

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

_logger = logging.getLogger("ignyx.broadcast")


class Event:
    """One published message, as every subscriber of its channel receives it."""

    __slots__ = ("channel", "data", "_message")

    def __init__(self, channel: str, data: bytes) -> None:
        #: The channel it was published to.
        self.channel = channel
        #: The message as published, in bytes (a ``str`` encoded as UTF-8).
        self.data = data
        self._message: Optional[str] = None

    @property
    def message(self) -> str:
        """The message decoded as UTF-8 (once, for every subscriber that reads it)."""
        text = self._message
        if text is None:
            text = self._message = self.data.decode("utf-8")
        return text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.channel, self.data) == (other.channel, other.data)

    def __hash__(self) -> int:
        return hash((self.channel, self.data))

    def __repr__(self) -> str:
        return f"Event(channel={self.channel!r}, data={self.data!r})"


class Subscriber:
    """What ``Broadcast.subscribe`` gives: an async iterator of the channel's events, in
    the order they were published, until the ``async with`` block is left or the
    broadcast disconnected."""

    def __init__(self, channel: str, queue_size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.channel = channel
        #: The events dropped because the queue was full (the oldest go first).
        self.dropped = 0
        self._queue: deque[Event] = deque(maxlen=queue_size)
        self._loop = loop
        self._waiter: Optional[asyncio.Future[None]] = None
        self._closed = False

    def _put(self, event: Event) -> None:
        queue = self._queue
        if len(queue) == queue.maxlen:
            self.dropped += 1  # the append below pushes the oldest out
        queue.append(event)
        self._wake()

    def _close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event:
        queue = self._queue
        while not queue:
            if self._closed:
                raise StopAsyncIteration
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = self._loop.create_future()
            await waiter
        return queue.popleft()

    def __repr__(self) -> str:
        return (
            f"<Subscriber channel={self.channel!r} queued={len(self._queue)}"
            f" dropped={self.dropped}{' closed' if self._closed else ''}>"
        )


class _Channel:
    """One channel's local subscribers."""

    __slots__ = ("name", "subscribers")

    def __init__(self, name: str) -> None:
        self.name = name
        # A dict keeps the order they came in, and is quick to remove from.
        self.subscribers: dict[Subscriber, None] = {}


class _Connection:
    """What ``connect`` set up on one event loop: the channels with local subscribers and,
    for Redis, the listening connection and which channels it is subscribed to."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.listener: Optional[_core.RedisListener] = None
        self.channels: dict[bytes, _Channel] = {}
        # The channels Redis confirmed a subscription to.
        self.subscribed: set[bytes] = set()
        # Per channel, the last change of its Redis subscription under way: changes to
        # one channel are made one after the other.
        self.changing: dict[bytes, asyncio.Task[Optional[Exception]]] = {}
        self.closed = False

    def deliver(self, key: bytes, data: bytes) -> None:
        channel = self.channels.get(key)
        if channel is not None:
            event = Event(channel.name, data)
            for subscriber in channel.subscribers:
                subscriber._put(event)

    def deliver_batch(self, messages: list[tuple[bytes, bytes]]) -> None:
        """The listener's callback: messages from Redis, ``(channel, data)``."""
        if self.closed:
            return
        channels = self.channels
        for key, data in messages:
            channel = channels.get(key)
            if channel is not None:
                event = Event(channel.name, data)
                for subscriber in channel.subscribers:
                    subscriber._put(event)
            elif key not in self.changing:
                # Subscribed in Redis with nobody here: an UNSUBSCRIBE that failed while
                # Redis was down (the connection subscribed again when it came back).
                self.subscribed.add(key)
                self._change(key)

    async def join(self, subscriber: Subscriber) -> None:
        """Adds `subscriber`; returns once its channel's messages reach it (for Redis, once
        Redis confirmed the subscription), or raises StoreError."""
        key = subscriber.channel.encode("utf-8")
        channel = self.channels.get(key)
        if channel is None:
            channel = self.channels[key] = _Channel(subscriber.channel)
        channel.subscribers[subscriber] = None
        if self.listener is None or (key in self.subscribed and key not in self.changing):
            return
        try:
            # Shielded: a joiner cancelled meanwhile leaves the change to finish, and the
            # bookkeeping right.
            failure = await asyncio.shield(self._change(key))
        except BaseException:
            self.remove(key, subscriber)
            raise
        if failure is not None:
            self.remove(key, subscriber)
            raise failure

    async def leave(self, subscriber: Subscriber) -> None:
        """Removes `subscriber`; the channel's Redis subscription ends with its last one."""
        key = subscriber.channel.encode("utf-8")
        subscriber._close()
        change = self.remove(key, subscriber)
        if change is None:
            return
        failure = await asyncio.shield(change)
        if failure is not None:
            # Harmless: the channel's next message finds nobody and unsubscribes again.
            _logger.info("Could not unsubscribe from %r: %s", subscriber.channel, failure)

    def remove(
        self, key: bytes, subscriber: Subscriber
    ) -> Optional[asyncio.Task[Optional[Exception]]]:
        """Takes `subscriber` out of its channel; when that was the last one, starts
        unsubscribing in Redis and returns the task."""
        channel = self.channels.get(key)
        if channel is None or channel.subscribers.pop(subscriber, False) is False:
            return None
        if channel.subscribers:
            return None
        del self.channels[key]
        if self.listener is None or self.closed:
            return None
        return self._change(key)

    def _change(self, key: bytes) -> asyncio.Task[Optional[Exception]]:
        """Starts bringing the Redis subscription of `key` in line with its local
        subscribers, after the change already under way."""
        task = self.loop.create_task(self._align(key, self.changing.get(key)))
        self.changing[key] = task

        def done(finished: asyncio.Task[Optional[Exception]]) -> None:
            if self.changing.get(key) is finished:
                del self.changing[key]

        task.add_done_callback(done)
        return task

    async def _align(
        self, key: bytes, previous: Optional[asyncio.Task[Optional[Exception]]]
    ) -> Optional[Exception]:
        """Subscribes or unsubscribes `key` as its local subscribers need; the error, if
        Redis did not confirm it."""
        if previous is not None:
            await asyncio.wait([previous])
        wanted = key in self.channels
        if self.closed or self.listener is None or wanted == (key in self.subscribed):
            return None
        future = self.loop.create_future()
        try:
            if wanted:
                self.listener.subscribe(future, key)
                await future
                self.subscribed.add(key)
            else:
                # Forgotten even when Redis does not confirm: subscribing again is harmless.
                self.subscribed.discard(key)
                self.listener.unsubscribe(future, key)
                await future
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits for the change
            return exc
        return None

    def close(self) -> None:
        """Ends every subscriber's iteration and closes the listening connection."""
        self.closed = True
        for channel in self.channels.values():
            for subscriber in channel.subscribers:
                subscriber._close()
        self.channels.clear()
        self.subscribed.clear()
        if self.listener is not None:
            self.listener.close()


class Broadcast:
    """Channels that any number of subscribers listen to, in this process (``memory://``)
    or through Redis (``redis://host:6379/0``, ``rediss://``, ``unix://``).

    `queue_size` is how many events a subscriber may have waiting before the oldest is
    dropped; `timeout` is how long a Redis operation may take before it fails with
    ``StoreError``.
    """

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        timeout: float = 1.0,
    ) -> None:
        if not isinstance(queue_size, int) or isinstance(queue_size, bool) or queue_size < 1:
            raise ValueError("queue_size must be a positive whole number of events")
        self.url = url
        self.queue_size = queue_size
        self._client: Optional[_core.RedisClient] = None
        if url.startswith(_REDIS_SCHEMES):
            # A bad URL or timeout fails here, where it was written.
            self._client = _core.RedisClient(url, timeout)
        elif not url.startswith("memory://"):
            raise ValueError(f"unknown broadcast backend {url!r} (memory:// or redis://...)")
        self._connection: Optional[_Connection] = None

    @property
    def connected(self) -> bool:
        """Whether ``connect()`` has run (and its event loop is still open)."""
        connection = self._connection
        return connection is not None and not connection.loop.is_closed()

    async def connect(self) -> None:
        """Makes the broadcast usable on the running event loop; for Redis, once it
        answered (else ``StoreError``). Connecting again does nothing."""
        loop = asyncio.get_running_loop()
        if self._here(loop):
            return
        if self._client is not None:
            await execute(self._client, "PING")
            if self._here(loop):
                return  # connected by another call meanwhile
        connection = _Connection(loop)
        if self._client is not None:
            connection.listener = self._client.listen(loop, connection.deliver_batch)
        self._connection = connection

    def _here(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether it is connected on `loop` already; raises if on another one, still open."""
        connection = self._connection
        if connection is None:
            return False
        if connection.loop is loop:
            return True
        if not connection.loop.is_closed():
            raise RuntimeError(f"{self!r} is connected on another event loop")
        # Its loop is gone without a disconnect (a test client left open): start afresh.
        self._connection = None
        connection.close()
        return False

    async def disconnect(self) -> None:
        """Ends every subscriber's iteration and stops listening. Disconnecting again, or
        before connecting, does nothing."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is connection.loop or connection.loop.is_closed():
            connection.close()
        else:
            connection.loop.call_soon_threadsafe(connection.close)

    async def __aenter__(self) -> Broadcast:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        await self.disconnect()

    def _connected(self) -> _Connection:
        connection = self._connection
        if connection is None or connection.loop.is_closed():
            raise RuntimeError(
                f"{self!r} is not connected: await broadcast.connect() first "
                "(FastAPI(on_startup=[broadcast.connect]), or in the lifespan)"
            )
        return connection

    async def publish(self, channel: str, message: Union[str, bytes]) -> None:
        """Sends `message` to every subscriber of `channel`; through Redis, raises
        ``StoreError`` when Redis does not take it within the timeout."""
        if not isinstance(channel, str):
            raise TypeError(f"channel must be a str, not {type(channel).__name__}")
        if isinstance(message, str):
            data = message.encode("utf-8")
        elif isinstance(message, (bytes, bytearray, memoryview)):
            data = bytes(message)
        else:
            raise TypeError(f"message must be str or bytes, not {type(message).__name__}")
        connection = self._connected()
        if self._client is not None:
            await execute(self._client, "PUBLISH", channel, data)
            return
        key = channel.encode("utf-8")
        if asyncio.get_running_loop() is connection.loop:
            connection.deliver(key, data)
        else:
            connection.loop.call_soon_threadsafe(connection.deliver, key, data)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        """``async with broadcast.subscribe(channel="room") as subscriber:`` receives what
        is published to `channel` from the moment the block is entered until it is left.
        Entering raises ``StoreError`` when Redis does not confirm the subscription."""
        if not isinstance(channel, str):
            raise TypeError(f"channel must be a str, not {type(channel).__name__}")
        connection = self._connected()
        if asyncio.get_running_loop() is not connection.loop:
            raise RuntimeError(f"{self!r} is connected on another event loop")
        subscriber = Subscriber(channel, self.queue_size, connection.loop)
        await connection.join(subscriber)
        try:
            yield subscriber
        finally:
            await connection.leave(subscriber)

    def __repr__(self) -> str:
        shown = self._client.url if self._client is not None else self.url
        return f"Broadcast({shown!r})"
