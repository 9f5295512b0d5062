"""The values a document describes (parameters, bodies, responses) and their JSON Schemas.

Each value becomes a ``SchemaField``: its annotation and ``FieldInfo`` in a ``TypeAdapter``
built the way FastAPI builds it, so that Pydantic produces the same schema, title and
``$ref`` names. ``generate_definitions`` then turns all fields of an app into schemas at once,
sharing ``components/schemas`` between them.
"""

from __future__ import annotations

import dataclasses
import warnings
from copy import copy
from enum import Enum
from typing import Annotated, Any, Literal, Optional, Sequence, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema, PydanticUndefined

from .constants import REF_TEMPLATE

Mode = Literal["validation", "serialization"]

# The FieldInfo attributes that shape a schema; the rest of a FieldInfo is its metadata.
_ATTRIBUTES = (
    "default",
    "default_factory",
    "alias",
    "alias_priority",
    "validation_alias",
    "serialization_alias",
    "title",
    "field_title_generator",
    "description",
    "examples",
    "exclude",
    "exclude_if",
    "discriminator",
    "deprecated",
    "json_schema_extra",
    "frozen",
    "validate_default",
    "repr",
    "init",
    "init_var",
    "kw_only",
)


def _is_subclass(obj: Any, cls: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, cls)


class SchemaField:
    """One value of the document: a name, a ``FieldInfo`` (with its annotation) and a mode.

    Hashed by identity: the schema of each field is looked up by ``(field, mode)``.
    """

    def __init__(
        self,
        name: str,
        field_info: FieldInfo,
        mode: Mode = "validation",
        config: Optional[ConfigDict] = None,
    ) -> None:
        self.name = name
        self.field_info = field_info
        self.mode = mode
        attributes: dict[str, Any] = {}
        for attr in _ATTRIBUTES:
            value = getattr(field_info, attr, PydanticUndefined)
            if value is not PydanticUndefined:
                attributes[attr] = value
        with warnings.catch_warnings():
            # Field options such as ``alias`` mean nothing outside a model; Pydantic says so.
            warnings.simplefilter("ignore")
            args = (field_info.annotation, *field_info.metadata, Field(**attributes))
            annotated: Any = Annotated[args]  # `Annotated[x, *metadata, ...]` needs 3.11
            self.adapter: TypeAdapter[Any] = TypeAdapter(annotated, config=config)

    @property
    def alias(self) -> str:
        return self.field_info.alias if self.field_info.alias is not None else self.name

    @property
    def mode_alias(self) -> str:
        """The name the value has in its mode: its validation or serialization alias."""
        if self.mode == "validation":
            alias = self.field_info.validation_alias
            return alias if isinstance(alias, str) and alias else self.alias
        return self.field_info.serialization_alias or self.alias

    def is_required(self) -> bool:
        return self.field_info.is_required()


def field_for(
    name: str,
    annotation: Any,
    field_info: FieldInfo,
    *,
    alias: Optional[str] = None,
    mode: Mode = "validation",
) -> SchemaField:
    """A field for `annotation` described by a copy of `field_info` (which stays untouched)."""
    info = copy(field_info)
    info.annotation = annotation
    if alias is not None:
        info.alias = alias
    if info.default is Ellipsis:
        info.default = PydanticUndefined
    return SchemaField(name, info, mode)


def response_field(name: str, annotation: Any) -> SchemaField:
    return SchemaField(name, FieldInfo(annotation=annotation), "serialization")


def model_fields(model: type[BaseModel]) -> list[SchemaField]:
    """The fields of `model`, each validated with the model's config unless it is a model."""
    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nested = _is_subclass(annotation, (BaseModel, dict)) or dataclasses.is_dataclass(annotation)
        fields.append(SchemaField(name, info, config=None if nested else model.model_config))
    return fields


# -- the models a field refers to -------------------------------------------------------------


def _flat_models_of_annotation(annotation: Any, known: set[type]) -> None:
    if get_origin(annotation) is None:
        return
    for arg in get_args(annotation):
        if _is_subclass(arg, (BaseModel, Enum)):
            if arg not in known:
                known.add(arg)
                if _is_subclass(arg, BaseModel):
                    _flat_models_of_model(arg, known)
        else:
            _flat_models_of_annotation(arg, known)


def _flat_models_of_model(model: type[BaseModel], known: set[type]) -> None:
    for info in model.model_fields.values():
        _flat_models_of_type(info.annotation, known)


def _flat_models_of_type(annotation: Any, known: set[type]) -> None:
    if _is_subclass(annotation, BaseModel):
        if annotation not in known:
            known.add(annotation)
            _flat_models_of_model(annotation, known)
    elif _is_subclass(annotation, Enum):
        known.add(annotation)
    else:
        _flat_models_of_annotation(annotation, known)


def flat_models(fields: Sequence[SchemaField]) -> set[type]:
    """Every model and enum reachable from the fields' annotations."""
    known: set[type] = set()
    for field in fields:
        _flat_models_of_type(field.field_info.annotation, known)
    return known


# -- computed fields (which make a model's input and output schemas differ) -------------------


def _annotation_has_computed_fields(annotation: Any, known: set[type]) -> bool:
    if _is_subclass(annotation, BaseModel):
        if annotation in known:
            return False
        known.add(annotation)
        if annotation.model_computed_fields:
            return True
        return any(
            _annotation_has_computed_fields(info.annotation, known)
            for info in annotation.model_fields.values()
        )
    return any(_annotation_has_computed_fields(arg, known) for arg in get_args(annotation))


def has_computed_fields(field: SchemaField) -> bool:
    if field.adapter.core_schema.get("schema", {}).get("computed_fields", []):
        return True
    return _annotation_has_computed_fields(field.field_info.annotation, set())


# -- schemas ----------------------------------------------------------------------------------


class _SchemaGenerator(GenerateJsonSchema):
    """Pydantic's generator, with ``bytes`` described as binary content (as FastAPI does)."""

    def bytes_schema(self, schema: CoreSchema) -> JsonSchemaValue:
        json_schema: dict[str, Any] = {
            "type": "string",
            "contentMediaType": "application/octet-stream",
        }
        config = self._config
        mode = config.ser_json_bytes if self.mode == "serialization" else config.val_json_bytes
        if mode == "base64":
            json_schema["contentEncoding"] = "base64"
        self.update_with_validations(json_schema, schema, self.ValidationsMapping.bytes)
        return json_schema


FieldMapping = dict[tuple[SchemaField, Mode], JsonSchemaValue]


def generate_definitions(
    fields: Sequence[SchemaField], *, separate_input_output_schemas: bool = True
) -> tuple[FieldMapping, dict[str, dict[str, Any]]]:
    """The schema of every field, and the shared definitions they ``$ref``."""
    by_mode: dict[Mode, list[SchemaField]] = {"validation": [], "serialization": []}
    for field in fields:
        by_mode[field.mode].append(field)
    input_types = {field.field_info.annotation for field in fields}
    extra: list[SchemaField] = []
    for mode, mode_fields in by_mode.items():
        for model in flat_models(mode_fields):
            if model not in input_types:
                extra.append(SchemaField(model.__name__, FieldInfo(annotation=model), mode))
    inputs = []
    for field in [*fields, *extra]:
        mode = field.mode
        if not separate_input_output_schemas and not has_computed_fields(field):
            mode = "validation"
        inputs.append((field, mode, field.adapter.core_schema))
    generator = _SchemaGenerator(ref_template=REF_TEMPLATE)
    field_mapping, definitions = generator.generate_definitions(inputs=inputs)
    for definition in definitions.values():
        if "description" in definition:
            # A form feed ends the part of a docstring meant for the documentation.
            definition["description"] = definition["description"].split("\f")[0]
    return field_mapping, {ref: schema for ref, schema in definitions.items()}


def field_schema(
    field: SchemaField,
    field_mapping: FieldMapping,
    *,
    separate_input_output_schemas: bool = True,
    alias: Optional[str] = None,
) -> dict[str, Any]:
    """The schema of `field`; an inline schema gets a title made from its name."""
    mode: Mode = field.mode
    if not separate_input_output_schemas and not has_computed_fields(field):
        mode = "validation"
    schema = field_mapping[(field, mode)].copy()
    if "$ref" not in schema:
        name = alias if alias is not None else field.mode_alias
        schema["title"] = field.field_info.title or name.title().replace("_", " ")
    return schema


def model_type(annotation: Any) -> Optional[type[BaseModel]]:
    """The model of ``Model`` or ``Optional[Model]``, else None."""
    if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
        args = get_args(annotation)
        if len(args) == 2 and type(None) in args:
            annotation = next(arg for arg in args if arg is not type(None))
    return annotation if _is_subclass(annotation, BaseModel) else None
