"""The security examples (``examples/security_oauth2_jwt.py`` and the earlier steps in
``examples/security/``), run on Ignyx as written and on FastAPI with their ``from ignyx``
imports made ``from fastapi``: every request gets the same answer from both, and the
OpenAPI documents are equal.
"""

import os
import time
import warnings
from typing import Any, Iterator

import jwt
import pytest
from conftest import differential, load_example

warnings.filterwarnings("ignore", message=".*httpx2.*")
SECRET = "the-key-both-apps-sign-their-tokens-with"


@pytest.fixture(scope="module")
def signing_key() -> Iterator[str]:
    """One signing key for both apps, so a token from one is valid on the other."""
    before = os.environ.get("TOKEN_SECRET_KEY")
    os.environ["TOKEN_SECRET_KEY"] = SECRET
    yield SECRET
    if before is None:
        del os.environ["TOKEN_SECRET_KEY"]
    else:
        os.environ["TOKEN_SECRET_KEY"] = before


def serve(dual: Any, relative: str) -> Any:
    return dual(lambda fw: load_example(relative, fw.name).app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_same_documents(pair: Any) -> None:
    assert pair.ignyx_app.openapi() == pair.fastapi_app.openapi()
    differential(pair, "GET", "/openapi.json")


# -- step 1: OAuth2PasswordBearer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def first_steps(dual: Any) -> Any:
    return serve(dual, "security/first_steps.py")


def test_first_steps_gives_the_token(first_steps: Any) -> None:
    response = differential(first_steps, "GET", "/items/", headers=bearer("abc"))
    assert response.json() == {"token": "abc"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic YTpi"}], ids=["none", "basic"])
def test_first_steps_asks_for_a_bearer_token(first_steps: Any, headers: dict) -> None:
    response = differential(first_steps, "GET", "/items/", headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": "Not authenticated"})
    assert response.headers["www-authenticate"] == "Bearer"


def test_first_steps_documented_as_fastapis(first_steps: Any) -> None:
    assert_same_documents(first_steps)


# -- step 2: the current user ------------------------------------------------------------------


@pytest.fixture(scope="module")
def current_user(dual: Any) -> Any:
    return serve(dual, "security/current_user.py")


def test_current_user_from_token(current_user: Any) -> None:
    response = differential(current_user, "GET", "/users/me", headers=bearer("ada"))
    assert response.json() == {"username": "ada", "email": "ada@example.com", "disabled": False}


def test_current_user_without_token(current_user: Any) -> None:
    response = differential(current_user, "GET", "/users/me")
    assert response.status_code == 401


def test_current_user_documented_as_fastapis(current_user: Any) -> None:
    assert_same_documents(current_user)


# -- step 3: a token endpoint, inactive users ---------------------------------------------------


@pytest.fixture(scope="module")
def simple(dual: Any) -> Any:
    return serve(dual, "security/simple_oauth2.py")


def test_simple_log_in_gives_a_token(simple: Any) -> None:
    data = {"username": "ada", "password": "engine"}
    response = differential(simple, "POST", "/token", data=data)
    assert response.json() == {"access_token": "ada", "token_type": "bearer"}


@pytest.mark.parametrize(
    "data",
    [{"username": "ada", "password": "cobol"}, {"username": "nobody", "password": "engine"}],
    ids=["wrong_password", "unknown_user"],
)
def test_simple_log_in_refused(simple: Any, data: dict) -> None:
    response = differential(simple, "POST", "/token", data=data)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "Incorrect username or password"},
    )


def test_simple_log_in_without_password_is_422(simple: Any) -> None:
    response = differential(simple, "POST", "/token", data={"username": "ada"})
    assert response.status_code == 422


def test_simple_protected_route(simple: Any) -> None:
    response = differential(simple, "GET", "/users/me", headers=bearer("ada"))
    assert response.json() == {"username": "ada", "disabled": False}


def test_simple_bad_token(simple: Any) -> None:
    response = differential(simple, "GET", "/users/me", headers=bearer("mallory"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid authentication credentials"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_simple_inactive_user(simple: Any) -> None:
    response = differential(simple, "GET", "/users/me", headers=bearer("grace"))
    assert (response.status_code, response.json()) == (400, {"detail": "Inactive user"})


def test_simple_documented_as_fastapis(simple: Any) -> None:
    assert_same_documents(simple)


# -- step 4: hashed passwords and JWT -----------------------------------------------------------


@pytest.fixture(scope="module")
def jwt_app(dual: Any, signing_key: str) -> Any:
    return serve(dual, "security_oauth2_jwt.py")


def log_in(pair: Any, username: str, password: str) -> str:
    """Logs in on both apps; both answer alike (tokens differ by their expiry only).
    Returns the token Ignyx's app issued."""
    data = {"username": username, "password": password}
    theirs, ours = pair.request("POST", "/token", data=data)
    assert (ours.status_code, theirs.status_code) == (200, 200)
    assert ours.headers["content-type"] == theirs.headers["content-type"]
    claims = []
    for response in (theirs, ours):
        body = response.json()
        assert list(body) == ["access_token", "token_type"]
        assert body["token_type"] == "bearer"
        claims.append(jwt.decode(body["access_token"], SECRET, algorithms=["HS256"]))
    for claim in claims:
        assert claim["sub"] == username
        assert 0 < claim["exp"] - time.time() <= 30 * 60
    return ours.json()["access_token"]


@pytest.fixture(scope="module")
def ada_token(jwt_app: Any) -> str:
    return log_in(jwt_app, "ada", "analytical-engine")


def test_jwt_log_in_and_read_me(jwt_app: Any, ada_token: str) -> None:
    response = differential(jwt_app, "GET", "/users/me/", headers=bearer(ada_token))
    assert response.json() == {
        "username": "ada",
        "full_name": "Ada Lovelace",
        "email": "ada@example.com",
        "disabled": False,
    }


def test_jwt_items_of_the_user(jwt_app: Any, ada_token: str) -> None:
    response = differential(jwt_app, "GET", "/users/me/items/", headers=bearer(ada_token))
    assert response.json() == [{"item_id": "notes", "owner": "ada"}]


@pytest.mark.parametrize(
    "username, password",
    [("ada", "difference-engine"), ("babbage", "analytical-engine")],
    ids=["wrong_password", "unknown_user"],
)
def test_jwt_log_in_refused(jwt_app: Any, username: str, password: str) -> None:
    data = {"username": username, "password": password}
    response = differential(jwt_app, "POST", "/token", data=data)
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Incorrect username or password"},
    )
    assert response.headers["www-authenticate"] == "Bearer"


def test_jwt_inactive_user(jwt_app: Any) -> None:
    token = log_in(jwt_app, "grace", "compiler-1952")
    response = differential(jwt_app, "GET", "/users/me/", headers=bearer(token))
    assert (response.status_code, response.json()) == (400, {"detail": "Inactive user"})


def bad_tokens() -> dict[str, str]:
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    return {
        "garbage": "not-a-jwt",
        "expired": jwt.encode({"sub": "ada", "exp": now - timedelta(minutes=1)}, SECRET),
        "other_key": jwt.encode({"sub": "ada", "exp": now + timedelta(minutes=5)}, "x" * 32),
        "unknown_user": jwt.encode({"sub": "babbage", "exp": now + timedelta(minutes=5)}, SECRET),
        "no_subject": jwt.encode({"exp": now + timedelta(minutes=5)}, SECRET),
    }


@pytest.mark.parametrize("kind", list(bad_tokens()))
def test_jwt_bad_token_is_401(jwt_app: Any, kind: str) -> None:
    token = bad_tokens()[kind]
    response = differential(jwt_app, "GET", "/users/me/", headers=bearer(token))
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Could not validate credentials"},
    )
    assert response.headers["www-authenticate"] == "Bearer"


def test_jwt_without_token(jwt_app: Any) -> None:
    response = differential(jwt_app, "GET", "/users/me/items/")
    assert (response.status_code, response.json()) == (401, {"detail": "Not authenticated"})


def test_jwt_documented_as_fastapis(jwt_app: Any) -> None:
    assert_same_documents(jwt_app)


# -- step 5: scopes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scopes(dual: Any, signing_key: str) -> Any:
    return serve(dual, "security/scopes.py")


def scoped_token(pair: Any, username: str, password: str, scope: str) -> str:
    """A token from Ignyx's app; FastAPI's grants the same scopes."""
    data = {"username": username, "password": password, "scope": scope}
    theirs, ours = pair.request("POST", "/token", data=data)
    granted = [
        jwt.decode(r.json()["access_token"], SECRET, algorithms=["HS256"])["scopes"]
        for r in (theirs, ours)
    ]
    assert granted[0] == granted[1]
    return ours.json()["access_token"]


def test_scopes_granted_are_those_asked_and_allowed(scopes: Any) -> None:
    token = scoped_token(scopes, "charles", "difference", "me items")
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["scopes"] == ["me"]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/users/me/", {"username": "ada", "disabled": False}),
        ("/users/me/items/", [{"item_id": "notes", "owner": "ada"}]),
        ("/status/", {"status": "ok"}),
    ],
)
def test_scopes_enough(scopes: Any, path: str, body: Any) -> None:
    token = scoped_token(scopes, "ada", "engine", "me items")
    response = differential(scopes, "GET", path, headers=bearer(token))
    assert response.json() == body


@pytest.mark.parametrize(
    "path, challenge",
    [
        ("/users/me/items/", 'Bearer scope="items me"'),
        ("/users/me/", 'Bearer scope="me"'),
    ],
)
def test_scopes_insufficient_is_401_with_the_scopes(scopes: Any, path: str, challenge: str) -> None:
    token = scoped_token(scopes, "ada", "engine", "")
    response = differential(scopes, "GET", path, headers=bearer(token))
    assert (response.status_code, response.json()) == (401, {"detail": "Not enough permissions"})
    assert response.headers["www-authenticate"] == challenge


def test_scopes_bad_token_names_the_scopes(scopes: Any) -> None:
    response = differential(scopes, "GET", "/users/me/items/", headers=bearer("forged"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer scope="items me"'


def test_scopes_no_scope_needed(scopes: Any) -> None:
    token = scoped_token(scopes, "charles", "difference", "")
    response = differential(scopes, "GET", "/status/", headers=bearer(token))
    assert response.json() == {"status": "ok"}


def test_scopes_inactive_user(scopes: Any) -> None:
    token = scoped_token(scopes, "grace", "cobol", "me")
    response = differential(scopes, "GET", "/users/me/", headers=bearer(token))
    assert (response.status_code, response.json()) == (400, {"detail": "Inactive user"})


def test_scopes_documented_as_fastapis(scopes: Any) -> None:
    assert_same_documents(scopes)
    paths = scopes.ignyx_app.openapi()["paths"]
    security = {path: paths[path]["get"]["security"] for path in ("/users/me/items/", "/status/")}
    assert security["/users/me/items/"] == [{"OAuth2PasswordBearer": ["items", "me"]}]
    assert security["/status/"] == [{"OAuth2PasswordBearer": []}]
