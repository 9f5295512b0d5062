"""Issue 21, item 6: what a dependency puts in ``request.state`` is there for the exception
handler of an exception the endpoint raises afterwards (who the user was, a request id),
as in FastAPI: with the dependency sync, async, a ``yield`` one, nested, or in the route's
``dependencies=[...]``; for a handler by class, for ``HTTPException``'s and for the 500
handler; with and without a Python middleware around the app."""

import pytest
from conftest import differential


class Refused(Exception):
    pass


class Crashed(Exception):
    pass


def build(fw, with_middleware: bool = False):
    app = fw.FastAPI()
    JSONResponse = fw.responses.JSONResponse

    def seen(request) -> dict:
        return {name: getattr(request.state, name, None) for name in ("user", "request_id")}

    @app.exception_handler(Refused)
    async def refused(request: fw.Request, exc: Refused):
        return JSONResponse({"refused": str(exc), "state": seen(request)}, status_code=403)

    @app.exception_handler(fw.HTTPException)
    def http_error(request: fw.Request, exc):
        return JSONResponse({"detail": exc.detail, "state": seen(request)}, exc.status_code)

    @app.exception_handler(Exception)
    def crashed(request: fw.Request, exc: Exception):
        return JSONResponse({"crashed": str(exc), "state": seen(request)}, status_code=500)

    if with_middleware:

        @app.middleware("http")
        async def tag(request: fw.Request, call_next):
            request.state.request_id = "r-1"
            return await call_next(request)

    def user(request: fw.Request) -> str:
        request.state.user = "ada"
        return "ada"

    async def async_user(request: fw.Request) -> str:
        request.state.user = "grace"
        return "grace"

    def yield_user(request: fw.Request):
        request.state.user = "linus"
        yield "linus"

    def nested_user(name: str = fw.Depends(user)) -> str:
        return name

    @app.get("/sync")
    def sync_route(name: str = fw.Depends(user)):
        raise Refused(f"not you, {name}")

    @app.get("/async")
    async def async_route(name: str = fw.Depends(async_user)):
        raise Refused(f"not you, {name}")

    @app.get("/yield")
    async def yield_route(name: str = fw.Depends(yield_user)):
        raise Refused(f"not you, {name}")

    @app.get("/nested")
    def nested_route(name: str = fw.Depends(nested_user)):
        raise Refused(f"not you, {name}")

    @app.get("/route-dependencies", dependencies=[fw.Depends(user)])
    def route_dependencies_route():
        raise Refused("not you")

    @app.get("/http-exception")
    def http_exception_route(name: str = fw.Depends(user)):
        raise fw.HTTPException(status_code=409, detail=f"conflict for {name}")

    @app.get("/crash")
    async def crash_route(name: str = fw.Depends(async_user)):
        raise Crashed(f"crashed for {name}")

    return app


URLS = [
    "/sync",
    "/async",
    "/yield",
    "/nested",
    "/route-dependencies",
    "/http-exception",
    "/crash",
]


@pytest.fixture(scope="module", params=["plain", "middleware"])
def clients(dual, request):
    return dual(lambda fw: build(fw, with_middleware=request.param == "middleware"))


@pytest.mark.parametrize("url", URLS)
def test_the_exception_handler_sees_the_state_a_dependency_set(clients, url):
    response = differential(clients, "GET", url)
    assert response.json()["state"]["user"] in ("ada", "grace", "linus")
