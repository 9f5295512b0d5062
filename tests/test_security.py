"""``ignyx.security`` answers as ``fastapi.security`` does: each app below is written once
against a kit of names (``fw.security.HTTPBearer``, ``fw.Security``...), served by FastAPI
and by Ignyx, and every request must get the same status, body and ``WWW-Authenticate``
challenge from both; the OpenAPI documents must be equal.
"""

import base64
import json
import warnings
from types import SimpleNamespace
from typing import Any, Callable, Optional

import fastapi
import fastapi.security
import fastapi.security.http
import ignyx
import ignyx.dependencies
import ignyx.security
import ignyx.security.http
import pytest
from conftest import differential

warnings.filterwarnings("ignore", message=".*httpx2.*")


def with_security(build: Callable[[SimpleNamespace], Any]) -> Callable[[SimpleNamespace], Any]:
    """`build`, given a kit that also has ``fw.security``, ``fw.Security`` and ``fw.Form``."""

    def build_with_security(fw: SimpleNamespace) -> Any:
        package = fastapi if fw.name == "fastapi" else ignyx
        security = fastapi.security if fw.name == "fastapi" else ignyx.security
        kit = SimpleNamespace(**vars(fw))
        kit.security, kit.Security, kit.Form = security, package.Security, package.Form
        return build(kit)

    return build_with_security


def basic(credentials: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}


def assert_same_documents(pair: Any) -> dict[str, Any]:
    """The same OpenAPI document from both apps, served byte for byte the same."""
    ours, theirs = pair.ignyx_app.openapi(), pair.fastapi_app.openapi()
    assert ours == theirs
    differential(pair, "GET", "/openapi.json")
    return ours


# -- one route per scheme ----------------------------------------------------------------------


def build_schemes(fw: SimpleNamespace) -> Any:
    sec = fw.security
    app = fw.FastAPI(title="Schemes", version="1")

    def route(path: str, scheme: Any) -> None:
        @app.get(path, name=path)
        def read(credential: Any = fw.Depends(scheme)):
            return {"credential": credential}

    route("/api-key/query", sec.APIKeyQuery(name="api_key"))
    route("/api-key/header", sec.APIKeyHeader(name="x-api-key", description="The team key"))
    route("/api-key/cookie", sec.APIKeyCookie(name="session", scheme_name="Session"))
    route(
        "/api-key/optional",
        sec.APIKeyHeader(name="x-key", scheme_name="OptionalKey", auto_error=False),
    )
    route("/basic", sec.HTTPBasic())
    route("/basic/realm", sec.HTTPBasic(realm="staff", scheme_name="StaffBasic"))
    route("/basic/optional", sec.HTTPBasic(auto_error=False, scheme_name="OptionalBasic"))
    route("/bearer", sec.HTTPBearer(bearerFormat="JWT", description="A JWT"))
    route("/bearer/optional", sec.HTTPBearer(auto_error=False, scheme_name="OptionalBearer"))
    route("/digest", sec.HTTPDigest())
    route("/digest/optional", sec.HTTPDigest(auto_error=False, scheme_name="OptionalDigest"))
    route("/http/custom", sec.http.HTTPBase(scheme="custom-token"))
    route("/oauth2", sec.OAuth2(flows={"clientCredentials": {"tokenUrl": "/token", "scopes": {}}}))
    route(
        "/oauth2/password",
        sec.OAuth2PasswordBearer(
            tokenUrl="token", refreshUrl="refresh", scopes={"me": "Read yourself"}
        ),
    )
    route(
        "/oauth2/password/optional",
        sec.OAuth2PasswordBearer(tokenUrl="token", scheme_name="Optional", auto_error=False),
    )
    route(
        "/oauth2/code",
        sec.OAuth2AuthorizationCodeBearer(
            authorizationUrl="https://id.example.com/authorize",
            tokenUrl="https://id.example.com/token",
            scopes={"openid": "Who you are"},
        ),
    )
    route(
        "/openid",
        sec.OpenIdConnect(openIdConnectUrl="https://id.example.com/.well-known/openid"),
    )
    route(
        "/openid/optional",
        sec.OpenIdConnect(openIdConnectUrl="/oidc", scheme_name="OIDC", auto_error=False),
    )
    return app


@pytest.fixture(scope="module")
def schemes(dual: Any) -> Any:
    return dual(with_security(build_schemes))


NOT_AUTHENTICATED = {"detail": "Not authenticated"}

# (path, request headers, status, body, WWW-Authenticate), each checked against FastAPI too.
CASES: dict[str, tuple[str, dict[str, str], int, Any, Optional[str]]] = {
    "api_key_in_query": ("/api-key/query?api_key=k1", {}, 200, {"credential": "k1"}, None),
    "api_key_query_missing": ("/api-key/query", {}, 401, NOT_AUTHENTICATED, "APIKey"),
    "api_key_query_empty": ("/api-key/query?api_key=", {}, 401, NOT_AUTHENTICATED, "APIKey"),
    "api_key_in_header": ("/api-key/header", {"X-API-Key": "k2"}, 200, {"credential": "k2"}, None),
    "api_key_header_missing": ("/api-key/header", {}, 401, NOT_AUTHENTICATED, "APIKey"),
    "api_key_header_elsewhere": (
        "/api-key/header?x-api-key=k2",
        {"Cookie": "x-api-key=k2"},
        401,
        NOT_AUTHENTICATED,
        "APIKey",
    ),
    "api_key_in_cookie": (
        "/api-key/cookie",
        {"Cookie": "theme=dark; session=k3"},
        200,
        {"credential": "k3"},
        None,
    ),
    "api_key_cookie_missing": ("/api-key/cookie", {}, 401, NOT_AUTHENTICATED, "APIKey"),
    "api_key_optional_missing": ("/api-key/optional", {}, 200, {"credential": None}, None),
    "api_key_optional_given": (
        "/api-key/optional",
        {"x-key": "k4"},
        200,
        {"credential": "k4"},
        None,
    ),
    "basic": (
        "/basic",
        basic(b"ada:pass:word"),
        200,
        {"credential": {"username": "ada", "password": "pass:word"}},
        None,
    ),
    "basic_lowercase_scheme": (
        "/basic",
        {"Authorization": "basic " + base64.b64encode(b"ada:").decode()},
        200,
        {"credential": {"username": "ada", "password": ""}},
        None,
    ),
    "basic_missing": ("/basic", {}, 401, NOT_AUTHENTICATED, "Basic"),
    "basic_wrong_scheme": (
        "/basic",
        {"Authorization": "Bearer abc"},
        401,
        NOT_AUTHENTICATED,
        "Basic",
    ),
    "basic_no_credentials": ("/basic", {"Authorization": "Basic"}, 401, NOT_AUTHENTICATED, "Basic"),
    "basic_bad_base64": ("/basic", {"Authorization": "Basic abc"}, 401, NOT_AUTHENTICATED, "Basic"),
    "basic_not_ascii": ("/basic", basic("zoë:pw".encode()), 401, NOT_AUTHENTICATED, "Basic"),
    "basic_without_colon": ("/basic", basic(b"ada"), 401, NOT_AUTHENTICATED, "Basic"),
    "basic_realm_challenge": ("/basic/realm", {}, 401, NOT_AUTHENTICATED, 'Basic realm="staff"'),
    "basic_optional_missing": ("/basic/optional", {}, 200, {"credential": None}, None),
    "basic_optional_wrong_scheme": (
        "/basic/optional",
        {"Authorization": "Bearer abc"},
        200,
        {"credential": None},
        None,
    ),
    # Basic was tried: a malformed credential is refused even by an optional scheme.
    "basic_optional_bad_base64": (
        "/basic/optional",
        {"Authorization": "Basic abc"},
        401,
        NOT_AUTHENTICATED,
        "Basic",
    ),
    "bearer": (
        "/bearer",
        {"Authorization": "Bearer  tok.en"},
        200,
        {"credential": {"scheme": "Bearer", "credentials": "tok.en"}},
        None,
    ),
    "bearer_lowercase_scheme": (
        "/bearer",
        {"Authorization": "bearer tok"},
        200,
        {"credential": {"scheme": "bearer", "credentials": "tok"}},
        None,
    ),
    "bearer_missing": ("/bearer", {}, 401, NOT_AUTHENTICATED, "Bearer"),
    "bearer_wrong_scheme": ("/bearer", basic(b"ada:pw"), 401, NOT_AUTHENTICATED, "Bearer"),
    "bearer_empty_token": (
        "/bearer",
        {"Authorization": "Bearer"},
        401,
        NOT_AUTHENTICATED,
        "Bearer",
    ),
    "bearer_optional_missing": ("/bearer/optional", {}, 200, {"credential": None}, None),
    "bearer_optional_wrong_scheme": (
        "/bearer/optional",
        {"Authorization": "Token abc"},
        200,
        {"credential": None},
        None,
    ),
    "digest": (
        "/digest",
        {"Authorization": 'Digest username="ada", nonce="n"'},
        200,
        {"credential": {"scheme": "Digest", "credentials": 'username="ada", nonce="n"'}},
        None,
    ),
    "digest_missing": ("/digest", {}, 401, NOT_AUTHENTICATED, "Digest"),
    "digest_wrong_scheme": (
        "/digest",
        {"Authorization": "Bearer a"},
        401,
        NOT_AUTHENTICATED,
        "Digest",
    ),
    "digest_optional_wrong_scheme": (
        "/digest/optional",
        {"Authorization": "Bearer a"},
        200,
        {"credential": None},
        None,
    ),
    "http_any_scheme": (
        "/http/custom",
        {"Authorization": "Other xyz"},
        200,
        {"credential": {"scheme": "Other", "credentials": "xyz"}},
        None,
    ),
    "http_scheme_without_credentials": (
        "/http/custom",
        {"Authorization": "Other"},
        401,
        NOT_AUTHENTICATED,
        "Custom-Token",
    ),
    "oauth2_whole_header": (
        "/oauth2",
        {"Authorization": "Anything at all"},
        200,
        {"credential": "Anything at all"},
        None,
    ),
    "oauth2_missing": ("/oauth2", {}, 401, NOT_AUTHENTICATED, "Bearer"),
    "password_bearer": (
        "/oauth2/password",
        {"Authorization": "Bearer abc"},
        200,
        {"credential": "abc"},
        None,
    ),
    "password_bearer_missing": ("/oauth2/password", {}, 401, NOT_AUTHENTICATED, "Bearer"),
    "password_bearer_wrong_scheme": (
        "/oauth2/password",
        basic(b"ada:pw"),
        401,
        NOT_AUTHENTICATED,
        "Bearer",
    ),
    "password_bearer_empty_token": (
        "/oauth2/password",
        {"Authorization": "Bearer"},
        200,
        {"credential": ""},
        None,
    ),
    "password_bearer_optional_missing": (
        "/oauth2/password/optional",
        {},
        200,
        {"credential": None},
        None,
    ),
    "password_bearer_optional_wrong_scheme": (
        "/oauth2/password/optional",
        {"Authorization": "Token abc"},
        200,
        {"credential": None},
        None,
    ),
    "code_bearer": ("/oauth2/code", {"Authorization": "BEARER c"}, 200, {"credential": "c"}, None),
    "code_bearer_missing": ("/oauth2/code", {}, 401, NOT_AUTHENTICATED, "Bearer"),
    "code_bearer_wrong_scheme": (
        "/oauth2/code",
        {"Authorization": "Digest c"},
        401,
        NOT_AUTHENTICATED,
        "Bearer",
    ),
    "openid_whole_header": (
        "/openid",
        {"Authorization": "Bearer id.token"},
        200,
        {"credential": "Bearer id.token"},
        None,
    ),
    "openid_missing": ("/openid", {}, 401, NOT_AUTHENTICATED, "Bearer"),
    "openid_optional_missing": ("/openid/optional", {}, 200, {"credential": None}, None),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_scheme_answers_as_fastapis(schemes: Any, case: tuple) -> None:
    path, headers, status, body, challenge = case
    response = differential(schemes, "GET", path, headers=headers)
    assert response.status_code == status
    assert response.json() == body
    assert response.headers.get("www-authenticate") == challenge


def test_schemes_are_documented_as_fastapis(schemes: Any) -> None:
    document = assert_same_documents(schemes)
    components = document["components"]["securitySchemes"]
    assert components["APIKeyHeader"] == {
        "type": "apiKey",
        "description": "The team key",
        "in": "header",
        "name": "x-api-key",
    }
    assert components["Session"] == {"type": "apiKey", "in": "cookie", "name": "session"}
    assert components["HTTPBearer"] == {
        "type": "http",
        "description": "A JWT",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert components["OAuth2PasswordBearer"] == {
        "type": "oauth2",
        "flows": {
            "password": {
                "refreshUrl": "refresh",
                "scopes": {"me": "Read yourself"},
                "tokenUrl": "token",
            }
        },
    }
    assert document["paths"]["/basic/realm"]["get"]["security"] == [{"StaffBasic": []}]


def test_public_names_are_fastapis() -> None:
    theirs = {name for name in dir(fastapi.security) if not name.startswith("_")}
    ours = {name for name in dir(ignyx.security) if not name.startswith("_")}
    assert theirs - ours == set()
    assert ignyx.security.SecurityScopes is ignyx.dependencies.SecurityScopes
    for module in ("api_key", "base", "http", "oauth2", "open_id_connect_url", "utils"):
        assert hasattr(ignyx.security, module)


@pytest.mark.parametrize(
    "value",
    [None, "", "Bearer", "Bearer abc", "Bearer  abc  ", "bearer a b", "Basic=", " Bearer x"],
)
def test_authorization_header_split_as_fastapis(value: Optional[str]) -> None:
    ours = ignyx.security.get_authorization_scheme_param(value)
    assert ours == fastapi.security.utils.get_authorization_scheme_param(value)


@pytest.mark.parametrize("security", [fastapi.security, ignyx.security], ids=["fastapi", "ignyx"])
def test_scheme_named_after_its_class_unless_told(security: Any) -> None:
    assert security.HTTPBearer().scheme_name == "HTTPBearer"
    assert security.APIKeyQuery(name="k", scheme_name="Key").scheme_name == "Key"
    assert security.HTTPBasic(realm="r").realm == "r"
    assert security.OAuth2PasswordBearer("token").auto_error is True


# -- custom schemes: the error hooks ------------------------------------------------------------


def build_custom(fw: SimpleNamespace) -> Any:
    sec = fw.security
    app = fw.FastAPI()

    class ForbiddenKey(sec.APIKeyHeader):
        def make_not_authenticated_error(self):
            return fw.HTTPException(status_code=403, detail="Key required")

    class ForbiddenBearer(sec.HTTPBearer):
        def make_not_authenticated_error(self):
            return fw.HTTPException(status_code=403, detail="Token required")

    class ChallengingBearer(sec.HTTPBearer):
        def make_authenticate_headers(self):
            return {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'}

    class ForbiddenOAuth2(sec.OAuth2PasswordBearer):
        def make_not_authenticated_error(self):
            return fw.HTTPException(status_code=403, detail="Log in first")

    class CookieToken(sec.OAuth2):
        """A token from a cookie, documented as OAuth2 (a common FastAPI recipe)."""

        async def __call__(self, request: fw.Request) -> Optional[str]:
            token = request.cookies.get("token")
            if not token:
                raise self.make_not_authenticated_error()
            return token

    @app.get("/key")
    def key(value: str = fw.Depends(ForbiddenKey(name="x-key"))):
        return {"key": value}

    @app.get("/bearer")
    def bearer(value: Any = fw.Depends(ForbiddenBearer())):
        return {"token": value.credentials}

    @app.get("/challenge")
    def challenge(value: Any = fw.Depends(ChallengingBearer(scheme_name="Challenging"))):
        return {"token": value.credentials}

    @app.get("/oauth2")
    def oauth2(value: str = fw.Depends(ForbiddenOAuth2(tokenUrl="token"))):
        return {"token": value}

    @app.get("/cookie")
    def cookie(value: str = fw.Depends(CookieToken(scheme_name="CookieToken"))):
        return {"token": value}

    return app


@pytest.fixture(scope="module")
def custom(dual: Any) -> Any:
    return dual(with_security(build_custom))


@pytest.mark.parametrize(
    "path, detail",
    [
        ("/key", "Key required"),
        ("/bearer", "Token required"),
        ("/oauth2", "Log in first"),
    ],
)
def test_overridden_error_answers_without_a_credential(custom: Any, path: str, detail: str) -> None:
    response = differential(custom, "GET", path)
    assert (response.status_code, response.json()) == (403, {"detail": detail})
    assert "www-authenticate" not in response.headers


def test_overridden_error_leaves_valid_credentials_alone(custom: Any) -> None:
    response = differential(custom, "GET", "/bearer", headers={"Authorization": "Bearer t"})
    assert response.json() == {"token": "t"}
    response = differential(custom, "GET", "/key", headers={"x-key": "k"})
    assert response.json() == {"key": "k"}


def test_overridden_challenge_is_sent(custom: Any) -> None:
    response = differential(custom, "GET", "/challenge", headers={"Authorization": "Basic x"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_subclass_reading_its_own_credential(custom: Any) -> None:
    response = differential(custom, "GET", "/cookie", headers={"Cookie": "token=abc"})
    assert response.json() == {"token": "abc"}
    response = differential(custom, "GET", "/cookie")
    assert (response.status_code, response.headers["www-authenticate"]) == (401, "Bearer")


def test_custom_schemes_are_documented_as_fastapis(custom: Any) -> None:
    document = assert_same_documents(custom)
    assert document["paths"]["/cookie"]["get"]["security"] == [{"CookieToken": []}]


# -- scopes -----------------------------------------------------------------------------------


def build_scopes(fw: SimpleNamespace) -> Any:
    sec = fw.security
    app = fw.FastAPI(title="Scopes", version="1")
    oauth2 = sec.OAuth2PasswordBearer(
        tokenUrl="token", scopes={"me": "Read yourself", "items": "Read items", "admin": "All"}
    )

    def current_user(security_scopes: sec.SecurityScopes, token: str = fw.Depends(oauth2)):
        return {"token": token, "scopes": security_scopes.scopes, "str": security_scopes.scope_str}

    def active_user(user: dict = fw.Security(current_user, scopes=["me"])):
        return user

    def admin_only(security_scopes: sec.SecurityScopes, token: str = fw.Depends(oauth2)):
        if "admin" not in security_scopes.scopes:
            raise fw.HTTPException(403, f"needs admin, got {security_scopes.scope_str!r}")

    @app.get("/me")
    def me(user: dict = fw.Security(current_user, scopes=["me"])):
        return user

    @app.get("/items")
    def items(user: dict = fw.Security(active_user, scopes=["items"])):
        return user

    @app.get("/plain")
    def plain(user: dict = fw.Depends(current_user)):
        return user

    @app.get("/twice")
    def twice(
        a: dict = fw.Security(current_user, scopes=["me"]),
        b: dict = fw.Security(current_user, scopes=["items"]),
    ):
        return {"a": a["scopes"], "b": b["scopes"]}

    @app.get("/route-scopes", dependencies=[fw.Security(admin_only, scopes=["admin"])])
    def route_scopes():
        return {"ok": True}

    return app


@pytest.fixture(scope="module")
def scopes(dual: Any) -> Any:
    return dual(with_security(build_scopes))


TOKEN = {"Authorization": "Bearer t0"}


@pytest.mark.parametrize(
    "path, seen",
    [
        ("/me", ["me"]),
        ("/items", ["items", "me"]),  # the outer Security's scopes come first
        ("/plain", []),
    ],
)
def test_dependency_sees_the_scopes_required_on_its_way(scopes: Any, path: str, seen: list) -> None:
    response = differential(scopes, "GET", path, headers=TOKEN)
    assert response.json() == {"token": "t0", "scopes": seen, "str": " ".join(seen)}


def test_one_dependency_under_two_scope_sets_runs_for_each(scopes: Any) -> None:
    response = differential(scopes, "GET", "/twice", headers=TOKEN)
    assert response.json() == {"a": ["me"], "b": ["items"]}


def test_scoped_route_without_token_is_refused(scopes: Any) -> None:
    response = differential(scopes, "GET", "/items")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_security_in_route_dependencies_passes_its_scopes(scopes: Any) -> None:
    response = differential(scopes, "GET", "/route-scopes", headers=TOKEN)
    assert response.json() == {"ok": True}


def test_scopes_are_documented_as_fastapis(scopes: Any) -> None:
    document = assert_same_documents(scopes)
    security = {path: ops["get"]["security"] for path, ops in document["paths"].items()}
    assert security == {
        "/me": [{"OAuth2PasswordBearer": ["me"]}],
        "/items": [{"OAuth2PasswordBearer": ["items", "me"]}],
        "/plain": [{"OAuth2PasswordBearer": []}],
        "/twice": [{"OAuth2PasswordBearer": ["me", "items"]}],
        "/route-scopes": [{"OAuth2PasswordBearer": ["admin"]}],
    }


# -- several schemes, and schemes on routers and apps -------------------------------------------


def build_combined(fw: SimpleNamespace) -> Any:
    sec = fw.security
    key = sec.APIKeyHeader(name="x-api-key", auto_error=False)
    bearer = sec.HTTPBearer(auto_error=False)
    app_key = sec.APIKeyQuery(name="tenant", scheme_name="Tenant")
    app = fw.FastAPI(title="Combined", version="1", dependencies=[fw.Depends(app_key)])

    @app.get("/either")
    def either(api_key: Optional[str] = fw.Depends(key), token: Any = fw.Depends(bearer)):
        if api_key:
            return {"by": "key", "value": api_key}
        if token:
            return {"by": "bearer", "value": token.credentials}
        raise fw.HTTPException(401, "Give a key or a token", {"WWW-Authenticate": "Bearer"})

    router = fw.APIRouter(prefix="/admin", dependencies=[fw.Depends(sec.HTTPBasic(realm="admin"))])

    @router.get("/stats")
    def stats():
        return {"stats": True}

    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def combined(dual: Any) -> Any:
    return dual(with_security(build_combined))


@pytest.mark.parametrize(
    "headers, status, body",
    [
        ({"x-api-key": "k"}, 200, {"by": "key", "value": "k"}),
        ({"Authorization": "Bearer t"}, 200, {"by": "bearer", "value": "t"}),
        ({"x-api-key": "k", "Authorization": "Bearer t"}, 200, {"by": "key", "value": "k"}),
        ({}, 401, {"detail": "Give a key or a token"}),
    ],
    ids=["key", "bearer", "both", "neither"],
)
def test_route_accepts_either_scheme(combined: Any, headers: dict, status: int, body: Any) -> None:
    response = differential(combined, "GET", "/either?tenant=acme", headers=headers)
    assert (response.status_code, response.json()) == (status, body)


def test_app_dependency_guards_every_route(combined: Any) -> None:
    response = differential(combined, "GET", "/either", headers={"x-api-key": "k"})
    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    assert response.headers["www-authenticate"] == "APIKey"


def test_router_dependency_guards_its_routes(combined: Any) -> None:
    response = differential(combined, "GET", "/admin/stats?tenant=acme")
    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    assert response.headers["www-authenticate"] == 'Basic realm="admin"'
    response = differential(combined, "GET", "/admin/stats?tenant=acme", headers=basic(b"a:b"))
    assert response.json() == {"stats": True}


def test_combined_schemes_are_documented_as_fastapis(combined: Any) -> None:
    document = assert_same_documents(combined)
    assert document["paths"]["/either"]["get"]["security"] == [
        {"Tenant": []},
        {"APIKeyHeader": []},
        {"HTTPBearer": []},
    ]
    assert document["paths"]["/admin/stats"]["get"]["security"] == [
        {"Tenant": []},
        {"HTTPBasic": []},
    ]


# -- the password flow's form ------------------------------------------------------------------


def build_forms(fw: SimpleNamespace) -> Any:
    sec = fw.security
    app = fw.FastAPI(title="Forms", version="1")

    def fields(form: Any) -> dict[str, Any]:
        return {
            "grant_type": form.grant_type,
            "username": form.username,
            "password": form.password,
            "scopes": form.scopes,
            "client_id": form.client_id,
            "client_secret": form.client_secret,
        }

    @app.post("/token")
    def token(form: sec.OAuth2PasswordRequestForm = fw.Depends()):
        return fields(form)

    @app.post("/token/strict")
    def strict(form: sec.OAuth2PasswordRequestFormStrict = fw.Depends()):
        return fields(form)

    return app


@pytest.fixture(scope="module")
def forms(dual: Any) -> Any:
    return dual(with_security(build_forms))


def test_password_form_gives_its_fields_and_split_scopes(forms: Any) -> None:
    data = {"username": "ada", "password": "pw", "scope": "me  items", "client_id": "cli"}
    response = differential(forms, "POST", "/token", data=data)
    assert response.json() == {
        "grant_type": None,
        "username": "ada",
        "password": "pw",
        "scopes": ["me", "items"],
        "client_id": "cli",
        "client_secret": None,
    }


@pytest.mark.parametrize(
    "path, data",
    [
        ("/token", {"username": "ada"}),
        ("/token", {"username": "ada", "password": "pw", "grant_type": "client_credentials"}),
        ("/token/strict", {"username": "ada", "password": "pw"}),
        ("/token/strict", {}),
    ],
    ids=["no_password", "wrong_grant_type", "strict_without_grant_type", "strict_empty"],
)
def test_password_form_rejects_what_fastapi_rejects(forms: Any, path: str, data: dict) -> None:
    response = differential(forms, "POST", path, data=data)
    assert response.status_code == 422


def test_strict_password_form_takes_grant_type_password(forms: Any) -> None:
    data = {"grant_type": "password", "username": "ada", "password": "pw"}
    response = differential(forms, "POST", "/token/strict", data=data)
    assert response.json()["grant_type"] == "password"


def test_password_forms_are_documented_as_fastapis(forms: Any) -> None:
    document = assert_same_documents(forms)
    body = document["components"]["schemas"]["Body_token_token_post"]
    assert body["required"] == ["username", "password"]
    assert body["properties"]["password"] == {
        "type": "string",
        "format": "password",
        "title": "Password",
    }


# -- WebSockets -------------------------------------------------------------------------------


def build_websocket(fw: SimpleNamespace) -> Any:
    app = fw.FastAPI()
    key = fw.security.APIKeyQuery(name="key")

    @app.websocket("/ws")
    async def ws(websocket: fw.WebSocket, value: str = fw.Depends(key)):
        await websocket.accept()
        await websocket.send_json({"key": value})
        await websocket.close()

    return app


def test_scheme_reads_a_websocket_handshake(dual: Any) -> None:
    pair = dual(with_security(build_websocket))
    for client in (pair.fastapi, pair.ignyx):
        with client.websocket_connect("/ws?key=abc") as websocket:
            assert json.loads(websocket.receive_text()) == {"key": "abc"}
