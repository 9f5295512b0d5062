"""Compiling a handler's signature into a plan, once, and solving it per request.

``build_dependant`` reads the signature (``inspect`` and type hints, at registration
only) and decides for every parameter where it comes from and how it is validated.
``solve_sync``/``solve_async`` then only look values up and run cached pydantic
validators, collecting FastAPI-shaped errors in FastAPI's order (dependencies, then
path, query, header, cookie, then body). A route with ``Form``/``File`` parameters (or a
bare ``UploadFile``) reads its body as a form instead of JSON, each field by its name.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from copy import copy, deepcopy
from enum import Enum
from typing import (
    Annotated,
    Any,
    Callable,
    Optional,
    Sequence,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from . import params
from ._core import InlinePolicy
from ._forms import (
    ABSENT,
    FormKey,
    FormModel,
    form_key,
    form_model,
    form_model_input,
    form_value,
    is_upload,
)
from .background import BackgroundTasks
from .concurrency import contextmanager_in_threadpool, run_sync
from .datastructures import FormData
from .exceptions import HTTPException, RequestValidationError
from .requests import HTTPConnection, Request
from .responses import Response

_SCALARS = (str, int, float, bool, bytes, type(None))
_SEQUENCES = (list, set, frozenset, tuple)


class SecurityScopes:
    """The OAuth2 scopes required by the dependants of a ``Security`` dependency."""

    def __init__(self, scopes: Optional[list[str]] = None) -> None:
        self.scopes = list(scopes or [])
        self.scope_str = " ".join(self.scopes)


def _is_scalar(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Union or (origin is not None and type(annotation).__name__ == "UnionType"):
        return all(_is_scalar(arg) for arg in get_args(annotation))
    if origin is Annotated:
        return _is_scalar(get_args(annotation)[0])
    if origin is not None:
        return origin not in _SEQUENCES and origin is not dict and not _is_class(origin, dict)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return True
    if _is_class(annotation, BaseModel) or dataclasses.is_dataclass(annotation):
        return False
    if _is_class(annotation, (dict, list, set, frozenset, tuple)):
        return False
    return True


def _is_sequence(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Union or (origin is not None and type(annotation).__name__ == "UnionType"):
        return any(_is_sequence(arg) for arg in get_args(annotation) if arg is not type(None))
    if origin is Annotated:
        return _is_sequence(get_args(annotation)[0])
    return origin in _SEQUENCES or _is_class(annotation, _SEQUENCES)


def _is_class(obj: Any, cls: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, cls)


@dataclasses.dataclass
class ModelField:
    """One request value: its name, where it comes from, and how it is validated."""

    name: str
    alias: str
    source: str  # "path" | "query" | "header" | "cookie" | "body"
    annotation: Any
    field_info: FieldInfo
    required: bool
    default: Any
    is_sequence: bool
    adapter: Optional[TypeAdapter] = None
    _mutable_default: bool = False
    # Body fields only: how the field is read when the route's body is a form.
    form_key: Optional[FormKey] = None
    form_model: Optional[FormModel] = None

    def __post_init__(self) -> None:
        metadata = list(self.field_info.metadata)
        if self.annotation is str and not metadata and self.source != "body":
            self.adapter = None  # a str is already a str: no validator call per request
        else:
            annotated = Annotated[(self.annotation, *metadata)] if metadata else self.annotation
            self.adapter = TypeAdapter(annotated)
        self._mutable_default = not isinstance(self.default, (*_SCALARS, Enum, type(None)))

    def get_default(self) -> Any:
        if self.field_info.default_factory is not None:
            return self.field_info.default_factory()
        return deepcopy(self.default) if self._mutable_default else self.default

    def validate(self, value: Any, loc: tuple, errors: list) -> Any:
        if self.adapter is None:
            return value
        try:
            return self.adapter.validate_python(value, from_attributes=True)
        except ValidationError as exc:
            errors.extend(_errors(exc, loc))
            return None


def _errors(exc: ValidationError, loc: tuple) -> list[dict[str, Any]]:
    out = []
    for error in exc.errors(include_url=False):
        error["loc"] = (*loc, *error["loc"])
        out.append(error)
    return out


def _missing(loc: tuple) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


@dataclasses.dataclass
class Dependant:
    """The compiled plan of a handler or a dependency."""

    call: Optional[Callable[..., Any]]
    name: Optional[str] = None
    path: str = ""
    path_params: list[ModelField] = dataclasses.field(default_factory=list)
    query_params: list[ModelField] = dataclasses.field(default_factory=list)
    header_params: list[ModelField] = dataclasses.field(default_factory=list)
    cookie_params: list[ModelField] = dataclasses.field(default_factory=list)
    body_params: list[ModelField] = dataclasses.field(default_factory=list)
    dependencies: list[Dependant] = dataclasses.field(default_factory=list)
    # The body is a form (some body parameter here or around is Form/File): FastAPI then
    # reads every body parameter from the form.
    form_body: bool = False
    request_param: Optional[str] = None
    websocket_param: Optional[str] = None
    response_param: Optional[str] = None
    background_param: Optional[str] = None
    security_scopes_param: Optional[str] = None
    security_scopes: list[str] = dataclasses.field(default_factory=list)
    use_cache: bool = True
    is_coroutine: bool = False
    is_gen: bool = False
    is_async_gen: bool = False

    def overridden_by(self, override: Callable[..., Any]) -> Dependant:
        """The plan of `override` standing in for this one (``app.dependency_overrides``),
        compiled on first use and kept."""
        plans = self.__dict__.setdefault("_override_plans", {})
        plan = plans.get(override)
        if plan is None:
            plan = plans[override] = build_dependant(
                override,
                path=self.path,
                name=self.name,
                use_cache=self.use_cache,
                security_scopes=self.security_scopes,
            )
        return plan

    @functools.cached_property
    def cache_key(self) -> tuple:
        return (self.call, tuple(sorted(set(self.security_scopes))))

    def walk(self):
        """This dependant and every sub-dependant, depth first."""
        for dep in self.dependencies:
            yield from dep.walk()
        yield self

    @functools.cached_property
    def request_fields(self) -> list[ModelField]:
        return self.path_params + self.query_params + self.header_params + self.cookie_params

    @functools.cached_property
    def has_special(self) -> bool:
        return any(
            (
                self.request_param,
                self.websocket_param,
                self.response_param,
                self.background_param,
                self.security_scopes_param,
            )
        )

    @functools.cached_property
    def policy(self) -> InlinePolicy:
        """Where a sync `call` runs in an async plan: the threadpool, or inline once quick."""
        return InlinePolicy()

    @property
    def needs_async(self) -> bool:
        return any(d.is_coroutine or d.is_async_gen for d in self.walk() if d.call is not None)

    @property
    def has_yield(self) -> bool:
        return any(d.is_gen or d.is_async_gen for d in self.walk())


def _unwrap_call(call: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isclass(call) or inspect.isroutine(call):
        return call
    return getattr(call, "__call__", call)  # noqa: B004 - a callable instance


def _signature(call: Callable[..., Any]) -> list[tuple[str, Any, Any, inspect.Parameter]]:
    target = call.__init__ if inspect.isclass(call) else _unwrap_call(call)
    signature = inspect.signature(call)
    try:
        hints = get_type_hints(target, include_extras=True)
    except Exception:
        hints = {}
    globalns = getattr(inspect.unwrap(target), "__globals__", {})
    out = []
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(name, param.annotation)
        if isinstance(annotation, str):
            annotation = _resolve(annotation, globalns)
        out.append((name, annotation, param.default, param))
    return out


def _resolve(annotation: str, globalns: dict) -> Any:
    """One string annotation evaluated alone, so one unresolvable name spoils only itself."""
    try:
        return eval(annotation, dict(globalns))  # noqa: S307 - the app's own annotation
    except Exception as exc:
        raise TypeError(f"cannot resolve the annotation {annotation!r}: {exc}") from None


def _kind(call: Callable[..., Any]) -> tuple[bool, bool, bool]:
    target = _unwrap_call(call)
    if inspect.isclass(call):
        return False, False, False
    return (
        inspect.iscoroutinefunction(target),
        inspect.isgeneratorfunction(target),
        inspect.isasyncgenfunction(target),
    )


def build_dependant(
    call: Callable[..., Any],
    *,
    path: str,
    name: Optional[str] = None,
    use_cache: bool = True,
    security_scopes: Optional[list[str]] = None,
) -> Dependant:
    """Compiles `call`'s signature into a `Dependant` (done once, at registration)."""
    from .websockets import WebSocket

    path_names = _path_param_names(path)
    is_coroutine, is_gen, is_async_gen = _kind(call)
    dependant = Dependant(
        call=call,
        name=name,
        path=path,
        use_cache=use_cache,
        security_scopes=list(security_scopes or []),
        is_coroutine=is_coroutine,
        is_gen=is_gen,
        is_async_gen=is_async_gen,
    )
    for param_name, annotation, default, _ in _signature(call):
        depends: Optional[params.Depends] = None
        field_info: Optional[FieldInfo] = None
        base = annotation
        if get_origin(annotation) is Annotated:
            base, *metadata = get_args(annotation)
            constraints = []
            for item in metadata:
                if isinstance(item, params.Depends):
                    depends = item
                elif isinstance(item, FieldInfo):
                    field_info = copy(item)
                else:
                    constraints.append(item)  # e.g. StringConstraints, AfterValidator
            if constraints:
                base = Annotated[(base, *constraints)]
        if isinstance(default, params.Depends):
            depends, default = default, inspect.Parameter.empty
        elif isinstance(default, FieldInfo):
            field_info, default = default, inspect.Parameter.empty

        if depends is not None:
            sub_call = depends.dependency or base
            scopes = list(dependant.security_scopes)
            if isinstance(depends, params.Security):
                scopes += depends.scopes
            sub = build_dependant(
                sub_call,
                path=path,
                name=param_name,
                use_cache=depends.use_cache,
                security_scopes=scopes,
            )
            dependant.dependencies.append(sub)
            continue
        if _is_class(base, WebSocket):
            dependant.websocket_param = param_name
            continue
        if _is_class(base, HTTPConnection):
            dependant.request_param = param_name
            continue
        if _is_class(base, Response):
            dependant.response_param = param_name
            continue
        if _is_class(base, BackgroundTasks):
            dependant.background_param = param_name
            continue
        if _is_class(base, SecurityScopes):
            dependant.security_scopes_param = param_name
            continue
        field = _make_field(param_name, base, default, field_info, path_names)
        {
            "path": dependant.path_params,
            "query": dependant.query_params,
            "header": dependant.header_params,
            "cookie": dependant.cookie_params,
            "body": dependant.body_params,
        }[field.source].append(field)
    if any(isinstance(field.field_info, params.Form) for field in dependant.body_params) or any(
        sub.form_body for sub in dependant.dependencies
    ):
        for dep in dependant.walk():
            dep.form_body = True
    return dependant


def build_route_dependant(
    endpoint: Callable[..., Any], *, path: str, dependencies: Sequence[params.Depends] = ()
) -> Dependant:
    """The plan of a route: its endpoint's, run after the route's ``dependencies=[...]``,
    in their order (their values are not passed to the endpoint)."""
    dependant = build_dependant(endpoint, path=path)
    dependant.dependencies[:0] = [
        build_dependant(depends.dependency, path=path, use_cache=depends.use_cache)
        for depends in dependencies
    ]
    return dependant


def _path_param_names(path: str) -> set[str]:
    names = set()
    for part in path.split("{")[1:]:
        names.add(part.split("}")[0].split(":")[0])
    return names


def _make_field(
    name: str,
    annotation: Any,
    default: Any,
    field_info: Optional[FieldInfo],
    path_names: set[str],
) -> ModelField:
    if annotation is inspect.Parameter.empty:
        annotation = Any
    has_default = default is not inspect.Parameter.empty
    if field_info is None:
        if name in path_names:
            field_info = params.Path()
        elif is_upload(annotation):
            field_info = params.File(default if has_default else ...)
        elif _is_scalar(annotation):
            field_info = params.Query(default if has_default else ...)
        else:
            field_info = params.Body(default if has_default else ...)
    elif has_default:
        field_info.default = default
    if (
        isinstance(field_info, params.Path)
        or name in path_names
        and not isinstance(field_info, params.Param)
    ):
        source = "path"
    elif isinstance(field_info, params.Body):
        source = "body"
    elif isinstance(field_info, params.Param):
        source = field_info.in_.value
    else:
        source = "query" if _is_scalar(annotation) else "body"
    validation_alias = field_info.validation_alias
    alias = (validation_alias if isinstance(validation_alias, str) else None) or field_info.alias
    if alias is None:
        alias = name
        if source == "header" and getattr(field_info, "convert_underscores", True):
            alias = name.replace("_", "-")
    required = (
        field_info.default in (PydanticUndefined, Ellipsis) and field_info.default_factory is None
    )
    if source == "path":
        required = True
    key = model = None
    if source == "body":
        key = form_key(name, annotation, field_info, alias)
        model = form_model(annotation, field_info)
    return ModelField(
        name=name,
        alias=alias,
        source=source,
        annotation=annotation,
        field_info=field_info,
        required=required,
        default=None if required else field_info.default,
        is_sequence=_is_sequence(annotation),
        form_key=key,
        form_model=model,
    )


# ---------------------------------------------------------------------------
# Per request


class RequestContext:
    """What one request's dependencies share: the request, caches and cleanups."""

    __slots__ = (
        "request",
        "cache",
        "stack",
        "background",
        "response",
        "_body",
        "errors",
        "overrides",
    )

    def __init__(self, request: Request, overrides: Optional[dict] = None) -> None:
        self.request = request
        self.overrides = overrides
        self.cache: dict[Any, Any] = {}
        self.stack: Any = None
        self.background: Optional[BackgroundTasks] = None
        self.response: Optional[Response] = None
        self._body: Any = PydanticUndefined
        self.errors: list[dict[str, Any]] = []


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


def _body_values(dependant: Dependant, ctx: RequestContext, values: dict, flat: bool) -> None:
    fields = dependant.body_params
    if not fields:
        return
    if dependant.form_body:
        _form_values(fields, ctx, values)
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
            try:
                # The fast path: pydantic parses and validates the raw bytes in one pass.
                values[field.name] = field.adapter.validate_json(body_bytes)
                return
            except ValidationError:
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


def _form_values(fields: list[ModelField], ctx: RequestContext, values: dict) -> None:
    """Body parameters read from the form, as FastAPI does: each by its name, an empty
    value counting as missing, a form model from its own fields."""
    form = _read_form(ctx)
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


def _read_form(ctx: RequestContext) -> FormData:
    try:
        form = ctx.request._parsed_form()
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


def _own_values(dependant: Dependant, ctx: RequestContext, values: dict, flat_body: bool) -> None:
    """The values `dependant` takes from the request itself (not from sub-dependencies)."""
    if dependant.request_fields:
        _request_values(dependant, ctx, values)
    if dependant.body_params:
        _body_values(dependant, ctx, values, flat_body)
    if dependant.has_special:
        _special_values(dependant, ctx, values)


def solve_sync(dependant: Dependant, ctx: RequestContext, flat_body: bool) -> dict[str, Any]:
    """Resolves every value `dependant.call` needs; errors go to `ctx.errors`."""
    values: dict[str, Any] = {}
    for sub in dependant.dependencies:
        if ctx.overrides and sub.call in ctx.overrides:
            sub = sub.overridden_by(ctx.overrides[sub.call])
        if sub.use_cache and sub.cache_key in ctx.cache:
            values[sub.name] = ctx.cache[sub.cache_key]
            continue
        before = len(ctx.errors)
        sub_values = solve_sync(sub, ctx, flat_body)
        if len(ctx.errors) > before:
            continue
        if sub.is_gen:
            if ctx.stack is None:
                ctx.stack = ExitStack()
            result = ctx.stack.enter_context(contextmanager(sub.call)(**sub_values))
        else:
            result = sub.call(**sub_values)
        values[sub.name] = result
        if sub.use_cache:
            ctx.cache[sub.cache_key] = result
    _own_values(dependant, ctx, values, flat_body)
    return values


async def solve_async(dependant: Dependant, ctx: RequestContext, flat_body: bool) -> dict[str, Any]:
    """`solve_sync` for plans with async dependencies; runs on the event loop, and sends
    their sync dependencies to the threadpool until they prove quick (``run_sync``)."""
    values: dict[str, Any] = {}
    for sub in dependant.dependencies:
        if ctx.overrides and sub.call in ctx.overrides:
            sub = sub.overridden_by(ctx.overrides[sub.call])
        if sub.use_cache and sub.cache_key in ctx.cache:
            values[sub.name] = ctx.cache[sub.cache_key]
            continue
        before = len(ctx.errors)
        sub_values = await solve_async(sub, ctx, flat_body)
        if len(ctx.errors) > before:
            continue
        if sub.is_gen or sub.is_async_gen:
            if ctx.stack is None:
                ctx.stack = AsyncExitStack()
            if sub.is_async_gen:
                cm = asynccontextmanager(sub.call)(**sub_values)
            else:
                # Entered and exited off the loop, as FastAPI does, until proven quick.
                blocking = contextmanager(sub.call)(**sub_values)
                cm = contextmanager_in_threadpool(blocking, sub.policy)
            result = await ctx.stack.enter_async_context(cm)
        elif sub.is_coroutine:
            result = await sub.call(**sub_values)
        else:
            result = await run_sync(sub.policy, sub.call, **sub_values)
        values[sub.name] = result
        if sub.use_cache:
            ctx.cache[sub.cache_key] = result
    _own_values(dependant, ctx, values, flat_body)
    return values


def flat_body_params(dependant: Dependant) -> list[ModelField]:
    """Every body parameter of the plan and its dependencies, in order."""
    seen: dict[str, ModelField] = {}
    for dep in dependant.walk():
        for field in dep.body_params:
            seen.setdefault(field.alias, field)
    return list(seen.values())


def body_is_flat(dependant: Dependant) -> bool:
    """True when the single body parameter is the whole body (FastAPI's non-embedded case)."""
    fields = flat_body_params(dependant)
    if len(fields) != 1:
        return False
    embed = getattr(fields[0].field_info, "embed", None)
    return not embed
