"""Where a handler parameter comes from: ``Query``, ``Path``, ``Header``, ``Cookie``,
``Body``, ``Form``, ``File`` markers and ``Depends``/``Security``.

The markers are pydantic ``FieldInfo`` objects, as in FastAPI, so their constraints
(``ge``, ``max_length``, ``pattern``...) are validated by pydantic and appear in OpenAPI::

    @app.get("/items")
    def items(limit: int = Query(10, ge=1, le=100), x_token: str = Header()): ...
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Literal, Optional, Sequence

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ._deprecation import EXAMPLE, REGEX, warn_deprecated
from .concurrency import DependencyConcurrency

_Unset: Any = PydanticUndefined


class ParamTypes(Enum):
    query = "query"
    header = "header"
    path = "path"
    cookie = "cookie"


# pydantic marks FieldInfo final; the markers subclass it anyway, as FastAPI's do, so that
# pydantic validates and documents their constraints (hence each class's `ignore[misc]`).
class Param(FieldInfo):  # type: ignore[misc]
    """A request parameter with FastAPI's options."""

    in_: ParamTypes

    def __init__(
        self,
        default: Any = ...,
        *,
        default_factory: Optional[Callable[[], Any]] = _Unset,
        annotation: Any = None,
        alias: Optional[str] = None,
        alias_priority: Optional[int] = _Unset,
        validation_alias: Optional[str] = None,
        serialization_alias: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        gt: Optional[float] = None,
        ge: Optional[float] = None,
        lt: Optional[float] = None,
        le: Optional[float] = None,
        min_length: Optional[int] = None,
        max_length: Optional[int] = None,
        pattern: Optional[str] = None,
        regex: Optional[str] = None,
        discriminator: Optional[str] = None,
        strict: Optional[bool] = _Unset,
        multiple_of: Optional[float] = _Unset,
        allow_inf_nan: Optional[bool] = _Unset,
        max_digits: Optional[int] = _Unset,
        decimal_places: Optional[int] = _Unset,
        examples: Optional[list[Any]] = None,
        example: Any = _Unset,
        openapi_examples: Optional[dict[str, Any]] = None,
        deprecated: Optional[bool] = None,
        include_in_schema: bool = True,
        json_schema_extra: Optional[dict[str, Any]] = None,
        **extra: Any,
    ) -> None:
        if example is not _Unset:
            warn_deprecated(EXAMPLE)
        if regex is not None:
            warn_deprecated(REGEX)
        # FastAPI documents the deprecated `example` on the parameter only, not in its schema.
        self.example = example
        self.include_in_schema = include_in_schema
        self.openapi_examples = openapi_examples
        kwargs = dict(
            default=default,
            default_factory=default_factory,
            alias=alias,
            title=title,
            description=description,
            gt=gt,
            ge=ge,
            lt=lt,
            le=le,
            min_length=min_length,
            max_length=max_length,
            discriminator=discriminator,
            multiple_of=multiple_of,
            allow_inf_nan=allow_inf_nan,
            max_digits=max_digits,
            decimal_places=decimal_places,
            strict=strict,
            examples=examples,
            deprecated=deprecated,
            json_schema_extra={**(json_schema_extra or {}), **extra} or None,
            validation_alias=validation_alias,
            serialization_alias=serialization_alias,
            alias_priority=alias_priority,
            pattern=pattern or regex,
        )
        if default is not ... and default_factory is not _Unset:
            raise TypeError("cannot give both default and default_factory")
        if default_factory is not _Unset:
            kwargs.pop("default")
        super().__init__(**{k: v for k, v in kwargs.items() if v is not _Unset})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.default!r})"


class Path(Param):  # type: ignore[misc]
    in_ = ParamTypes.path

    def __init__(self, default: Any = ..., **kwargs: Any) -> None:
        if default is not ...:
            raise AssertionError("Path parameters cannot have a default value")
        super().__init__(default, **kwargs)


class Query(Param):  # type: ignore[misc]
    in_ = ParamTypes.query


class Header(Param):  # type: ignore[misc]
    in_ = ParamTypes.header

    def __init__(self, default: Any = ..., *, convert_underscores: bool = True, **kwargs: Any):
        self.convert_underscores = convert_underscores
        super().__init__(default, **kwargs)


class Cookie(Param):  # type: ignore[misc]
    in_ = ParamTypes.cookie


class Body(Param):  # type: ignore[misc]
    """The JSON request body, or one key of it (``embed=True`` or several body parameters)."""

    def __init__(
        self,
        default: Any = ...,
        *,
        embed: Optional[bool] = None,
        media_type: str = "application/json",
        **kwargs: Any,
    ) -> None:
        self.embed = embed
        self.media_type = media_type
        super().__init__(default, **kwargs)


class Form(Body):  # type: ignore[misc]
    def __init__(
        self,
        default: Any = ...,
        *,
        media_type: str = "application/x-www-form-urlencoded",
        **kw: Any,
    ) -> None:
        super().__init__(default, media_type=media_type, **kw)


class File(Form):  # type: ignore[misc]
    def __init__(self, default: Any = ..., *, media_type: str = "multipart/form-data", **kw: Any):
        super().__init__(default, media_type=media_type, **kw)


class Depends:
    """A dependency: ``Depends(get_db)``; ``Depends()`` uses the parameter's annotation.

    A ``yield`` dependency's code after the ``yield`` runs once the response is sent; with
    ``scope="function"`` it runs as soon as the endpoint has returned, before the response
    is sent."""

    def __init__(
        self,
        dependency: Optional[Callable[..., Any]] = None,
        *,
        use_cache: bool = True,
        scope: Optional[Literal["function", "request"]] = None,
        max_concurrency: Optional[int] = None,
    ) -> None:
        if scope not in (None, "function", "request"):
            raise ValueError(f'scope must be "function" or "request", not {scope!r}')
        if max_concurrency is not None and (
            type(max_concurrency) is not int or max_concurrency < 1
        ):
            raise ValueError("max_concurrency must be a positive integer or None")
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope = scope
        self.max_concurrency = max_concurrency
        # One limit per declaration, shared by every route that uses it.
        self.concurrency = (
            DependencyConcurrency(max_concurrency) if max_concurrency is not None else None
        )

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__name__", type(self.dependency).__name__)
        cache = "" if self.use_cache else ", use_cache=False"
        return f"{type(self).__name__}({name}{cache})"


class Security(Depends):
    """A dependency that also declares OAuth2 scopes."""

    def __init__(
        self,
        dependency: Optional[Callable[..., Any]] = None,
        *,
        scopes: Optional[Sequence[str]] = None,
        use_cache: bool = True,
        scope: Optional[Literal["function", "request"]] = None,
        max_concurrency: Optional[int] = None,
    ) -> None:
        super().__init__(
            dependency=dependency,
            use_cache=use_cache,
            scope=scope,
            max_concurrency=max_concurrency,
        )
        self.scopes = list(scopes or [])
