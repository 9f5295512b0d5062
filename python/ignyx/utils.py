"""Helpers apps and libraries take from ``fastapi.utils``::

from ignyx.utils import generate_unique_id

app = FastAPI(generate_unique_id_function=lambda route: f"{route.tags[0]}-{route.name}")
"""

from __future__ import annotations

import re
from typing import Any, Literal, Optional, TypeVar, Union

from pydantic.fields import FieldInfo

from ._compat import ModelField, PydanticSchemaGenerationError, Undefined, annotation_is_pydantic_v1
from ._deprecation import warn_deprecated
from .datastructures import DefaultPlaceholder
from .exceptions import FastAPIError, PydanticV1NotSupportedError
from .openapi.utils import deep_dict_update, is_body_allowed_for_status_code
from .routing import generate_unique_id

__all__ = [
    "create_model_field",
    "deep_dict_update",
    "generate_operation_id_for_path",
    "generate_unique_id",
    "get_path_param_names",
    "get_value_or_default",
    "is_body_allowed_for_status_code",
]

_T = TypeVar("_T")

_INVALID_FIELD = (
    "Invalid args for response field! Hint: check that {type_} is a valid Pydantic field "
    "type. If you are using a return type annotation that is not a valid Pydantic field "
    "(e.g. Union[Response, dict, None]) you can disable generating the response model "
    "from the type annotation with the path operation decorator parameter "
    "response_model=None. Read more: https://fastapi.tiangolo.com/tutorial/response-model/"
)


def get_path_param_names(path: str) -> set[str]:
    """The names between braces in a path: ``{"item_id"}`` for ``/items/{item_id}``."""
    return set(re.findall(r"{(.*?)}", path))


def get_value_or_default(
    first_item: Union[DefaultPlaceholder, _T], *extra_items: Union[DefaultPlaceholder, _T]
) -> Union[DefaultPlaceholder, _T]:
    """The first of the items that was chosen (not a ``Default(...)``), else the first item.

    ``get_value_or_default(Default(JSONResponse), HTMLResponse)`` is ``HTMLResponse``.
    """
    return next(
        (item for item in (first_item, *extra_items) if not isinstance(item, DefaultPlaceholder)),
        first_item,
    )


def create_model_field(
    name: str,
    type_: Any,
    default: Any = Undefined,
    field_info: Optional[FieldInfo] = None,
    alias: Optional[str] = None,
    mode: Literal["validation", "serialization"] = "validation",
) -> ModelField:
    """A ``ModelField`` named `name` validating `type_`, as a response model is built.

    ``create_model_field("Item", Item, mode="serialization").serialize(item)``.
    """
    if annotation_is_pydantic_v1(type_):
        raise PydanticV1NotSupportedError(
            "pydantic.v1 models are no longer supported by FastAPI."
            f" Please update the response model {type_!r}."
        )
    field_info = field_info or FieldInfo(annotation=type_, default=default, alias=alias)
    try:
        return ModelField(field_info, name, mode)
    except PydanticSchemaGenerationError:
        raise FastAPIError(_INVALID_FIELD.format(type_=type_)) from None


def generate_operation_id_for_path(*, name: str, path: str, method: str) -> str:
    """Deprecated, as in FastAPI: the operation id of `name` at `path` for `method`."""
    warn_deprecated(
        "ignyx.utils.generate_operation_id_for_path() was deprecated, "
        "it is not used internally, and will be removed soon"
    )
    return re.sub(r"\W", "_", f"{name}{path}") + f"_{method.lower()}"
