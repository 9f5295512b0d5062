"""Streaming JSON Lines: a path operation that ``yield``s sends each item as soon as it is
made, one JSON document per line (``application/jsonl``)::

    curl -N localhost:8000/books/stream
    {"title":"Dune","author":"Frank Herbert","pages":412}
    {"title":"Solaris","author":"Stanisław Lem","pages":204}
    ...

With the item type in the return annotation (``AsyncIterable[Book]``), each item is
validated against ``Book`` and serialised by Pydantic, and the OpenAPI document describes
one line (``itemSchema``). Without it, items are sent as ``jsonable_encoder`` makes them.
A ``def`` generator works as well as an ``async def`` one.
"""

from collections.abc import AsyncIterable, Iterable
from typing import Optional

from ignyx import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Book(BaseModel):
    title: str
    author: str
    pages: Optional[int] = None


shelf = [
    Book(title="Dune", author="Frank Herbert", pages=412),
    Book(title="Solaris", author="Stanisław Lem", pages=204),
    Book(title="The Dispossessed", author="Ursula K. Le Guin"),
]


@app.get("/books/stream")
async def stream_books() -> AsyncIterable[Book]:
    for book in shelf:
        yield book


@app.get("/books/stream-sync")
def stream_books_sync() -> Iterable[Book]:
    yield from shelf


@app.get("/books/stream-untyped")
async def stream_books_untyped():
    for book in shelf:
        yield {"title": book.title, "pages": book.pages}


if __name__ == "__main__":
    app.run()
