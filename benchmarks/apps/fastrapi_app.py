"""The benchmark app for FastrAPI (PyPI ``fastrapi``: Rust, axum and PyO3 under a
FastAPI-like API), as close to ``fastapi_app.py`` as FastrAPI's API allows.

Handlers and dependencies are sync ``def``, as FastrAPI's README writes them (its
fast path; ``async def`` only for ``/async``, as in the other apps). Where FastrAPI
answers differently, the route is still written the FastAPI way, and the harness's
check skips it rather than measure a wrong answer (fastrapi 0.2.11):

- ``GET /async``: an ``async def`` handler fails with "RuntimeError: no running
  event loop" (500, empty body), with or without the ``await``.
- ``GET /jsonl``: a generator is not streamed; the answer is the JSON string of
  its repr (``"<generator object jsonl at 0x...>"``). There is no StreamingResponse.
- ``GET /plaintext``: returning ``PlainTextResponse(...)`` answers the JSON string
  of its repr (or a 500 with ``-> PlainTextResponse``), so the route declares
  ``response_class=PlainTextResponse`` and returns the text, as FastAPI also allows.

``POST /users`` answers ``{"age":1,"name":"a"}``: the same JSON object as the other
apps, its keys in another order. One process, served by ``app.serve(host, port)``
(it takes no worker count; the harness pins it to one core like every server).
No static files, GZip, sessions or rate limits here: the catalog runs it on the
main app's rows only.

    python benchmarks/apps/fastrapi_app.py 8000      # or PORT=8000 python ...
"""

import asyncio
import os
import sys
from collections.abc import Iterator

from fastrapi import Depends, FastrAPI
from fastrapi.middleware import CORSMiddleware
from fastrapi.responses import PlainTextResponse
from pydantic import BaseModel

# The variants' servers (static files, middleware rows, rate limits) are not started for it
# (catalog.py); started by hand with one of them, it says so rather than serve without it.
for variable in ("BENCH_MIDDLEWARE", "BENCH_STATIC_DIR", "BENCH_RATELIMIT"):
    if os.environ.get(variable):
        sys.exit(f"fastrapi_app serves the main rows only, not {variable}")

app = FastrAPI()
app.add_middleware(CORSMiddleware, allow_origins=["*"])


class User(BaseModel):
    name: str
    age: int


class Row(BaseModel):
    id: int
    name: str


# What /jsonl streams, ten times over: made once, so that the route measures streaming, not
# model building, and few, so that the app's data does not pass for the framework's memory.
ROWS = [Row(id=i, name="item") for i in range(1_000)]


def dep_a() -> int:
    return 1


def dep_b(a: int = Depends(dep_a)) -> int:
    return a + 1


def dep_c(b: int = Depends(dep_b)) -> int:
    return b + 1


@app.get("/plaintext", response_class=PlainTextResponse)
def plaintext():
    # FastrAPI sends a returned PlainTextResponse as JSON (see above): the text itself.
    return "Hello, World!"


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


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "8000"))
    app.serve("127.0.0.1", port)
