"""Server-Sent Events: a path operation that ``yield``s, with ``EventSourceResponse`` as its
response class, streams ``text/event-stream``::

    from ignyx import Ignyx
    from ignyx.sse import EventSourceResponse, ServerSentEvent

    app = Ignyx()

    @app.get("/ticks", response_class=EventSourceResponse)
    async def ticks():
        yield {"tick": 1}  # sent as `data: {"tick": 1}`
        yield ServerSentEvent(data="done", event="end", id="2")

A plain item is JSON-encoded into one event's ``data:`` field (validated first when the
return annotation names its type, ``-> AsyncIterator[Tick]``); a ``ServerSentEvent`` sets
every field itself. While the generator is silent, a ``: ping`` comment goes out every
``_PING_INTERVAL`` seconds so that proxies keep the connection open.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, Field, model_validator

from .responses import EventSourceResponse

__all__ = [
    "KEEPALIVE_COMMENT",
    "EventSourceResponse",
    "ServerSentEvent",
    "format_sse_event",
]

# Sent while the generator has nothing to say: a comment line, which EventSource ignores.
KEEPALIVE_COMMENT = b": ping\n\n"

# Seconds of silence before a keep-alive comment. Read at each wait, so a test may patch it.
_PING_INTERVAL: float = 15.0

# One event as OpenAPI 3.2 describes an event stream's items; `data` gets the item's own
# schema when the route declares one.
_EVENT_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


def _one_line(field: str) -> Any:
    def check(value: Optional[str]) -> Optional[str]:
        if value is not None and ("\n" in value or "\r" in value):
            raise ValueError(f"the SSE {field!r} field must be a single line")
        return value

    return AfterValidator(check)


def _no_nul(value: Optional[str]) -> Optional[str]:
    # A NUL in `id` makes browsers ignore the field, so the client would never send it back.
    if value is not None and "\0" in value:
        raise ValueError("the SSE 'id' field must not contain NUL characters")
    return value


class ServerSentEvent(BaseModel):
    """One event, yielded from an SSE path operation when an item needs more than ``data``::

        yield ServerSentEvent(data={"price": 10}, event="quote", id="41", retry=5000)
        yield ServerSentEvent(raw_data="<li>plain text, sent as it is</li>")
        yield ServerSentEvent(comment="a line EventSource ignores")

    ``data`` is always JSON-encoded (``"hi"`` goes out as ``data: "hi"``); ``raw_data`` is
    sent as it is, and only one of the two may be set. ``event`` and ``id`` are single
    lines; ``retry`` is the reconnection delay in milliseconds.
    """

    data: Any = None
    raw_data: Optional[str] = None
    event: Annotated[Optional[str], _one_line("event")] = None
    id: Annotated[Optional[str], AfterValidator(_no_nul), _one_line("id")] = None
    retry: Annotated[Optional[int], Field(ge=0)] = None
    comment: Optional[str] = None

    @model_validator(mode="after")
    def _data_or_raw_data(self) -> ServerSentEvent:
        if self.data is not None and self.raw_data is not None:
            raise ValueError(
                "a ServerSentEvent takes `data` (sent as JSON) or `raw_data` (sent as it is), "
                "not both"
            )
        return self


def _lines(text: str) -> list[str]:
    # The event-stream format ends a line at CRLF, LF or CR; a trailing one leaves an
    # empty last line, which is kept.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def format_sse_event(
    *,
    data_str: Optional[str] = None,
    event: Optional[str] = None,
    id: Optional[str] = None,
    retry: Optional[int] = None,
    comment: Optional[str] = None,
) -> bytes:
    """One event in the ``text/event-stream`` format, from an already encoded `data_str`:
    comment lines, ``event:``, one ``data:`` line per line of data, ``id:``, ``retry:``,
    and the blank line that ends the event::

        format_sse_event(data_str='{"n": 1}', event="tick")
        # b'event: tick\\ndata: {"n": 1}\\n\\n'
    """
    out: list[str] = []
    if comment is not None:
        out += [": " + line for line in _lines(comment)]
    if event is not None:
        out.append("event: " + event)
    if data_str is not None:
        out += ["data: " + line for line in _lines(data_str)]
    if id is not None:
        out.append("id: " + id)
    if retry is not None:
        out.append(f"retry: {retry}")
    return ("".join(line + "\n" for line in out) + "\n").encode("utf-8")
