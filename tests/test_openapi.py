"""``/openapi.json``, ``/docs`` and ``/redoc`` as an app serves them, side by side with FastAPI
where FastAPI has the same option: same status, headers and bytes."""

import inspect
import warnings
from typing import Any, Optional

import fastapi
import fastapi.openapi.docs
import fastapi.openapi.utils
import fastapi.security
import pytest
from fastapi.testclient import TestClient as FastAPIClient
from ignyx import Depends, Header, Ignyx, Query, Request, Security
from ignyx.openapi import docs, models, utils
from ignyx.testclient import TestClient
from pydantic import BaseModel

warnings.filterwarnings("ignore", message=".*httpx2.*")
pytestmark = pytest.mark.filterwarnings("ignore:The `root_path` parameter is deprecated")


class Item(BaseModel):
    name: str
    price: float


def build(framework: Any, **options: Any) -> Any:
    """The same little app, in FastAPI or in Ignyx."""
    app = framework(title="Docs app", version="2.0.0", **options)

    @app.get("/items/{item_id}")
    def read_item(item_id: int, q: Optional[str] = None) -> Item:
        return Item(name="x", price=1)

    @app.post("/items", status_code=201)
    def create_item(item: Item) -> Item:
        return item

    return app


def fetch(app: Any, client_class: Any, paths: list[str]) -> dict[str, tuple[int, str, bytes]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = client_class(app)
        out = {}
        for path in paths:
            response = client.get(path)
            out[path] = (
                response.status_code,
                response.headers.get("content-type"),
                response.content,
            )
        client.close()
    return out


DOCS_PATHS = ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"]

SAME_OPTIONS = {
    "defaults": {},
    "no_openapi": {"openapi_url": None},
    "no_docs": {"docs_url": None},
    "no_redoc": {"redoc_url": None},
    "no_oauth2_redirect": {"swagger_ui_oauth2_redirect_url": None},
    "moved": {
        "openapi_url": "/api/v2/schema.json",
        "docs_url": "/api/docs",
        "redoc_url": "/api/redoc",
        "swagger_ui_oauth2_redirect_url": "/api/docs/callback",
    },
    "swagger_settings": {
        "swagger_ui_parameters": {"deepLinking": False, "syntaxHighlight": {"theme": "obsidian"}},
        "swagger_ui_init_oauth": {"clientId": "shop", "appName": "<Shop & co>"},
    },
    "root_path": {"root_path": "/api", "servers": [{"url": "https://shop.example.com"}]},
}


@pytest.mark.parametrize("options", list(SAME_OPTIONS.values()), ids=list(SAME_OPTIONS))
def test_docs_routes_answer_as_fastapis(options: dict[str, Any]) -> None:
    paths = DOCS_PATHS + [
        options.get(name) for name in ("openapi_url", "docs_url", "redoc_url") if options.get(name)
    ]
    if options.get("swagger_ui_oauth2_redirect_url"):
        paths.append(options["swagger_ui_oauth2_redirect_url"])
    ours = fetch(build(Ignyx, **options), TestClient, paths)
    theirs = fetch(build(fastapi.FastAPI, **options), FastAPIClient, paths)
    assert ours == theirs


def test_openapi_json_is_the_document_served_as_json() -> None:
    app = build(Ignyx)
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == app.openapi()
    assert set(app.openapi()["paths"]) == {"/items/{item_id}", "/items"}


def test_document_is_generated_once_and_served_from_cached_bytes() -> None:
    app = build(Ignyx)
    calls = []
    generate = app.openapi

    def counting() -> dict[str, Any]:
        calls.append(1)
        return generate()

    app.openapi = counting
    with TestClient(app) as client:
        bodies = {client.get("/openapi.json").content for _ in range(3)}
    assert len(bodies) == 1
    assert calls == [1]
    assert app.openapi() is app.openapi()


def test_customised_openapi_is_served() -> None:
    """FastAPI's recipe for extending the document works unchanged."""
    app = build(Ignyx)

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = utils.get_openapi(title="Custom", version="3.0.0", routes=app.routes)
        schema["info"]["x-logo"] = {"url": "https://example.com/logo.png"}
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi
    with TestClient(app) as client:
        info = client.get("/openapi.json").json()["info"]
    assert info == {
        "title": "Custom",
        "version": "3.0.0",
        "x-logo": {"url": "https://example.com/logo.png"},
    }


def test_routes_added_after_generation_are_documented() -> None:
    app = build(Ignyx)
    assert "/late" not in app.openapi()["paths"]

    @app.get("/late")
    def late():
        return {}

    assert "/late" in app.openapi()["paths"]


def test_self_hosted_assets_replace_the_cdn() -> None:
    app = build(
        Ignyx,
        swagger_js_url="/static/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui.css",
        swagger_favicon_url="/static/favicon.png",
        redoc_js_url="/static/redoc.standalone.js",
    )
    with TestClient(app) as client:
        swagger = client.get("/docs").text
        redoc = client.get("/redoc").text
    assert '<script src="/static/swagger-ui-bundle.js"></script>' in swagger
    assert '<link type="text/css" rel="stylesheet" href="/static/swagger-ui.css">' in swagger
    assert '<link rel="shortcut icon" href="/static/favicon.png">' in swagger
    assert '<script src="/static/redoc.standalone.js"> </script>' in redoc
    assert "cdn.jsdelivr.net" not in swagger + redoc


def test_by_default_pages_load_from_fastapis_cdn() -> None:
    with TestClient(build(Ignyx)) as client:
        swagger = client.get("/docs").text
        redoc = client.get("/redoc").text
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" in swagger
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css" in swagger
    assert "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js" in redoc
    assert "url: '/openapi.json'" in swagger
    assert '<redoc spec-url="/openapi.json"></redoc>' in redoc


def test_docs_routes_are_not_in_the_document() -> None:
    app = build(Ignyx)
    with TestClient(app) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert not {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"} & set(paths)


def test_disabled_openapi_still_builds_the_document_on_demand() -> None:
    app = build(Ignyx, openapi_url=None)
    with TestClient(app) as client:
        assert [client.get(path).status_code for path in DOCS_PATHS] == [404] * 4
    assert "/items" in app.openapi()["paths"]


# -- the page builders, called directly ------------------------------------------------------

PAGE_CALLS = [
    ("get_swagger_ui_html", {"openapi_url": "/openapi.json", "title": "API"}),
    (
        "get_swagger_ui_html",
        {
            "openapi_url": "/v1/openapi.json",
            "title": "API </title>",
            "swagger_js_url": "/s.js",
            "swagger_css_url": "/s.css",
            "swagger_favicon_url": "/f.png",
            "oauth2_redirect_url": "/v1/docs/oauth2-redirect",
            "init_oauth": {"clientId": "a", "scopes": "x y", "usePkce": True},
            "swagger_ui_parameters": {"layout": "StandaloneLayout", "filter": "</script>"},
        },
    ),
    ("get_redoc_html", {"openapi_url": "/openapi.json", "title": "API"}),
    (
        "get_redoc_html",
        {
            "openapi_url": "/o.json",
            "title": "T",
            "redoc_js_url": "/r.js",
            "redoc_favicon_url": "/f.ico",
            "with_google_fonts": False,
        },
    ),
    ("get_swagger_ui_oauth2_redirect_html", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGE_CALLS, ids=[c[0] for c in PAGE_CALLS])
def test_page_builders_equal_fastapis(name: str, kwargs: dict[str, Any]) -> None:
    ours = getattr(docs, name)(**kwargs)
    theirs = getattr(fastapi.openapi.docs, name)(**kwargs)
    assert ours.status_code == theirs.status_code
    assert ours.body == theirs.body
    assert ours.raw_headers == theirs.raw_headers


def test_public_functions_take_fastapis_arguments() -> None:
    pairs = [
        (utils.get_openapi, fastapi.openapi.utils.get_openapi),
        (docs.get_swagger_ui_html, fastapi.openapi.docs.get_swagger_ui_html),
        (docs.get_redoc_html, fastapi.openapi.docs.get_redoc_html),
    ]
    for ours, theirs in pairs:
        ours_params = inspect.signature(ours).parameters
        theirs_params = inspect.signature(theirs).parameters
        assert list(ours_params) == list(theirs_params)
        for name, param in theirs_params.items():
            assert ours_params[name].default == param.default, name
    assert docs.swagger_ui_default_parameters == fastapi.openapi.docs.swagger_ui_default_parameters


def test_models_match_fastapis() -> None:
    import fastapi.openapi.models as theirs

    for name in ("OpenAPI", "Schema", "Operation", "Parameter", "PathItem", "Components"):
        ours_fields = getattr(models, name).model_fields
        theirs_fields = getattr(theirs, name).model_fields
        assert list(ours_fields) == list(theirs_fields), name
        assert [f.alias for f in ours_fields.values()] == [
            f.alias for f in theirs_fields.values()
        ], name


# -- security schemes: any dependency with a ``model`` and a ``scheme_name`` -----------------


class _Bearer:
    """Stands for ``HTTPBearer()``: the document reads only ``model`` and ``scheme_name``."""

    def __init__(self) -> None:
        self.model = models.HTTPBearer()
        self.scheme_name = "HTTPBearer"

    def __call__(self, request: Request) -> Optional[str]:
        return request.headers.get("authorization")


class _OAuth2:
    """Stands for ``OAuth2PasswordBearer(tokenUrl="token", scopes=...)``."""

    def __init__(self) -> None:
        flows = models.OAuthFlows(
            password=models.OAuthFlowPassword(
                tokenUrl="token", scopes={"items": "Read items", "me": "Read yourself"}
            )
        )
        self.model = models.OAuth2(flows=flows)
        self.scheme_name = "OAuth2PasswordBearer"

    def __call__(self, request: Request) -> Optional[str]:
        return request.headers.get("authorization")


def test_security_schemes_are_documented_as_fastapis() -> None:
    def build_secure(fw: Any, bearer: Any, oauth2: Any) -> Any:
        app = fw.FastAPI(title="Secure", version="1")

        def current_user(token: str = fw.Security(oauth2, scopes=["me"])):
            return token

        @app.get("/me")
        def me(user: str = fw.Security(current_user, scopes=["items"]), q: int = fw.Query(1)):
            return {}

        @app.get("/bearer", dependencies=[fw.Depends(bearer)])
        def with_bearer(x_extra: Optional[str] = fw.Header(None)):
            return {}

        @app.get("/both")
        def both(a: Any = fw.Depends(bearer), b: Any = fw.Security(oauth2, scopes=["items"])):
            return {}

        return app

    ignyx_kit = type(
        "Kit",
        (),
        {
            "FastAPI": Ignyx,
            "Security": Security,
            "Depends": Depends,
            "Query": Query,
            "Header": Header,
        },
    )
    ours = build_secure(ignyx_kit, _Bearer(), _OAuth2()).openapi()
    theirs = build_secure(
        fastapi,
        fastapi.security.HTTPBearer(),
        fastapi.security.OAuth2PasswordBearer(
            tokenUrl="token", scopes={"items": "Read items", "me": "Read yourself"}
        ),
    ).openapi()
    assert ours == theirs
    assert ours["paths"]["/me"]["get"]["security"] == [{"OAuth2PasswordBearer": ["items", "me"]}]
