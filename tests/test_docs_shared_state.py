"""The examples of ``docs/shared-state.md`` run as written (on the test's own Redis) and do
what the page says."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

from conftest import eventually
from ignyx.testclient import TestClient

PAGE = Path(__file__).resolve().parent.parent / "docs" / "shared-state.md"
DOCUMENTED_REDIS = "redis://127.0.0.1:6379/0"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def _run(source: str, redis_url: str) -> ModuleType:
    assert DOCUMENTED_REDIS in source
    module = ModuleType("shared_state_example")
    exec(compile(source.replace(DOCUMENTED_REDIS, redis_url), str(PAGE), "exec"), module.__dict__)
    return module


def test_the_page_has_its_three_examples() -> None:
    assert len(_examples()) == 3


def test_the_rate_limit_example_limits_the_login_route(redis_server: Any) -> None:
    app = _run(_examples()[0], redis_server.url).app
    with TestClient(app) as client:
        statuses = [client.post("/login").status_code for _ in range(4)]
        assert statuses == [200, 200, 429, 429]  # 2 a second
        refused = client.post("/login")
        assert refused.json() == {"detail": "Too Many Requests"}
        assert int(refused.headers["retry-after"]) >= 1
        # The app-wide limit counted every request, the refused ones included.
        other = client.get("/docs")
        assert other.headers["ratelimit-policy"] == '"100/60s";q=100;w=60'
        assert other.headers["ratelimit"].startswith('"100/60s";r=94;t=')


def test_the_session_example_counts_visits_in_redis(redis_server: Any) -> None:
    app = _run(_examples()[1], redis_server.url).app
    with TestClient(app) as client:
        assert [client.get("/visits").json()["visits"] for _ in range(3)] == [1, 2, 3]
    keys = redis_server.command("KEYS", "ignyx:session:*")
    assert keys.count(b"ignyx:session:") == 1


def test_the_broadcast_example_reaches_a_websocket(redis_server: Any) -> None:
    app = _run(_examples()[2], redis_server.url).app
    with TestClient(app) as client:
        with client.websocket_connect("/rooms/lobby") as websocket:
            # Published once Redis has the subscription (the handler subscribes after
            # accepting the connection).
            assert eventually(
                lambda: redis_server.command("PUBSUB", "NUMSUB", "lobby").endswith(b":1\r\n")
            )
            assert client.post("/rooms/lobby", params={"text": "hi"}).json() == {"sent": "hi"}
            assert websocket.receive_text() == "hi"
