"""Turning any value into plain JSON-able data (dict, list, str, int, float, bool, None)::

    from ignyx.encoders import jsonable_encoder

    jsonable_encoder({"when": datetime(2024, 1, 2), "ids": {UUID(int=1)}, "user": user_model})
    # {"when": "2024-01-02T00:00:00", "ids": ["00000000-0000-0000-0000-000000000001"], "user": {...}}

Same rules and results as ``fastapi.encoders.jsonable_encoder``, so data stored or returned
with it looks the same after moving an app.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import deque
from decimal import Decimal
from enum import Enum
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from pathlib import PurePath
from re import Pattern
from types import GeneratorType
from typing import Any, Callable, Optional, Union
from uuid import UUID

from pydantic import AnyUrl, BaseModel, NameEmail, SecretBytes, SecretStr
from pydantic_core import PydanticSerializationError, PydanticUndefinedType, Url, to_jsonable_python

__all__ = [
    "ENCODERS_BY_TYPE",
    "decimal_encoder",
    "encoders_by_class_tuples",
    "generate_encoders_by_class_tuples",
    "isoformat",
    "jsonable_encoder",
]

IncEx = Union[set[int], set[str], dict[int, Any], dict[str, Any]]


def decimal_encoder(value: Decimal) -> Union[int, float]:
    """``Decimal("2")`` as ``2`` and ``Decimal("2.5")`` as ``2.5``."""
    # Whole numbers stay ints so that Numeric(x, 0) columns round-trip without a ".0".
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    return float(value)


def isoformat(value: Union[datetime.date, datetime.time]) -> str:
    """A date or time as ISO 8601 text: ``"2024-01-02"``."""
    return value.isoformat()


# The encoder of each type ``jsonable_encoder`` converts; an app may add its own
# (``ENCODERS_BY_TYPE[ObjectId] = str``) for values the engine's JSON writer does not know.
ENCODERS_BY_TYPE: dict[type[Any], Callable[[Any], Any]] = {
    bytes: lambda value: value.decode(),
    datetime.date: isoformat,
    datetime.datetime: isoformat,
    datetime.time: isoformat,
    datetime.timedelta: lambda value: value.total_seconds(),
    Decimal: decimal_encoder,
    Enum: lambda value: value.value,
    frozenset: list,
    deque: list,
    GeneratorType: list,
    IPv4Address: str,
    IPv4Interface: str,
    IPv4Network: str,
    IPv6Address: str,
    IPv6Interface: str,
    IPv6Network: str,
    NameEmail: str,
    PurePath: str,
    Pattern: lambda value: value.pattern,
    SecretBytes: str,
    SecretStr: str,
    set: list,
    UUID: str,
    Url: str,
    AnyUrl: str,
}


def generate_encoders_by_class_tuples(
    type_encoder_map: dict[Any, Callable[[Any], Any]],
) -> dict[Callable[[Any], Any], tuple[Any, ...]]:
    """The map inverted: each encoder and the tuple of types it encodes."""
    by_encoder: dict[Callable[[Any], Any], tuple[Any, ...]] = {}
    for type_, encoder in type_encoder_map.items():
        by_encoder[encoder] = (*by_encoder.get(encoder, ()), type_)
    return by_encoder


encoders_by_class_tuples = generate_encoders_by_class_tuples(ENCODERS_BY_TYPE)

# pydantic's deprecated Color classes are encoded with str(), found by module so that
# importing them (and their deprecation warning) is never needed.
_STR_ENCODED_MODULES = ("pydantic.color", "pydantic_extra_types.color")


def _encode_by_type(obj: Any) -> tuple[bool, Any]:
    encoder = ENCODERS_BY_TYPE.get(type(obj))
    if encoder is None:
        encoder = next((enc for cls, enc in ENCODERS_BY_TYPE.items() if isinstance(obj, cls)), None)
    if encoder is None and type(obj).__module__ in _STR_ENCODED_MODULES:
        encoder = str
    if encoder is None:
        return False, None
    return True, encoder(obj)


def jsonable_encoder(
    obj: Any,
    include: Optional[IncEx] = None,
    exclude: Optional[IncEx] = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool = False,
    exclude_none: bool = False,
    custom_encoder: Optional[dict[Any, Callable[[Any], Any]]] = None,
    sqlalchemy_safe: bool = True,
) -> Any:
    """Converts ``obj`` to data ``json.dumps`` accepts.

    ``include``/``exclude``/``by_alias``/``exclude_*`` are passed to Pydantic models (and
    ``include``/``exclude`` filter dict keys); ``custom_encoder`` maps types to functions that
    take precedence; ``sqlalchemy_safe`` drops dict keys starting with ``_sa``.
    Raises ``ValueError`` for objects that cannot be read as a dict either.
    """
    custom_encoder = custom_encoder or {}
    if custom_encoder:
        if type(obj) in custom_encoder:
            return custom_encoder[type(obj)](obj)
        for encoder_type, encoder in custom_encoder.items():
            if isinstance(obj, encoder_type):
                return encoder(obj)
    if include is not None and not isinstance(include, (set, dict)):
        include = set(include)
    if exclude is not None and not isinstance(exclude, (set, dict)):
        exclude = set(exclude)
    # Options passed down to nested values; include/exclude apply at their own level only.
    nested: dict[str, Any] = {
        "by_alias": by_alias,
        "exclude_unset": exclude_unset,
        "exclude_defaults": exclude_defaults,
        "exclude_none": exclude_none,
        "custom_encoder": custom_encoder,
        "sqlalchemy_safe": sqlalchemy_safe,
    }

    if isinstance(obj, BaseModel):
        data = obj.model_dump(
            mode="json",
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults,
        )
        return jsonable_encoder(
            data,
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults,
            sqlalchemy_safe=sqlalchemy_safe,
        )
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable_encoder(dataclasses.asdict(obj), include=include, exclude=exclude, **nested)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (str, int, float, type(None))):
        return obj
    if isinstance(obj, PydanticUndefinedType):
        return None
    if isinstance(obj, dict):
        allowed_keys = set(obj.keys())
        if include is not None:
            allowed_keys &= set(include)
        if exclude is not None:
            allowed_keys -= set(exclude)
        return {
            jsonable_encoder(key, **nested): jsonable_encoder(value, **nested)
            for key, value in obj.items()
            if (not sqlalchemy_safe or not isinstance(key, str) or not key.startswith("_sa"))
            and (value is not None or not exclude_none)
            and key in allowed_keys
        }
    if isinstance(obj, (list, set, frozenset, GeneratorType, tuple, deque)):
        return [jsonable_encoder(item, include=include, exclude=exclude, **nested) for item in obj]

    found, encoded = _encode_by_type(obj)
    if found:
        return encoded
    try:
        return to_jsonable_python(obj)
    except PydanticSerializationError:
        pass
    try:
        data = dict(obj)
    except Exception as dict_error:
        try:
            data = vars(obj)
        except Exception as vars_error:
            raise ValueError([dict_error, vars_error]) from vars_error
    return jsonable_encoder(data, include=include, exclude=exclude, **nested)
