"""What is benchmarked: the endpoints, and the frameworks with how to start each."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
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
    # Headers every request to it carries, the check's included.
    headers: tuple[str, ...] = ()
    # The Content-Encoding a correct answer has (its body is decoded before it is compared).
    content_encoding: Optional[str] = None
    # A path answered with a Set-Cookie: one GET per server before the check, and the cookie
    # goes with every request after it.
    cookie_from: Optional[str] = None
    # Served, in each framework, by a server of its own (see VARIANTS), not the main one.
    variant: Optional[str] = None
    # Its servers keep state in the run's Redis (``{redis}``): the harness starts one, the
    # check wants the request to have written a key into the server's database, and each
    # round counts Redis's commands per request and its CPU.
    redis: bool = False
    # The Content-Type a correct answer has (compared without case or spaces). None: the
    # one its `expected` implies (expected_content_type()).
    answer_content_type: Optional[str] = None

    def expected_content_type(self) -> Optional[str]:
        """The Content-Type the check wants: text for a str, JSON for a dict or list, any
        for bytes (files: each server guesses its own type for .bin)."""
        if self.answer_content_type is not None:
            return self.answer_content_type
        if isinstance(self.expected, str):
            return "text/plain; charset=utf-8"
        if isinstance(self.expected, (dict, list)):
            return "application/json"
        return None


def _file(name: str, size: int) -> bytes:
    # Seeded by the name: the same bytes in every run, for every server.
    return random.Random(name).randbytes(size)


# The files the static rows serve, written at the start of a run into a temporary directory
# that each server is given (`{static}` in a command, BENCH_STATIC_DIR for the apps).
STATIC_FILES: dict[str, bytes] = {
    "4k.bin": _file("4k.bin", 4 * 1024),
    "1m.bin": _file("1m.bin", 1024 * 1024),
}

# What GET /gzip-json returns (19,971 bytes of JSON), as both apps build it.
GZIP_DOCUMENT = [
    {"id": i, "name": f"user{i}", "email": f"user{i}@example.com", "active": i % 2 == 0}
    for i in range(280)
]

# Servers of their own for rows whose app needs something that would touch every other row
# (a middleware wraps the whole app): each framework is started once more per variant of the
# endpoints selected, with this environment (formatted like a command).
VARIANTS: dict[str, dict[str, str]] = {
    "static": {"BENCH_STATIC_DIR": "{static}"},
    "gzip": {"BENCH_MIDDLEWARE": "gzip"},
    "session": {"BENCH_MIDDLEWARE": "session"},
    # A rate limit kept in the run's Redis, in a database of each server's own.
    "redis": {"BENCH_RATELIMIT": "{redis}"},
}


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
        "".join(f'{{"id":{i},"name":"item"}}\n' for i in range(1_000)) * 10,
        connections=8,
        answer_content_type="application/jsonl",
    ),
    # ~1 ms of Python per request: wrk needs almost no CPU, so on a 2-core machine two
    # workers can each have a core (make bench-workers).
    "cpu": Endpoint(
        "GET /cpu (~1 ms of Python)", "GET", "/cpu", {"sum": 199_990_000}, default=False
    ),
    # Issue 17 (`make bench-files`): files from disk, next to nginx too.
    "static_4k": Endpoint(
        "GET /static/4k.bin",
        "GET",
        "/static/4k.bin",
        STATIC_FILES["4k.bin"],
        variant="static",
        default=False,
    ),
    "static_1m": Endpoint(
        "GET /static/1m.bin",
        "GET",
        "/static/1m.bin",
        STATIC_FILES["1m.bin"],
        variant="static",
        default=False,
    ),
    "gzip_json": Endpoint(
        "GET /gzip-json (20 KB, gzip)",
        "GET",
        "/gzip-json",
        GZIP_DOCUMENT,
        headers=("Accept-Encoding: gzip",),
        content_encoding="gzip",
        variant="gzip",
        default=False,
    ),
    # The cookie is the one the first request got ({"count": 1}), so every request reads a
    # session, counts 2 and signs a new cookie.
    "session": Endpoint(
        "GET /session (signed cookie)",
        "GET",
        "/session",
        {"count": 2},
        cookie_from="/session",
        variant="session",
        default=False,
    ),
    # Issue 19 (`make bench-ratelimit`): a rate limit on every request, counted in Redis:
    # Ignyx's RateLimitMiddleware against slowapi's @limiter.limit on FastAPI's route, both
    # on the run's Redis with the apps' RATE_LIMIT (one script call a request each).
    "limited": Endpoint(
        "GET /limited/{id} (limit in Redis)",
        "GET",
        "/limited/1",
        {"id": 1, "name": "user"},
        variant="redis",
        redis=True,
        default=False,
    ),
}

# The rows the main app serves (no variant of their own).
MAIN_ROWS = tuple(key for key, ep in ENDPOINTS.items() if ep.variant is None)

# Endpoints compared with each other, not only across frameworks: measured in the same
# rounds (turns go through every endpoint of the group, then every framework), so each
# round gives a pair taken seconds apart and drift cannot pass for a difference.
MEASURED_TOGETHER: tuple[tuple[str, ...], ...] = (("sync", "async"),)


@dataclass
class Framework:
    """How to start one server. ``command`` is formatted with ``{python}``, ``{host}``,
    ``{port}``, ``{apps}``, ``{static}`` (the static rows' directory), ``{dir}`` (a
    directory of the server's own, removed after the run) and ``{redis}`` (a database of its
    own in the run's Redis, when the run has one), then split like a shell would."""

    command: str
    requires: tuple[str, ...] = ()
    version_of: Optional[str] = None
    # Served over TLS (the command may use {certfile} and {keyfile}: a self-signed
    # certificate made for the run).
    tls: bool = False
    # Measured when no --frameworks are given (`make bench`); otherwise only on request.
    default: bool = True
    # A file in benchmarks/ written into {dir} before the start, its ${host}, ${port},
    # ${static} and ${dir} filled in (string.Template: no braces to escape in a config).
    config: Optional[str] = None
    # More values for the config's placeholders (``${sendfile}`` in nginx.conf).
    config_values: dict[str, str] = field(default_factory=dict)
    # The endpoints it serves, when not all of them; the others are skipped for it.
    endpoints: Optional[tuple[str, ...]] = None
    # An executable it needs, for a clear message when it is missing.
    binary: Optional[str] = None
    # Headers the check wants in every answer of it: what shows that its option is on.
    answer_headers: tuple[str, ...] = ()

    def serves(self, key: str) -> bool:
        return self.endpoints is None or key in self.endpoints


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
    # A peer on Rust too (axum and PyO3 under a FastAPI-like API): one process, its
    # `app.serve(host, port)`. The main app's rows only (apps/fastrapi_app.py says which it
    # answers wrongly; the check skips those).
    "fastrapi": Framework(
        "{python} {apps}/fastrapi_app.py {port}",
        requires=("fastrapi",),
        version_of="fastrapi",
        endpoints=MAIN_ROWS,
    ),
}

# Server CPU per request: each framework's is printed, and the first's over the second's
# (Ignyx against the bare-hyper ceiling, which `make bench` adds with --server-cmd).
CPU_RATIO = ("ignyx", "bare-hyper")

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
        # The main app behind RateLimitMiddleware(storage="memory://"), the apps' RATE_LIMIT,
        # next to the plain one (`make bench-ratelimit`, --baseline ...,ignyx). The check
        # wants the limit's RateLimit-Policy header in every answer, so an app without the
        # limit is not measured as one with it.
        "ignyx-ratelimit-memory": Framework(
            "env IGNYX_ACCESS_LOG=0 BENCH_RATELIMIT=memory:// " + _IGNYX,
            requires=("ignyx",),
            default=False,
            endpoints=MAIN_ROWS,
            answer_headers=("RateLimit-Policy",),
        ),
    }
)

# The reference for files from disk (`make bench-files`): one worker, sendfile, no access log,
# in its own directories (benchmarks/nginx.conf), a normal process stopped by PID.
FRAMEWORKS["nginx"] = Framework(
    "/usr/sbin/nginx -p {dir} -c {dir}/nginx.conf -e stderr",
    config="nginx.conf",
    config_values={"sendfile": "on"},
    endpoints=("static_4k", "static_1m"),
    binary="/usr/sbin/nginx",
    default=False,
)
# nginx copying the bytes as Ignyx does (read, then write), without sendfile: with sendfile
# the 1 MiB row is bound by wrk's core, not nginx's, so this shows what serving costs a
# server that copies.
FRAMEWORKS["nginx-copy"] = replace(FRAMEWORKS["nginx"], config_values={"sendfile": "off"})

# The framework every ratio is taken against.
DEFAULT_BASELINE = "fastapi"
