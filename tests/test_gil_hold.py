"""While the I/O thread answers a stream of requests it keeps the GIL from one to the next
(``src/runtime/gil.rs``); every other thread that runs Python must still get its turn, and
none may wait on the I/O thread while it holds the GIL. A real server under keep-alive load
from several connections, and meanwhile: a route in the sync pool, a ``run_in_threadpool``
call, and a thread of the app's own, each of which needs the GIL to finish."""

from __future__ import annotations

import http.client
import threading
import time

from conftest import get_json, served_script

_APP = """
import sys
import threading
import time

from ignyx import Ignyx
from ignyx.concurrency import run_in_threadpool

app = Ignyx()
ticks = 0


def tick():
    global ticks
    while True:
        ticks += 1  # Python: the GIL, once a millisecond
        time.sleep(0.001)


threading.Thread(target=tick, daemon=True).start()


def work():
    return sum(range(20_000))


@app.get("/quick")
async def quick():
    return {"ok": True}


@app.get("/offloaded")
async def offloaded():
    return {"sum": await run_in_threadpool(work)}


@app.get("/pooled")
def pooled():
    time.sleep(0.002)  # never proves quick: it stays in the sync pool
    return {"sum": work()}


@app.get("/ticks")
def read_ticks():
    return {"ticks": ticks}


app.run(host="127.0.0.1", port=int(sys.argv[1]))
"""


def test_other_threads_get_the_gil_while_requests_stream_in(tmp_path):
    with served_script(tmp_path / "app.py", _APP, {"IGNYX_ACCESS_LOG": "0"}) as (_, port):
        stop = threading.Event()
        answered = [0] * 6
        errors: list[BaseException] = []

        def load(slot: int) -> None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                while not stop.is_set():
                    get_json(connection, "/quick")
                    answered[slot] += 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        loaders = [threading.Thread(target=load, args=(i,)) for i in range(len(answered))]
        for loader in loaders:
            loader.start()
        try:
            time.sleep(0.3)
            side = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            before = get_json(side, "/ticks")["ticks"]
            for _ in range(10):
                assert get_json(side, "/offloaded") == {"sum": 199_990_000}
                assert get_json(side, "/pooled") == {"sum": 199_990_000}
            time.sleep(0.5)
            after = get_json(side, "/ticks")["ticks"]
            during = sum(answered)
        finally:
            stop.set()
            for loader in loaders:
                loader.join(timeout=30)
        assert not errors, errors
        # The load went on all along, and the app's own thread kept ticking through it.
        assert during > 100
        assert after - before > 20
