"""Step 2: turn the token into the user it stands for, with a dependency of its own.

    curl -H "Authorization: Bearer ada" localhost:8000/users/me

The token is taken for the user name as it is: step 3 issues real ones.
"""

from typing import Annotated, Optional

from ignyx import Depends, FastAPI
from ignyx.security import OAuth2PasswordBearer
from pydantic import BaseModel

app = FastAPI()

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


class User(BaseModel):
    username: str
    email: Optional[str] = None
    disabled: bool = False


def user_from_token(token: str) -> User:
    return User(username=token, email=f"{token}@example.com")


async def current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> User:
    return user_from_token(token)


@app.get("/users/me")
async def read_me(user: Annotated[User, Depends(current_user)]) -> User:
    return user


if __name__ == "__main__":
    app.run()
