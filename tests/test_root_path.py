"""Behind a proxy: ``root_path`` from the app, from ``app.run`` and from the ASGI server reaches
``request.scope``, the OpenAPI ``servers`` and the docs pages, as in FastAPI."""

import asyncio
import json

import httpx
import pytest
from conftest import differential, framework


def build(fw, **options):
    app = fw.FastAPI(title="Shop", **options)

    @app.get("/where")
    def where(request: fw.Request):
        return {"root_path": request.scope.get("root_path"), "path": request.url.path}

    return app


@pytest.fixture(scope="module")
def proxied(dual):
    return dual(lambda fw: build(fw, root_path="/api/v1"))


def test_the_apps_root_path_reaches_requests_and_the_openapi_servers(proxied):
    assert differential(proxied, "GET", "/where").json()["root_path"] == "/api/v1"
    document = differential(proxied, "GET", "/openapi.json").json()
    assert document["servers"] == [{"url": "/api/v1"}]


def test_the_docs_pages_name_the_document_under_the_root_path(proxied):
    for page in ("/docs", "/redoc"):
        theirs, ours = proxied.request("GET", page)
        assert ours.status_code == theirs.status_code == 200
        assert "/api/v1/openapi.json" in ours.text
        assert ours.text == theirs.text


async def _asgi(app, url):
    transport = httpx.ASGITransport(app=app, root_path="/proxy")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(url)


@pytest.mark.parametrize("url", ["/where", "/openapi.json", "/docs"])
def test_the_asgi_servers_root_path_is_honoured(url):
    theirs = asyncio.run(_asgi(build(framework("fastapi")), url))
    ours = asyncio.run(_asgi(build(framework("ignyx")), url))
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
    if url == "/openapi.json":
        assert json.loads(ours.content)["servers"] == [{"url": "/proxy"}]


def test_run_takes_the_root_path(monkeypatch):
    import ignyx
    import ignyx.launch
    from ignyx.server import prepare

    seen = {}

    def launch(load_app, config):
        seen.update(root=prepare(load_app(), config).root_path)
        return 0

    monkeypatch.setattr(ignyx.launch, "launch", launch)
    app = ignyx.FastAPI()
    app.run(root_path="/behind/proxy")
    assert seen == {"root": "/behind/proxy"}
