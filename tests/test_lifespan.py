"""Lifespans as FastAPI runs them: the app's ``lifespan=``, ``on_startup``/``on_event``
handlers (not run when there is a lifespan), routers' own lifespans and handlers merged
by ``include_router``, and ``router.lifespan_context`` wrapped by an add-on."""

from contextlib import asynccontextmanager

import pytest
from conftest import framework


def build(fw, log):
    @asynccontextmanager
    async def app_lifespan(app):
        log.append("app in")
        yield {"app_state": "a", "shared": "app"}
        log.append("app out")

    @asynccontextmanager
    async def router_lifespan(app):
        log.append("router in")
        yield {"router_state": "r", "shared": "router"}
        log.append("router out")

    with_lifespan = fw.APIRouter(lifespan=router_lifespan)
    with_handlers = fw.APIRouter(
        on_startup=[lambda: log.append("handler start")],
        on_shutdown=[lambda: log.append("handler stop")],
    )

    @with_lifespan.get("/state")
    def state(request: fw.Request):
        return {key: getattr(request.state, key) for key in ("app_state", "router_state", "shared")}

    app = fw.FastAPI(lifespan=app_lifespan)
    app.include_router(with_lifespan)
    app.include_router(with_handlers)
    return app


@pytest.mark.parametrize("name", ["fastapi", "ignyx"])
def test_a_routers_lifespan_runs_inside_the_apps_and_their_states_merge(name):
    fw = framework(name)
    log: list[str] = []
    app = build(fw, log)
    with fw.TestClient(app) as client:
        assert client.get("/state").json() == {
            "app_state": "a",
            "router_state": "r",
            "shared": "app",
        }
    # An included router's handlers run inside the app's lifespan, as its own lifespan would.
    assert log == ["app in", "router in", "handler start", "handler stop", "router out", "app out"]


def test_handlers_of_included_routers_run_once():
    # FastAPI runs them twice (its app's handlers, and the router's merged lifespan again).
    fw = framework("ignyx")
    log: list[str] = []
    router = fw.APIRouter(on_startup=[lambda: log.append("start")])
    app = fw.FastAPI(on_startup=[lambda: log.append("app start")])
    app.include_router(router)
    with fw.TestClient(app):
        pass
    assert log == ["app start", "start"]


@pytest.mark.parametrize("name", ["fastapi", "ignyx"])
def test_an_add_on_can_wrap_the_routers_lifespan_context(name):
    fw = framework(name)
    log: list[str] = []
    app = fw.FastAPI(on_startup=[lambda: log.append("startup")])
    original = app.router.lifespan_context

    @asynccontextmanager
    async def wrapped(app):
        log.append("add-on in")
        async with original(app) as state:
            yield state
        log.append("add-on out")

    app.router.lifespan_context = wrapped

    @app.get("/")
    def root():
        return {}

    with fw.TestClient(app) as client:
        assert client.get("/").status_code == 200
    assert log == ["add-on in", "startup", "add-on out"]


@pytest.mark.parametrize("name", ["fastapi", "ignyx"])
def test_a_generator_function_is_a_lifespan_too(name):
    fw = framework(name)
    log: list[str] = []

    async def lifespan(app):
        log.append("in")
        yield {"value": 1}
        log.append("out")

    app = fw.FastAPI(lifespan=lifespan)

    @app.get("/")
    def root(request: fw.Request):
        return {"value": request.state.value}

    with fw.TestClient(app) as client:
        assert client.get("/").json() == {"value": 1}
    assert log == ["in", "out"]
