"""The OpenAPI document matches FastAPI's: each app below is written once, against a kit of
names (``FastAPI``, ``Query``, ``APIRouter``...), and built with FastAPI and with Ignyx; the
two documents must be equal, keys in the same order.

Models are plain Pydantic and shared by both builds.
"""

import datetime as dt
import json
import uuid
import warnings
from decimal import Decimal
from enum import Enum
from types import SimpleNamespace
from typing import Annotated, Any, Callable, Literal, Optional, Union

import pytest
from pydantic import BaseModel, ConfigDict, Field, computed_field

warnings.filterwarnings("ignore", message=".*httpx2.*")


def _kit(name: str) -> SimpleNamespace:
    """The names an app is written with, taken from `name`'s package."""
    if name == "fastapi":
        import fastapi as pkg
        import fastapi.responses as responses
    else:
        import ignyx as pkg
        import ignyx.responses as responses
    names = [
        "APIRouter",
        "Body",
        "Cookie",
        "Depends",
        "FastAPI",
        "Header",
        "HTTPException",
        "Path",
        "Query",
        "Request",
        "Response",
        "BackgroundTasks",
    ]
    kit = SimpleNamespace(name=name, **{n: getattr(pkg, n) for n in names})
    kit.HTMLResponse = responses.HTMLResponse
    kit.JSONResponse = responses.JSONResponse
    kit.PlainTextResponse = responses.PlainTextResponse
    kit.RedirectResponse = responses.RedirectResponse
    return kit


FASTAPI = _kit("fastapi")
IGNYX = _kit("ignyx")

APPS: dict[str, Callable[[SimpleNamespace], Any]] = {}


def app(builder: Callable[[SimpleNamespace], Any]) -> Callable[[SimpleNamespace], Any]:
    """Registers an app builder for the differential tests."""
    APPS[builder.__name__] = builder
    return builder


def both(builder: Callable[[SimpleNamespace], Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return builder(IGNYX).openapi(), builder(FASTAPI).openapi()


# -- models shared by the apps ----------------------------------------------------------------


class Color(str, Enum):
    red = "red"
    green = "green"


class Size(int, Enum):
    small = 1
    large = 2


class Image(BaseModel):
    url: str = Field(pattern=r"^https?://", examples=["https://example.com/a.png"])
    name: str


class Item(BaseModel):
    """An item for sale.

    Shown in the docs.
    \f
    Not shown: internal notes.
    """

    name: str = Field(min_length=1, max_length=50, description="What it is called")
    price: float = Field(gt=0)
    tax: Optional[float] = None
    tags: list[str] = []
    color: Color = Color.red
    images: Optional[list[Image]] = None
    attributes: dict[str, int] = Field(default_factory=dict)


class User(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"username": "ada"}]})

    username: str
    full_name: Optional[str] = Field(default=None, alias="fullName")
    joined: Optional[dt.datetime] = None


class Cat(BaseModel):
    kind: Literal["cat"]
    meows: int


class Dog(BaseModel):
    kind: Literal["dog"]
    barks: float


class Pet(BaseModel):
    animal: Union[Cat, Dog] = Field(discriminator="kind")
    owner: Optional[User] = None


class Message(BaseModel):
    detail: str


GlobalMessage = Message


class Priced(BaseModel):
    """Its output has a computed field, so its input and output schemas differ."""

    net: Decimal
    vat: float = 0.2

    @computed_field
    @property
    def gross(self) -> float:
        return float(self.net) * (1 + self.vat)


class Tree(BaseModel):
    value: int
    children: list["Tree"] = []


class Order(BaseModel):
    id: uuid.UUID
    items: list[Item]
    buyer: User
    placed: dt.date
    note: Union[str, int, None] = None
    sizes: set[Size] = set()
    coords: tuple[float, float] = (0.0, 0.0)
    raw: bytes = b""


# -- the apps ---------------------------------------------------------------------------------


@app
def path_and_query_params(fw: SimpleNamespace) -> Any:
    application = fw.FastAPI(title="Params", version="1.0.0")

    @application.get("/items/{item_id}")
    def read_item(
        item_id: int = fw.Path(title="The ID", description="Which item", ge=1, le=1000),
        q: Optional[str] = fw.Query(
            None, min_length=3, max_length=50, pattern="^[a-z]+$", description="Search"
        ),
        short: bool = False,
        limit: int = fw.Query(10, gt=0, lt=100, multiple_of=5),
        ratio: float = fw.Query(0.5, ge=0, le=1),
    ):
        return {}

    @application.get("/users/{user_id}/items/{color}")
    def user_items(
        user_id: uuid.UUID,
        color: Color,
        size: Size = Size.small,
        tags: list[str] = fw.Query([], description="Repeat to give several"),
        ids: Optional[list[int]] = fw.Query(None),
        hidden: Optional[str] = fw.Query(None, include_in_schema=False),
        old: Optional[str] = fw.Query(None, deprecated=True),
        item_query: Optional[str] = fw.Query(None, alias="item-query"),
        when: Optional[dt.date] = None,
    ):
        return {}

    @application.get("/files/{file_path:path}")
    def read_file(file_path: str):
        return {}

    @application.get("/annotated/{code}")
    def annotated(
        code: Annotated[str, fw.Path(min_length=2, description="A code")],
        required: Annotated[str, fw.Query(max_length=5)],
        page: Annotated[int, fw.Query(ge=1, description="Page number")] = 1,
        choices: list[Color] = fw.Query([Color.red]),
    ):
        return {}

    @application.get("/examples")
    def with_examples(
        plain: str = fw.Query("x", examples=["a", "b"]),
        named: Optional[int] = fw.Query(
            None,
            openapi_examples={
                "one": {"summary": "One", "value": 1},
                "many": {"summary": "Many", "description": "A lot", "value": 1000},
            },
        ),
    ):
        return {}

    return application


@app
def header_and_cookie_params(fw: SimpleNamespace) -> Any:
    application = fw.FastAPI(title="Headers", version="2")

    @application.get("/headers")
    def headers(
        user_agent: Optional[str] = fw.Header(None),
        x_token: str = fw.Header(description="A token"),
        strange_header: Optional[str] = fw.Header(None, convert_underscores=False),
        x_request_id: Optional[str] = fw.Header(None, alias="X-Request-ID"),
        x_tags: Optional[list[str]] = fw.Header(None),
        session: Optional[str] = fw.Cookie(None, description="Session id"),
        ads_id: str = fw.Cookie(),
        old_cookie: Optional[str] = fw.Cookie(None, deprecated=True),
    ):
        return {}

    @application.get("/annotated-headers")
    def annotated_headers(
        accept_language: Annotated[str, fw.Header()] = "en",
        tracking: Annotated[Optional[int], fw.Cookie(ge=0)] = None,
    ):
        return {}

    return application


@app
def models_and_bodies(fw: SimpleNamespace) -> Any:
    application = fw.FastAPI(title="Models", version="3")

    @application.post("/items/")
    def create_item(item: Item) -> Item:
        return item

    @application.put("/items/{item_id}")
    def update_item(item_id: int, item: Item, user: User, importance: int = fw.Body(gt=0)):
        return {}

    @application.post("/embed")
    def embedded(item: Item = fw.Body(embed=True)):
        return {}

    @application.post("/singular")
    def singular(count: int = fw.Body()):
        return {}

    @application.post("/optional-body")
    def optional_body(item: Optional[Item] = None, q: Optional[str] = None):
        return {}

    @application.post("/pets")
    def pets(pet: Pet) -> Pet:
        return pet

    @application.post("/orders", response_model=Order, status_code=201)
    def order(order: Order):
        return order

    @application.post("/trees")
    def trees(tree: Tree) -> list[Tree]:
        return [tree]

    @application.post("/bulk")
    def bulk(items: list[Item], names: dict[str, User]):
        return {}

    @application.post("/examples")
    def body_examples(
        item: Item = fw.Body(
            openapi_examples={
                "normal": {"summary": "A normal item", "value": {"name": "Foo", "price": 35.4}},
                "invalid": {"summary": "Invalid", "value": {"name": "Baz", "price": "x"}},
            }
        ),
    ):
        return {}

    @application.post("/field-examples")
    def field_examples(user: User = fw.Body(examples=[{"username": "grace"}])):
        return {}

    @application.post("/priced")
    def priced(priced: Priced) -> Priced:
        return priced

    @application.patch("/annotated-body/{id}")
    def annotated_body(
        id: int, item: Annotated[Item, fw.Body(description="The new item", embed=True)]
    ):
        return {}

    return application


@app
def responses(fw: SimpleNamespace) -> Any:
    application = fw.FastAPI(title="Responses", version="4")

    @application.get("/items/{id}", response_model=Item, responses={404: {"model": Message}})
    def get_item(id: str):
        return {}

    @application.get(
        "/many",
        response_model=list[Item],
        response_description="All the items",
        responses={
            200: {"description": "Items, as JSON or PNG", "content": {"image/png": {}}},
            "4XX": {"model": Message, "description": "A client error"},
            "default": {"description": "Anything else"},
            418: {
                "description": "I'm a teapot",
                "headers": {"X-Tea": {"schema": {"type": "string"}}},
            },
            503: {},
        },
    )
    def many():
        return []

    @application.delete("/items/{id}", status_code=204)
    def delete_item(id: int) -> None:
        return None

    @application.post("/created", status_code=201, response_model=Message)
    def created():
        return {}

    @application.get("/html", response_class=fw.HTMLResponse)
    def html():
        return "<p>hi</p>"

    @application.get("/text", response_class=fw.PlainTextResponse)
    def text():
        return "hi"

    @application.get("/redirect", response_class=fw.RedirectResponse)
    def redirect():
        return "/html"

    @application.get("/raw")
    def raw() -> fw.Response:
        return fw.Response("x")

    @application.get("/no-model", response_model=None)
    def no_model() -> dict[str, int]:
        return {}

    @application.get("/dict")
    def dict_return() -> dict[str, list[int]]:
        return {}

    @application.get("/union")
    def union_return() -> Union[Cat, Dog]:
        return Cat(kind="cat", meows=1)

    @application.get("/optional")
    def optional_return() -> Optional[User]:
        return None

    @application.get("/priced")
    def priced_out() -> Priced:
        return Priced(net=Decimal(1))

    @application.get("/override", responses={200: {"model": Message}})
    def override_model() -> Item:
        return Item(name="a", price=1)

    return application


@app
def input_output_schemas_merged(fw: SimpleNamespace) -> Any:
    application = fw.FastAPI(title="Merged", version="5", separate_input_output_schemas=False)

    @application.post("/items")
    def create(item: Item, priced: Priced) -> Item:
        return item

    @application.get("/priced")
    def read_priced() -> Priced:
        return Priced(net=Decimal(1))

    return application


@app
def metadata(fw: SimpleNamespace) -> Any:
    application = fw.FastAPI(
        title="Shop",
        summary="The shop's API",
        description="Sells **things**.",
        version="0.9.1",
        terms_of_service="https://example.com/terms/",
        contact={"name": "Ops", "url": "https://example.com/contact", "email": "ops@example.com"},
        license_info={"name": "Apache 2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        openapi_tags=[
            {"name": "items", "description": "Items for sale"},
            {
                "name": "users",
                "description": "People",
                "externalDocs": {"description": "More", "url": "https://example.com/users"},
            },
        ],
        servers=[
            {"url": "https://api.example.com", "description": "Production"},
            {"url": "/", "description": "Here"},
        ],
    )

    @application.get("/items", tags=["items"], summary="List items", description="All of them")
    def list_items():
        return []

    @application.get("/users", tags=["users", "items"])
    def list_users():
        """Lists users.

        With a **markdown** description.
        \f
        :param nothing: internal
        """
        return []

    @application.get("/custom-id", operation_id="customOperation")
    def custom_id():
        return {}

    @application.get("/hidden", include_in_schema=False)
    def hidden():
        return {}

    @application.get("/old", deprecated=True)
    def old():
        return {}

    @application.post(
        "/extra", openapi_extra={"x-aperture": "open", "responses": {"200": {"x-a": 1}}}
    )
    def extra():
        return {}

    @application.get("/enum-tag", tags=[Color.red])
    def enum_tag():
        return {}

    @application.put("/no-summary-name", name="a_custom_name")
    def named():
        return {}

    return application


@app
def routers(fw: SimpleNamespace) -> Any:
    def verify_token(x_token: str = fw.Header()):
        return x_token

    def verify_key(x_key: Annotated[str, fw.Header(description="API key")]):
        return x_key

    application = fw.FastAPI(title="Routers", version="6", dependencies=[fw.Depends(verify_key)])

    items = fw.APIRouter(
        prefix="/items",
        tags=["items"],
        dependencies=[fw.Depends(verify_token)],
        responses={404: {"description": "Not found"}},
    )

    @items.get("/")
    def read_items(skip: int = 0):
        return []

    @items.get("/{item_id}", tags=["one"], responses={403: {"description": "Forbidden"}})
    def read_item(item_id: str):
        return {}

    admin = fw.APIRouter()

    @admin.post("/reset", deprecated=True)
    def reset():
        return {}

    nested = fw.APIRouter(prefix="/nested", tags=["nested"])

    @nested.get("/leaf/{leaf_id}")
    def leaf(leaf_id: int) -> Message:
        return Message(detail="x")

    items.include_router(nested)
    application.include_router(items)
    application.include_router(
        admin,
        prefix="/admin",
        tags=["admin"],
        responses={418: {"description": "Teapot"}},
    )

    @application.get("/")
    def root():
        return {}

    return application


@app
def dependencies(fw: SimpleNamespace) -> Any:
    application = fw.FastAPI(title="Dependencies", version="7")

    def common(q: Optional[str] = None, skip: int = 0, limit: int = fw.Query(100, le=500)):
        return {"q": q, "skip": skip, "limit": limit}

    class CommonQueryParams:
        def __init__(self, q: Optional[str] = None, page: int = 1):
            self.q = q
            self.page = page

    def query_extractor(q: Optional[str] = None):
        return q

    def query_or_cookie(
        q: Annotated[Optional[str], fw.Depends(query_extractor)],
        last_query: Annotated[Optional[str], fw.Cookie()] = None,
    ):
        return q or last_query

    def with_header(x_trace: Optional[str] = fw.Header(None)):
        return x_trace

    def required_limit(limit: int = fw.Query()):
        return limit

    def body_dependency(extra: Message):
        return extra

    @application.get("/items")
    def items(commons: dict = fw.Depends(common), trace: Any = fw.Depends(with_header)):
        return commons

    @application.get("/users")
    def users(commons: Annotated[CommonQueryParams, fw.Depends()]):
        return {}

    @application.get("/sub")
    def sub(value: Annotated[Optional[str], fw.Depends(query_or_cookie)], q: Optional[str] = None):
        return value

    @application.get("/twice", dependencies=[fw.Depends(with_header)])
    def twice(a: Any = fw.Depends(with_header), b: Any = fw.Depends(common)):
        return {}

    @application.get("/required-wins")
    def required_wins(a: Any = fw.Depends(common), b: Any = fw.Depends(required_limit)):
        return {}

    @application.post("/with-body")
    def with_body(item: Item, extra: Any = fw.Depends(body_dependency)):
        return {}

    @application.get("/special")
    def special(request: fw.Request, response: fw.Response, tasks: fw.BackgroundTasks):
        return {}

    @application.get("/no-params")
    def no_params():
        return {}

    return application


@app
def callbacks_and_duplicate_models(fw: SimpleNamespace) -> Any:
    application = fw.FastAPI(title="Callbacks", version="8")
    callback_router = fw.APIRouter()

    class Invoice(BaseModel):
        id: str
        total: float

    class InvoiceEvent(BaseModel):
        description: str
        paid: bool

    @callback_router.post("{$callback_url}/invoices/{$request.body.id}", response_model=Message)
    def invoice_notification(body: InvoiceEvent):
        pass

    @application.post("/invoices/", callbacks=callback_router.routes)
    def create_invoice(invoice: Invoice, callback_url: Optional[str] = fw.Query(None)):
        return {"msg": "Invoice received"}

    return application


@app
def odds_and_ends(fw: SimpleNamespace) -> Any:
    from http import HTTPStatus

    def custom_id(route: Any) -> str:
        return f"{route.tags[0] if route.tags else 'root'}-{route.name}"

    application = fw.FastAPI(
        title="Odds",
        version="10",
        default_response_class=fw.HTMLResponse,
        responses={500: {"model": GlobalMessage, "description": "Boom"}},
        generate_unique_id_function=custom_id,
    )

    class Limiter:
        def __init__(self, default: int) -> None:
            self.default = default

        def __call__(self, per_minute: int = fw.Query(60, ge=1)) -> int:
            return per_minute

    class Message(BaseModel):  # the same name as the module's Message: qualified names
        text: str

    def owner(owner_id: int = fw.Path(ge=1)):
        return owner_id

    @application.api_route("/multi", methods=["GET", "POST"], operation_id="multi")
    def multi(q: Optional[str] = None):
        return {}

    @application.post("/status", status_code=HTTPStatus.CREATED, response_class=fw.JSONResponse)
    def status() -> Message:
        return Message(text="x")

    @application.get("/owners/{owner_id}/pets", tags=["pets"], dependencies=[fw.Depends(owner)])
    def owner_pets(limit: int = fw.Depends(Limiter(5)), kind: Literal["cat", "dog"] = "cat"):
        return []

    @application.post("/aliased", tags=["pets"])
    def aliased(
        item: Item = fw.Body(alias="the-item", embed=True),
        ids: list[int] = fw.Body(default=[]),
        payload: Optional[dict[str, Any]] = fw.Body(None),
    ):
        return {}

    @application.post("/scalar-list", tags=["lists"])
    def scalar_list(ids: list[int]) -> list[int]:
        return ids

    @application.get("/anything", tags=["misc"])
    def anything(
        q: Any = None, untyped=None, when: Optional[dt.datetime] = None, n: Optional[int] = None
    ):
        return {}

    sub = fw.APIRouter(
        prefix="/sub", tags=["sub"], deprecated=True, default_response_class=fw.JSONResponse
    )

    @sub.get("/thing", response_model=Message)
    def thing():
        return {}

    application.include_router(sub, prefix="/v1", dependencies=[fw.Depends(owner)])
    return application


# -- tests ------------------------------------------------------------------------------------


def differences(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """Where two JSON documents differ, as readable lines (key order included)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if list(ours) != list(theirs) and set(ours) == set(theirs):
            return [f"{where}: key order {list(ours)} != {list(theirs)}"]
        out = [f"{where}/{key}: only in ignyx" for key in ours if key not in theirs]
        out += [f"{where}/{key}: only in fastapi" for key in theirs if key not in ours]
        for key in ours:
            if key in theirs:
                out += differences(ours[key], theirs[key], f"{where}/{key}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [
            d
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for d in differences(a, b, f"{where}/{i}")
        ]
    if ours != theirs or type(ours) is not type(theirs):
        return [f"{where}: {ours!r} != {theirs!r}"]
    return []


def assert_same_document(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert differences(ours, theirs) == []
    assert json.dumps(ours) == json.dumps(theirs)


@pytest.mark.parametrize("builder", list(APPS.values()), ids=list(APPS))
def test_document_equals_fastapis(builder: Callable[[SimpleNamespace], Any]) -> None:
    assert_same_document(*both(builder))


@pytest.mark.parametrize("builder", list(APPS.values()), ids=list(APPS))
def test_served_document_equals_fastapis(builder: Callable[[SimpleNamespace], Any]) -> None:
    """GET /openapi.json: the same status, content type and bytes as FastAPI's."""
    from fastapi.testclient import TestClient as FastAPIClient
    from ignyx.testclient import TestClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(builder(IGNYX)) as client:
            ours = client.get("/openapi.json")
        theirs = FastAPIClient(builder(FASTAPI)).get("/openapi.json")
    assert ours.status_code == theirs.status_code == 200
    assert ours.headers["content-type"] == theirs.headers["content-type"]
    assert ours.content == theirs.content


def test_webhooks_equal_fastapis() -> None:
    def build(fw: SimpleNamespace) -> Any:
        application = fw.FastAPI(title="Webhooks", version="9")

        @application.webhooks.post("new-subscription", tags=["hooks"])
        def new_subscription(body: User, x_signature: str = fw.Header()):
            """When someone subscribes."""

        @application.get("/")
        def root():
            return {}

        return application

    ours, theirs = both(build)
    assert_same_document(ours, theirs)
    assert "new-subscription" in ours["webhooks"]


def test_external_docs_equal_fastapis() -> None:
    def build(fw: SimpleNamespace) -> Any:
        return fw.FastAPI(
            title="Docs",
            version="1",
            openapi_external_docs={"description": "Guide", "url": "https://example.com/guide"},
        )

    ours, theirs = both(build)
    assert_same_document(ours, theirs)
    assert ours["externalDocs"] == {"description": "Guide", "url": "https://example.com/guide"}


def test_deprecated_example_equals_fastapis() -> None:
    def build(fw: SimpleNamespace) -> Any:
        application = fw.FastAPI(title="Example", version="1")

        @application.get("/")
        def root(q: str = fw.Query("a", example="b"), item: Item = fw.Body(example={"x": 1})):
            return {}

        return application

    assert_same_document(*both(build))


class Login(BaseModel):
    username: str
    password: str = Field(min_length=8)


def _forms_app(fw: SimpleNamespace, pkg: Any) -> Any:
    application = fw.FastAPI(title="Forms", version="1")

    @application.post("/login")
    def login(username: str = pkg.Form(), password: str = pkg.Form(min_length=8)):
        return {}

    @application.post("/files")
    def files(
        files: list[pkg.UploadFile] = pkg.File(description="Several"),
        raw: bytes = pkg.File(),
        note: Optional[str] = pkg.Form(None),
    ):
        return {}

    @application.post("/model-form")
    def model_form(data: Annotated[Login, pkg.Form()]):
        return {}

    return application


def test_forms_and_files_equal_fastapis() -> None:
    pytest.importorskip("python_multipart", reason="FastAPI needs python-multipart for forms")
    import fastapi
    import ignyx

    ours = _forms_app(IGNYX, ignyx).openapi()
    theirs = _forms_app(FASTAPI, fastapi).openapi()
    assert_same_document(ours, theirs)


def test_bare_upload_file_equals_fastapis() -> None:
    pytest.importorskip("python_multipart", reason="FastAPI needs python-multipart for forms")
    import fastapi
    import ignyx

    def build(fw: SimpleNamespace, pkg: Any) -> Any:
        application = fw.FastAPI(title="Upload", version="1")

        @application.post("/upload")
        def upload(file: pkg.UploadFile):
            return {}

        return application

    assert_same_document(build(IGNYX, ignyx).openapi(), build(FASTAPI, fastapi).openapi())
