"""The benchmark app for Ignyx, written the way the README writes apps.

Kept line for line parallel to ``fastapi_app.py`` so that both frameworks serve
the same routes with the same work per request.

    python benchmarks/apps/ignyx_app.py 8000      # or PORT=8000 python ...
"""

import asyncio
import os
import sys
from collections.abc import Iterator

from ignyx import Depends, Ignyx, Request
from ignyx.middleware import CORSMiddleware
from ignyx.responses import PlainTextResponse
from pydantic import BaseModel

app = Ignyx()
app.add_middleware(CORSMiddleware, allow_origins=["*"])

# Python middleware for the middleware rows (bench-middleware): asgi-correlation-id, or an
# @app.middleware("http") function adding a header. GZip and sessions for their own rows
# (bench-files), on servers of their own.
if os.environ.get("BENCH_MIDDLEWARE") == "correlation-id":
    from asgi_correlation_id import CorrelationIdMiddleware

    app.add_middleware(CorrelationIdMiddleware)
elif os.environ.get("BENCH_MIDDLEWARE") == "passthrough":

    class Passthrough:
        # The least an ASGI middleware can be: what hosting one costs, with no work of its own.
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            await self.app(scope, receive, send)

    app.add_middleware(Passthrough)
elif os.environ.get("BENCH_MIDDLEWARE") == "http":

    @app.middleware("http")
    async def add_header(request, call_next):
        response = await call_next(request)
        response.headers["x-bench"] = "1"
        return response

elif os.environ.get("BENCH_MIDDLEWARE") == "gzip":
    from ignyx.middleware.gzip import GZipMiddleware

    app.add_middleware(GZipMiddleware)
elif os.environ.get("BENCH_MIDDLEWARE") == "session":
    try:
        from ignyx.middleware.sessions import SessionMiddleware
    except ImportError as e:
        sys.exit(f"no SessionMiddleware to measure in this build of Ignyx: {e}")

    app.add_middleware(SessionMiddleware, secret_key="bench-secret")

# A rate limit for the rate-limit rows (bench-ratelimit), on servers of their own:
# BENCH_RATELIMIT is the storage, memory:// or the run's redis://. Far above what a server
# here reaches (one request a microsecond), so every request is counted and none refused.
# fail_open=False: a Redis that does not answer gives 503s (wrk counts them), not fast 200s.
RATE_LIMIT = "1000000/second"
if os.environ.get("BENCH_RATELIMIT"):
    from ignyx.middleware.ratelimit import RateLimitMiddleware

    app.add_middleware(
        RateLimitMiddleware,
        limit=RATE_LIMIT,
        storage=os.environ["BENCH_RATELIMIT"],
        fail_open=False,
    )


class User(BaseModel):
    name: str
    age: int


class Row(BaseModel):
    id: int
    name: str


# What /jsonl streams, ten times over: made once, so that the route measures streaming, not
# model building, and few, so that the app's data does not pass for the framework's memory.
ROWS = [Row(id=i, name="item") for i in range(1_000)]

# What /gzip-json returns (19,971 bytes of compact JSON), made once: the route measures
# encoding and compressing it.
DOCUMENT = [
    {"id": i, "name": f"user{i}", "email": f"user{i}@example.com", "active": i % 2 == 0}
    for i in range(280)
]


def dep_a() -> int:
    return 1


def dep_b(a: int = Depends(dep_a)) -> int:
    return a + 1


def dep_c(b: int = Depends(dep_b)) -> int:
    return b + 1


@app.get("/plaintext")
def plaintext():
    return PlainTextResponse("Hello, World!")


@app.get("/users/{id}")
def get_user(id: int):
    return {"id": id, "name": "user"}


@app.post("/users")
def create_user(user: User):
    return user


@app.get("/sync")
def sync_route():
    return {"message": "Hello, World!"}


@app.get("/async")
async def async_route():
    await asyncio.sleep(0)
    return {"message": "Hello, World!"}


@app.get("/deps")
def deps(c: int = Depends(dep_c)):
    return {"deps": c}


@app.get("/jsonl")
def jsonl() -> Iterator[Row]:
    for _ in range(10):
        yield from ROWS


@app.get("/cpu")
def cpu():
    # About a millisecond of Python: the server, not wrk, is the bottleneck (bench-workers).
    total = 0
    for i in range(20_000):
        total += i
    return {"sum": total}


@app.get("/gzip-json")
def gzip_json():
    return DOCUMENT


@app.get("/session")
def session(request: Request):
    count = request.session.get("count", 0) + 1
    request.session["count"] = count
    return {"count": count}


# The rate-limited route (bench-ratelimit): the middleware above counts every request.
if os.environ.get("BENCH_RATELIMIT"):

    @app.get("/limited/{id}")
    def limited(id: int):
        return {"id": id, "name": "user"}


# The static rows' server (bench-files) serves the files the harness wrote.
if os.environ.get("BENCH_STATIC_DIR"):
    from ignyx.staticfiles import StaticFiles

    app.mount("/static", StaticFiles(directory=os.environ["BENCH_STATIC_DIR"]), name="static")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "8000"))
    app.run(host="127.0.0.1", port=port, workers=int(os.environ.get("IGNYX_WORKERS", "1")))
