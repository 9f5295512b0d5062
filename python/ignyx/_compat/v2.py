"""``ModelField`` and the Pydantic 2 helpers around it, over Ignyx's document fields::

    field = ModelField(field_info=FieldInfo(annotation=int), name="limit")
    field.validate("7", loc=("query", "limit"))   # (7, [])

A ``ModelField`` is an ``ignyx.openapi._fields.SchemaField`` with FastAPI's methods, so the
OpenAPI helpers here (``get_definitions``, ``get_schema_from_model_field``) are the ones
that write Ignyx's own document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from copy import copy
from dataclasses import is_dataclass
from enum import Enum
from functools import lru_cache
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic import PydanticSchemaGenerationError as PydanticSchemaGenerationError
from pydantic import PydanticUndefinedAnnotation as PydanticUndefinedAnnotation
from pydantic.annotated_handlers import GetJsonSchemaHandler as GetJsonSchemaHandler
from pydantic.fields import FieldInfo as FieldInfo
from pydantic.json_schema import JsonSchemaValue as JsonSchemaValue
from pydantic_core import CoreSchema as CoreSchema
from pydantic_core import PydanticUndefined, PydanticUndefinedType
from pydantic_core import Url as Url
from pydantic_core.core_schema import (
    with_info_plain_validator_function as with_info_plain_validator_function,
)

from ..encoders import IncEx
from ..openapi import _fields
from ..openapi.constants import REF_TEMPLATE as REF_TEMPLATE
from ..types import ModelNameMap as ModelNameMap
from .shared import field_annotation_is_scalar, lenient_issubclass, sequence_annotation_to_type

__all__ = [
    "CoreSchema",
    "FieldInfo",
    "GenerateJsonSchema",
    "GetJsonSchemaHandler",
    "JsonSchemaValue",
    "ModelField",
    "ModelNameMap",
    "PydanticSchemaGenerationError",
    "PydanticUndefinedAnnotation",
    "REF_TEMPLATE",
    "RequiredParam",
    "TypeModelOrEnum",
    "TypeModelSet",
    "Undefined",
    "UndefinedType",
    "Url",
    "ValidationError",
    "asdict",
    "copy_field_info",
    "create_body_model",
    "evaluate_forwardref",
    "get_cached_model_fields",
    "get_definitions",
    "get_flat_models_from_annotation",
    "get_flat_models_from_field",
    "get_flat_models_from_fields",
    "get_flat_models_from_model",
    "get_missing_field_error",
    "get_model_fields",
    "get_model_name_map",
    "get_schema_from_model_field",
    "is_scalar_field",
    "normalize_name",
    "serialize_sequence_value",
    "with_info_plain_validator_function",
]

# "No default": the value of a required parameter's default.
Undefined = RequiredParam = PydanticUndefined
UndefinedType = PydanticUndefinedType

# Pydantic's JSON Schema generator with ``bytes`` as binary content, as the documents use.
GenerateJsonSchema = _fields._SchemaGenerator

Mode = Literal["validation", "serialization"]

# The classes a document names under ``components/schemas``, and sets of them.
TypeModelOrEnum = Union[type[BaseModel], type[Enum]]
TypeModelSet = set[TypeModelOrEnum]


class ModelField(_fields.SchemaField):
    """A named value validated and serialized by Pydantic as ``field_info`` describes it."""

    def __init__(
        self,
        field_info: FieldInfo,
        name: str,
        mode: Mode = "validation",
        config: Optional[ConfigDict] = None,
    ) -> None:
        super().__init__(name, field_info, mode, config)
        self.config = config

    @property
    def validation_alias(self) -> Optional[str]:
        alias = self.field_info.validation_alias
        return alias if isinstance(alias, str) and alias else None

    @property
    def serialization_alias(self) -> Optional[str]:
        return self.field_info.serialization_alias or None

    @property
    def default(self) -> Any:
        return self.get_default()

    def get_default(self) -> Any:
        """The default (made by its factory if it has one); ``Undefined`` when required."""
        if self.field_info.is_required():
            return Undefined
        return self.field_info.get_default(call_default_factory=True)

    def validate(
        self,
        value: Any,
        values: Optional[dict[str, Any]] = None,
        *,
        loc: tuple[int | str, ...] = (),
    ) -> tuple[Any, list[dict[str, Any]]]:
        """``(validated value, [])``, or ``(None, errors)`` with each error under `loc`."""
        try:
            return self.adapter.validate_python(value, from_attributes=True), []
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            return None, _regenerate_error_with_loc(errors=errors, loc_prefix=loc)

    def serialize(
        self,
        value: Any,
        *,
        mode: Literal["json", "python"] = "json",
        include: Optional[IncEx] = None,
        exclude: Optional[IncEx] = None,
        by_alias: bool = True,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
    ) -> Any:
        """A validated value as Python data (JSON-able in the default ``json`` mode)."""
        return self.adapter.dump_python(
            value,
            mode=mode,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )

    def serialize_json(
        self,
        value: Any,
        *,
        include: Optional[IncEx] = None,
        exclude: Optional[IncEx] = None,
        by_alias: bool = True,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
    ) -> bytes:
        """A validated value as JSON bytes, in one pass."""
        return self.adapter.dump_json(
            value,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, mode={self.mode!r})"


def _regenerate_error_with_loc(
    *, errors: Sequence[Any], loc_prefix: tuple[int | str, ...]
) -> list[dict[str, Any]]:
    """The errors, each with its ``loc`` under `loc_prefix`."""
    return [{**error, "loc": (*loc_prefix, *error.get("loc", ()))} for error in errors]


def evaluate_forwardref(
    value: Any,
    globalns: Optional[dict[str, Any]] = None,
    localns: Optional[dict[str, Any]] = None,
) -> Any:
    """The type a string annotation (or ``ForwardRef``) names; itself when it cannot say."""
    text = getattr(value, "__forward_arg__", value)
    if not isinstance(text, str):
        return value
    try:
        return eval(text, dict(globalns or {}), localns)  # what typing.get_type_hints does
    except Exception:
        return value


def asdict(field_info: FieldInfo) -> dict[str, Any]:
    """`field_info` as its annotation, its metadata and the attributes it sets."""
    attributes = {}
    for name in _fields._ATTRIBUTES:
        value = getattr(field_info, name, Undefined)
        if value is not Undefined:
            attributes[name] = value
    return {
        "annotation": field_info.annotation,
        "metadata": field_info.metadata,
        "attributes": attributes,
    }


def copy_field_info(*, field_info: FieldInfo, annotation: Any) -> FieldInfo:
    """A copy of `field_info` (same class) with what `annotation` declares laid over it."""
    declared = type(field_info).from_annotation(annotation)
    copied = copy(field_info)
    for name, value in asdict(declared)["attributes"].items():
        setattr(copied, name, value)
    copied._attributes_set = declared._attributes_set.copy()
    copied.metadata = declared.metadata
    copied.annotation = declared.annotation
    return copied


def get_missing_field_error(loc: tuple[int | str, ...]) -> dict[str, Any]:
    """The error of a required value that is absent, at `loc`."""
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


def is_scalar_field(field: ModelField) -> bool:
    """A single value read from the query, path, headers or cookies (not a body)."""
    from ..params import Body

    annotation = field.field_info.annotation
    return field_annotation_is_scalar(annotation) and not isinstance(field.field_info, Body)


def serialize_sequence_value(*, field: ModelField, value: Any) -> Sequence[Any]:
    """`value` as the sequence type `field` declares (a set for ``set[int]``...)."""
    annotation = field.field_info.annotation
    origin = get_origin(annotation) or annotation
    if origin in sequence_annotation_to_type:
        return sequence_annotation_to_type[origin](value)
    for arm in get_args(annotation):  # Optional[list[int]] and other unions
        if arm is not type(None):
            origin = get_origin(arm) or arm
            break
    return sequence_annotation_to_type[origin](value)


def create_body_model(
    *, fields: Sequence[ModelField], model_name: str, config: Optional[ConfigDict] = None
) -> type[BaseModel]:
    """A model with one field per `fields`, as a request body with several parts is read."""
    definitions: Any = {
        field.name: (field.field_info.annotation, field.field_info) for field in fields
    }
    return create_model(model_name, __config__=config, **definitions)


def get_model_fields(model: type[BaseModel]) -> list[ModelField]:
    """A field per field of `model`, validated with the model's config unless it is nested."""
    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nested = lenient_issubclass(annotation, (BaseModel, dict)) or is_dataclass(annotation)
        fields.append(ModelField(info, name, config=None if nested else model.model_config))
    return fields


@lru_cache
def get_cached_model_fields(model: type[BaseModel]) -> list[ModelField]:
    """``get_model_fields``, once per model."""
    return get_model_fields(model)


def normalize_name(name: str) -> str:
    """`name` with what a schema name cannot hold replaced by ``_``."""
    return re.sub(r"[^a-zA-Z0-9.\-_]", "_", name)


def get_model_name_map(unique_models: TypeModelSet) -> ModelNameMap:
    """Each model's schema name; of models with the same name, one is kept."""
    by_name = {normalize_name(model.__name__): model for model in unique_models}
    return {model: name for name, model in by_name.items()}


def get_flat_models_from_annotation(annotation: Any, known_models: TypeModelSet) -> TypeModelSet:
    """`known_models` with the models and enums inside `annotation`'s arguments added."""
    _fields._flat_models_of_annotation(annotation, known_models)
    return known_models


def get_flat_models_from_model(
    model: type[BaseModel], known_models: Optional[TypeModelSet] = None
) -> TypeModelSet:
    """`known_models` with the models and enums `model`'s fields refer to added."""
    known_models = known_models if known_models is not None else set()
    _fields._flat_models_of_model(model, known_models)
    return known_models


def get_flat_models_from_field(field: ModelField, known_models: TypeModelSet) -> TypeModelSet:
    """`known_models` with every model and enum reachable from `field` added."""
    _fields._flat_models_of_type(field.field_info.annotation, known_models)
    return known_models


def get_flat_models_from_fields(
    fields: Sequence[ModelField], known_models: TypeModelSet
) -> TypeModelSet:
    """`known_models` with every model and enum reachable from `fields` added."""
    known_models.update(_fields.flat_models(fields))
    return known_models


def get_definitions(
    *,
    fields: Sequence[ModelField],
    model_name_map: Optional[ModelNameMap] = None,
    separate_input_output_schemas: bool = True,
) -> tuple[dict[tuple[ModelField, Mode], JsonSchemaValue], dict[str, dict[str, Any]]]:
    """The schema of each ``(field, mode)`` and the ``components/schemas`` they refer to."""
    mapping, definitions = _fields.generate_definitions(
        fields, separate_input_output_schemas=separate_input_output_schemas
    )
    return mapping, definitions  # type: ignore[return-value]


def get_schema_from_model_field(
    *,
    field: ModelField,
    model_name_map: Optional[ModelNameMap] = None,
    field_mapping: dict[tuple[ModelField, Mode], JsonSchemaValue],
    separate_input_output_schemas: bool = True,
    field_alias: Optional[str] = None,
) -> dict[str, Any]:
    """`field`'s schema from `field_mapping`; an inline one titled after the field."""
    return _fields.field_schema(
        field,
        field_mapping,  # type: ignore[arg-type]
        separate_input_output_schemas=separate_input_output_schemas,
        alias=field_alias,
    )
