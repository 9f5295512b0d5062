"""Solving a plan per request: looking values up, running the cached pydantic validators
and calling the sub-dependencies, with FastAPI-shaped errors in FastAPI's order
(dependencies, then path, query, header, cookie, then body)::

    ctx = RequestContext(request, app.dependency_overrides)
    values = solve_sync(route.dependant, ctx, route.flat_body)   # or await solve_async(...)
    if ctx.errors:
        raise RequestValidationError(ctx.errors)

A route with ``Form``/``File`` parameters (or a bare ``UploadFile``) reads its body as a
form instead of JSON, each field by its name.
"""

from __future__ import annotations

import json
import re
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from typing import Any, Callable, Optional, cast

from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from ..background import BackgroundTasks
from ..concurrency import contextmanager_in_threadpool, limited, run_sync
from ..datastructures import FormData
from ..exceptions import HTTPException, RequestValidationError
from ..requests import HTTPConnection, Request, as_starlette_request
from ..responses import Response
from .build import override_plan
from .forms import ABSENT, form_model_input, form_value
from .models import Dependant, ModelField, SecurityScopes
from .param_models import ParamModel, param_model_input, received_values


class RequestContext:
    """What one request's dependencies share: the request, caches and cleanups."""

    __slots__ = (
        "request",
        "cache",
        "stack",
        "function_stack",
        "background",
        "response",
        "_body",
        "errors",
        "overrides",
    )

    def __init__(
        self,
        request: HTTPConnection,
        overrides: Optional[dict[Callable[..., Any], Callable[..., Any]]] = None,
    ) -> None:
        self.request = request
        self.overrides = overrides
        self.cache: dict[Any, Any] = {}
        self.stack: Any = None  # yield dependencies that exit after the response
        self.function_stack: Any = None  # those of scope "function": before it
        self.background: Optional[BackgroundTasks] = None
        self.response: Optional[Response] = None
        self._body: Any = PydanticUndefined
        self.errors: list[dict[str, Any]] = []


def solve_sync(dependant: Dependant, ctx: RequestContext, flat_body: bool) -> dict[Any, Any]:
    """Resolves every value `dependant.call` needs; errors go to `ctx.errors`. Sub-dependencies
    are called directly, ``yield`` ones entered on an ``ExitStack`` (``ctx.stack``).

    The solver is `_solve`, a coroutine that never suspends in this world: iterating it
    runs it to the end in one step (and, unlike ``send``, without a StopIteration)."""
    values: dict[Any, Any] = {}
    for _ in _solve(dependant, ctx, flat_body, values, False).__await__():
        raise RuntimeError("the solver of a sync plan suspended")
    return values


async def solve_async(dependant: Dependant, ctx: RequestContext, flat_body: bool) -> dict[Any, Any]:
    """`solve_sync` for plans with async dependencies, awaited on the event loop; their sync
    dependencies go to the threadpool until they prove quick (``run_sync``)."""
    values: dict[Any, Any] = {}
    await _solve(dependant, ctx, flat_body, values, True)
    return values


async def _solve(
    dependant: Dependant,
    ctx: RequestContext,
    flat_body: bool,
    values: dict[Any, Any],
    on_loop: bool,
) -> None:
    """Fills `values` with what `dependant.call` takes: its sub-dependencies' results (each
    called the way its world calls things: directly, or `on_loop`), then what it takes from
    the request. The one solver for both worlds: in the sync one it never awaits anything
    that suspends. A sub-dependency with none of its own is looked up without a coroutine,
    and a plan that takes nothing from the request does not look."""
    overrides = ctx.overrides
    cache = ctx.cache
    errors = ctx.errors
    for sub in dependant.dependencies:
        if overrides and sub.call in overrides:
            sub = override_plan(sub, overrides[sub.call])
        if sub.use_cache and sub.cache_key in cache:
            values[sub.name] = cache[sub.cache_key]
            continue
        before = len(errors)
        kwargs: dict[Any, Any] = {}
        if sub.dependencies:
            await _solve(sub, ctx, flat_body, kwargs, on_loop)
        elif sub.takes_request_values:
            own_values(sub, ctx, flat_body, kwargs)
        if len(errors) > before:
            continue
        if not on_loop:
            if sub.is_gen:
                stack = _exit_stack(ctx, sub.scope, ExitStack)
                result = stack.enter_context(contextmanager(sub.call)(**kwargs))
            else:
                result = sub.call(**kwargs)
        elif sub.is_gen or sub.is_async_gen:
            stack = _exit_stack(ctx, sub.scope, AsyncExitStack)
            if sub.is_async_gen:
                cm = asynccontextmanager(sub.call)(**kwargs)
            else:
                # Entered and exited off the loop, as FastAPI does, until proven quick.
                blocking = contextmanager(sub.call)(**kwargs)
                cm = contextmanager_in_threadpool(blocking, sub.policy)
            if sub.concurrency is not None:
                cm = limited(cm, sub.concurrency.semaphore())
            result = await stack.enter_async_context(cm)
        elif sub.concurrency is not None:
            async with sub.concurrency.semaphore():
                if sub.is_coroutine:
                    result = await sub.call(**kwargs)
                else:
                    result = await run_sync(sub.policy, sub.call, **kwargs)
        elif sub.is_coroutine:
            result = await sub.call(**kwargs)
        else:
            result = await run_sync(sub.policy, sub.call, **kwargs)
        values[sub.name] = result
        if sub.use_cache:
            cache[sub.cache_key] = result
    if dependant.takes_request_values:
        own_values(dependant, ctx, flat_body, values)


def _exit_stack(ctx: RequestContext, scope: Optional[str], kind: Callable[[], Any]) -> Any:
    """The stack a ``yield`` dependency of `scope` is entered on, made on first use."""
    if scope == "function":
        if ctx.function_stack is None:
            ctx.function_stack = kind()
        return ctx.function_stack
    if ctx.stack is None:
        ctx.stack = kind()
    return ctx.stack


def own_values(
    dependant: Dependant,
    ctx: RequestContext,
    flat_body: bool,
    values: Optional[dict[Any, Any]] = None,
) -> dict[Any, Any]:
    """The values `dependant.call` takes from the request itself, added to `values`: for a
    plan without sub-dependencies, all it takes (what routes call instead of the solvers)."""
    if values is None:
        values = {}
    if dependant.request_fields:
        _request_values(dependant, ctx, values)
    if dependant.body_params:
        _body_values(dependant, ctx, values, flat_body)
    if dependant.has_special:
        _special_values(dependant, ctx, values)
    return values


def _raw_value(field: ModelField, data: Any, ctx: RequestContext) -> Any:
    source = field.source
    if source == "query":
        if field.is_sequence:
            return data.query_all(field.alias) or None
        return data.query(field.alias)
    if source == "path":
        return data.path_param(field.alias)
    if source == "header":
        if field.is_sequence:
            return data.header_all(field.alias) or None
        return data.header(field.alias)
    return ctx.request.cookies.get(field.alias)


def _request_values(dependant: Dependant, ctx: RequestContext, values: dict) -> None:
    data = ctx.request._data
    errors = ctx.errors
    for field in dependant.request_fields:
        if field.param_model is not None:
            _model_value(field, field.param_model, ctx, values)
            continue
        raw = _raw_value(field, data, ctx)
        if raw is None:
            if field.required:
                errors.append(_missing((field.source, field.alias)))
            else:
                values[field.name] = field.get_default()
        elif field.adapter is None:
            values[field.name] = raw
        else:
            values[field.name] = field.validate(raw, (field.source, field.alias), errors)


def _model_value(field: ModelField, model: ParamModel, ctx: RequestContext, values: dict) -> None:
    value, header_locs = param_model_input(model, received_values(model.source, ctx.request))
    loc = (model.source,)
    if value is ABSENT:
        if field.required:
            ctx.errors.append(_missing(loc))
        else:
            values[field.name] = field.get_default()
        return
    errors: list[dict[str, Any]] = []
    values[field.name] = field.validate(value, loc, errors)
    if header_locs and model.loc_by_alias:
        for error in errors:
            error_loc = error["loc"]
            if len(error_loc) > 1 and error_loc[1] in header_locs:
                error["loc"] = (error_loc[0], header_locs[error_loc[1]], *error_loc[2:])
    ctx.errors.extend(errors)


def _body_values(dependant: Dependant, ctx: RequestContext, values: dict, flat: bool) -> None:
    fields = dependant.body_params
    if not fields:
        return
    if dependant.form_body:
        _form_values(fields, ctx, values, dependant.form_limits)
        return
    data = ctx.request._data
    body_bytes: bytes = data.body
    embed = not flat
    errors = ctx.errors
    if flat:
        field = fields[0]
        if not body_bytes:
            if field.required:
                errors.append(_missing(("body",)))
            else:
                values[field.name] = field.get_default()
            return
        if _is_json(data):
            # Pydantic reads a JSON integer past the float range as inf for a float field,
            # where FastAPI answers 422 float_type: a body that may hold one (309 digits or
            # more; shorter bodies are not searched) takes FastAPI's way below.
            if len(body_bytes) <= 308 or _HUGE_INTEGER.search(body_bytes) is None:
                try:
                    # The fast path: pydantic parses and validates the raw bytes in one pass.
                    # Body fields always have an adapter (ModelField.__post_init__).
                    values[field.name] = field.adapter.validate_json(body_bytes)  # type: ignore[union-attr]
                    return
                except ValidationError:
                    pass
            # Invalid input only: redo it as FastAPI does (json.loads, then validation in
            # Python mode) so the 422 body is exactly FastAPI's.
            values[field.name] = field.validate(_decoded_body(ctx), ("body",), errors)
            return
        values[field.name] = field.validate(body_bytes, ("body",), errors)
        return
    body = _decoded_body(ctx)
    for field in fields:
        loc = ("body", field.alias)
        if isinstance(body, dict) and field.alias in body:
            values[field.name] = field.validate(body[field.alias], loc, errors)
        elif body is not None and not isinstance(body, dict) and embed:
            values[field.name] = field.validate(body, loc, errors)
        elif field.required:
            errors.append(_missing(loc))
        else:
            values[field.name] = field.get_default()


def _form_values(
    fields: list[ModelField], ctx: RequestContext, values: dict, limits: dict[str, int]
) -> None:
    """Body parameters read from the form, as FastAPI does: each by its name, an empty
    value counting as missing, a form model from its own fields."""
    form = _read_form(ctx, limits)
    errors = ctx.errors
    for field in fields:
        if field.form_model is not None:
            loc: tuple = ("body",)
            value = form_model_input(field.form_model, form)
        else:
            alias, value = form_value(field.form_key, form)  # type: ignore[arg-type]
            loc = ("body", alias)
        if value is ABSENT:
            if field.required:
                errors.append(_missing(loc))
            else:
                values[field.name] = field.get_default()
        else:
            values[field.name] = field.validate(value, loc, errors)


def _read_form(ctx: RequestContext, limits: dict[str, int]) -> FormData:
    try:
        # Forms come with HTTP requests.
        form = cast(Request, ctx.request)._parsed_form(**limits)
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc
    ctx._body = form
    return form


def _decoded_body(ctx: RequestContext) -> Any:
    """The body as FastAPI decodes it: JSON for JSON content types, else the raw bytes."""
    if ctx._body is not PydanticUndefined:
        return ctx._body
    data = ctx.request._data
    body_bytes = data.body
    if not body_bytes:
        body = None
    elif _is_json(data):
        try:
            body = json.loads(body_bytes)
        except json.JSONDecodeError as exc:
            # As in FastAPI, undecodable JSON is the only error reported.
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error], body=exc.doc) from None
        except Exception as exc:
            # Undecodable bytes, absurd nesting or number sizes: FastAPI's 400.
            raise HTTPException(400, "There was an error parsing the body") from exc
    else:
        body = body_bytes
    ctx._body = body
    return body


# An integer literal of 309 digits or more, where a run of digits starts.
_HUGE_INTEGER = re.compile(rb"(?<![0-9])[0-9]{309}")


def _is_json(data: Any) -> bool:
    # FastAPI parses JSON only when the content type says so (no content type: not JSON).
    content_type = data.header("content-type")
    if not content_type:
        return False
    main = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = main.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def _special_values(dependant: Dependant, ctx: RequestContext, values: dict) -> None:
    if dependant.request_param:
        values[dependant.request_param] = ctx.request
    for name, cls in dependant.starlette_request_params.items():
        values[name] = as_starlette_request(ctx.request, cls)
    if dependant.websocket_param:
        values[dependant.websocket_param] = ctx.request
    if dependant.response_param:
        if ctx.response is None:
            ctx.response = Response(content=None, status_code=None)  # type: ignore[arg-type]
            ctx.response.raw_headers = []
        values[dependant.response_param] = ctx.response
    if dependant.background_param:
        if ctx.background is None:
            ctx.background = BackgroundTasks()
        values[dependant.background_param] = ctx.background
    if dependant.security_scopes_param:
        values[dependant.security_scopes_param] = SecurityScopes(dependant.security_scopes)


def _missing(loc: tuple) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}
