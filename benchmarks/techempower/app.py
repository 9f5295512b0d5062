"""TechEmpower's six test types, written once, as a FastAPI app.

Served as it is by uvicorn (FastAPI), and by Ignyx from a copy whose ``from fastapi``
import lines, and nothing else, read ``from ignyx`` (``benchmarks/techempower/frameworks.py``
writes it). Reads its database from the environment:

    TFB_DATABASE_URL=postgresql://benchmarkdbuser@127.0.0.1:5432/hello_world
    TFB_POOL_SIZE=64            # asyncpg connections, opened in the lifespan (default 64)
"""

import os
import random
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Optional

import asyncpg
import jinja2
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse

READ_ROW = "SELECT id, randomNumber FROM World WHERE id = $1"
WRITE_ROW = "UPDATE World SET randomNumber = $2 WHERE id = $1"
ALL_FORTUNES = "SELECT id, message FROM Fortune"
ADDED_FORTUNE = (0, "Additional fortune added at request time.")

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
)
fortunes_page = templates.get_template("fortunes.html")

pool: Optional[asyncpg.Pool] = None


@asynccontextmanager
async def lifespan(app: FastAPI):
    global pool
    size = int(os.environ.get("TFB_POOL_SIZE", "64"))
    pool = await asyncpg.create_pool(os.environ["TFB_DATABASE_URL"], min_size=size, max_size=size)
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


def query_count(queries: Optional[str]) -> int:
    """TechEmpower's rule: 1 when missing or not an integer, else clamped to 1..500."""
    try:
        count = int(queries)
    except (TypeError, ValueError):
        return 1
    return min(max(count, 1), 500)


def random_id() -> int:
    return random.randint(1, 10000)


@app.get("/json")
async def json_serialization():
    return {"message": "Hello, World!"}


@app.get("/db")
async def single_query():
    async with pool.acquire() as connection:
        row = await connection.fetchrow(READ_ROW, random_id())
    return {"id": row[0], "randomNumber": row[1]}


@app.get("/queries")
async def multiple_queries(queries: Optional[str] = None):
    count = query_count(queries)
    worlds = []
    async with pool.acquire() as connection:
        for _ in range(count):
            row = await connection.fetchrow(READ_ROW, random_id())
            worlds.append({"id": row[0], "randomNumber": row[1]})
    return worlds


@app.get("/fortunes")
async def fortunes():
    async with pool.acquire() as connection:
        rows = await connection.fetch(ALL_FORTUNES)
    fortunes = [(row[0], row[1]) for row in rows]
    fortunes.append(ADDED_FORTUNE)
    fortunes.sort(key=lambda fortune: fortune[1])
    return HTMLResponse(fortunes_page.render(fortunes=fortunes))


@app.get("/updates")
async def database_updates(queries: Optional[str] = None):
    # Distinct ids, so that each row answered is the row as written; written in id order,
    # so that concurrent requests lock rows in the same order and cannot deadlock.
    ids = sorted(random.sample(range(1, 10001), query_count(queries)))
    worlds = []
    async with pool.acquire() as connection:
        for id_ in ids:
            row = await connection.fetchrow(READ_ROW, id_)
            worlds.append({"id": row[0], "randomNumber": random_id()})
        await connection.executemany(
            WRITE_ROW, [(world["id"], world["randomNumber"]) for world in worlds]
        )
    return worlds


@app.get("/plaintext")
async def plaintext():
    return PlainTextResponse(b"Hello, World!")
