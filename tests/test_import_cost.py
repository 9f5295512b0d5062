"""What an app pays for at startup: only the modules it uses. python-multipart, the middleware
other than CORS, the ASGI host, telemetry, logging.config and the multi-worker supervisor are
imported when an app asks for them, not by ``import ignyx`` or by building and serving an app.
Each check runs in a fresh interpreter, whose ``sys.modules`` no other test has filled.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# A basic app, as the README and benchmarks/apps/ignyx_app.py write one; then what it
# compiles and what serving it sets up (logging, the launcher), without serving.
BASIC_APP = """
from collections.abc import Iterator

from ignyx import Depends, Ignyx, Request
from ignyx.middleware import CORSMiddleware
from ignyx.responses import PlainTextResponse
from pydantic import BaseModel

app = Ignyx()
app.add_middleware(CORSMiddleware, allow_origins=["*"])


class User(BaseModel):
    name: str
    age: int


def dep() -> int:
    return 1


@app.get("/plaintext")
def plaintext():
    return PlainTextResponse("Hello, World!")


@app.get("/users/{id}")
def get_user(id: int, request: Request, one: int = Depends(dep)):
    return {"id": id, "one": one}


@app.post("/users")
def create_user(user: User):
    return user


@app.get("/items")
def items() -> Iterator[User]:
    yield User(name="a", age=1)


app._compile()

import ignyx.launch
from ignyx.logs import configure_logging

configure_logging("info", None)
"""

# Modules (and the heavy ones they bring) that such an app does not use.
UNUSED = [
    "email.parser",  # by http.client
    "http.client",
    "http.cookies",  # ~400 KiB: loaded by the first cookie read or set
    "ignyx._asgi",
    "ignyx._asgi_host",
    "ignyx._store",
    "ignyx.middleware.base",
    "ignyx.middleware.compression",
    "ignyx.middleware.httpsredirect",
    "ignyx.middleware.ratelimit",
    "ignyx.middleware.sessions",
    "ignyx.middleware.trustedhost",
    "ignyx.ratelimit",
    "ignyx.supervisor",
    "ignyx.telemetry",
    "logging.config",
    "opentelemetry",
    "python_multipart",
]


def run(script: str) -> object:
    """What `script`, run in a fresh interpreter, prints as JSON on its last line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_basic_app_imports_no_module_it_does_not_use() -> None:
    loaded = run(
        BASIC_APP
        + f"""
import json, sys
print(json.dumps(sorted(name for name in {UNUSED!r} if name in sys.modules)))
"""
    )
    assert loaded == []


def test_what_the_basic_app_left_out_loads_when_used() -> None:
    loaded = run(
        BASIC_APP
        + """
import json, sys

from ignyx import Form
from ignyx.middleware.sessions import SessionMiddleware
from ignyx.testclient import TestClient


@app.post("/form")
def form(name: str = Form()):
    return {"name": name}


@app.get("/count")
def count(request: Request):
    request.session["count"] = request.session.get("count", 0) + 1
    return {"count": request.session["count"]}


@app.get("/cookies")
def cookies(request: Request):
    response = PlainTextResponse(request.cookies.get("flavour", ""))
    response.set_cookie("seen", "yes")
    return response


@app.middleware("http")
async def stamp(request, call_next):
    response = await call_next(request)
    response.headers["x-stamp"] = "1"
    return response


app.add_middleware(SessionMiddleware, secret_key="test")
outer, python, _ = app._middleware_layers()
with TestClient(app) as client:
    posted = client.post("/form", data={"name": "ada"})
    assert (posted.status_code, posted.json()) == (200, {"name": "ada"}), posted.text
    assert posted.headers["x-stamp"] == "1"
    assert [client.get("/count").json()["count"] for _ in range(2)] == [1, 2]
    tasted = client.get("/cookies", headers={"cookie": 'flavour="mint\\054lime"'})
    assert tasted.text == "mint,lime", tasted.text
    assert tasted.headers["set-cookie"] == "seen=yes; Path=/; SameSite=lax"
used = ("python_multipart", "ignyx.middleware.base", "http.cookies")
print(json.dumps({
    "native": [type(layer).__name__ for layer in outer],
    "modules": [name for name in used if name in sys.modules],
}))
"""
    )
    assert loaded == {
        "native": ["SessionMiddleware"],
        "modules": ["python_multipart", "ignyx.middleware.base", "http.cookies"],
    }


def test_a_subclass_of_a_native_middleware_runs_in_python() -> None:
    # It may do something else than the class the engine runs in its place.
    from ignyx import Ignyx
    from ignyx.middleware.gzip import GZipMiddleware
    from ignyx.middleware.sessions import SessionMiddleware

    class CountingSessions(SessionMiddleware):
        pass

    app = Ignyx()
    app.add_middleware(CountingSessions, secret_key="test")
    app.add_middleware(GZipMiddleware)
    outer, python, _ = app._middleware_layers()
    assert [type(layer) for layer in outer] == [GZipMiddleware]
    assert [entry.cls for entry in python] == [CountingSessions]
