"""What a compiled plan is: a ``Dependant`` per handler or dependency, holding a
``ModelField`` per request value it takes, and the ``Dependant`` of each sub-dependency.

Plans are built once, at registration (``build.py``), and read per request (``solve.py``)::

    plan = build_dependant(read_item, path="/items/{item_id}")
    [field.name for field in plan.path_params]   # ["item_id"]
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from copy import deepcopy
from enum import Enum
from typing import Annotated, Any, Callable, Optional

from pydantic import Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from .._core import InlinePolicy
from ..concurrency import DependencyConcurrency
from .forms import FormKey, FormModel
from .param_models import ParamModel

_SCALARS = (str, int, float, bool, bytes, type(None))


class SecurityScopes:
    """The OAuth2 scopes required by the dependants of a ``Security`` dependency."""

    def __init__(self, scopes: Optional[list[str]] = None) -> None:
        self.scopes = list(scopes or [])
        self.scope_str = " ".join(self.scopes)


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
    adapter: Optional[TypeAdapter[Any]] = None
    _mutable_default: bool = False
    # Body fields only: how the field is read when the route's body is a form.
    form_key: Optional[FormKey] = None
    form_model: Optional[FormModel] = None
    # Query, header and cookie fields only: the model whose fields are the parameters.
    param_model: Optional[ParamModel] = None

    def __post_init__(self) -> None:
        metadata = list(self.field_info.metadata)
        if self.field_info.discriminator is not None:
            metadata.append(Field(discriminator=self.field_info.discriminator))
        if self.annotation is str and not metadata and self.source != "body":
            self.adapter = None  # a str is already a str: no validator call per request
        else:
            args = (self.annotation, *metadata)  # `Annotated[x, *metadata]` needs 3.11
            annotated: Any = Annotated[args] if metadata else self.annotation
            self.adapter = TypeAdapter(annotated)
        self._mutable_default = not isinstance(self.default, (*_SCALARS, Enum, type(None)))

    def get_default(self) -> Any:
        if self.field_info.default_factory is not None:
            return self.field_info.default_factory()  # type: ignore[call-arg]  # takes no data
        return deepcopy(self.default) if self._mutable_default else self.default

    def validate(self, value: Any, loc: tuple[Any, ...], errors: list[dict[str, Any]]) -> Any:
        if self.adapter is None:
            return value
        try:
            return self.adapter.validate_python(value, from_attributes=True)
        except ValidationError as exc:
            errors.extend(_errors(exc, loc))
            return None


def _errors(exc: ValidationError, loc: tuple[Any, ...]) -> list[Any]:
    out = []
    for error in exc.errors(include_url=False):
        error["loc"] = (*loc, *error["loc"])
        out.append(error)
    return out


@dataclasses.dataclass
class Dependant:
    """The compiled plan of a handler or a dependency."""

    call: Callable[..., Any]
    name: Optional[str] = None  # the parameter it fills; None for a route's dependencies=[...]
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
    # The route's ``form_limits`` (max_fields, max_files, max_part_size) for that form.
    form_limits: dict[str, int] = dataclasses.field(default_factory=dict)
    request_param: Optional[str] = None
    websocket_param: Optional[str] = None
    response_param: Optional[str] = None
    background_param: Optional[str] = None
    security_scopes_param: Optional[str] = None
    # Parameters asking for Starlette's own Request class, by name.
    starlette_request_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    security_scopes: list[str] = dataclasses.field(default_factory=list)
    use_cache: bool = True
    # ``Depends(scope=...)``: "function" exits a ``yield`` dependency before the response.
    scope: Optional[str] = None
    # ``Depends(max_concurrency=n)``: the limit its calls wait on (on the event loop).
    concurrency: Optional[DependencyConcurrency] = None
    is_coroutine: bool = False
    is_gen: bool = False
    is_async_gen: bool = False
    # The plans of ``app.dependency_overrides`` standing in for this one, by override.
    override_plans: dict[Callable[..., Any], Dependant] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    @functools.cached_property
    def cache_key(self) -> tuple[Any, ...]:
        return (self.call, tuple(sorted(set(self.security_scopes))), self.computed_scope or "")

    @property
    def computed_scope(self) -> Optional[str]:
        """When a ``yield`` dependency exits: its own scope, else after the response."""
        if self.scope:
            return self.scope
        return "request" if self.is_gen or self.is_async_gen else None

    def walk(self) -> Iterator[Dependant]:
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
                self.starlette_request_params,
            )
        )

    @functools.cached_property
    def takes_request_values(self) -> bool:
        """Whether any parameter comes from the request itself (not a sub-dependency)."""
        return bool(self.request_fields or self.body_params or self.has_special)

    @functools.cached_property
    def policy(self) -> InlinePolicy:
        """Where a sync `call` runs in an async plan: the threadpool, or inline once quick."""
        return InlinePolicy()

    @property
    def needs_async(self) -> bool:
        # A limited dependency waits for its turn on the event loop.
        return any(
            d.is_coroutine or d.is_async_gen or d.concurrency is not None for d in self.walk()
        )
