"""Server-Sent Events: with ``response_class=EventSourceResponse``, a path operation that
``yield``s sends ``text/event-stream``, which browsers read with ``EventSource``::

    curl -N localhost:8000/books/events
    data: {"title":"Dune","author":"Frank Herbert","pages":412}

    data: {"title":"Solaris","author":"Stanisław Lem","pages":204}

Each plain item becomes one event's ``data:``, as JSON (validated against ``Book`` when the
return annotation names it). Yield a ``ServerSentEvent`` to set the other fields:
``event``, ``id``, ``retry``, a ``comment``, or ``raw_data`` sent without JSON encoding.
A client that reconnects sends back the last ``id`` it saw in ``Last-Event-ID``, so a
stream can resume where it stopped. Any method works: ``POST /chat`` streams an answer
to the question in its body. While a generator is silent, a ``: ping`` comment goes out
every 15 seconds so that proxies keep the connection.
"""

import asyncio
from collections.abc import AsyncIterable, Iterable
from typing import Annotated, Optional

from ignyx import FastAPI, Header
from ignyx.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

app = FastAPI()


class Book(BaseModel):
    title: str
    author: str
    pages: Optional[int] = None


class Question(BaseModel):
    text: str


shelf = [
    Book(title="Dune", author="Frank Herbert", pages=412),
    Book(title="Solaris", author="Stanisław Lem", pages=204),
    Book(title="The Dispossessed", author="Ursula K. Le Guin"),
]


@app.get("/books/events", response_class=EventSourceResponse)
async def book_events() -> AsyncIterable[Book]:
    for book in shelf:
        yield book


@app.get("/books/events-sync", response_class=EventSourceResponse)
def book_events_sync() -> Iterable[Book]:
    yield from shelf


@app.get("/books/events-untyped", response_class=EventSourceResponse)
async def book_events_untyped():
    for book in shelf:
        yield {"title": book.title}


@app.get("/books/named-events", response_class=EventSourceResponse)
async def named_book_events() -> AsyncIterable[ServerSentEvent]:
    yield ServerSentEvent(comment="the shelf, one book per event")
    for number, book in enumerate(shelf, start=1):
        yield ServerSentEvent(data=book, event="book", id=str(number), retry=5000)


@app.get("/log", response_class=EventSourceResponse)
async def log_lines() -> AsyncIterable[ServerSentEvent]:
    for line in ("starting", "loaded 3 books", "done"):
        yield ServerSentEvent(raw_data=f"[library] {line}")


@app.get("/books/resumable", response_class=EventSourceResponse)
async def resumable_book_events(
    last_event_id: Annotated[Optional[int], Header()] = None,
) -> AsyncIterable[ServerSentEvent]:
    start = last_event_id + 1 if last_event_id is not None else 0
    for number in range(start, len(shelf)):
        yield ServerSentEvent(data=shelf[number], id=str(number))


@app.post("/chat", response_class=EventSourceResponse)
async def chat(question: Question) -> AsyncIterable[ServerSentEvent]:
    for word in f"You asked: {question.text}".split():
        await asyncio.sleep(0)  # a model would take its time here
        yield ServerSentEvent(data=word, event="token")
    yield ServerSentEvent(raw_data="[DONE]", event="end")


if __name__ == "__main__":
    app.run()
