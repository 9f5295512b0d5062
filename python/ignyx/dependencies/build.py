"""Compiling a handler's signature into a plan, once, at registration.

``build_dependant`` reads the signature (``inspect`` and type hints) and decides for every
parameter where it comes from and how it is validated; ``build_route_dependant`` adds a
route's ``dependencies=[...]``::

    plan = build_route_dependant(read_items, path="/items", dependencies=[Depends(auth)])

Nothing here runs per request, but for the plan of a dependency override, built on its
first use (``override_plan``).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from copy import copy
from typing import Annotated, Any, Callable, Optional, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .. import params
from ..background import BackgroundTasks
from ..concurrency import DependencyConcurrency
from ..exceptions import DependencyScopeError
from ..requests import HTTPConnection, is_starlette_connection
from ..responses import Response
from ..websockets import WebSocket
from .forms import form_key, form_model, form_union_annotation, is_upload
from .models import Dependant, ModelField, SecurityScopes
from .param_models import param_model

_SEQUENCES = (list, set, frozenset, tuple)


# Parameters the framework fills by their class, and where the plan notes them (a
# WebSocket is an HTTPConnection too: it comes first).
_SPECIAL = (
    (WebSocket, "websocket_param"),
    (HTTPConnection, "request_param"),
    (Response, "response_param"),
    (BackgroundTasks, "background_param"),
    (SecurityScopes, "security_scopes_param"),
)


def build_dependant(
    call: Callable[..., Any],
    *,
    path: str,
    name: Optional[str] = None,
    use_cache: bool = True,
    security_scopes: Optional[list[str]] = None,
    scope: Optional[str] = None,
    concurrency: Optional[DependencyConcurrency] = None,
) -> Dependant:
    """Compiles `call`'s signature into a `Dependant` (done once, at registration)."""
    path_names = _path_param_names(path)
    is_coroutine, is_gen, is_async_gen = _kind(call)
    dependant = Dependant(
        call=call,
        name=name,
        path=path,
        use_cache=use_cache,
        security_scopes=list(security_scopes or []),
        scope=scope,
        concurrency=concurrency,
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
                args = (base, *constraints)  # `Annotated[base, *constraints]` needs 3.11
                base = Annotated[args]
        if isinstance(default, params.Depends):
            depends, default = default, inspect.Parameter.empty
        elif isinstance(default, FieldInfo):
            field_info, default = default, inspect.Parameter.empty

        if depends is not None:
            if depends.scope == "function" and dependant.computed_scope == "request":
                name = getattr(call, "__name__", "<unnamed_callable>")
                raise DependencyScopeError(
                    f'The dependency "{name}" has a scope of "request", it cannot depend '
                    'on dependencies with scope "function".'
                )
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
                scope=depends.scope,
                concurrency=depends.concurrency,
            )
            dependant.dependencies.append(sub)
            continue
        special = next((slot for cls, slot in _SPECIAL if _is_class(base, cls)), None)
        if special is not None:
            setattr(dependant, special, param_name)
            continue
        if is_starlette_connection(base):
            dependant.starlette_request_params[param_name] = base
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
    subs = []
    for depends in dependencies:
        # No parameter to take a class from: the dependency must be given.
        assert depends.dependency is not None, "Depends() in dependencies=[...] needs a callable"
        subs.append(
            build_dependant(
                depends.dependency,
                path=path,
                use_cache=depends.use_cache,
                security_scopes=(
                    list(depends.scopes) if isinstance(depends, params.Security) else None
                ),
                scope=depends.scope,
                concurrency=depends.concurrency,
            )
        )
    dependant.dependencies[:0] = subs
    return dependant


def override_plan(dependant: Dependant, override: Callable[..., Any]) -> Dependant:
    """The plan of `override` standing in for `dependant` (``app.dependency_overrides``),
    compiled on first use and kept."""
    plan = dependant.override_plans.get(override)
    if plan is None:
        plan = dependant.override_plans[override] = build_dependant(
            override,
            path=dependant.path,
            name=dependant.name,
            use_cache=dependant.use_cache,
            security_scopes=dependant.security_scopes,
            scope=dependant.scope,
            concurrency=dependant.concurrency,
        )
    return plan


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
    key = model = parameters = None
    if source == "body":
        key = form_key(name, annotation, field_info, alias)
        model = form_model(annotation, field_info)
        if model is not None and not model.keys:
            annotation = form_union_annotation(annotation)
    elif source != "path":
        parameters = param_model(source, annotation, field_info)
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
        param_model=parameters,
    )


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
