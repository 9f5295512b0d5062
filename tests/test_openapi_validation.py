"""A rich app's OpenAPI document, checked by real tools: ``openapi-spec-validator`` reads it
as OpenAPI 3.1, and ``schemathesis`` fuzzes a live server from it, finding no server error
and no response that breaks the document.

``build_shop()`` is also the app the browser test renders in Swagger UI and ReDoc.
"""

import datetime as dt
import os
import shutil
import subprocess
import sys
from enum import Enum
from pathlib import Path as FilePath
from typing import Annotated, Any, Generic, Literal, Optional, TypeVar

import pytest
from ignyx import APIRouter, Body, Cookie, Depends, Header, HTTPException, Ignyx, Path, Query
from ignyx.responses import HTMLResponse, PlainTextResponse, Response
from ignyx.server import Server
from pydantic import BaseModel, Field

ARTIFACTS = FilePath(__file__).resolve().parent.parent / "test-artifacts"
_SCHEMATHESIS = shutil.which("st", path=os.path.dirname(sys.executable)) or shutil.which("st")

T = TypeVar("T")


class Category(str, Enum):
    tools = "tools"
    toys = "toys"
    books = "books"


class Dimensions(BaseModel):
    width: float = Field(gt=0, le=1000)
    height: float = Field(gt=0, le=1000)
    unit: Literal["cm", "in"] = "cm"


class ItemIn(BaseModel):
    """Something the shop sells."""

    name: str = Field(min_length=1, max_length=40, examples=["Hammer"])
    description: Optional[str] = Field(default=None, max_length=300)
    price: float = Field(gt=0, le=10_000, description="In euros")
    category: Category
    tags: list[str] = Field(default_factory=list, max_length=10)
    dimensions: Optional[Dimensions] = None


class Item(ItemIn):
    id: int


class ItemPatch(BaseModel):
    name: Optional[str] = Field(default=None, min_length=1, max_length=40)
    price: Optional[float] = Field(default=None, gt=0, le=10_000)
    tags: Optional[list[str]] = Field(default=None, max_length=10)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next_offset: Optional[int] = None


class Review(BaseModel):
    stars: int = Field(ge=1, le=5)
    text: str = Field(default="", max_length=500)


class StoredReview(Review):
    item_id: int
    author: str


class UserIn(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9_]{3,20}$")
    full_name: Optional[str] = Field(default=None, max_length=80)


class User(UserIn):
    joined: dt.date


class OrderLine(BaseModel):
    item_id: int = Field(ge=1)
    quantity: int = Field(ge=1, le=100)


class OrderIn(BaseModel):
    lines: list[OrderLine] = Field(min_length=1, max_length=20)
    note: Optional[str] = Field(default=None, max_length=200)


class Order(BaseModel):
    id: int
    lines: list[OrderLine]
    total: float
    status: Literal["pending", "paid"] = "pending"


class Message(BaseModel):
    detail: str


NOT_FOUND = {404: {"model": Message, "description": "No such thing"}}
# A body that is not even text gets FastAPI's 400, which operations with a body document.
UNREADABLE = {400: {"model": Message, "description": "Unreadable body"}}


def build_shop(**options: Any) -> Ignyx:
    """A small shop: items, reviews, users, orders and an admin area; `options` go to Ignyx."""
    app = Ignyx(
        title="Ignyx Shop",
        version="1.0.0",
        summary="A shop whose documentation is checked by real tools",
        description="Items, users and orders. Everything lives in memory.",
        contact={"name": "Shop team", "email": "shop@example.com"},
        license_info={"name": "MIT", "identifier": "MIT"},
        openapi_tags=[
            {"name": "items", "description": "What is for sale"},
            {"name": "users", "description": "Who buys"},
            {"name": "orders", "description": "What was bought"},
            {"name": "admin", "description": "Shop keeping"},
        ],
        **options,
    )
    items: dict[int, Item] = {
        1: Item(id=1, name="Hammer", price=12.5, category=Category.tools, tags=["steel"]),
        2: Item(id=2, name="Kite", price=20.0, category=Category.toys),
    }
    reviews: list[StoredReview] = []
    users: dict[str, User] = {"ada": User(username="ada", joined=dt.date(2024, 1, 2))}
    orders: dict[int, Order] = {}

    def get_item(item_id: Annotated[int, Path(ge=1, description="The item's id")]) -> Item:
        if item_id not in items:
            raise HTTPException(404, "Item not found")
        return items[item_id]

    def paging(
        limit: Annotated[int, Query(ge=1, le=100, description="At most this many")] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> tuple[int, int]:
        return limit, offset

    def page_of(found: list[Item], paging: tuple[int, int]) -> Page[Item]:
        limit, offset = paging
        following = offset + limit
        return Page[Item](
            items=found[offset:following],
            total=len(found),
            next_offset=following if following < len(found) else None,
        )

    @app.get("/", tags=["shop"])
    def home() -> Message:
        """Says hello."""
        return Message(detail="Welcome to the Ignyx shop")

    @app.get("/items", tags=["items"], summary="Search items")
    def list_items(
        q: Annotated[Optional[str], Query(max_length=50, description="Words in the name")] = None,
        category: Optional[Category] = None,
        max_price: Annotated[Optional[float], Query(gt=0)] = None,
        tags: list[str] = Query([], description="Every tag must match"),
        paging: tuple[int, int] = Depends(paging),
    ) -> Page[Item]:
        found = [
            item
            for item in items.values()
            if (q is None or q.lower() in item.name.lower())
            and (category is None or item.category == category)
            and (max_price is None or item.price <= max_price)
            and all(tag in item.tags for tag in tags)
        ]
        return page_of(found, paging)

    @app.get("/items/{item_id}", tags=["items"], responses=NOT_FOUND)
    def read_item(item: Item = Depends(get_item)) -> Item:
        return item

    @app.post("/items", tags=["items"], status_code=201, responses=UNREADABLE)
    def create_item(
        item: ItemIn, x_request_id: Annotated[Optional[str], Header(max_length=64)] = None
    ) -> Item:
        new = Item(id=max(items, default=0) + 1, **item.model_dump())
        if len(items) < 200:
            items[new.id] = new
        return new

    @app.put("/items/{item_id}", tags=["items"], responses={**NOT_FOUND, **UNREADABLE})
    def replace_item(item: ItemIn, current: Item = Depends(get_item)) -> Item:
        items[current.id] = Item(id=current.id, **item.model_dump())
        return items[current.id]

    @app.patch("/items/{item_id}", tags=["items"], responses={**NOT_FOUND, **UNREADABLE})
    def update_item(patch: ItemPatch, current: Item = Depends(get_item)) -> Item:
        changes = patch.model_dump(exclude_unset=True, exclude_none=True)
        items[current.id] = current.model_copy(update=changes)
        return items[current.id]

    @app.delete("/items/{item_id}", tags=["items"], status_code=204, responses=NOT_FOUND)
    def delete_item(current: Item = Depends(get_item)) -> None:
        items.pop(current.id, None)

    @app.post(
        "/items/{item_id}/reviews",
        tags=["items"],
        status_code=201,
        responses={**NOT_FOUND, **UNREADABLE},
    )
    def review_item(
        review: Review,
        author: Annotated[str, Body(min_length=1, max_length=40)],
        current: Item = Depends(get_item),
    ) -> StoredReview:
        stored = StoredReview(item_id=current.id, author=author, **review.model_dump())
        if len(reviews) < 200:
            reviews.append(stored)
        return stored

    @app.get("/users/{username}", tags=["users"], responses=NOT_FOUND)
    def read_user(username: Annotated[str, Path(pattern=r"^[a-z0-9_]{3,20}$")]) -> User:
        if username not in users:
            raise HTTPException(404, "User not found")
        return users[username]

    @app.post(
        "/users",
        tags=["users"],
        status_code=201,
        responses={409: {"model": Message, "description": "Taken"}, **UNREADABLE},
    )
    def create_user(user: UserIn) -> User:
        if user.username in users:
            raise HTTPException(409, "Username taken")
        created = User(joined=dt.date(2024, 6, 1), **user.model_dump())
        if len(users) < 200:
            users[created.username] = created
        return created

    @app.post("/orders", tags=["orders"], status_code=201, responses={**NOT_FOUND, **UNREADABLE})
    def place_order(
        order: OrderIn,
        session: Annotated[Optional[str], Cookie(max_length=64)] = None,
        accept_language: Annotated[Optional[str], Header(max_length=64)] = None,
    ) -> Order:
        missing = [line.item_id for line in order.lines if line.item_id not in items]
        if missing:
            raise HTTPException(404, f"No item {missing[0]}")
        total = sum(items[line.item_id].price * line.quantity for line in order.lines)
        placed = Order(id=len(orders) + 1, lines=order.lines, total=round(total, 2))
        if len(orders) < 200:
            orders[placed.id] = placed
        return placed

    @app.get("/orders/{order_id}", tags=["orders"], responses=NOT_FOUND, deprecated=True)
    def read_order(order_id: Annotated[int, Path(ge=1)]) -> Order:
        """Use the order list in the account page instead."""
        if order_id not in orders:
            raise HTTPException(404, "Order not found")
        return orders[order_id]

    def admin_token(x_admin_token: Annotated[str, Header(description="The shop's secret")]):
        if x_admin_token != "secret":
            raise HTTPException(403, "Wrong token")

    admin = APIRouter(
        prefix="/admin",
        tags=["admin"],
        dependencies=[Depends(admin_token)],
        responses={403: {"model": Message, "description": "Not the shop keeper"}},
    )

    @admin.get("/stats")
    def stats() -> dict[str, int]:
        return {"items": len(items), "users": len(users), "orders": len(orders)}

    app.include_router(admin)

    @app.get("/report.txt", tags=["shop"], response_class=PlainTextResponse)
    def report():
        return f"{len(items)} items, {len(orders)} orders"

    @app.get("/about", tags=["shop"], response_class=HTMLResponse)
    def about():
        return "<h1>Ignyx Shop</h1>"

    @app.get("/robots.txt", include_in_schema=False)
    def robots() -> Response:
        return Response("User-agent: *\n", media_type="text/plain")

    return app


# -- the tests -------------------------------------------------------------------------------


def test_shop_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    document = build_shop().openapi()
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"] == "3.1.0"
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert len(operations) == 15
    assert ("GET", "/robots.txt") not in operations
    assert document["components"]["schemas"]["Page_Item_"]["properties"]["items"] == {
        "items": {"$ref": "#/components/schemas/Item"},
        "type": "array",
        "title": "Items",
    }


def test_every_documented_operation_answers_as_documented() -> None:
    from ignyx.testclient import TestClient

    with TestClient(build_shop()) as client:
        document = client.get("/openapi.json").json()
        checks = {
            ("get", "/items/{item_id}"): client.get("/items/1"),
            ("post", "/items"): client.post(
                "/items", json={"name": "Saw", "price": 9.5, "category": "tools"}
            ),
            ("post", "/items/{item_id}/reviews"): client.post(
                "/items/1/reviews", json={"review": {"stars": 5}, "author": "ada"}
            ),
            ("get", "/admin/stats"): client.get("/admin/stats", headers={"x-admin-token": "no"}),
            ("delete", "/items/{item_id}"): client.delete("/items/2"),
            ("get", "/users/{username}"): client.get("/users/nobody"),
        }
        for (method, path), response in checks.items():
            documented = document["paths"][path][method]["responses"]
            assert str(response.status_code) in documented, (method, path, response.text)


def example_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The README's example app (``examples/app.py``), loaded without the ``app.run`` it
    ends with (which would serve on 0.0.0.0:8000)."""
    import runpy

    import ignyx

    monkeypatch.setattr(ignyx.Ignyx, "run", lambda self, *args, **kwargs: None)
    example = FilePath(__file__).resolve().parent.parent / "examples" / "app.py"
    return runpy.run_path(str(example))["app"]


@pytest.mark.skipif(_SCHEMATHESIS is None, reason="schemathesis is not installed")
@pytest.mark.parametrize("which", ["shop", "example"])
def test_schemathesis_finds_no_errors_on_a_live_server(
    tmp_path: FilePath, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    """Fuzzes every operation (valid and invalid data, a few examples each, fixed seed) of
    a shop with every kind of parameter, and of the README's example app."""
    app = build_shop() if which == "shop" else example_app(monkeypatch)
    server = Server(app, "127.0.0.1", 0, graceful_timeout=2.0)
    server.start_in_thread()
    try:
        result = subprocess.run(
            [
                _SCHEMATHESIS,
                "run",
                f"http://127.0.0.1:{server.port}/openapi.json",
                "--checks",
                "all",
                # pydantic's lax mode takes JSON `false` for an `int` (as 0), in FastAPI too;
                # a model without strict fields "accepts schema-violating data" by design.
                *(["--exclude-checks", "negative_data_rejection"] if which == "example" else []),
                "--max-examples",
                "25",
                "--seed",
                "5",
                "--phases",
                "examples,coverage,fuzzing",
                "--generation-database",
                "none",
                "--workers",
                "1",
                "--request-timeout",
                "10",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,  # where schemathesis keeps its replay data
        )
    finally:
        server.shutdown()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"schemathesis-{which}.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-6000:]
