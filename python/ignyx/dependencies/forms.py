"""How body parameters are read from a form, with FastAPI's rules.

At registration, `form_key` and `form_model` say how each body parameter is read; per
request, `form_value` and `form_model_input` only look values up::

    key = form_key("tags", list[str], Form(), "tags")
    form_value(key, FormData([("tags", "a"), ("tags", "b")]))   # ("tags", ["a", "b"])

An empty text value or an empty file input (what a browser sends for a field left blank)
counts as absent: the parameter takes its default or is reported missing.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from collections.abc import Sequence
from typing import Annotated, Any, Optional, Union, get_args, get_origin

from pydantic import AliasChoices, AliasPath, BaseModel, BeforeValidator, Json, Tag
from pydantic.fields import FieldInfo

from .. import params
from ..datastructures import FormData, UploadFile

_SEQUENCES = (list, set, frozenset, tuple, deque, Sequence)

ABSENT: Any = object()
"""What `form_value` and `form_model_input` give for a value that was not sent."""


@dataclasses.dataclass(frozen=True)
class FormKey:
    """How one value is read from a form: the names it may be sent under (in order of
    preference), whether it takes every value sent (a list) or the last one, and whether an
    uploaded file becomes its bytes (``bytes = File()``)."""

    aliases: tuple[str, ...]
    many: bool
    read_bytes: bool


@dataclasses.dataclass(frozen=True)
class FormModel:
    """A Pydantic model filled from a form's fields (``Annotated[Model, Form()]``)."""

    keys: tuple[FormKey, ...]
    names: frozenset[str]  # every name of its fields: any of them means it was sent
    nullable: bool  # ``Optional[Model]``: absent when none of its fields was sent
    takes_extra: bool  # ``extra="allow"``/``"forbid"``: any field at all means it was sent


# ---------------------------------------------------------------------------
# At registration


def is_upload(annotation: Any, *, in_sequence: bool = False) -> bool:
    """``UploadFile``, ``Optional[UploadFile]`` or ``list[UploadFile]``: FastAPI reads these
    from a multipart form even without ``File()``."""
    if get_origin(annotation) is Annotated:
        return is_upload(get_args(annotation)[0], in_sequence=in_sequence)
    if _is_union(annotation):
        return any(is_upload(arg, in_sequence=in_sequence) for arg in get_args(annotation))
    if not in_sequence and _is_sequence(annotation):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return bool(args) and all(is_upload(arg, in_sequence=True) for arg in args)
    return _is_class(annotation, UploadFile)


def form_key(
    name: str,
    annotation: Any,
    field_info: FieldInfo,
    alias: str,
    config: Optional[dict[str, Any]] = None,
) -> FormKey:
    """How the parameter or model field `name` is read from a form (`config`: its model's)."""
    aliases = [alias]
    validation_alias = field_info.validation_alias
    if isinstance(validation_alias, AliasChoices) and not any(
        isinstance(choice, AliasPath) for choice in validation_alias.choices
    ):
        aliases = [choice for choice in validation_alias.choices if isinstance(choice, str)]
    if config and not isinstance(validation_alias, AliasPath):
        if config.get("validate_by_alias") is False:
            aliases = [name]
        elif config.get("validate_by_name", config.get("populate_by_name", False)):
            aliases += [name] if name not in aliases else []
    many = _is_sequence(annotation) and not _is_json(annotation, field_info)
    is_file = isinstance(field_info, params.File)
    read_bytes = is_file and (_is_bytes_sequence(annotation) if many else _is_bytes(annotation))
    return FormKey(tuple(aliases), many, read_bytes)


def form_model(annotation: Any, field_info: FieldInfo) -> Optional[FormModel]:
    """The model a ``Form()`` parameter is filled from field by field, if it is one (a
    union of models is one too: see `form_union_annotation`)."""
    if not isinstance(field_info, params.Form) or getattr(field_info, "embed", None):
        return None
    if _is_json(annotation, field_info):
        return None
    branches = _union_models(annotation)
    if branches:
        models = [_model_form(model, nullable=False) for model in branches]
        return FormModel(
            keys=(),  # every field goes to the union as it was sent; each branch picks its own
            names=frozenset().union(*(model.names for model in models)),
            nullable=type(None) in get_args(annotation),
            takes_extra=any(model.takes_extra for model in models),
        )
    model = annotation
    if _is_union(annotation):
        args = get_args(annotation)
        if len(args) == 2 and type(None) in args:
            model = next(arg for arg in args if arg is not type(None))
    if not _is_class(model, BaseModel):
        return None
    return _model_form(model, nullable=model is not annotation)


def form_union_annotation(annotation: Any) -> Any:
    """A union of form models, each branch reading the form's values its own way (a list
    for its list fields, one value for the others) before it validates them."""
    choices: list[Any] = []
    for choice in get_args(annotation):
        if choice is type(None):
            choices.append(choice)
            continue
        model, metadata = choice, []
        if get_origin(choice) is Annotated:
            model, *metadata = get_args(choice)
        reader = BeforeValidator(
            functools.partial(_branch_input, _model_form(model, nullable=False))
        )
        # Errors name a branch by its tag, else by its model.
        tags = [item for item in metadata if isinstance(item, Tag)]
        tag = tags[-1] if tags else Tag(model.__name__)
        choices.append(Annotated[choice, reader, tag])
    return Union[tuple(choices)]  # noqa: UP007 - built at runtime


def _union_models(annotation: Any) -> list[type[BaseModel]]:
    """The models of a union of two or more models (``Optional`` allowed), else none."""
    if not _is_union(annotation):
        return []
    models = []
    for arg in get_args(annotation):
        if arg is type(None):
            continue
        if get_origin(arg) is Annotated:
            arg = get_args(arg)[0]
        if not _is_class(arg, BaseModel):
            return []
        models.append(arg)
    return models if len(models) > 1 else []


def _model_form(model: type[BaseModel], *, nullable: bool) -> FormModel:
    keys = []
    for name, info in model.model_fields.items():
        validation_alias = info.validation_alias
        alias = validation_alias if isinstance(validation_alias, str) else None
        nested = _is_class(info.annotation, (BaseModel, dict)) or dataclasses.is_dataclass(
            info.annotation
        )
        config = None if nested else dict(model.model_config)
        keys.append(form_key(name, info.annotation, info, alias or info.alias or name, config))
    return FormModel(
        keys=tuple(keys),
        names=frozenset(alias for key in keys for alias in key.aliases),
        nullable=nullable,
        takes_extra=model.model_config.get("extra") in ("allow", "forbid"),
    )


def _branch_input(model: FormModel, value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    form = FormData(
        [
            (name, item)
            for name, items in value.items()
            for item in (items if isinstance(items, list) else [items])
        ]
    )
    data = form_model_input(model, form)
    # Not from a browser's form, but a validator before this one may have put them there.
    data.update((name, item) for name, item in value.items() if item is None or item == [])
    return data


def _is_class(obj: Any, cls: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, cls)


def _is_union(annotation: Any) -> bool:
    origin = get_origin(annotation)
    return origin is Union or (origin is not None and type(annotation).__name__ == "UnionType")


def _is_sequence(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return _is_sequence(get_args(annotation)[0])
    if _is_union(annotation):
        return any(_is_sequence(arg) for arg in get_args(annotation))
    target = get_origin(annotation) or annotation
    return _is_class(target, _SEQUENCES) and not _is_class(target, (str, bytes))


def _is_bytes(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return _is_bytes(get_args(annotation)[0])
    if _is_union(annotation):
        return any(_is_class(arg, bytes) for arg in get_args(annotation))
    return _is_class(annotation, bytes)


def _is_bytes_sequence(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return _is_bytes_sequence(get_args(annotation)[0])
    if _is_union(annotation):
        return any(_is_bytes_sequence(arg) for arg in get_args(annotation))
    return _is_sequence(annotation) and all(_is_bytes(arg) for arg in get_args(annotation))


def _is_json(annotation: Any, field_info: FieldInfo) -> bool:
    metadata = list(field_info.metadata)
    if get_origin(annotation) is Annotated:
        metadata += get_args(annotation)[1:]
    # Json[X] is Annotated[X, Json()] at runtime; type checkers see only the alias.
    return any(item is Json or isinstance(item, Json) for item in metadata)  # type: ignore[misc]


# ---------------------------------------------------------------------------
# Per request


def form_value(key: FormKey, form: FormData) -> tuple[str, Any]:
    """The first of `key`'s names that was sent with a value, and that value (or `ABSENT`
    under the first name)."""
    for alias in key.aliases:
        value = _form_item(key, form, alias)
        if value is not ABSENT:
            return alias, value
    return key.aliases[0], ABSENT


def form_model_input(model: FormModel, form: FormData) -> Any:
    """The dict a form model is validated from: its fields, then the form's other fields
    (for ``extra="allow"``/``"forbid"``); `ABSENT` for an optional model that was not sent."""
    if model.nullable and not (model.names.intersection(form) or (model.takes_extra and form)):
        return ABSENT
    data: dict[str, Any] = {}
    used: set[str] = set()
    for key in model.keys:
        for alias in key.aliases:
            used.add(alias)
            value = _form_item(key, form, alias)
            if value is not ABSENT:
                data[alias] = value
                break
    extra: dict[str, list[Any]] = {}
    for name, value in form.multi_items():
        if name not in used:
            extra.setdefault(name, []).append(value)
    for name, items in extra.items():
        data[name] = items[0] if len(items) == 1 else items
    return data


def _form_item(key: FormKey, form: FormData, alias: str) -> Any:
    if key.many:
        items = [item for item in form.getlist(alias) if not _is_empty_file(item)]
        if not items:
            return ABSENT
        if key.read_bytes:
            return [_file_bytes(item) if isinstance(item, UploadFile) else item for item in items]
        return items
    value = form.get(alias)
    if value is None or value == "" or _is_empty_file(value):
        return ABSENT
    if key.read_bytes and isinstance(value, UploadFile):
        return _file_bytes(value)
    return value


def _is_empty_file(value: Any) -> bool:
    # What browsers send for a file input left empty.
    return isinstance(value, UploadFile) and value.filename == "" and value.size == 0


def _file_bytes(upload: UploadFile) -> bytes:
    # Leaves the file where it was: the same upload may also be another parameter's.
    file = upload.file
    position = file.tell()
    try:
        return file.read()
    finally:
        file.seek(position)
