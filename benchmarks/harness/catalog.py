"""What is benchmarked: the endpoints, and the frameworks with how to start each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional


@dataclass
class Endpoint:
    """One route under load, and what a correct answer to it looks like."""

    label: str
    method: str
    path: str
    expected: Any
    script: Optional[str] = None
    body: Optional[bytes] = None
    content_type: Optional[str] = None
    # Measured when no --endpoints are given (`make bench`); otherwise only on request.
    default: bool = True
    # wrk's connections for this endpoint, in place of the run's --connections: a response
    # that takes long to send needs fewer of them to keep each under wrk's timeout.
    connections: Optional[int] = None


ENDPOINTS: dict[str, Endpoint] = {
    "plaintext": Endpoint("GET /plaintext", "GET", "/plaintext", "Hello, World!"),
    "users_get": Endpoint("GET /users/{id}", "GET", "/users/1", {"id": 1, "name": "user"}),
    "users_post": Endpoint(
        "POST /users (Pydantic)",
        "POST",
        "/users",
        {"name": "a", "age": 1},
        script="post_user.lua",
        body=b'{"name":"a","age":1}',
        content_type="application/json",
    ),
    "sync": Endpoint("GET /sync (twin of /async)", "GET", "/sync", {"message": "Hello, World!"}),
    "async": Endpoint("GET /async", "GET", "/async", {"message": "Hello, World!"}),
    "deps": Endpoint("GET /deps (3 nested)", "GET", "/deps", {"deps": 3}),
    # 10,000 small Pydantic models streamed as JSON Lines (issue 21: at least 5x FastAPI).
    # FastAPI sends one such response in ~0.1 s: 64 at once would each outlast wrk's 2 s
    # timeout, so 8 connections share the server.
    "jsonl": Endpoint(
        "GET /jsonl (10,000 models, -c8)",
        "GET",
        "/jsonl",
        "".join(f'{{"id":{i},"name":"item"}}\n' for i in range(10_000)),
        connections=8,
    ),
    # ~1 ms of Python per request: wrk needs almost no CPU, so on a 2-core machine two
    # workers can each have a core (make bench-workers).
    "cpu": Endpoint(
        "GET /cpu (~1 ms of Python)", "GET", "/cpu", {"sum": 199_990_000}, default=False
    ),
}

# Endpoints compared with each other, not only across frameworks: measured in the same
# rounds (turns go through every endpoint of the group, then every framework), so each
# round gives a pair taken seconds apart and drift cannot pass for a difference.
MEASURED_TOGETHER: tuple[tuple[str, ...], ...] = (("sync", "async"),)


@dataclass
class Framework:
    """How to start one server. ``command`` is formatted with
    ``{python}``, ``{host}``, ``{port}`` and ``{apps}`` and then split like a shell would."""

    command: str
    requires: tuple[str, ...] = ()
    version_of: Optional[str] = None
    # Served over TLS (the command may use {certfile} and {keyfile}: a self-signed
    # certificate made for the run).
    tls: bool = False
    # Measured when no --frameworks are given (`make bench`); otherwise only on request.
    default: bool = True


FRAMEWORKS: dict[str, Framework] = {
    # Without an access log, as FastAPI below (`make bench-serving` measures one).
    "ignyx": Framework(
        "env IGNYX_ACCESS_LOG=0 {python} {apps}/ignyx_app.py {port}",
        requires=("ignyx",),
        version_of="ignyx",
    ),
    "fastapi": Framework(
        "{python} -m uvicorn fastapi_app:app --app-dir {apps} --host {host} --port {port}"
        " --loop uvloop --http httptools --workers 1 --log-level warning --no-access-log",
        requires=("fastapi", "uvicorn", "uvloop", "httptools"),
        version_of="fastapi",
    ),
}

_IGNYX = "{python} {apps}/ignyx_app.py {port}"
_UVICORN = (
    "{python} -m uvicorn fastapi_app:app --app-dir {apps} --host {host} --port {port}"
    " --loop uvloop --http httptools --log-level warning --no-access-log"
)

# Serving options, each next to the plain server (`make bench-serving`).
FRAMEWORKS.update(
    {
        "ignyx-access-log": Framework(
            "env IGNYX_ACCESS_LOG=1 " + _IGNYX, requires=("ignyx",), default=False
        ),
        "ignyx-metrics": Framework(
            "env IGNYX_ACCESS_LOG=0 IGNYX_METRICS_PORT=0 " + _IGNYX,
            requires=("ignyx",),
            default=False,
        ),
        "ignyx-tls": Framework(
            "env IGNYX_ACCESS_LOG=0 IGNYX_SSL_CERTFILE={certfile} IGNYX_SSL_KEYFILE={keyfile} "
            + _IGNYX,
            requires=("ignyx",),
            tls=True,
            default=False,
        ),
        "fastapi-tls": Framework(
            _UVICORN + " --workers 1 --ssl-certfile {certfile} --ssl-keyfile {keyfile}",
            requires=("fastapi", "uvicorn", "uvloop", "httptools"),
            tls=True,
            default=False,
        ),
        "ignyx-2-workers": Framework(
            "env IGNYX_ACCESS_LOG=0 IGNYX_WORKERS=2 " + _IGNYX, requires=("ignyx",), default=False
        ),
        "fastapi-2-workers": Framework(
            _UVICORN + " --workers 2",
            requires=("fastapi", "uvicorn", "uvloop", "httptools"),
            default=False,
        ),
    }
)

# The framework every ratio is taken against.
DEFAULT_BASELINE = "fastapi"
