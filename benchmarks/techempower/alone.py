"""The TechEmpower app's own work, with no server: a route's handler called directly, as
many times as asked, by 32 coroutines at once on one event loop. What a request of that
route costs any server at least (the app's Python, asyncpg, Jinja2, the event loop), for
``instructions.py`` to count under callgrind.

    python alone.py APP PATH LOOP      # LOOP: asyncio, ignyx (the loop Ignyx steps) or uvloop

Reads the database from ``TFB_DATABASE_URL`` as the app does. Runs the app's lifespan,
warms up, prints ``ready`` and waits for a line on stdin; then calls the handler that many
times per coroutine, prints ``done N`` (the calls made) and waits for stdin to close, so
that what is counted between the two lines is the calls and nothing else.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

CONCURRENCY = 32
WARMUP_CALLS = 20


def load_app(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def handler(app: Any, target: str) -> Callable[[], Any]:
    """The endpoint of `target`'s route, with `target`'s query as its arguments."""
    url = urlsplit(target)
    for route in app.routes:
        if getattr(route, "path", None) == url.path:
            arguments = dict(parse_qsl(url.query))
            return lambda: route.endpoint(**arguments)
    raise SystemExit(f"the app has no route {url.path}")


async def calls(call: Callable[[], Any], each: int) -> None:
    async def one_by_one() -> None:
        for _ in range(each):
            await call()

    await asyncio.gather(*(one_by_one() for _ in range(CONCURRENCY)))


async def main(path: Path, target: str) -> None:
    module = load_app(path)
    call = handler(module.app, target)
    async with module.lifespan(module.app):
        await calls(call, WARMUP_CALLS)
        print("ready", flush=True)
        each = int(await asyncio.to_thread(sys.stdin.readline))
        await calls(call, each)
        print(f"done {each * CONCURRENCY}", flush=True)
        await asyncio.to_thread(sys.stdin.read)


if __name__ == "__main__":
    app_path, route_path, loop = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    if loop == "uvloop":
        import uvloop

        uvloop.run(main(app_path, route_path))
    elif loop == "ignyx":
        # Run as asyncio.run would, before the engine steps it: its callbacks are the same.
        from ignyx._asyncio_internals import DrivenLoop

        driven = DrivenLoop()
        try:
            driven.run_until_complete(main(app_path, route_path))
        finally:
            driven.close()
    else:
        asyncio.run(main(app_path, route_path))
