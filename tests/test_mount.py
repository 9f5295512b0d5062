"""``app.mount``: a real Starlette app and another app of the same framework under a prefix,
with Starlette's ``root_path``/``path``, its trailing-slash redirect and ``url_path_for``
through mounts, checked against FastAPI."""

import pytest
from conftest import differential
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse(f"hello {request.query_params.get('name', 'world')}")


async def where(request):
    return JSONResponse(
        {
            "root_path": request.scope["root_path"],
            "path": request.scope["path"],
            "url": str(request.url),
            "base_url": str(request.base_url),
        }
    )


async def echo(request):
    return JSONResponse({"method": request.method, "body": (await request.body()).decode()})


def starlette_app():
    return Starlette(
        routes=[
            Route("/hello", hello, name="hello"),
            Route("/where", where),
            Route("/echo", echo, methods=["POST", "PUT"]),
        ]
    )


def build(fw):
    app = fw.FastAPI()
    sub = fw.FastAPI()

    @sub.get("/items/{item_id}", name="item")
    def item(item_id: int, request: fw.Request):
        return {"item_id": item_id, "root_path": request.scope.get("root_path")}

    @app.get("/")
    def home():
        return {"home": True}

    @app.get("/links")
    def links(request: fw.Request):
        return {
            "sub": app.url_path_for("sub:hello"),
            "item": app.url_path_for("v2:item", item_id=5),
            "file": app.url_path_for("sub", path="hello"),
        }

    app.mount("/sub", starlette_app(), name="sub")
    app.mount("/v2", sub, name="v2")
    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/sub/hello", {}),
        ("GET", "/sub/hello?name=ada", {}),
        ("GET", "/sub/where", {}),
        ("POST", "/sub/echo", {"content": b"posted"}),
        ("GET", "/sub/echo", {}),
        ("GET", "/sub/missing", {}),
        ("GET", "/sub", {}),
        ("GET", "/v2/items/3", {}),
        ("GET", "/v2/items/three", {}),
        ("GET", "/v2/nothing", {}),
        ("GET", "/", {}),
        ("GET", "/links", {}),
    ],
)
def test_mounted_apps_answer_as_under_fastapi(clients, method, url, kwargs):
    differential(clients, method, url, **kwargs)


def test_a_mounted_app_sees_starlettes_scope(clients):
    response = differential(clients, "GET", "/sub/where")
    assert response.json()["root_path"] == "/sub"
    assert response.json()["path"] == "/sub/where"
    assert response.json()["url"] == "http://testserver/sub/where"


def test_url_path_for_resolves_through_mounts(clients):
    response = differential(clients, "GET", "/links")
    assert response.json() == {"sub": "/sub/hello", "item": "/v2/items/5", "file": "/sub/hello"}


def test_app_routes_hold_the_mount_with_its_routes():
    import ignyx
    from ignyx.routing import Mount

    app = build(__import__("conftest").framework("ignyx"))
    mounts = [route for route in app.routes if isinstance(route, Mount)]
    assert [mount.path for mount in mounts] == ["/sub", "/v2"]
    assert [route.path for route in mounts[0].routes] == ["/hello", "/where", "/echo"]
    assert isinstance(mounts[1].app, ignyx.FastAPI)


def build_with_flask(fw):
    from a2wsgi import WSGIMiddleware
    from flask import Flask, request

    flask_app = Flask(__name__)

    @flask_app.route("/hello")
    def flask_hello():
        return f"Hello from Flask, {request.args.get('name', 'stranger')}!"

    @flask_app.route("/form", methods=["POST"])
    def flask_form():
        return {"got": request.form.get("field"), "script_name": request.script_root}

    app = fw.FastAPI()

    @app.get("/api")
    def api():
        return {"api": True}

    app.mount("/flask", WSGIMiddleware(flask_app))
    return app


def test_a_wsgi_app_mounted_with_a2wsgi(dual):
    pair = dual(build_with_flask)
    response = differential(pair, "GET", "/flask/hello?name=ada")
    assert response.text == "Hello from Flask, ada!"
    posted = differential(pair, "POST", "/flask/form", data={"field": "value"})
    assert posted.json() == {"got": "value", "script_name": "/flask"}
    differential(pair, "GET", "/flask/missing")
    differential(pair, "GET", "/api")


SOCKETIO_APP = """
import socketio
from {module} import FastAPI

sio = socketio.AsyncServer(async_mode="asgi")


@sio.on("ping")
async def ping(sid, data):
    return {{"pong": data}}


app = FastAPI()
app.mount("/socket.io", socketio.ASGIApp(sio, socketio_path=""))


@app.get("/")
def root():
    return {{"ok": True}}
"""


@pytest.fixture(params=["ignyx native", "ignyx on uvicorn", "fastapi on uvicorn"])
def socketio_server(request, tmp_path):
    import subprocess
    import sys

    from conftest import free_port, wait_for_port

    framework, _, server = request.param.partition(" ")
    (tmp_path / "sio_app.py").write_text(SOCKETIO_APP.format(module=framework))
    port = free_port()
    if server == "native":
        code = f"from sio_app import app; app.run(port={port})"
        command = [sys.executable, "-c", code]
    else:
        command = [sys.executable, "-m", "uvicorn", "sio_app:app", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_mounted_socketio_server_talks_over_polling_and_websockets(socketio_server):
    import json

    import httpx
    from websockets.sync.client import connect

    base = f"127.0.0.1:{socketio_server}/socket.io/?EIO=4"
    opened = httpx.get(f"http://{base}&transport=polling", timeout=5)
    assert opened.status_code == 200 and opened.text.startswith("0{")
    assert "sid" in json.loads(opened.text[1:])
    with connect(f"ws://{base}&transport=websocket", open_timeout=5) as ws:
        assert ws.recv(timeout=5).startswith("0{")  # engine.io open
        ws.send("40")  # socket.io connect
        assert ws.recv(timeout=5).startswith("40{")
        ws.send('421["ping","hello"]')  # an event, with an acknowledgement
        assert ws.recv(timeout=5) == '431[{"pong":"hello"}]'
