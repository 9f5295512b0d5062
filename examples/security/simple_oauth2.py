"""Step 3: a ``/token`` endpoint for OAuth2's password flow, and disabled accounts.

    curl -d "username=ada&password=engine" localhost:8000/token
    curl -H "Authorization: Bearer ada" localhost:8000/users/me

For brevity the token is the user name and passwords are "hashed" by a prefix: the
example ``security_oauth2_jwt.py`` does both for real.
"""

from typing import Annotated, Optional

from ignyx import Depends, FastAPI, HTTPException, status
from ignyx.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel

app = FastAPI()

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")

ACCOUNTS = {
    "ada": {"username": "ada", "hashed_password": "not-a-hash:engine", "disabled": False},
    "grace": {"username": "grace", "hashed_password": "not-a-hash:cobol", "disabled": True},
}


class User(BaseModel):
    username: str
    disabled: bool = False


class Account(User):
    hashed_password: str


def pretend_hash(password: str) -> str:
    return "not-a-hash:" + password


def find_account(username: str) -> Optional[Account]:
    record = ACCOUNTS.get(username)
    return Account(**record) if record else None


async def current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> User:
    account = find_account(token)
    if account is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Invalid authentication credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return account


async def active_user(user: Annotated[User, Depends(current_user)]) -> User:
    if user.disabled:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail="Inactive user")
    return user


@app.post("/token")
async def log_in(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
    account = find_account(form.username)
    if account is None or pretend_hash(form.password) != account.hashed_password:
        raise HTTPException(status_code=400, detail="Incorrect username or password")
    return {"access_token": account.username, "token_type": "bearer"}


@app.get("/users/me")
async def read_me(user: Annotated[User, Depends(active_user)]) -> User:
    return user


if __name__ == "__main__":
    app.run()
