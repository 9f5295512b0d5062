"""Errors: HTTPException bodies and headers, and exceptions escaping a handler."""

import logging

import pytest
from conftest import differential


class Boom(Exception):
    pass


def build(fw):
    app = fw.FastAPI()
    HTTPException = fw.HTTPException

    @app.get("/items/{item_id}")
    def read_item(item_id: int):
        if item_id != 1:
            raise HTTPException(status_code=404, detail="Item not found")
        return {"item_id": 1}

    @app.get("/private")
    async def private():
        raise HTTPException(
            status_code=fw.status.HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers={"WWW-Authenticate": "Bearer", "X-Error": "auth"},
        )

    @app.get("/detail/dict")
    def detail_dict():
        raise HTTPException(status_code=409, detail={"code": "conflict", "ids": [1, 2]})

    @app.get("/detail/list")
    def detail_list():
        raise HTTPException(status_code=400, detail=["a", "b"])

    @app.get("/detail/none")
    def detail_none():
        raise HTTPException(status_code=403)

    @app.get("/detail/teapot")
    def detail_teapot():
        raise HTTPException(status_code=418)

    @app.get("/detail/not-modified")
    def detail_not_modified():
        raise HTTPException(status_code=304, headers={"etag": '"v1"'})

    @app.get("/crash")
    def crash():
        raise Boom("sync handler failed")

    @app.get("/crash-with-request")
    def crash_with_request(request: fw.Request):
        raise Boom("sync handler failed, with a request")

    @app.get("/crash-async")
    async def crash_async():
        raise Boom("async handler failed")

    @app.get("/crash-serialisation")
    def crash_serialisation():
        return {"value": object()}

    @app.get("/fine")
    def fine():
        return {"fine": True}

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


def test_http_exception_detail_and_status(clients):
    response = differential(clients, "GET", "/items/2")
    assert response.status_code == 404
    assert response.content == b'{"detail":"Item not found"}'
    assert response.headers["content-type"] == "application/json"


def test_http_exception_headers_are_sent(clients):
    response = differential(clients, "GET", "/private")
    assert response.status_code == 401
    assert response.content == b'{"detail":"Not authenticated"}'
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-error"] == "auth"


@pytest.mark.parametrize(
    "url, status, body",
    [
        ("/detail/dict", 409, b'{"detail":{"code":"conflict","ids":[1,2]}}'),
        ("/detail/list", 400, b'{"detail":["a","b"]}'),
        ("/detail/none", 403, b'{"detail":"Forbidden"}'),
        ("/detail/teapot", 418, b'{"detail":"I\'m a Teapot"}'),
        ("/detail/not-modified", 304, b""),
    ],
)
def test_http_exception_detail_forms(clients, url, status, body):
    response = differential(clients, "GET", url)
    assert (response.status_code, response.content) == (status, body)


@pytest.mark.parametrize("url", ["/crash", "/crash-with-request", "/crash-async"])
def test_exception_in_handler_gives_500_and_is_logged(clients, url, caplog):
    with caplog.at_level(logging.ERROR):
        response = differential(clients, "GET", url)
    # Starlette's ServerErrorMiddleware's answer.
    assert (response.status_code, response.content) == (500, b"Internal Server Error")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    records = [r for r in caplog.records if r.exc_info and r.exc_info[0] is Boom]
    assert records, "the traceback is not in the log"
    assert "handler failed" in caplog.text
    assert "Traceback" in caplog.text
    assert "in " + url.strip("/").replace("-", "_") in caplog.text


def test_server_keeps_serving_after_a_handler_exception(clients):
    for _ in range(3):
        assert clients.ignyx.get("/crash").status_code == 500
        assert clients.ignyx.get("/crash-async").status_code == 500
        assert clients.ignyx.get("/crash-with-request").status_code == 500
        response = clients.ignyx.get("/fine")
        assert (response.status_code, response.content) == (200, b'{"fine":true}')


def test_unserialisable_return_value_gives_500(clients, caplog):
    with caplog.at_level(logging.ERROR):
        response = clients.ignyx.get("/crash-serialisation")
    assert (response.status_code, response.content) == (500, b"Internal Server Error")
    assert clients.ignyx.get("/fine").status_code == 200


def test_body_over_max_body_size_gives_413(dual):
    def build_limited(fw):
        app = fw.FastAPI(max_body_size=100)

        @app.post("/raw")
        async def raw(request: fw.Request):
            return {"size": len(await request.body())}

        return app

    clients = dual(build_limited)
    refused = differential(clients, "POST", "/raw", content=b"x" * 101)
    assert (refused.status_code, refused.content) == (413, b"Content Too Large")
    assert differential(clients, "POST", "/raw", content=b"x" * 100).json() == {"size": 100}
