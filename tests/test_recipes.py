"""The examples for parameter models and body limits (``examples/parameter_models.py``,
``examples/body_limits.py``), run on Ignyx as written and on FastAPI with their imports
swapped: the same requests get the same answers, and the OpenAPI documents are equal."""

from typing import Any

import pytest
from conftest import differential, load_example


@pytest.fixture(scope="module")
def models(dual: Any) -> Any:
    return dual(lambda fw: load_example("parameter_models.py", fw.name).app)


@pytest.fixture(scope="module")
def limits(dual: Any) -> Any:
    return dual(lambda fw: load_example("body_limits.py", fw.name).app)


@pytest.mark.parametrize(
    "url",
    [
        "/products",
        "/products?max_price=20&tag=red&tag=sale&sort=price",
        "/products?max_price=-1&page=0",
        "/products?colour=red",
    ],
)
def test_query_model_recipe(models: Any, url: str) -> None:
    differential(models, "GET", url)


def test_query_model_recipe_reads_the_group(models: Any) -> None:
    response = differential(models, "GET", "/products?max_price=20&tag=red&tag=sale")
    assert response.json() == {
        "filters": {"max_price": 20.0, "page": 1, "sort": "name", "tag": ["red", "sale"]}
    }


@pytest.mark.parametrize(
    "headers",
    [{"x-client-version": "2.1", "accept-language": "fr"}, {}, {"x_client_version": "1"}],
)
def test_header_model_recipe(models: Any, headers: dict[str, str]) -> None:
    differential(models, "GET", "/whoami", headers=headers)


@pytest.mark.parametrize("cookie", ["", "theme=dark", "theme=blue; currency=USD"])
def test_cookie_model_recipe(models: Any, cookie: str) -> None:
    differential(models, "GET", "/preferences", headers={"cookie": cookie} if cookie else {})


@pytest.mark.parametrize(
    "data",
    [
        {"method": "card", "card_number": "4242424242424242"},
        {"method": "card", "card_number": "12"},
        {"method": "transfer", "iban": "FR76", "references": ["a", "b"]},
        {"method": "cash"},
    ],
)
def test_form_union_recipe(models: Any, data: dict[str, Any]) -> None:
    differential(models, "POST", "/pay", data=data)


def test_parameter_models_document_equals_fastapis(models: Any) -> None:
    assert models.ignyx_app.openapi() == models.fastapi_app.openapi()


@pytest.mark.parametrize(
    "method, url, kwargs",
    [
        ("POST", "/notes", {"json": {"text": "hi"}}),
        ("POST", "/notes", {"json": {"text": "x" * 70_000}}),
        ("POST", "/notes", {"content": [b"x" * 1000] * 70}),
        ("POST", "/feedback", {"data": {"name": "ada", "comment": "ok"}}),
        ("POST", "/feedback", {"data": {"name": "ada", "comment": "x" * 2000}}),
        ("POST", "/feedback", {"data": {"name": "a", "comment": "b", "x": "1", "y": "2"}}),
        ("POST", "/uploads/", {"files": [("files", ("a.bin", b"x" * 100_000))]}),
        ("POST", "/uploads/avatar", {"files": [("image", ("me.png", b"x" * 1000))]}),
        ("POST", "/uploads/avatar", {"files": [("image", ("me.png", b"x" * 300_000))]}),
    ],
)
def test_body_limit_recipe(limits: Any, method: str, url: str, kwargs: dict[str, Any]) -> None:
    differential(limits, method, url, **kwargs)


def test_body_limits_document_equals_fastapis(limits: Any) -> None:
    assert limits.ignyx_app.openapi() == limits.fastapi_app.openapi()
