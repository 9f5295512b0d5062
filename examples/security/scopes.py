"""Step 5: OAuth2 scopes. A token carries the scopes it was granted; each path operation
says which it needs with ``Security(..., scopes=[...])``, and the dependency that checks the
token sees them all in ``SecurityScopes``.

    curl -d "username=ada&password=engine&scope=me items" localhost:8000/token
    curl -H "Authorization: Bearer <access_token>" localhost:8000/users/me/items/

A token without a scope the path needs gets 401 with the scopes in the challenge
(``WWW-Authenticate: Bearer scope="me items"``).
"""

import os
import secrets
from datetime import datetime, timedelta, timezone
from typing import Annotated, Optional

import jwt
from ignyx import Depends, FastAPI, HTTPException, Security, status
from ignyx.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm, SecurityScopes
from pydantic import BaseModel, ValidationError

SECRET_KEY = os.environ.get("TOKEN_SECRET_KEY") or secrets.token_hex(32)
ALGORITHM = "HS256"

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="token",
    scopes={"me": "Read your own account", "items": "Read your items"},
)

# Passwords in clear for brevity: see security_oauth2_jwt.py for hashing them.
ACCOUNTS = {
    "ada": {"username": "ada", "password": "engine", "scopes": ["me", "items"]},
    "charles": {"username": "charles", "password": "difference", "scopes": ["me"]},
    "grace": {"username": "grace", "password": "cobol", "scopes": ["me"], "disabled": True},
}


class User(BaseModel):
    username: str
    disabled: bool = False


class Account(User):
    password: str
    scopes: list[str]


class TokenClaims(BaseModel):
    sub: str
    scopes: list[str] = []


app = FastAPI()


def find_account(username: str) -> Optional[Account]:
    record = ACCOUNTS.get(username)
    return Account(**record) if record else None


def issue_token(username: str, scopes: list[str]) -> str:
    expires = datetime.now(timezone.utc) + timedelta(minutes=30)
    claims = {"sub": username, "scopes": scopes, "exp": expires}
    return jwt.encode(claims, SECRET_KEY, algorithm=ALGORITHM)


async def current_user(
    security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2_scheme)]
) -> User:
    """The token's user, if the token holds every scope required on the way here."""
    challenge = (
        f'Bearer scope="{security_scopes.scope_str}"' if security_scopes.scopes else "Bearer"
    )

    def refuse(detail: str) -> HTTPException:
        return HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=detail,
            headers={"WWW-Authenticate": challenge},
        )

    try:
        claims = TokenClaims(**jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM]))
    except (jwt.InvalidTokenError, ValidationError):
        raise refuse("Could not validate credentials") from None
    account = find_account(claims.sub)
    if account is None:
        raise refuse("Could not validate credentials")
    if any(scope not in claims.scopes for scope in security_scopes.scopes):
        raise refuse("Not enough permissions")
    return account


async def active_user(user: Annotated[User, Security(current_user, scopes=["me"])]) -> User:
    if user.disabled:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail="Inactive user")
    return user


@app.post("/token")
async def log_in(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
    account = find_account(form.username)
    if account is None or not secrets.compare_digest(form.password, account.password):
        raise HTTPException(status_code=400, detail="Incorrect username or password")
    # Grant only the requested scopes this account may have.
    granted = [scope for scope in form.scopes if scope in account.scopes]
    return {"access_token": issue_token(account.username, granted), "token_type": "bearer"}


@app.get("/users/me/")
async def read_me(user: Annotated[User, Depends(active_user)]) -> User:
    return user


@app.get("/users/me/items/")
async def read_my_items(
    user: Annotated[User, Security(active_user, scopes=["items"])],
) -> list[dict[str, str]]:
    return [{"item_id": "notes", "owner": user.username}]


@app.get("/status/")
async def read_status(user: Annotated[User, Depends(current_user)]) -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    app.run()
