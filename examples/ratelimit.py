"""Rate limits: each client may send 100 requests a minute to the app, and try to log in 5
times a minute. One worker counts in its own memory; with several workers (or hosts), give
them one Redis to share the counts.

    ignyx run examples/ratelimit.py
    RATELIMIT_STORAGE=redis://127.0.0.1:6379/0 ignyx run examples/ratelimit.py --workers 4
    for i in $(seq 6); do curl -si localhost:8000/login -d username=ada -d password=x | head -1; done
"""

import os
from typing import Annotated

from ignyx import Depends, FastAPI, Form, HTTPException
from ignyx.middleware.ratelimit import RateLimitMiddleware
from ignyx.ratelimit import RateLimit

STORAGE = os.environ.get("RATELIMIT_STORAGE", "memory://")

app = FastAPI(title="Rate limits")
app.add_middleware(RateLimitMiddleware, limit="100/minute", storage=STORAGE)

login_attempts = RateLimit("5/minute", storage=STORAGE)


@app.get("/")
def home():
    return {"message": "Hello"}


@app.post("/login", dependencies=[Depends(login_attempts)])
def login(username: Annotated[str, Form()], password: Annotated[str, Form()]):
    if password != "correct horse battery staple":
        raise HTTPException(status_code=401, detail="Wrong username or password")
    return {"username": username}
