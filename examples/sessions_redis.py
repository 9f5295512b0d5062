"""Server-side sessions in Redis: log in, count your visits, log out.

The session (who is logged in, how many pages they saw) is kept in Redis; the browser's
cookie carries only a random id, signed with ``SESSION_SECRET``. Every worker and every
host sharing the Redis sees the same session, so a visit counts once whichever worker
answers (``served_by`` says which)::

    export SESSION_REDIS_URL=redis://127.0.0.1:6379/0 SESSION_SECRET=change-me
    ignyx run examples/sessions_redis.py --workers 4

    curl -c jar -b jar localhost:8000/visits
    curl -c jar -b jar localhost:8000/login -H 'content-type: application/json' \\
         -d '{"username": "ada", "password": "analytical engine"}'
    curl -c jar -b jar localhost:8000/me
    curl -c jar -b jar -X POST localhost:8000/logout

Logging out deletes the session from Redis and clears the cookie. Sessions expire in Redis
after ``SESSION_MAX_AGE`` seconds (two weeks by default). While Redis is unreachable, pages
still answer, with a new empty session (nobody is logged in), and the failure is logged on
``ignyx.sessions``.
"""

import os
import secrets

from ignyx import FastAPI, HTTPException, Request
from ignyx.middleware.sessions import SessionMiddleware
from pydantic import BaseModel

# A real app keeps password hashes (argon2, scrypt) in its database.
USERS = {"ada": "analytical engine", "grace": "compiler"}

app = FastAPI(title="Sessions in Redis")
app.add_middleware(
    SessionMiddleware,
    secret_key=os.environ["SESSION_SECRET"],
    backend=os.environ.get("SESSION_REDIS_URL", "redis://127.0.0.1:6379/0"),
    max_age=int(os.environ.get("SESSION_MAX_AGE", 14 * 24 * 60 * 60)),
)


class Credentials(BaseModel):
    username: str
    password: str


@app.get("/visits")
def visits(request: Request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    return {
        "visits": request.session["visits"],
        "user": request.session.get("user"),
        "served_by": os.getpid(),
    }


@app.post("/login")
def login(request: Request, credentials: Credentials):
    expected = USERS.get(credentials.username)
    if expected is None or not secrets.compare_digest(expected, credentials.password):
        raise HTTPException(status_code=401, detail="wrong username or password")
    request.session.clear()  # nothing from before the login carries over
    request.session["user"] = credentials.username
    return {"user": credentials.username}


@app.get("/me")
def me(request: Request):
    user = request.session.get("user")
    if user is None:
        raise HTTPException(status_code=401, detail="not logged in")
    return {"user": user, "visits": request.session.get("visits", 0)}


@app.post("/logout")
def logout(request: Request):
    request.session.clear()
    return {"user": None}
