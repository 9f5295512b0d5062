"""The benchmark app for FastAPI, on its fast path: ``async def`` everywhere.

Kept line for line parallel to ``ignyx_app.py``. Handlers and dependencies are
``async def`` because a sync ``def`` sends each call through AnyIO's threadpool,
which is FastAPI's slow path and would flatter the comparison.

    uvicorn fastapi_app:app --app-dir benchmarks/apps --loop uvloop --http httptools
"""

import asyncio
import os
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=["*"])

# Python middleware for the middleware rows (bench-middleware): asgi-correlation-id, or an
# @app.middleware("http") function adding a header. GZip and sessions for their own rows
# (bench-files), on servers of their own.
if os.environ.get("BENCH_MIDDLEWARE") == "correlation-id":
    from asgi_correlation_id import CorrelationIdMiddleware

    app.add_middleware(CorrelationIdMiddleware)
elif os.environ.get("BENCH_MIDDLEWARE") == "http":

    @app.middleware("http")
    async def add_header(request, call_next):
        response = await call_next(request)
        response.headers["x-bench"] = "1"
        return response

elif os.environ.get("BENCH_MIDDLEWARE") == "gzip":
    from fastapi.middleware.gzip import GZipMiddleware

    app.add_middleware(GZipMiddleware)
elif os.environ.get("BENCH_MIDDLEWARE") == "session":
    from starlette.middleware.sessions import SessionMiddleware

    app.add_middleware(SessionMiddleware, secret_key="bench-secret")

# A rate limit for the rate-limit rows (bench-ratelimit), on servers of their own:
# BENCH_RATELIMIT is the storage, memory:// or the run's redis://. Far above what a server
# here reaches, so every request is counted and none refused. slowapi as its README has it,
# on the route below; its default (swallow_errors=False) answers a failing Redis with 500s.
RATE_LIMIT = "1000000/second"
if os.environ.get("BENCH_RATELIMIT"):
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.util import get_remote_address

    limiter = Limiter(key_func=get_remote_address, storage_uri=os.environ["BENCH_RATELIMIT"])
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)


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


async def dep_a() -> int:
    return 1


async def dep_b(a: int = Depends(dep_a)) -> int:
    return a + 1


async def dep_c(b: int = Depends(dep_b)) -> int:
    return b + 1


@app.get("/plaintext")
async def plaintext():
    return PlainTextResponse("Hello, World!")


@app.get("/users/{id}")
async def get_user(id: int):
    return {"id": id, "name": "user"}


@app.post("/users")
async def create_user(user: User):
    return user


@app.get("/sync")
async def sync_route():
    # Ignyx's twin is a `def`; FastAPI's fast path stays `async def` (see above).
    return {"message": "Hello, World!"}


@app.get("/async")
async def async_route():
    await asyncio.sleep(0)
    return {"message": "Hello, World!"}


@app.get("/deps")
async def deps(c: int = Depends(dep_c)):
    return {"deps": c}


@app.get("/jsonl")
async def jsonl() -> AsyncIterator[Row]:
    for _ in range(10):
        for row in ROWS:
            yield row


@app.get("/cpu")
async def cpu():
    # About a millisecond of Python: the server, not wrk, is the bottleneck (bench-workers).
    total = 0
    for i in range(20_000):
        total += i
    return {"sum": total}


@app.get("/gzip-json")
async def gzip_json():
    return DOCUMENT


@app.get("/session")
async def session(request: Request):
    count = request.session.get("count", 0) + 1
    request.session["count"] = count
    return {"count": count}


# The rate-limited route (bench-ratelimit): slowapi's decorator counts every request.
if os.environ.get("BENCH_RATELIMIT"):

    @app.get("/limited/{id}")
    @limiter.limit(RATE_LIMIT)
    async def limited(request: Request, id: int):
        # slowapi wants the request; Ignyx's limit runs in the engine, before the handler.
        return {"id": id, "name": "user"}


# The static rows' server (bench-files) serves the files the harness wrote.
if os.environ.get("BENCH_STATIC_DIR"):
    from fastapi.staticfiles import StaticFiles

    app.mount("/static", StaticFiles(directory=os.environ["BENCH_STATIC_DIR"]), name="static")
