"""ignyx.broadcast: publish and subscribe in one process (``memory://``) and through a real
Redis (``redis://``, a ``redis-server`` of each test's own), from the API itself, from the
chat example's WebSockets (test client and live sockets), across two server processes,
and across a Redis restart."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import EXAMPLES, free_port, http_client, live_server, served_script
from ignyx import FastAPI, WebSocket
from ignyx._store import StoreError
from ignyx.broadcast import Broadcast, Event, Subscriber
from ignyx.testclient import TestClient
from websockets.sync.client import connect as ws_connect

# The most any one wait may take (a generous bound, never a measure).
WAIT = 10.0


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def take(subscriber: Subscriber, count: int = 1) -> list[Event]:
    """The next `count` events of `subscriber`."""
    return [await asyncio.wait_for(anext(subscriber), WAIT) for _ in range(count)]


async def messages(subscriber: Subscriber, count: int) -> list[str]:
    return [event.message for event in await take(subscriber, count)]


@pytest.fixture(params=["memory", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    """Each backend's URL (for Redis, the test's own server)."""
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("redis_server").url)


def redis_command(url: str, *args: str) -> list[bytes]:
    """Sends one command to the Redis at `url`; the lines of its (RESP2) reply, without
    the length lines."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=WAIT) as sock:
        request = b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)
        sock.sendall(b"*%d\r\n%s" % (len(args), request))
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += sock.recv(65536)
    return [line for line in reply.split(b"\r\n")[1:-1] if not line.startswith(b"$")]


def subscriptions(url: str, *channels: str) -> dict[str, int]:
    """How many connections Redis has subscribed to each channel."""
    reply = redis_command(url, "PUBSUB", "NUMSUB", *channels)
    return {
        name.decode(): int(count[1:]) for name, count in zip(reply[::2], reply[1::2], strict=True)
    }


# --- the API, on both backends --------------------------------------------------------------


def test_a_published_message_reaches_a_subscriber(url: str) -> None:
    async def main() -> None:
        async with Broadcast(url) as broadcast:
            async with broadcast.subscribe(channel="room") as subscriber:
                await broadcast.publish(channel="room", message="hi")
                [event] = await take(subscriber)
        assert event == Event("room", b"hi")
        assert (event.channel, event.message, event.data) == ("room", "hi", b"hi")

    run(main())


def test_channels_are_isolated(url: str) -> None:
    async def main() -> None:
        async with Broadcast(url) as broadcast:
            async with broadcast.subscribe("a") as a, broadcast.subscribe("b") as b:
                await broadcast.publish("a", "for a")
                await broadcast.publish("b", "for b")
                await broadcast.publish("c", "for nobody")
                await broadcast.publish("a", "for a again")
                await broadcast.publish("a", "end")
                await broadcast.publish("b", "end")
                assert await messages(a, 3) == ["for a", "for a again", "end"]
                assert await messages(b, 2) == ["for b", "end"]

    run(main())


def test_every_subscriber_gets_every_message_in_order(url: str) -> None:
    async def main() -> None:
        async with Broadcast(url) as broadcast:
            async with (
                broadcast.subscribe("room") as first,
                broadcast.subscribe("room") as second,
                broadcast.subscribe("room") as third,
            ):
                sent = [f"message {n}" for n in range(20)]
                for message in sent:
                    await broadcast.publish("room", message)
                for subscriber in (first, second, third):
                    assert await messages(subscriber, 20) == sent
                    assert subscriber.dropped == 0

    run(main())


def test_str_and_bytes_messages(url: str) -> None:
    async def main() -> None:
        async with Broadcast(url) as broadcast:
            async with broadcast.subscribe("room") as subscriber:
                await broadcast.publish("room", "héllo ✓")
                await broadcast.publish("room", "héllo ✓".encode())
                await broadcast.publish("room", b"\x00\xff\xfe binary")
                await broadcast.publish("room", bytearray(b"from a bytearray"))
                await broadcast.publish("room", "")
                text, encoded, binary, array, empty = await take(subscriber, 5)
        assert (text.message, text.data) == ("héllo ✓", "héllo ✓".encode())
        assert encoded == text  # the same bytes, whichever way they were given
        assert binary.data == b"\x00\xff\xfe binary"
        with pytest.raises(UnicodeDecodeError):
            _ = binary.message  # binary data is read from `data`
        assert array.message == "from a bytearray"
        assert (empty.message, empty.data) == ("", b"")

    run(main())


def test_messages_of_other_types_are_refused(url: str) -> None:
    async def main() -> None:
        async with Broadcast(url) as broadcast:
            with pytest.raises(TypeError, match="message must be str or bytes, not dict"):
                await broadcast.publish("room", {"text": "hi"})  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="channel must be a str"):
                await broadcast.publish(b"room", "hi")  # type: ignore[arg-type]

    run(main())


def test_leaving_the_block_unsubscribes(url: str) -> None:
    async def main() -> None:
        async with Broadcast(url) as broadcast:
            async with broadcast.subscribe("room") as subscriber:
                await broadcast.publish("room", "inside")
                assert await messages(subscriber, 1) == ["inside"]
            await broadcast.publish("room", "after")
            assert [event async for event in subscriber] == []  # the iteration has ended
            if url.startswith("redis://"):
                assert subscriptions(url, "room") == {"room": 0}

            # A subscriber whose task is cancelled leaves too.
            entered = asyncio.Event()

            async def listen() -> None:
                async with broadcast.subscribe("room") as subscriber:
                    entered.set()
                    async for _ in subscriber:
                        pass

            task = asyncio.create_task(listen())
            await asyncio.wait_for(entered.wait(), WAIT)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            if url.startswith("redis://"):
                assert subscriptions(url, "room") == {"room": 0}

            async with broadcast.subscribe("room") as again:
                await broadcast.publish("room", "again")
                assert await messages(again, 1) == ["again"]

    run(main())


def test_one_redis_subscription_per_channel_and_process(redis_server: Any) -> None:
    """Local subscribers share the process's one listening connection: Redis counts one
    subscriber per channel, until the last local one leaves."""

    async def main() -> None:
        async with Broadcast(redis_server.url) as broadcast:
            assert subscriptions(redis_server.url, "room") == {"room": 0}
            async with broadcast.subscribe("room") as first:
                async with broadcast.subscribe("room"), broadcast.subscribe("other"):
                    assert subscriptions(redis_server.url, "room", "other") == {
                        "room": 1,
                        "other": 1,
                    }
                assert subscriptions(redis_server.url, "room", "other") == {"room": 1, "other": 0}
                await broadcast.publish("room", "still here")
                assert await messages(first, 1) == ["still here"]
            assert subscriptions(redis_server.url, "room") == {"room": 0}
        assert redis_command(redis_server.url, "PUBSUB", "CHANNELS") == []

    run(main())


def test_subscribers_arriving_together_all_receive(url: str) -> None:
    """Many subscribers entering at once, on a channel nobody listened to: each returns
    from entering only once its messages reach it."""

    async def main() -> None:
        async with Broadcast(url) as broadcast:
            ready = asyncio.Event()
            got: list[list[str]] = []

            async def listen(entered: asyncio.Future[None]) -> None:
                async with broadcast.subscribe("crowd") as subscriber:
                    entered.set_result(None)
                    await ready.wait()
                    got.append(await messages(subscriber, 1))

            loop = asyncio.get_running_loop()
            entered = [loop.create_future() for _ in range(50)]
            tasks = [asyncio.create_task(listen(future)) for future in entered]
            await asyncio.wait_for(asyncio.gather(*entered), WAIT)
            await broadcast.publish("crowd", "everyone")
            ready.set()
            await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
            assert got == [["everyone"]] * 50

    run(main())


def test_a_full_queue_drops_the_oldest_and_holds_nobody_up(url: str) -> None:
    """The slow subscriber reads nothing while the fast one reads each message as it comes:
    the fast one gets them all, the slow one the newest `queue_size` and a count of the
    rest."""

    async def main() -> None:
        async with Broadcast(url, queue_size=3) as broadcast:
            async with broadcast.subscribe("room") as slow, broadcast.subscribe("room") as fast:
                for n in range(10):
                    await broadcast.publish("room", str(n))
                    assert await messages(fast, 1) == [str(n)]
                assert fast.dropped == 0
                assert slow.dropped == 7
                assert await messages(slow, 3) == ["7", "8", "9"]
                assert "dropped=7" in repr(slow)

    run(main())


def test_connect_and_disconnect_may_be_repeated(url: str) -> None:
    async def main() -> None:
        broadcast = Broadcast(url)
        await broadcast.disconnect()  # before connecting: nothing to do
        await broadcast.connect()
        await broadcast.connect()
        assert broadcast.connected
        async with broadcast.subscribe("room") as subscriber:
            await broadcast.publish("room", "once")
            assert await messages(subscriber, 1) == ["once"]
            await broadcast.disconnect()
            await broadcast.disconnect()
            assert not broadcast.connected
            # Disconnecting ends the iteration of every subscriber.
            assert [event async for event in subscriber] == []
        await broadcast.connect()  # and it may be connected again
        async with broadcast.subscribe("room") as subscriber:
            await broadcast.publish("room", "twice")
            assert await messages(subscriber, 1) == ["twice"]
        await broadcast.disconnect()

    run(main())


def test_using_it_before_connect_is_a_clear_error(url: str) -> None:
    async def main() -> None:
        broadcast = Broadcast(url)
        with pytest.raises(RuntimeError, match=r"not connected: await broadcast.connect\(\)"):
            await broadcast.publish("room", "hi")
        with pytest.raises(RuntimeError, match="not connected"):
            async with broadcast.subscribe("room"):
                pass

    run(main())


def test_a_broadcast_belongs_to_the_loop_it_was_connected_on() -> None:
    broadcast = Broadcast("memory://")
    run(broadcast.connect())  # that loop is closed now, without a disconnect

    async def main() -> None:
        assert not broadcast.connected
        await broadcast.connect()  # starts afresh on this loop
        async with broadcast.subscribe("room") as subscriber:
            await broadcast.publish("room", "here")
            assert await messages(subscriber, 1) == ["here"]
        await broadcast.disconnect()

    run(main())


def test_a_lifespan_may_connect_it() -> None:
    broadcast = Broadcast("memory://")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with broadcast:
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/say")
    async def say(text: str) -> None:
        await broadcast.publish(channel="room", message=text)

    @app.websocket("/listen")
    async def listen(websocket: WebSocket) -> None:
        await websocket.accept()
        async with broadcast.subscribe(channel="room") as subscriber:
            await websocket.send_text("subscribed")
            async for event in subscriber:
                await websocket.send_text(event.message)

    with TestClient(app) as client:
        assert broadcast.connected
        with client.websocket_connect("/listen") as websocket:
            assert websocket.receive_text() == "subscribed"
            assert client.post("/say", params={"text": "hi"}).status_code == 200
            assert websocket.receive_text() == "hi"
    assert not broadcast.connected


def test_bad_settings_are_refused_where_written() -> None:
    with pytest.raises(ValueError, match="unknown broadcast backend 'kafka://x'"):
        Broadcast("kafka://x")
    with pytest.raises(ValueError, match="invalid Redis URL"):
        Broadcast("redis://host:notaport/0")
    with pytest.raises(ValueError, match="queue_size"):
        Broadcast("memory://", queue_size=0)
    with pytest.raises(ValueError, match="timeout"):
        Broadcast("redis://127.0.0.1/0", timeout=0)
    assert repr(Broadcast("redis://:secret@127.0.0.1:6379/0")) == (
        "Broadcast('redis://:***@127.0.0.1:6379/0')"
    )


# --- Redis failures -------------------------------------------------------------------------


def test_connecting_to_an_unreachable_redis_fails() -> None:
    async def main() -> None:
        broadcast = Broadcast(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
        with pytest.raises(StoreError) as caught:
            await broadcast.connect()
        assert isinstance(caught.value, ConnectionError)
        assert not broadcast.connected

    run(main())


def test_publishing_while_redis_is_down_raises_store_error(redis_server: Any) -> None:
    async def main() -> None:
        async with Broadcast(redis_server.url, timeout=0.5) as broadcast:
            async with broadcast.subscribe("room"):
                # Stopped: refused at once.
                redis_server.stop()
                with pytest.raises(StoreError, match="Redis at redis://127.0.0.1"):
                    await broadcast.publish("room", "lost")
                with pytest.raises(StoreError):
                    async with broadcast.subscribe("another"):
                        pass

    run(main())


def test_a_hung_redis_fails_within_the_timeout(redis_server: Any) -> None:
    async def main() -> None:
        async with Broadcast(redis_server.url, timeout=0.5) as broadcast:
            await broadcast.publish("room", "fine")
            os.kill(redis_server.process.pid, signal.SIGSTOP)  # accepts, never answers
            try:
                started = time.monotonic()
                with pytest.raises(StoreError, match="did not answer within|timed out"):
                    await broadcast.publish("room", "lost")
                assert time.monotonic() - started < WAIT
                with pytest.raises(StoreError):
                    async with broadcast.subscribe("another"):
                        pass
            finally:
                os.kill(redis_server.process.pid, signal.SIGCONT)

    run(main())


async def publish_until_received(broadcast: Broadcast, subscriber: Subscriber, text: str) -> Event:
    """Publishes `text` again and again until `subscriber` gets it (while the connections
    come back, a publish may fail, or reach Redis before the subscription does)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            await broadcast.publish(subscriber.channel, text)
        except StoreError:
            pass
        try:
            return await asyncio.wait_for(anext(subscriber), 0.2)
        except asyncio.TimeoutError:
            assert time.monotonic() < deadline, "nothing arrived after Redis restarted"


def test_subscribers_receive_again_after_redis_restarts(redis_server: Any) -> None:
    async def main() -> None:
        async with Broadcast(redis_server.url, timeout=0.5) as broadcast:
            async with broadcast.subscribe("room") as subscriber:
                await broadcast.publish("room", "before")
                assert await messages(subscriber, 1) == ["before"]
                redis_server.stop()
                redis_server.start()  # the same port, none of the old state
                event = await publish_until_received(broadcast, subscriber, "after")
                assert event.message == "after"
                assert subscriptions(redis_server.url, "room") == {"room": 1}
            assert subscriptions(redis_server.url, "room") == {"room": 0}

    run(main())


def test_a_channel_left_while_redis_was_down_is_unsubscribed_once_it_is_back(
    redis_server: Any,
) -> None:
    """The UNSUBSCRIBE fails while Redis is down, and the connection subscribes again when
    it comes back: the channel's next message, with nobody to take it, ends that."""

    async def main() -> None:
        async with Broadcast(redis_server.url, timeout=0.5) as broadcast:
            async with broadcast.subscribe("room"):
                redis_server.stop()
            redis_server.start()
            async with broadcast.subscribe("marker") as marker:  # the listener is back
                await publish_until_received(broadcast, marker, "back")
            deadline = time.monotonic() + WAIT
            while subscriptions(redis_server.url, "room") != {"room": 0}:
                assert time.monotonic() < deadline, "still subscribed to a channel left"
                await broadcast.publish("room", "nobody listens")
                await asyncio.sleep(0.05)

    run(main())


# --- the chat example -----------------------------------------------------------------------

_loaded = itertools.count()


@pytest.fixture
def chat(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``examples/broadcast_chat.py`` on `url`'s backend."""
    monkeypatch.setenv("BROADCAST_URL", url)
    name = f"broadcast_chat_{next(_loaded)}"
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / "broadcast_chat.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def test_the_chat_example_with_the_test_client(chat: ModuleType) -> None:
    with TestClient(chat.app) as client:
        with (
            client.websocket_connect("/rooms/lobby?user=ada") as ada,
            client.websocket_connect("/rooms/lobby?user=bob") as bob,
            client.websocket_connect("/rooms/kitchen") as cook,
        ):
            assert ada.receive_json() == {"type": "joined", "room": "lobby", "user": "ada"}
            assert bob.receive_json()["type"] == "joined"
            assert cook.receive_json() == {
                "type": "joined",
                "room": "kitchen",
                "user": "anonymous",
            }

            posted = client.post("/rooms/lobby/messages", json={"user": "grace", "text": "hi"})
            assert posted.status_code == 202
            said = {"type": "message", "room": "lobby", "user": "grace", "text": "hi"}
            assert ada.receive_json() == said
            assert bob.receive_json() == said

            ada.send_text("hello from ada")
            said = {"type": "message", "room": "lobby", "user": "ada", "text": "hello from ada"}
            assert ada.receive_json() == said
            assert bob.receive_json() == said

            # The kitchen heard none of it: its next message is its own.
            cook.send_text("soup")
            assert cook.receive_json()["text"] == "soup"

            # Published from the test's own event loop, not the server's.
            run(chat.broadcast.publish(channel="chat:kitchen", message='{"text": "ready"}'))
            assert cook.receive_json() == {"text": "ready"}

            refused = client.post("/rooms/lobby/messages", json={"user": "", "text": "x"})
            assert refused.status_code == 422
        assert "new WebSocket" in client.get("/").text
    assert not chat.broadcast.connected  # the shutdown hook disconnected it


def test_the_chat_example_on_a_live_socket(chat: ModuleType) -> None:
    with live_server(chat.app) as server, http_client(server.port) as client:
        base = f"ws://127.0.0.1:{server.port}/rooms/lobby"
        with ws_connect(f"{base}?user=ada") as ada, ws_connect(f"{base}?user=bob") as bob:
            for socket in (ada, bob):
                assert json.loads(socket.recv(timeout=WAIT))["type"] == "joined"
            posted = client.post("/rooms/lobby/messages", json={"user": "grace", "text": "hi"})
            assert posted.status_code == 202
            bob.send("and bob")
            for socket in (ada, bob):
                received = [json.loads(socket.recv(timeout=WAIT)) for _ in range(2)]
                assert [(m["user"], m["text"]) for m in received] == [
                    ("grace", "hi"),
                    ("bob", "and bob"),
                ]


# --- two server processes on one Redis ------------------------------------------------------

_SERVED = """
import os
import sys

sys.path.insert(0, {examples!r})
from broadcast_chat import app


@app.get("/pid")
def pid():
    return {{"pid": os.getpid()}}


app.run(host="127.0.0.1", port=int(sys.argv[1]))
"""


def wait_for_message(socket: Any, deadline: float) -> dict[str, Any]:
    """The next chat message a live socket receives (notices skipped)."""
    while True:
        message = json.loads(socket.recv(timeout=max(0.0, deadline - time.monotonic())))
        if message["type"] == "message":
            return message


def test_a_post_to_one_process_reaches_a_websocket_on_another(
    redis_server: Any, tmp_path: Path
) -> None:
    source = _SERVED.format(examples=str(EXAMPLES))
    env = {"BROADCAST_URL": redis_server.url}
    with (
        served_script(tmp_path / "first.py", source, env) as (_, first),
        served_script(tmp_path / "second.py", source, env) as (_, second),
        http_client(first) as to_first,
        http_client(second) as to_second,
    ):
        pids = {to_first.get("/pid").json()["pid"], to_second.get("/pid").json()["pid"]}
        assert len(pids) == 2 and os.getpid() not in pids

        with ws_connect(f"ws://127.0.0.1:{first}/rooms/lobby?user=ada") as ada:
            assert json.loads(ada.recv(timeout=WAIT))["type"] == "joined"
            posted = to_second.post("/rooms/lobby/messages", json={"user": "bob", "text": "hi"})
            assert posted.status_code == 202
            message = wait_for_message(ada, time.monotonic() + WAIT)
            assert (message["user"], message["text"]) == ("bob", "hi")

            # Redis restarts: posting fails meanwhile (503, and an error on the socket), then
            # reaches the same socket.
            redis_server.stop()
            down = to_second.post("/rooms/lobby/messages", json={"user": "bob", "text": "x"})
            assert down.status_code == 503
            ada.send("lost")
            assert json.loads(ada.recv(timeout=WAIT))["type"] == "error"
            redis_server.start()
            deadline = time.monotonic() + WAIT
            while True:
                again = {"user": "bob", "text": "back"}
                try:
                    to_second.post("/rooms/lobby/messages", json=again, timeout=WAIT)
                    message = wait_for_message(ada, time.monotonic() + 0.3)
                    break
                except (TimeoutError, httpx.HTTPError):
                    assert time.monotonic() < deadline, "nothing arrived after Redis restarted"
            assert message["text"] == "back"
