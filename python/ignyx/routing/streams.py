"""Path operations that ``yield``: each item becomes part of the response as it comes.

With the default response class the items go out as JSON Lines (``application/jsonl``);
with ``EventSourceResponse``, as Server-Sent Events; with any other class (say
``StreamingResponse``) the chunks are handed to it as they are::

    @app.get("/items")
    async def items() -> AsyncIterator[Item]:
        async for row in db.rows():
            yield Item(**row)  # validated against Item, one JSON document per line

An item type named by the return annotation (``Iterator[Item]``, ``AsyncGenerator[Item,
None]``...) validates each item and serialises it with pydantic's ``dump_json``; without
one, items go through ``jsonable_encoder`` and ``json.dumps``, as in FastAPI.

How the items then reach the client (a sync generator in a worker thread, items made
together sent together, the generator closed when the client leaves) is in
``stream_bodies``.
"""

from __future__ import annotations

import collections.abc as abc
import contextvars
import inspect
import json
import math
from functools import partial
from typing import Any, AsyncIterator, Callable, Optional, get_args, get_origin

from pydantic import TypeAdapter, ValidationError
from pydantic_core import SchemaSerializer, SchemaValidator

from .. import sse
from ..datastructures import DefaultPlaceholder
from ..encoders import jsonable_encoder
from ..exceptions import ResponseValidationError
from ..responses import Response, StreamingResponse
from .stream_bodies import AsyncItems, KeepAlive, ThreadedItems

_STREAM_ORIGINS = {
    abc.Iterable,
    abc.Iterator,
    abc.Generator,
    abc.AsyncIterable,
    abc.AsyncIterator,
    abc.AsyncGenerator,
}

_SSE_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))


def item_type_of(annotation: Any) -> Any:
    """The item type of a streaming return annotation (``Iterator[Item]`` gives ``Item``,
    a bare ``Iterator`` gives ``Any``), or None for any other annotation."""
    if get_origin(annotation) not in _STREAM_ORIGINS:
        return None
    args = get_args(annotation)
    return args[0] if args else Any


def is_generator_callable(call: Any) -> bool:
    """Whether calling `call` makes a generator, sync or async: a generator function, a
    ``functools.partial`` of one, or an instance whose ``__call__`` is one."""
    targets = [call]
    if not inspect.isclass(call) and not inspect.isroutine(call):
        targets.append(getattr(call, "__call__", None))  # noqa: B004 - a callable instance
    for target in targets:
        while isinstance(target, partial):
            target = target.func
        target = inspect.unwrap(target) if callable(target) else target
        if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
            return True
    return False


def validated_item_type(annotation: Any, response_class: Any) -> Any:
    """What a generator path operation's items are validated against: the item type of its
    return annotation, for JSON Lines and SSE (not for raw chunks); None for ``Iterator[
    ServerSentEvent]``, whose events carry their own data."""
    item = item_type_of(annotation)
    if not isinstance(response_class, DefaultPlaceholder) and not (
        isinstance(response_class, type) and issubclass(response_class, sse.EventSourceResponse)
    ):
        return None
    if isinstance(item, type) and issubclass(item, sse.ServerSentEvent):
        return None
    return item


class StreamPlan:
    """How the items of one generator path operation become its response body, decided
    once at registration from the route's response class and item type."""

    def __init__(self, route: Any) -> None:
        response_class = route.response_class
        if isinstance(response_class, DefaultPlaceholder):
            self.kind = "jsonl"
        elif isinstance(response_class, type) and issubclass(
            response_class, sse.EventSourceResponse
        ):
            self.kind = "sse"
        else:
            self.kind = "raw"
        self.response_class = response_class
        item_type = route.stream_item_type
        self.item_adapter: Optional[TypeAdapter[Any]] = (
            TypeAdapter(item_type) if item_type and self.kind != "raw" else None
        )
        self._data: Callable[[Any], bytes] = _untyped_json
        self._line: Callable[[Any], bytes] = _untyped_line
        if self.item_adapter is not None:
            options = _dump_options(route)
            self._data = _typed_json(self.item_adapter, options, b"")
            self._line = _typed_json(self.item_adapter, options, b"\n")
        self._encode = {"jsonl": self._line, "sse": self._event}.get(self.kind)

    def _event(self, item: Any) -> bytes:
        if not isinstance(item, sse.ServerSentEvent):
            return sse.format_sse_event(data_str=self._data(item).decode("utf-8"))
        # An event is sent as it was built: its data is not held to the item type, so a
        # stream may mix its items with control events.
        data: Optional[str] = item.raw_data
        if data is None and item.data is not None:
            dump = getattr(item.data, "model_dump_json", None)
            data = dump() if dump is not None else _untyped_json(item.data).decode("utf-8")
        return sse.format_sse_event(
            data_str=data, event=item.event, id=item.id, retry=item.retry, comment=item.comment
        )

    def response(self, content: Any, status_code: int) -> Response:
        """The response streaming `content`, the generator the endpoint returned."""
        # The generator runs in the request's context (what its dependencies set), as it
        # would inside the request's task.
        context = contextvars.copy_context()
        chunks: AsyncIterator[Any] = (
            AsyncItems(content, self._encode, context)
            if hasattr(content, "__aiter__")
            else ThreadedItems(content, self._encode, context)
        )
        if self.kind == "raw":
            return self.response_class(content=chunks, status_code=status_code)
        if self.kind == "jsonl":
            return StreamingResponse(
                chunks, status_code=status_code, media_type="application/jsonl"
            )
        response = sse.EventSourceResponse(KeepAlive(chunks), status_code=status_code)
        response.raw_headers.extend(_SSE_HEADERS)
        return response


def _dump_options(route: Any) -> dict[str, Any]:
    """The route's ``response_model_*`` options, as pydantic's serializer takes them (those
    left at their default are left out: each one costs on every item)."""
    options: dict[str, Any] = {"by_alias": route.response_model_by_alias}
    for name in ("include", "exclude"):
        value = getattr(route, "response_model_" + name)
        if value is not None:
            options[name] = value
    for name in ("exclude_unset", "exclude_defaults", "exclude_none"):
        if getattr(route, "response_model_" + name):
            options[name] = True
    return options


def _typed_json(
    adapter: TypeAdapter[Any], options: dict[str, Any], suffix: bytes
) -> Callable[[Any], bytes]:
    """Validates an item against the item type, then dumps it with `options` in pydantic's
    Rust serializer, `suffix` appended."""
    validate: Callable[..., Any] = adapter.validate_python
    to_json: Callable[..., bytes] = adapter.dump_json
    if isinstance(adapter.validator, SchemaValidator) and isinstance(
        adapter.serializer, SchemaSerializer
    ):
        # pydantic-core's own, without TypeAdapter's Python layer around each call.
        validate, to_json = adapter.validator.validate_python, adapter.serializer.to_json

    def encode(item: Any) -> bytes:
        try:
            value = validate(item, from_attributes=True)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for error in errors:
                error["loc"] = ("response", *error["loc"])
            raise ResponseValidationError(errors, body=item) from None
        return to_json(value, **options) + suffix

    return encode


def _finite(value: Any) -> Any:
    """JSON-able data with NaN and the infinities as None (null), as FastAPI streams them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _untyped_json(item: Any) -> bytes:
    # `json.dumps` with its defaults (", " and ": ", ASCII escapes): the bytes FastAPI sends.
    return json.dumps(_finite(jsonable_encoder(item))).encode("utf-8")


def _untyped_line(item: Any) -> bytes:
    return _untyped_json(item) + b"\n"
