"""Exception handlers see the request the route saw: what dependencies put on
``request.state`` and the body already read, against FastAPI."""

import pytest
from conftest import differential
from pydantic import BaseModel


class Refused(Exception):
    pass


class Order(BaseModel):
    item: str
    quantity: int


def build(fw):
    app = fw.FastAPI()

    def who(request: fw.Request):
        request.state.user = request.headers.get("x-user", "anonymous")
        return request.state.user

    async def who_async(request: fw.Request):
        request.state.user = request.headers.get("x-user", "anonymous")
        request.state.seen_by = "async dependency"
        return request.state.user

    @app.exception_handler(Refused)
    async def refused(request: fw.Request, exc: Refused):
        state = {key: getattr(request.state, key, None) for key in ("user", "seen_by")}
        body = (await request.body()).decode()
        return fw.responses.JSONResponse(
            {"error": str(exc), "state": state, "body": body}, status_code=409
        )

    @app.get("/sync")
    def sync_route(user: str = fw.Depends(who)):
        raise Refused(f"no for {user}")

    @app.get("/async")
    async def async_route(user: str = fw.Depends(who_async)):
        raise Refused(f"no for {user}")

    @app.get("/sync-endpoint-async-dependency")
    def mixed_route(user: str = fw.Depends(who_async)):
        raise Refused(f"no for {user}")

    @app.post("/orders")
    def create_order(order: Order, user: str = fw.Depends(who)):
        raise Refused(f"{order.quantity} x {order.item} refused for {user}")

    @app.post("/orders-async")
    async def create_order_async(order: Order, user: str = fw.Depends(who_async)):
        raise Refused(f"{order.quantity} x {order.item} refused for {user}")

    @app.get("/plain/{number}")
    def plain(number: int):
        # The fast plan: no Request was built before the exception.
        raise Refused(f"no {number}")

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


@pytest.mark.parametrize("url", ["/sync", "/async", "/sync-endpoint-async-dependency"])
def test_state_set_by_a_dependency_reaches_the_exception_handler(clients, url):
    response = differential(clients, "GET", url, headers={"x-user": "ada"})
    assert response.status_code == 409
    assert response.json()["state"]["user"] == "ada"
    assert response.json()["error"] == "no for ada"


@pytest.mark.parametrize("url", ["/orders", "/orders-async"])
def test_the_body_the_route_read_reaches_the_exception_handler(clients, url):
    body = '{"item": "tea", "quantity": 2}'
    response = differential(
        clients,
        "POST",
        url,
        content=body,
        headers={"content-type": "application/json", "x-user": "grace"},
    )
    assert response.json() == {
        "error": "2 x tea refused for grace",
        "state": response.json()["state"],
        "body": body,
    }
    assert response.json()["state"]["user"] == "grace"


def test_a_fast_route_error_gets_a_request_too(clients):
    response = differential(clients, "GET", "/plain/7")
    assert response.json() == {
        "error": "no 7",
        "state": {"user": None, "seen_by": None},
        "body": "",
    }
