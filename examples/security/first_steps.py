"""Step 1 of securing an app: ask for a bearer token, without checking it yet.

    curl -H "Authorization: Bearer abc" localhost:8000/items/    # {"token": "abc"}

Without the header the answer is 401 with ``WWW-Authenticate: Bearer``; the docs at /docs
show an Authorize button, which posts a user name and password to ``tokenUrl``.
"""

from typing import Annotated

from ignyx import Depends, FastAPI
from ignyx.security import OAuth2PasswordBearer

app = FastAPI()

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


@app.get("/items/")
async def read_items(token: Annotated[str, Depends(oauth2_scheme)]) -> dict[str, str]:
    return {"token": token}


if __name__ == "__main__":
    app.run()
