"""Log-in with OAuth2's password flow: passwords stored as argon2 hashes, access tokens
issued as signed JWTs that expire.

    python examples/security_oauth2_jwt.py
    curl -d "username=ada&password=analytical-engine" localhost:8000/token
    curl -H "Authorization: Bearer <access_token>" localhost:8000/users/me/

The docs at /docs have an Authorize button that does the same. Needs ``pip install pyjwt
"pwdlib[argon2]"``.
"""

import os
import secrets
from datetime import datetime, timedelta, timezone
from typing import Annotated, Optional

import jwt
from ignyx import Depends, FastAPI, HTTPException, status
from ignyx.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pwdlib import PasswordHash
from pydantic import BaseModel

# Give the signing key from outside the code (`openssl rand -hex 32`): without one, each start
# makes a new key, and the tokens issued before a restart stop working.
SECRET_KEY = os.environ.get("TOKEN_SECRET_KEY") or secrets.token_hex(32)
ALGORITHM = "HS256"
TOKEN_LIFETIME = timedelta(minutes=30)

passwords = PasswordHash.recommended()

# Stands in for a database. Ada's password is "analytical-engine"; Grace's is
# "compiler-1952", but her account is disabled.
ACCOUNTS = {
    "ada": {
        "username": "ada",
        "full_name": "Ada Lovelace",
        "email": "ada@example.com",
        "hashed_password": "$argon2id$v=19$m=65536,t=3,p=4$VialKQ7pin68Nb9QTymXAA$"
        "zf7p83i5I23AiQBOtdehe24FMOg1s5Ei344o3GC9Vy4",
        "disabled": False,
    },
    "grace": {
        "username": "grace",
        "full_name": "Grace Hopper",
        "email": "grace@example.com",
        "hashed_password": "$argon2id$v=19$m=65536,t=3,p=4$woycdr85f93rE9IWDZCDew$"
        "S9MUSVCRGaD56l5ofqW63KGzeuHOz30WuXrZDGFFEoI",
        "disabled": True,
    },
}

# Checked when the user name is unknown, so that answering takes as long as for a known one
# and timing does not tell which names exist.
UNKNOWN_USER_HASH = passwords.hash("no such user")


class Token(BaseModel):
    access_token: str
    token_type: str


class User(BaseModel):
    username: str
    full_name: Optional[str] = None
    email: Optional[str] = None
    disabled: bool = False


class Account(User):
    hashed_password: str


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")

app = FastAPI(title="Accounts")


def find_account(username: str) -> Optional[Account]:
    record = ACCOUNTS.get(username)
    return Account(**record) if record else None


def authenticate(username: str, password: str) -> Optional[Account]:
    """The account whose password this is, or None."""
    account = find_account(username)
    if account is None:
        passwords.verify(password, UNKNOWN_USER_HASH)
        return None
    if not passwords.verify(password, account.hashed_password):
        return None
    return account


def issue_token(username: str, lifetime: timedelta = TOKEN_LIFETIME) -> str:
    expires = datetime.now(timezone.utc) + lifetime
    return jwt.encode({"sub": username, "exp": expires}, SECRET_KEY, algorithm=ALGORITHM)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> User:
    """The user the bearer token was issued to; 401 for a bad or expired token."""
    try:
        claims = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
    except jwt.InvalidTokenError:
        raise unauthorized("Could not validate credentials") from None
    account = find_account(claims.get("sub") or "")
    if account is None:
        raise unauthorized("Could not validate credentials")
    return account


async def active_user(user: Annotated[User, Depends(current_user)]) -> User:
    if user.disabled:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail="Inactive user")
    return user


@app.post("/token")
async def log_in(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    account = authenticate(form.username, form.password)
    if account is None:
        raise unauthorized("Incorrect username or password")
    return Token(access_token=issue_token(account.username), token_type="bearer")


@app.get("/users/me/")
async def read_me(user: Annotated[User, Depends(active_user)]) -> User:
    return user


@app.get("/users/me/items/")
async def read_my_items(user: Annotated[User, Depends(active_user)]) -> list[dict[str, str]]:
    return [{"item_id": "notes", "owner": user.username}]


if __name__ == "__main__":
    app.run()
