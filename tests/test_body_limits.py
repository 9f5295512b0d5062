"""Request body limits: ``max_body_size`` on the app, routers, ``include_router`` and path
operations, and ``form_limits`` (``max_fields``, ``max_files``, ``max_part_size``).

The answers are FastAPI's: a ``Content-Length`` over the limit gets Starlette's plain-text
413 before the body is read; a body that goes over while it streams in (chunked) gets
``{"detail": "Content Too Large"}``; a form over its limits gets 400 with Starlette's message.
The engine enforces the limit while the body arrives, so an oversize upload is never held
in memory (checked on a real server by its peak RSS).
"""

import asyncio
import socket
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Iterator

import httpx
import pytest
from conftest import differential, framework, recv_until, served_script
from pydantic import BaseModel, ValidationError


class Item(BaseModel):
    name: str


def build(fw: SimpleNamespace) -> Any:
    mod = __import__(fw.name)
    Form, UploadFile = mod.Form, mod.UploadFile
    app = fw.FastAPI(max_body_size=100)

    @app.post("/item")
    def item(i: Item):
        return i

    @app.post("/larger", max_body_size=1000)
    def larger(i: Item):
        return i

    @app.post("/smaller", max_body_size=10)
    def smaller(i: Item):
        return i

    @app.post("/no-body")
    def no_body():
        return {"ok": True}

    @app.post("/stream")
    async def stream(request: fw.Request):
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    limited = fw.APIRouter(max_body_size=20)

    @limited.post("/limited")
    def in_limited(i: Item):
        return i

    @limited.post("/own-limit", max_body_size=200)
    def own_limit(i: Item):
        return i

    app.include_router(limited)
    plain = fw.APIRouter()

    @plain.post("/plain")
    def in_plain(i: Item):
        return i

    app.include_router(plain, prefix="/included", max_body_size=30)

    @app.post("/form", form_limits={"max_fields": 2, "max_part_size": 10})
    def form(
        a: Annotated[str, Form()] = "",
        b: Annotated[str, Form()] = "",
        c: Annotated[str, Form()] = "",
    ):
        return {"a": a, "b": b, "c": c}

    uploads = fw.APIRouter(form_limits={"max_files": 1})

    @uploads.post("/files", max_body_size=10_000)
    def files(f: list[UploadFile]):
        return {"count": len(f)}

    app.include_router(uploads)
    return app


@pytest.fixture(scope="module")
def clients(dual: Any) -> Any:
    return dual(build)


def _chunks(count: int, size: int = 10) -> list[bytes]:
    # An iterable, not bytes, so httpx sends it chunked (no Content-Length); a list, so
    # both frameworks' clients can send it.
    return [b"x" * size] * count


@pytest.mark.parametrize(
    "url, body",
    [
        ("/item", {"name": "x" * 50}),
        ("/item", {"name": "x" * 200}),
        ("/larger", {"name": "x" * 200}),
        ("/smaller", {"name": "x"}),
        ("/limited", {"name": "x" * 30}),
        ("/limited", {"name": "x"}),
        ("/own-limit", {"name": "x" * 100}),
        ("/included/plain", {"name": "x" * 30}),
        ("/included/plain", {"name": "x" * 10}),
    ],
)
def test_declared_length_over_the_nearest_limit_gets_413(
    clients: Any, url: str, body: dict[str, Any]
) -> None:
    differential(clients, "POST", url, json=body)


def test_declared_length_is_refused_in_plain_text(clients: Any) -> None:
    response = differential(clients, "POST", "/item", json={"name": "x" * 200})
    assert response.status_code == 413
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Content Too Large"


def test_an_unread_body_over_the_limit_is_refused_too(clients: Any) -> None:
    response = differential(clients, "POST", "/no-body", content=b"x" * 200)
    assert response.status_code == 413


@pytest.mark.parametrize("url", ["/stream", "/item"])
def test_a_chunked_body_going_over_gets_fastapis_json(clients: Any, url: str) -> None:
    headers = {"content-type": "application/json"}
    response = differential(clients, "POST", url, content=_chunks(30), headers=headers)
    assert response.status_code == 413
    assert response.json() == {"detail": "Content Too Large"}


def test_a_chunked_body_under_the_limit_is_read(clients: Any) -> None:
    response = differential(clients, "POST", "/stream", content=_chunks(5))
    assert response.json() == {"size": 50}


@pytest.mark.parametrize(
    "data",
    [
        {"a": "1", "b": "2"},
        {"a": "1", "b": "2", "c": "3"},
        {"a": "1" * 11},
        {"a": "1" * 10},
    ],
)
def test_form_limits_answer_as_fastapi(clients: Any, data: dict[str, str]) -> None:
    differential(clients, "POST", "/form", data=data)


def test_too_many_fields_names_the_limit(clients: Any) -> None:
    response = differential(clients, "POST", "/form", data={"a": "1", "b": "2", "c": "3"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Too many fields. Maximum number of fields is 2."}


def test_router_form_limits_reach_its_routes(clients: Any) -> None:
    one = [("f", ("a.txt", b"hi"))]
    two = one + [("f", ("b.txt", b"ho"))]
    assert differential(clients, "POST", "/files", files=one).json() == {"count": 1}
    response = differential(clients, "POST", "/files", files=two)
    assert response.status_code == 400
    assert response.json() == {"detail": "Too many files. Maximum number of files is 1."}


@pytest.mark.parametrize("value", [-1, 1.5, True, "10"])
def test_invalid_max_body_size_is_refused(fw: SimpleNamespace, value: Any) -> None:
    with pytest.raises(ValueError, match="max_body_size must be a non-negative integer"):
        fw.APIRouter(max_body_size=value)


@pytest.mark.parametrize("limits", [{"max_filez": 1}, {"max_files": -1}, {"max_files": "1"}])
def test_invalid_form_limits_are_refused(fw: SimpleNamespace, limits: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        fw.APIRouter(form_limits=limits)


def test_limits_hold_when_the_app_is_hosted_as_asgi() -> None:
    import ignyx

    app = build(framework("ignyx"))
    assert isinstance(app, ignyx.FastAPI)

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [
                await client.post("/limited", json={"name": "x" * 30}),
                await client.post("/own-limit", json={"name": "x" * 100}),
                await client.post("/larger", json={"name": "x" * 200}),
            ]

    declared, own, larger = asyncio.run(run())
    assert (declared.status_code, declared.text) == (413, "Content Too Large")
    assert own.status_code == 200
    assert larger.status_code == 200


_SERVER = textwrap.dedent(
    """
    import sys
    from ignyx import FastAPI, Request

    app = FastAPI()

    @app.post("/upload", max_body_size=1024 * 1024)
    async def upload(request: Request):
        return {"size": len(await request.body())}

    @app.get("/rss")
    def rss():
        fields = dict(
            line.split(":", 1) for line in open("/proc/self/status") if ":" in line
        )
        return {"peak_kib": int(fields["VmHWM"].split()[0])}

    app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
    """
)


def _peak_kib(port: int) -> int:
    return httpx.get(f"http://127.0.0.1:{port}/rss").json()["peak_kib"]


def test_a_100_mb_upload_over_the_limit_is_refused_without_buffering(tmp_path: Path) -> None:
    with served_script(tmp_path / "app.py", _SERVER) as (_, port):
        before = _peak_kib(port)
        # Chunked, so the engine only learns the size as the bytes arrive.
        sent = 0

        def hundred_megabytes() -> Iterator[bytes]:
            nonlocal sent
            chunk = b"x" * (1024 * 1024)
            for _ in range(100):
                sent += len(chunk)
                yield chunk

        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/upload", content=hundred_megabytes(), timeout=30
            )
            status, body = response.status_code, response.json()
        except httpx.HTTPError:
            status, body = None, None  # the server may close before the client is done
        if status is not None:
            assert (status, body) == (413, {"detail": "Content Too Large"})
        growth_kib = _peak_kib(port) - before
        assert growth_kib < 10 * 1024, f"peak RSS grew by {growth_kib} KiB"
        # Under the limit, the same route reads the body.
        ok = httpx.post(f"http://127.0.0.1:{port}/upload", content=b"x" * 1000)
        assert ok.json() == {"size": 1000}


def test_a_declared_oversize_upload_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    with served_script(tmp_path / "app.py", _SERVER) as (_, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n")
            reply = recv_until(sock, b"Content Too Large")
        assert reply.startswith(b"HTTP/1.1 413 ")
        assert reply.endswith(b"Content Too Large")
