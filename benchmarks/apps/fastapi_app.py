"""The benchmark app for FastAPI, on its fast path: ``async def`` everywhere.

Kept line for line parallel to ``ignyx_app.py``. Handlers and dependencies are
``async def`` because a sync ``def`` sends each call through AnyIO's threadpool,
which is FastAPI's slow path and would flatter the comparison.

    uvicorn fastapi_app:app --app-dir benchmarks/apps --loop uvloop --http httptools
"""

import asyncio
import os
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=["*"])

# Python middleware for the middleware rows (bench-middleware): asgi-correlation-id, or an
# @app.middleware("http") function adding a header.
if os.environ.get("BENCH_MIDDLEWARE") == "correlation-id":
    from asgi_correlation_id import CorrelationIdMiddleware

    app.add_middleware(CorrelationIdMiddleware)
elif os.environ.get("BENCH_MIDDLEWARE") == "http":

    @app.middleware("http")
    async def add_header(request, call_next):
        response = await call_next(request)
        response.headers["x-bench"] = "1"
        return response


class User(BaseModel):
    name: str
    age: int


class Row(BaseModel):
    id: int
    name: str


# What /jsonl streams: made once, so that the route measures streaming, not model building.
ROWS = [Row(id=i, name="item") for i in range(10_000)]


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
    for row in ROWS:
        yield row


@app.get("/cpu")
async def cpu():
    # About a millisecond of Python: the server, not wrk, is the bottleneck (bench-workers).
    total = 0
    for i in range(20_000):
        total += i
    return {"sum": total}
