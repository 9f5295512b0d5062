"""TechEmpower's six test types (benchmarks/techempower/, `make bench-tfb`) answered correctly
by the same app on FastAPI (uvicorn) and on Ignyx (its imports swapped), over real sockets,
against a real PostgreSQL cluster made for this module by the benchmark's own code
(``techempower.postgres.Cluster``: initdb in a temporary directory, a free port, removed at
the end). Skipped when PostgreSQL or asyncpg is missing (`make debian-tools` installs
PostgreSQL; asyncpg is in requirements-dev.txt)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

pytest.importorskip("asyncpg")
pytest.importorskip("jinja2")

from techempower import checks, frameworks  # noqa: E402
from techempower.postgres import Cluster, postgres_bin, read_worlds  # noqa: E402

pytestmark = pytest.mark.skipif(
    postgres_bin() is None,
    reason="PostgreSQL is not installed (`make debian-tools` runs apt-get install postgresql)",
)

NAMES = frameworks.NAMES
POOL_SIZE = 4


@pytest.fixture(scope="module")
def cluster():
    # Both pools and the test's own connections.
    with Cluster.start(max_connections=2 * POOL_SIZE + 20) as pg:
        yield pg


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tfb")


@pytest.fixture(scope="module")
def urls(cluster, run_dir):
    started = {}
    try:
        for name in NAMES:
            started[name] = frameworks.start(name, cluster.dsn, POOL_SIZE, None, run_dir, run_dir)
        yield {name: server.base_url for name, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


def get(urls, name, path):
    answer = checks.fetch(urls[name], path)
    assert answer.status == 200, (name, path, answer.status, answer.body[:200])
    return answer


def test_the_ignyx_app_is_the_fastapi_app_with_only_its_imports_swapped(urls, run_dir):
    original = frameworks.APP.read_text().splitlines()
    served = {name: (run_dir / f"{name}-app" / "app.py").read_text() for name in NAMES}
    assert served["fastapi"].splitlines() == original
    swapped = served["ignyx"].splitlines()
    assert len(swapped) == len(original)
    changed = [(a, b) for a, b in zip(original, swapped, strict=True) if a != b]
    assert changed == [
        ("from fastapi import FastAPI", "from ignyx import FastAPI"),
        (
            "from fastapi.responses import HTMLResponse, PlainTextResponse",
            "from ignyx.responses import HTMLResponse, PlainTextResponse",
        ),
    ]
    imports = [line for line in swapped if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "fastapi" in line or "starlette" in line]


@pytest.mark.parametrize("name", NAMES)
def test_json_and_plaintext(urls, name):
    assert checks.check_json(get(urls, name, "/json")) == []
    assert checks.check_plaintext(get(urls, name, "/plaintext")) == []


def test_json_and_plaintext_bodies_are_the_same_on_both(urls):
    for path in ("/json", "/plaintext"):
        answers = [get(urls, name, path) for name in NAMES]
        assert len({a.body for a in answers}) == 1, path
        assert len({a.headers["Content-Type"] for a in answers}) == 1, path


@pytest.mark.parametrize("name", NAMES)
def test_plaintext_pipelined_sixteen_deep(urls, name):
    answers = checks.pipelined(urls[name], "/plaintext", 16)
    assert len(answers) == 16
    for answer in answers:
        assert answer.status == 200
        assert checks.check_plaintext(answer) == []


@pytest.mark.parametrize("name", NAMES)
def test_single_query_answers_a_row_of_the_table(urls, cluster, name):
    worlds = read_worlds(cluster.dsn)
    for _ in range(5):
        answer = get(urls, name, "/db")
        assert checks.check_db(answer) == []
        row = json.loads(answer.body)
        assert worlds[row["id"]] == row["randomNumber"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("queries", "count"), checks.QUERY_COUNTS)
def test_multiple_queries_count(urls, name, queries, count):
    # TechEmpower's rule: missing or not an integer is 1, and the count is clamped to 1..500.
    path = "/queries" if queries is None else f"/queries?queries={queries}"
    assert checks.check_worlds(get(urls, name, path), count) == []


def test_multiple_queries_rows_are_the_tables(urls, cluster):
    worlds = read_worlds(cluster.dsn)
    for name in NAMES:
        rows = json.loads(get(urls, name, "/queries?queries=50").body)
        assert all(worlds[r["id"]] == r["randomNumber"] for r in rows)
        assert len({r["id"] for r in rows}) > 1  # random ids, not one row fifty times


@pytest.mark.parametrize("name", NAMES)
def test_fortunes_page(urls, name):
    answer = get(urls, name, "/fortunes")
    assert checks.check_fortunes(answer) == []
    page = answer.body.decode()
    assert "&lt;script&gt;alert(" in page and "<script>" not in page
    assert "<td>0</td><td>Additional fortune added at request time.</td>" in page
    assert "<td>12</td><td>\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af" in page


def test_fortunes_pages_are_byte_identical(urls):
    pages = {name: get(urls, name, "/fortunes").body for name in NAMES}
    assert pages["ignyx"] == pages["fastapi"]


@pytest.mark.parametrize("name", NAMES)
def test_updates_write_the_rows_they_answer(urls, cluster, name):
    before = read_worlds(cluster.dsn)
    answer = get(urls, name, "/updates?queries=20")
    after = read_worlds(cluster.dsn)
    assert checks.check_updates(answer, 20, before, after) == []
    rows = json.loads(answer.body)
    assert {r["id"]: r["randomNumber"] for r in rows} == {r["id"]: after[r["id"]] for r in rows}
    assert any(before[r["id"]] != after[r["id"]] for r in rows)
    untouched = set(before) - {r["id"] for r in rows}
    assert all(before[i] == after[i] for i in untouched)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("queries", "count"), [("0", 1), ("501", 500), ("foo", 1), (None, 1)])
def test_updates_count(urls, cluster, name, queries, count):
    path = "/updates" if queries is None else f"/updates?queries={queries}"
    before = read_worlds(cluster.dsn)
    answer = get(urls, name, path)
    assert checks.check_updates(answer, count, before, read_worlds(cluster.dsn)) == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "path", ["/json", "/plaintext", "/db", "/queries?queries=2", "/fortunes", "/updates"]
)
def test_date_header(urls, name, path):
    answer = get(urls, name, path)
    assert [what for what, kind in checks.header_problems(answer) if kind == checks.WRONG] == []


@pytest.mark.parametrize("name", NAMES)
def test_server_header(urls, name):
    # TechEmpower requires one (uvicorn sends `server: uvicorn`, Ignyx `server: ignyx`).
    for path in ("/json", "/plaintext", "/db", "/fortunes"):
        assert get(urls, name, path).headers.get("Server"), path


def test_the_benchmarks_gate_passes(urls, cluster):
    # What run.py checks before it measures: nothing may be wrong.
    problems, _ = checks.verify(urls, lambda: read_worlds(cluster.dsn))
    assert [str(p) for p in problems] == []
