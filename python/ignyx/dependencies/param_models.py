"""Parameter models: a Pydantic model whose fields are the query parameters, headers or
cookies of a request (``Annotated[FilterParams, Query()]``), read with FastAPI's rules.

At registration, `param_model` says how each field is looked up; per request,
`param_model_input` gathers the dict the model is validated from: its own fields under
their names, then every other value sent, so that ``extra="forbid"`` can refuse them::

    model = param_model("query", FilterParams, Query())
    value, header_locs = param_model_input(model, {"limit": ["5"], "tool": ["x"]})
    # value == {"limit": "5", "tool": "x"}

Header fields are sent with hyphens for underscores (``save_data`` is ``save-data``) unless
``convert_underscores=False``; errors then name the header that was read.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Union, get_args, get_origin

from pydantic import AliasChoices, AliasPath, BaseModel, Json
from pydantic.fields import FieldInfo

from .forms import ABSENT, _is_sequence


@dataclasses.dataclass(frozen=True)
class ModelKey:
    """How one field of a parameter model is read: the names it may be sent under, each
    as (the name the model validates it under, the name sent in the request), in order of
    preference; and whether it takes every value sent. The first pair names the parameter
    in OpenAPI."""

    name: str
    pairs: tuple[tuple[str, str], ...]
    lookups: tuple[tuple[str, str], ...]  # `pairs` as looked up (header names lower-cased)
    many: bool


@dataclasses.dataclass(frozen=True)
class ParamModel:
    """A Pydantic model filled from one source of request values."""

    source: str  # "query" | "header" | "cookie"
    keys: tuple[ModelKey, ...]
    own_names: frozenset[str]  # every request name of its fields
    nullable: bool  # ``Optional[Model]``: absent when none of its fields was sent
    takes_extra: bool  # ``extra="allow"``/``"forbid"``: any value at all means it was sent
    loc_by_alias: bool


# ---------------------------------------------------------------------------
# At registration


def param_model(source: str, annotation: Any, field_info: FieldInfo) -> Optional[ParamModel]:
    """The model a ``Query()``, ``Header()`` or ``Cookie()`` parameter is, if it is one."""
    model = annotation
    origin = get_origin(annotation)
    if origin is Union or (origin is not None and type(annotation).__name__ == "UnionType"):
        args = get_args(annotation)
        if len(args) == 2 and type(None) in args:
            model = next(arg for arg in args if arg is not type(None))
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    if any(type(item) is Json for item in field_info.metadata):
        return None
    is_header = source == "header"
    default_convert = getattr(field_info, "convert_underscores", True)
    config = dict(model.model_config)
    keys = []
    for name, info in model.model_fields.items():
        convert = is_header and getattr(info, "convert_underscores", default_convert)
        pairs = _pairs(name, info, config, convert)
        lookups = [(alias, request.lower()) for alias, request in pairs] if is_header else pairs
        many = _is_sequence(info.annotation) and not any(
            type(item) is Json for item in info.metadata
        )
        keys.append(ModelKey(name, tuple(pairs), tuple(lookups), many))
    return ParamModel(
        source=source,
        keys=tuple(keys),
        own_names=frozenset(request for key in keys for _, request in key.lookups),
        nullable=model is not annotation,
        takes_extra=config.get("extra") in ("allow", "forbid"),
        loc_by_alias=bool(config.get("loc_by_alias", True)),
    )


def _pairs(
    name: str, info: FieldInfo, config: dict[str, Any], convert: bool
) -> list[tuple[str, str]]:
    validation_alias = info.validation_alias
    alias = validation_alias if isinstance(validation_alias, str) else info.alias or name
    pairs = [(alias, alias.replace("_", "-") if convert and alias == name else alias)]
    if isinstance(validation_alias, AliasPath):
        return pairs
    if isinstance(validation_alias, AliasChoices):
        if any(isinstance(choice, AliasPath) for choice in validation_alias.choices):
            return pairs
        # Choices are the literal names to look up, underscores included.
        pairs = [(choice, choice) for choice in validation_alias.choices]  # type: ignore[misc]
    by_name = config.get("validate_by_name", config.get("populate_by_name", False))
    if config.get("validate_by_alias") is False or by_name:
        request = name.replace("_", "-") if convert else name
        if config.get("validate_by_alias") is False:
            return [(name, request)]
        if name not in [alias for alias, _ in pairs]:
            pairs.append((name, request))
    return pairs


# ---------------------------------------------------------------------------
# Per request


def param_model_input(model: ParamModel, received: dict[str, list[Any]]) -> tuple[Any, dict]:
    """The dict `model` is validated from (or `ABSENT` for an optional model nobody sent),
    and, for headers read under another name than their field's, that name by field (for
    the errors' ``loc``). `received` holds every value sent, by request name, in order."""
    is_header = model.source == "header"
    data: dict[str, Any] = {}
    used: set[str] = set()
    header_locs: dict[str, str] = {}
    for key in model.keys:
        alias, request = next((pair for pair in key.lookups if pair[1] in received), key.lookups[0])
        values = received.get(request)
        if values:
            if key.many and model.source != "cookie":
                data[alias] = values
            else:
                # A repeated query parameter counts by its last value, a header by its first.
                data[alias] = values[-1] if model.source == "query" else values[0]
        used.add(request)
        if is_header:
            used.update(alias.lower() for alias, request in key.lookups if alias != request)
            if alias != request:
                header_locs[key.name] = request
    for name, values in received.items():
        if name not in used:
            data[name] = values[0] if len(values) == 1 else values
    if model.nullable and not (
        model.own_names.intersection(received) or (model.takes_extra and data)
    ):
        return ABSENT, header_locs
    return data, header_locs


def received_values(source: str, request: Any) -> dict[str, list[Any]]:
    """Every value of `source` the request sent, by name (header names lower-cased)."""
    received: dict[str, list[Any]] = {}
    if source == "query":
        pairs: Any = request._data.query_items()
    elif source == "header":
        pairs = (
            (bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
            for k, v in request._data.raw_headers
        )
    else:
        pairs = request.cookies.items()
    for name, value in pairs:
        received.setdefault(name, []).append(value)
    return received
