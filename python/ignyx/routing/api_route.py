"""``APIRoute``: one HTTP path operation, compiled into what the Rust engine runs: the
route's general entry point (dependencies solved, the body validated, the result
serialised) and, when every parameter is a plain path or query scalar, a fast plan the
engine runs without it."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
from enum import Enum
from typing import (
    Any,
    Awaitable,
    Callable,
    Optional,
    Sequence,
    Union,
    cast,
    get_args,
    get_origin,
)

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined, SchemaValidator

from .. import _core, params
from .._paths import Match, compile_path, match_path
from ..background import BackgroundTasks
from ..concurrency import run_in_threadpool, run_sync
from ..datastructures import Default, DefaultPlaceholder
from ..dependencies import (
    Dependant,
    RequestContext,
    body_is_flat,
    build_route_dependant,
    flat_body_params,
    own_values,
    solve_async,
    solve_sync,
)
from ..exceptions import (
    IgnyxError,
    RequestValidationError,
    ResponseValidationError,
)
from ..requests import Request, settle_body
from ..responses import JSONResponse, Response
from .limits import FormLimits, checked_form_limits, checked_max_body_size
from .streams import StreamPlan, is_generator_callable, item_type_of, validated_item_type

logger = logging.getLogger("ignyx.error")

_FAST_KINDS = {
    str: _core.ParamKind.STR,
    int: _core.ParamKind.INT,
    float: _core.ParamKind.FLOAT,
    bool: _core.ParamKind.BOOL,
}
_FAST_SOURCES = {"path": _core.ParamSource.PATH, "query": _core.ParamSource.QUERY}


def _fast_body(dependant: Dependant, flat: bool) -> Optional[_core.FastParam]:
    """The fast plan's parameter for a route's one JSON body: the whole body, read by the
    field's validator straight from the bytes (what `own_values` does first, in Python).
    The engine passes anything else to the route's general entry point: an empty body, one
    that is not JSON by its content type, one that fails validation (FastAPI's 422 is made
    there), or one that may hold an integer past the float range."""
    fields = dependant.body_params
    if not flat or len(fields) != 1 or dependant.form_body:
        return None
    field = fields[0]
    validator = getattr(field.adapter, "validator", None)
    if not isinstance(validator, SchemaValidator):
        return None  # deferred, or wrapped by a plugin: the general path
    return _core.FastParam(
        _core.ParamSource.BODY, field.name, _core.ParamKind.JSON, required=True, validator=validator
    )


def _body_allowed(status_code: Optional[int]) -> bool:
    if status_code is None:
        return True
    return not (100 <= status_code < 200 or status_code in (204, 205, 304))


def _is_response_type(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, Response):
        return True
    if get_origin(annotation) is Union:
        return any(_is_response_type(arg) for arg in get_args(annotation))
    return False


def generate_unique_id(route: APIRoute) -> str:
    """FastAPI's default operation id: name + path + method, non-word characters as ``_``."""
    import re

    operation_id = f"{route.name}{route.path_format}"
    operation_id = re.sub(r"\W", "_", operation_id)
    return f"{operation_id}_{sorted(route.methods)[0].lower()}"


class APIRoute:
    """One path operation and its compiled plan."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        response_model: Any = Default(None),
        status_code: Optional[int] = None,
        tags: Optional[list[Union[str, Enum]]] = None,
        dependencies: Optional[Sequence[params.Depends]] = None,
        summary: Optional[str] = None,
        description: Optional[str] = None,
        response_description: str = "Successful Response",
        responses: Optional[dict[Union[int, str], dict[str, Any]]] = None,
        deprecated: Optional[bool] = None,
        name: Optional[str] = None,
        methods: Optional[Sequence[str]] = None,
        operation_id: Optional[str] = None,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_by_alias: bool = True,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        include_in_schema: bool = True,
        response_class: Any = Default(JSONResponse),
        callbacks: Optional[list[Any]] = None,
        openapi_extra: Optional[dict[str, Any]] = None,
        generate_unique_id_function: Callable[[APIRoute], str] = generate_unique_id,
        max_body_size: Optional[int] = None,
        form_limits: Optional[FormLimits] = None,
        stream_item_type: Any = None,
    ) -> None:
        self.path = path
        # `{name}` without convertors, as OpenAPI, operation ids and telemetry name the path.
        self.path_format = compile_path(path)[1]
        self.endpoint = endpoint
        endpoint_name: str = getattr(endpoint, "__name__", type(endpoint).__name__)
        self.name = name or endpoint_name
        self.methods = {m.upper() for m in (methods or ["GET"])}
        # What a generator path operation's items are validated against (an included
        # route brings its own: its annotation was read when it was first made).
        self.stream_item_type = stream_item_type
        is_stream = is_generator_callable(endpoint)
        if isinstance(response_model, DefaultPlaceholder):
            annotation = inspect.signature(endpoint).return_annotation
            try:
                from typing import get_type_hints

                annotation = get_type_hints(endpoint).get("return", annotation)
            except Exception:
                pass
            if annotation is inspect.Signature.empty or _is_response_type(annotation):
                response_model = None
            elif is_stream and item_type_of(annotation) is not None:
                # `-> Iterator[Item]` on a generator names its items, not one response.
                self.stream_item_type = validated_item_type(annotation, response_class)
                response_model = None
            else:
                response_model = annotation
        self.response_model = response_model
        self.status_code = int(status_code) if status_code is not None else None
        self.tags = list(tags or [])
        self.dependencies = list(dependencies or [])
        self.summary = summary
        doc = (inspect.getdoc(endpoint) or "").split("\f")[0] or None
        self.description = description or doc
        self.response_description = response_description
        self.responses = dict(responses or {})
        self.deprecated = deprecated
        self.operation_id = operation_id
        self.response_model_include = response_model_include
        self.response_model_exclude = response_model_exclude
        self.response_model_by_alias = response_model_by_alias
        self.response_model_exclude_unset = response_model_exclude_unset
        self.response_model_exclude_defaults = response_model_exclude_defaults
        self.response_model_exclude_none = response_model_exclude_none
        self.include_in_schema = include_in_schema
        self.response_class = response_class
        self.callbacks = callbacks
        self.openapi_extra = openapi_extra
        self.unique_id = operation_id or generate_unique_id_function(self)

        self.max_body_size = checked_max_body_size(max_body_size)
        self.form_limits = checked_form_limits(form_limits)

        self.dependant = build_route_dependant(
            endpoint, path=self.path_format, dependencies=self.dependencies
        )
        if self.form_limits:
            for dependant in self.dependant.walk():
                dependant.form_limits = cast(dict[str, int], self.form_limits)
        self.body_fields = flat_body_params(self.dependant)
        self.flat_body = body_is_flat(self.dependant)
        self.response_adapter = (
            TypeAdapter(self.response_model) if self.response_model is not None else None
        )
        self.stream_plan = StreamPlan(self) if is_stream else None
        kind = self.stream_plan.kind if self.stream_plan is not None else None
        self.is_json_stream = kind == "jsonl"
        self.is_sse_stream = kind == "sse"
        # Whether Python builds the Response itself (known now, not per request).
        self._builds_response = (
            self.stream_plan is not None
            or self.response_adapter is not None
            or not isinstance(self.response_class, DefaultPlaceholder)
            or not _body_allowed(self.status_code)
        )

    # -- compilation -------------------------------------------------------------

    @property
    def is_async(self) -> bool:
        return self.dependant.needs_async

    def _response_class(self) -> Any:
        cls = self.response_class
        return cls.value if isinstance(cls, DefaultPlaceholder) else cls

    def fast_plan(self) -> Optional[list[_core.FastParam]]:
        """The plan Rust can run alone: plain path/query scalars straight into the endpoint."""
        d = self.dependant
        body = _fast_body(d, self.flat_body)
        if (
            d.dependencies
            or (d.body_params and body is None)
            or d.header_params
            or d.cookie_params
            or d.request_param
            or d.websocket_param
            or d.response_param
            or d.background_param
            or d.security_scopes_param
            or self.response_adapter is not None
            or self.stream_plan is not None
            or not isinstance(self.response_class, DefaultPlaceholder)
            or not _body_allowed(self.status_code)
        ):
            return None
        by_name = {f.name: f for f in d.path_params + d.query_params}
        plan = []
        for name, param in inspect.signature(self.endpoint).parameters.items():
            if body is not None and name == d.body_params[0].name:
                if param.kind is not param.POSITIONAL_OR_KEYWORD:
                    return None
                plan.append(body)
                continue
            field = by_name.get(name)
            if field is None or param.kind is not param.POSITIONAL_OR_KEYWORD:
                return None
            annotation = field.annotation
            optional = False
            if get_origin(annotation) is Union:
                args = [a for a in get_args(annotation) if a is not type(None)]
                if len(args) != 1 or field.required or field.default is not None:
                    return None
                annotation, optional = args[0], True
            kind = _FAST_KINDS.get(annotation) if type(annotation) is type else None
            if kind is None or field.field_info.metadata or field.is_sequence:
                return None
            if field.field_info.default_factory is not None:
                return None
            if optional and field.default is not None:
                return None
            plan.append(
                _core.FastParam(
                    _FAST_SOURCES[field.source],
                    field.alias,
                    kind,
                    required=field.required,
                    default=field.default,
                )
            )
        return plan

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        """Starlette's route test: FULL with the child scope (``endpoint``,
        ``path_params``) when path and method match, PARTIAL for the path alone."""
        if scope.get("type") != "http":
            return Match.NONE, {}
        regex, convertors = self._matcher
        params = match_path(regex, convertors, scope)
        if params is None:
            return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": params}
        method = scope.get("method", "GET")
        if method in self.methods or (method == "HEAD" and "GET" in self.methods):
            return Match.FULL, child
        return Match.PARTIAL, child

    @functools.cached_property
    def _matcher(self) -> tuple[Any, dict[str, Any]]:
        regex, _, convertors = compile_path(self.path)
        return regex, convertors

    def compile(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_route` takes for this route."""
        self._app = app
        if type(self).get_route_handler is not APIRoute.get_route_handler:
            # A custom route class (FastAPI's recipe): its handler answers, whole.
            return {
                "path": self.path,
                "methods": sorted(self.methods),
                "call": self.get_route_handler(),
                "is_async": True,
                "status_code": self.status_code or 200,
                "route": self,
                "max_body_size": self.max_body_size,
            }
        if getattr(app, "_telemetry", None) is not None:
            # Every request through Python, each step told to the request's telemetry.
            call, fast = self._make_traced_call(app), None
        else:
            call, fast = self._make_call(app), self.fast_plan()
        return {
            "path": self.path,
            "methods": sorted(self.methods),
            "call": call,
            "is_async": self.is_async,
            "status_code": self.status_code or 200,
            "fast": _core.FastPlan(self.endpoint, fast) if fast is not None else None,
            "route": self,
            "max_body_size": self.max_body_size,
        }

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        """The route as one async function of the request that returns its ``Response``:
        what a custom route class wraps (``class TimedRoute(APIRoute)``, FastAPI's hook)."""
        call = self._make_call(getattr(self, "_app", None))
        status_code = self.status_code or 200
        dependant = self.dependant
        reads_body = bool(dependant.body_params)

        async def handler(request: Request) -> Response:
            if reads_body:
                # The request may be another class of ours, with a body of its own.
                await settle_body(request)
            result = call(request)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Response):
                return result
            return JSONResponse(result, status_code=status_code)

        return handler

    def _make_call(self, app: Any) -> Callable[[Request], Any]:
        dependant = self.dependant
        endpoint = self.endpoint
        flat = self.flat_body
        finish = self._finish
        call_sync = not dependant.is_coroutine  # also for callable instances
        policy = dependant.policy
        overrides = getattr(app, "dependency_overrides", None)
        # Decided now rather than per request: a plan without sub-dependencies is only looked
        # up (no solver), and only route-level dependencies leave an unnamed value to drop.
        nested = bool(dependant.dependencies)
        unnamed = any(sub.name is None for sub in dependant.dependencies)

        if not self.is_async:
            solve = solve_sync if nested else own_values

            def call(request: Request) -> Any:
                ctx = RequestContext(request, overrides)
                values = solve(dependant, ctx, flat)
                if ctx.errors:
                    _raise_validation(ctx)
                if unnamed:
                    values.pop(None, None)
                try:
                    if ctx.function_stack is not None:
                        return _in_function_scope(ctx, finish, endpoint, values)
                    result = endpoint(**values)
                except BaseException as exc:
                    if ctx.stack is not None:
                        ctx.stack.__exit__(type(exc), exc, exc.__traceback__)
                    raise
                return finish(result, ctx)

            return call

        async def call_async(request: Request) -> Any:
            ctx = RequestContext(request, overrides)
            if nested:
                values = await solve_async(dependant, ctx, flat)
            else:
                values = own_values(dependant, ctx, flat)
            if ctx.errors:
                _raise_validation(ctx)
            if unnamed:
                values.pop(None, None)
            try:
                if call_sync:
                    # A `def` endpoint with async dependencies: off the loop until quick.
                    pending = run_sync(policy, endpoint, **values)
                else:
                    pending = endpoint(**values)
                if ctx.function_stack is not None:
                    return await _in_function_scope_async(ctx, finish, pending)
                result = await pending
            except BaseException as exc:
                if ctx.stack is not None:
                    await ctx.stack.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            return finish(result, ctx)

        return call_async

    def _make_traced_call(self, app: Any) -> Callable[[Request], Any]:
        """`_make_call`'s route for an app with telemetry on: it names its route on the
        request's telemetry, fills its data, and runs its dependencies, endpoint and
        serialization each as an operation (a span when operation spans are on), as FastAPI
        does; the result is always a response, serialised here."""
        from ..encoders import jsonable_encoder
        from ..telemetry import _api as telemetry

        dependant, endpoint, flat = self.dependant, self.endpoint, self.flat_body
        overrides = getattr(app, "dependency_overrides", None)
        solve = solve_sync if dependant.dependencies else own_values
        template, status_code = self.path_format, self.status_code or 200

        def begin(request: Request) -> tuple[RequestContext, Optional[telemetry.TelemetryData]]:
            observed = telemetry.route_selected(request.scope.get("root_path", ""), template)
            data = observed.data if observed is not None else None
            if data is not None:
                data.request = request
            return RequestContext(request, overrides), data

        def solved(ctx: RequestContext, values: dict, data: Any) -> None:
            if data is not None:
                data.body = None if ctx._body is PydanticUndefined else ctx._body
                data.values, data.errors = values, ctx.errors
            if ctx.errors:
                exc = _validation_error(ctx)
                telemetry.validation_failed(exc)
                raise exc
            values.pop(None, None)

        def serialized(result: Any, ctx: RequestContext) -> Any:
            if isinstance(result, Response):
                return self._finish(result, ctx)
            with telemetry.operation("serialization", endpoint):
                result = self._finish(result, ctx)
                if not isinstance(result, Response):
                    result = JSONResponse(jsonable_encoder(result), status_code=status_code)
            return result

        if not self.is_async:

            def call(request: Request) -> Any:
                ctx, data = begin(request)
                with telemetry.operation("dependencies", endpoint):
                    values = solve(dependant, ctx, flat)
                solved(ctx, values, data)

                def run(**values: Any) -> Any:
                    with telemetry.operation("endpoint", endpoint):
                        return endpoint(**values)

                try:
                    if ctx.function_stack is not None:
                        return _in_function_scope(ctx, serialized, run, values)
                    result = run(**values)
                except BaseException as exc:
                    if ctx.stack is not None:
                        ctx.stack.__exit__(type(exc), exc, exc.__traceback__)
                    raise
                return serialized(result, ctx)

            return call

        call_sync, policy = not dependant.is_coroutine, dependant.policy

        async def call_async(request: Request) -> Any:
            ctx, data = begin(request)
            with telemetry.operation("dependencies", endpoint):
                if dependant.dependencies:
                    values = await solve_async(dependant, ctx, flat)
                else:
                    values = own_values(dependant, ctx, flat)
            solved(ctx, values, data)

            async def run() -> Any:
                with telemetry.operation("endpoint", endpoint):
                    if call_sync:
                        return await run_sync(policy, endpoint, **values)
                    return await endpoint(**values)

            try:
                if ctx.function_stack is not None:
                    return await _in_function_scope_async(ctx, serialized, run())
                result = await run()
            except BaseException as exc:
                if ctx.stack is not None:
                    await ctx.stack.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            return serialized(result, ctx)

        return call_async

    def _finish(self, result: Any, ctx: RequestContext) -> Any:
        """Applies response_model, response_class, the Response parameter and cleanups."""
        needs_response = (
            self._builds_response
            or ctx.response is not None
            or ctx.background is not None
            or ctx.stack is not None
        )
        if not needs_response:
            return result
        if not isinstance(result, Response):
            status_code = self.status_code
            if ctx.response is not None and ctx.response.status_code:
                status_code = ctx.response.status_code
            status_code = status_code or 200
            if self.stream_plan is not None:
                result = self.stream_plan.response(result, status_code)
            elif not _body_allowed(status_code):
                result = Response(status_code=status_code)
            elif self.response_adapter is not None:
                result = Response(
                    content=self._serialize(result, self.response_adapter),
                    status_code=status_code,
                    media_type="application/json",
                )
            else:
                result = self._response_class()(result, status_code=status_code)
            if ctx.response is not None:
                result.raw_headers.extend(
                    (k, v) for k, v in ctx.response.raw_headers if k != b"content-length"
                )
        if ctx.background is not None or ctx.stack is not None:
            result.background = _AfterResponse(ctx.stack, ctx.background, result.background)
        return result

    def _serialize(self, result: Any, adapter: TypeAdapter[Any]) -> bytes:
        value = _prepare_content(
            result,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
        )
        try:
            validated = adapter.validate_python(value, from_attributes=True)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for error in errors:
                error["loc"] = ("response", *error["loc"])
            raise ResponseValidationError(errors, body=result) from None
        return adapter.dump_json(
            validated,
            include=self.response_model_include,
            exclude=self.response_model_exclude,
            by_alias=self.response_model_by_alias,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
        )


def _prepare_content(value: Any, **dump: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, **dump)
    if isinstance(value, list):
        return [_prepare_content(v, **dump) for v in value]
    if isinstance(value, dict):
        return {k: _prepare_content(v, **dump) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _in_function_scope(
    ctx: RequestContext, finish: Callable[..., Any], endpoint: Callable[..., Any], values: dict
) -> Any:
    """Runs the endpoint and makes its response inside the ``yield`` dependencies of scope
    "function", which exit before the response is sent."""
    with ctx.function_stack:
        return finish(endpoint(**values), ctx)
    raise _swallowed()


async def _in_function_scope_async(
    ctx: RequestContext, finish: Callable[..., Any], pending: Any
) -> Any:
    async with ctx.function_stack:
        return finish(await pending, ctx)
    raise _swallowed()


def _swallowed() -> IgnyxError:
    # Reached only when a dependency's `except` caught the endpoint's exception and did not
    # raise it again: there is no response to send.
    return IgnyxError(
        "No response: a dependency with yield caught the endpoint's exception (a bare "
        "`except:` or `except Exception:` around its yield) and did not raise it again"
    )


def _raise_validation(ctx: RequestContext) -> None:
    raise _validation_error(ctx)


def _validation_error(ctx: RequestContext) -> RequestValidationError:
    body = ctx._body if ctx._body is not None else None
    return RequestValidationError(ctx.errors, body=body)


class _AfterResponse:
    """Runs after the response is sent: the background tasks, then the yield dependencies'
    cleanup, which sees a task's exception (FastAPI's order)."""

    def __init__(self, stack: Any, tasks: Optional[BackgroundTasks], previous: Any) -> None:
        self.stack = stack
        self.tasks = tasks
        self.previous = previous

    async def __call__(self) -> None:
        try:
            if self.previous is not None:
                await self.previous()
            if self.tasks is not None:
                await self.tasks()
        except BaseException as exc:
            if self.stack is None or not await self._exit(exc):
                raise
        else:
            if self.stack is not None:
                await self._exit(None)

    async def _exit(self, exc: Optional[BaseException]) -> bool:
        """Exits the stack with `exc` (None: normally); whether it swallowed `exc`."""
        details = (type(exc), exc, exc.__traceback__) if exc is not None else (None, None, None)
        if hasattr(self.stack, "__aexit__"):
            return bool(await self.stack.__aexit__(*details))
        return bool(await run_in_threadpool(self.stack.__exit__, *details))
