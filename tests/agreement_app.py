"""The app of test_agreement.py, written once and built with FastAPI's and with Ignyx's
imports by ``make_app(framework_module)``.

It is a module of its own (not part of the test file) because uvicorn and a plain
``app.run`` script import it in a subprocess: ``agreement_app:ignyx_app`` and
``agreement_app:fastapi_app`` are built on first access, so a process serving one framework
never imports the other.
"""

import asyncio
import sys
from enum import Enum
from types import ModuleType
from typing import Annotated, Any, Optional
from uuid import UUID

from pydantic import BaseModel, Field


class Color(str, Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Address(BaseModel):
    street: str
    zip: str = Field(pattern=r"^[0-9]{5}$")
    country: Optional[str] = None


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    price: float = Field(gt=0)
    count: int = Field(default=1, ge=1, le=100)
    tags: list[str] = []
    address: Optional[Address] = None
    secret: Optional[str] = None


class ItemOut(BaseModel):
    """``response_model``: drops ``count``, ``address`` and ``secret``."""

    name: str
    price: float
    tags: list[str]


def make_app(fw: ModuleType, model: type = BaseModel) -> Any:
    """The app, with the names of `fw` (``fastapi`` or ``ignyx``). `model` is the Pydantic
    base class, shared by both builds."""
    assert issubclass(ItemIn, model)
    Query, Path, Header, Cookie = fw.Query, fw.Path, fw.Header, fw.Cookie
    Form, Depends, HTTPException = fw.Form, fw.Depends, fw.HTTPException

    app = fw.FastAPI()

    # -- path parameters --------------------------------------------------------------------

    @app.get("/items/{item_id}")
    def read_item(item_id: int):
        return {"item_id": item_id}

    @app.put("/items/{item_id}")
    async def replace_item(item_id: int, item: ItemIn, q: Optional[str] = None):
        return {"item_id": item_id, "item": item, "q": q}

    @app.delete("/items/{item_id}", status_code=204)
    def delete_item(item_id: Annotated[int, Path(ge=1)]):
        return None

    @app.get("/conv/int/{n:int}")
    def conv_int(n: int):
        return {"n": n}

    @app.get("/conv/float/{x:float}")
    async def conv_float(x: float):
        return {"x": x}

    @app.get("/conv/uuid/{u:uuid}")
    def conv_uuid(u: UUID):
        return {"u": u}

    @app.get("/conv/str/{s:str}")
    def conv_str(s: str):
        return {"s": s}

    @app.get("/files/{file_path:path}")
    def read_file(file_path: str):
        return {"file_path": file_path}

    @app.get("/floats/{x}")
    def read_float(x: float):
        return {"x": x}

    @app.get("/uuids/{u}")
    async def read_uuid(u: UUID):
        return {"u": str(u), "version": u.version}

    @app.get("/colors/{color}")
    def read_color(color: Color):
        return {"color": color, "is_red": color is Color.red}

    @app.get("/bounded/{n}")
    def read_bounded(n: Annotated[int, Path(gt=0, le=1000)]):
        return {"n": n}

    # -- query parameters -------------------------------------------------------------------

    @app.get("/search")
    def search(
        q: str,
        limit: int = Query(10, ge=1, le=100),
        name: Optional[str] = Query(None, min_length=2, max_length=5),
        ids: list[int] = Query([]),
        flag: bool = False,
        ratio: Optional[float] = None,
        color: Optional[Color] = None,
    ):
        return {
            "q": q,
            "limit": limit,
            "name": name,
            "ids": ids,
            "flag": flag,
            "ratio": ratio,
            "color": color,
        }

    @app.get("/asearch")
    async def async_search(
        tags: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI's idiom)
        page: Annotated[int, Query(ge=0)] = 0,
    ):
        await asyncio.sleep(0)
        return {"tags": tags, "page": page}

    # -- headers and cookies ----------------------------------------------------------------

    @app.get("/headers")
    def headers(
        x_token: str = Header(),
        x_count: Optional[int] = Header(None),
        accept_language: Optional[str] = Header(None),
        session: Optional[str] = Cookie(None),
        visits: int = Cookie(0),
    ):
        return {
            "x_token": x_token,
            "x_count": x_count,
            "accept_language": accept_language,
            "session": session,
            "visits": visits,
        }

    # -- bodies -----------------------------------------------------------------------------

    @app.post("/items", status_code=201, response_model=ItemOut)
    def create_item(item: ItemIn):
        return item

    @app.post("/aitems", response_model=ItemOut)
    async def create_item_async(item: ItemIn, x_trace: Optional[str] = Header(None)):
        return {**item.model_dump(), "price": item.price * 2}

    # No response_model, a path parameter and the body: the engine's fast plan validates
    # the body and serialises the model returned.
    @app.post("/echo/{n}")
    def echo(n: int, item: ItemIn):
        return item

    @app.post("/form")
    def login(
        username: str = Form(min_length=2),
        age: int = Form(),
        remember: bool = Form(False),
    ):
        return {"username": username, "age": age, "remember": remember}

    # -- dependencies and errors ------------------------------------------------------------

    def verify_key(x_api_key: Optional[str] = Header(None)) -> str:
        if x_api_key != "secret":
            raise HTTPException(
                status_code=401,
                detail="Not authenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return x_api_key

    @app.get("/secure")
    def secure(key: str = Depends(verify_key)):
        return {"key": key}

    @app.get("/teapot/{code}")
    async def teapot(code: int):
        if code >= 400:
            raise HTTPException(
                status_code=418,
                detail={"code": code, "reason": "teapot"},
                headers={"X-Error": "teapot", "Retry-After": "5"},
            )
        return {"code": code}

    # -- methods ----------------------------------------------------------------------------

    @app.api_route("/ping", methods=["GET", "HEAD"])
    def ping():
        return {"pong": True}

    @app.options("/ping")
    def ping_options():
        return {"options": True}

    @app.api_route("/multi", methods=["GET", "POST", "PATCH"])
    async def multi():
        return {"multi": True}

    return app


def __getattr__(name: str) -> Any:
    """``ignyx_app`` and ``fastapi_app``, built on first access."""
    if name in ("ignyx_app", "fastapi_app"):
        import importlib

        app = make_app(importlib.import_module(name.removesuffix("_app")))
        setattr(sys.modules[__name__], name, app)
        return app
    raise AttributeError(name)


if __name__ == "__main__":
    # ``python agreement_app.py PORT``: the Ignyx app on its own native server.
    __getattr__("ignyx_app").run(host="127.0.0.1", port=int(sys.argv[1]))
