"""Issue 4, point 1: an async handler is stepped in its connection's own task
(``EventLoop::call_eagerly``), so one that waits for nothing real is answered without a
trip through the event loop. A bare ``await asyncio.sleep(0)`` is resumed at once only
while nothing else is ready to run before it, as asyncio would order it; whatever the
handler leaves behind (tasks, callbacks, timers) still runs on the loop."""

import asyncio

import httpx
from conftest import differential, eventually, live_server


def build(fw):
    app = fw.FastAPI()

    @app.get("/callback-first")
    async def callback_first():
        # asyncio runs a callback scheduled before the yield ahead of the task's next step.
        seen = []
        asyncio.get_running_loop().call_soon(seen.append, "callback")
        await asyncio.sleep(0)
        seen.append("resumed")
        return seen

    @app.get("/task-first")
    async def task_first():
        seen = []

        async def child():
            seen.append("child")

        asyncio.get_running_loop().create_task(child())
        await asyncio.sleep(0)
        seen.append("resumed")
        return seen

    @app.get("/many-yields")
    async def many_yields():
        for _ in range(100):
            await asyncio.sleep(0)
        return {"yields": 100}

    @app.get("/spin-until-timer")
    async def spin_until_timer():
        # Busy-yields until a timer fires: resuming at once for ever would never let it.
        fired = []
        asyncio.get_running_loop().call_later(0.01, fired.append, True)
        spins = 0
        while not fired:
            spins += 1
            await asyncio.sleep(0)
        return {"fired": True, "spun": spins > 0}

    @app.get("/cancelled-between-yields")
    async def cancelled_between_yields():
        task = asyncio.current_task()
        await asyncio.sleep(0)
        task.cancel("stop")
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError as exc:
            task.uncancel()
            return {"cancelled": exc.args[0] if exc.args else None}
        return {"cancelled": None}

    return app


def test_yields_resume_in_asyncio_order(dual):
    clients = dual(build)
    assert differential(clients, "GET", "/callback-first").json() == ["callback", "resumed"]
    assert differential(clients, "GET", "/task-first").json() == ["child", "resumed"]
    assert differential(clients, "GET", "/many-yields").json() == {"yields": 100}
    assert differential(clients, "GET", "/spin-until-timer").json() == {
        "fired": True,
        "spun": True,
    }
    assert differential(clients, "GET", "/cancelled-between-yields").json() == {"cancelled": "stop"}


def test_what_a_handler_leaves_to_the_loop_runs_without_further_requests():
    """A handler that returns at once can leave a task and a timer behind. Nothing else
    arrives afterwards to wake the loop, so the engine must see them and step the loop."""
    import ignyx

    app = ignyx.FastAPI()
    ran: list[str] = []

    @app.get("/leave-work")
    async def leave_work():
        async def later():
            ran.append("task")

        loop = asyncio.get_running_loop()
        loop.create_task(later())
        loop.call_later(0.01, ran.append, "timer")
        return {"left": 2}

    with live_server(app) as server:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as client:
            assert client.get("/leave-work").json() == {"left": 2}
            # Polls the list, not the server: another request could wake the loop.
            eventually(lambda: len(ran) == 2)
            assert sorted(ran) == ["task", "timer"]


def test_async_routes_are_answered_while_a_sync_route_holds_a_pool_thread():
    """While a pool thread runs a route (and may hold the GIL), async requests go through
    the loop's passes instead, which take the GIL once for all queued requests."""
    import threading

    import ignyx

    app = ignyx.FastAPI()
    started, release = threading.Event(), threading.Event()

    @app.get("/blocking")
    def blocking():
        started.set()
        release.wait(5)
        return {"blocked": True}

    @app.get("/yielding/{n}")
    async def yielding(n: int):
        await asyncio.sleep(0)
        return {"n": n}

    @app.get("/waiting")
    async def waiting():
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_result, "timer")
        return {"from": await future}

    @app.get("/failing")
    async def failing():
        await asyncio.sleep(0)
        raise ignyx.HTTPException(status_code=409, detail="busy")

    with live_server(app) as server:
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            blocked = threading.Thread(target=client.get, args=("/blocking",))
            blocked.start()
            assert started.wait(5)
            try:
                with httpx.Client(base_url=base, timeout=10) as other:
                    assert [other.get(f"/yielding/{n}").json()["n"] for n in range(20)] == list(
                        range(20)
                    )
                    assert other.get("/waiting").json() == {"from": "timer"}
                    failed = other.get("/failing")
                    assert (failed.status_code, failed.json()) == (409, {"detail": "busy"})
            finally:
                release.set()
                blocked.join()


def test_a_quick_sync_route_run_inline_may_run_its_own_loop_between_async_requests():
    """The loop stays the I/O thread's running loop between async requests; a sync route run
    inline on that thread must still see none, as on a pool thread, so `asyncio.run` works."""
    import threading

    import ignyx

    app = ignyx.FastAPI()

    async def seven():
        return 7

    @app.get("/own-loop")
    def own_loop():
        return {"value": asyncio.run(seven()), "thread": threading.current_thread().name}

    @app.get("/yield")
    async def yielding():
        await asyncio.sleep(0)
        return {"running": asyncio.get_running_loop() is not None}

    with live_server(app) as server:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as client:
            threads = set()
            for _ in range(100):
                assert client.get("/yield").json() == {"running": True}
                response = client.get("/own-loop")
                assert response.status_code == 200, response.text
                assert response.json()["value"] == 7
                threads.add(response.json()["thread"])
    # Quick sync routes are promoted to run inline on the server's thread.
    assert "ignyx-server" in threads
