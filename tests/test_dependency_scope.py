"""``Depends(scope="function")``: a ``yield`` dependency's exit code runs when the endpoint
has returned, before the response is sent; the default (``"request"``) runs it after the
response, as FastAPI does. Checked on both frameworks with the same app."""

from types import SimpleNamespace
from typing import Annotated, Any

import pytest


def build(fw: SimpleNamespace, log: list[str]) -> Any:
    app = fw.FastAPI()

    def function_scoped():
        log.append("function: enter")
        yield "f"
        log.append("function: exit")

    def request_scoped():
        log.append("request: enter")
        yield "r"
        log.append("request: exit")

    async def async_function_scoped():
        log.append("async function: enter")
        try:
            yield "af"
        except ValueError:
            log.append("async function: saw ValueError")
            raise
        log.append("async function: exit")

    @app.get("/sync")
    def sync_endpoint(
        f: Annotated[str, fw.Depends(function_scoped, scope="function")],
        r: Annotated[str, fw.Depends(request_scoped)],
    ):
        log.append("endpoint")
        return {"f": f, "r": r}

    @app.get("/async")
    async def async_endpoint(
        f: Annotated[str, fw.Depends(async_function_scoped, scope="function")],
        r: Annotated[str, fw.Depends(request_scoped, scope="request")],
    ):
        log.append("endpoint")
        return {"f": f, "r": r}

    @app.get("/fails")
    async def failing(f: Annotated[str, fw.Depends(async_function_scoped, scope="function")]):
        raise ValueError("boom")

    @app.middleware("http")
    async def mark_response(request, call_next):
        response = await call_next(request)
        log.append("response made")
        return response

    return app


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_function_scope_exits_before_the_response(fw: SimpleNamespace, path: str) -> None:
    log: list[str] = []
    with fw.TestClient(build(fw, log)) as client:
        response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"f": "af" if path == "/async" else "f", "r": "r"}
    prefix = "async function" if path == "/async" else "function"
    assert log == [
        f"{prefix}: enter",
        "request: enter",
        "endpoint",
        f"{prefix}: exit",
        "response made",
        "request: exit",
    ]


def test_function_scope_sees_the_endpoints_exception(fw: SimpleNamespace) -> None:
    log: list[str] = []
    client = fw.TestClient(build(fw, log), raise_server_exceptions=False)
    response = client.get("/fails")
    assert response.status_code == 500
    assert log[:2] == ["async function: enter", "async function: saw ValueError"]


def test_request_scope_cannot_depend_on_function_scope(fw: SimpleNamespace) -> None:
    from importlib import import_module

    exceptions = import_module(f"{fw.name}.exceptions")
    app = fw.FastAPI()

    def inner():
        yield 1

    def outer(x: Annotated[int, fw.Depends(inner, scope="function")]):
        yield x

    with pytest.raises(exceptions.DependencyScopeError) as raised:

        @app.get("/")
        def endpoint(y: Annotated[int, fw.Depends(outer)]):
            return y

    assert str(raised.value) == (
        'The dependency "outer" has a scope of "request", it cannot depend on '
        'dependencies with scope "function".'
    )


def test_unknown_scope_is_refused() -> None:
    # FastAPI takes any value and treats it as "request"; a typo should not pass silently.
    from ignyx import Depends

    with pytest.raises(ValueError, match="scope must be"):
        Depends(lambda: 1, scope="session")  # type: ignore[arg-type]
