"""What kind of value an annotation describes: a scalar, a sequence, bytes, an upload::

field_annotation_is_scalar_sequence(list[int])        # True: a repeated query value
field_annotation_is_scalar(Optional[Item])            # False: a model goes in the body
"""

from __future__ import annotations

import types
import typing
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import is_dataclass
from typing import Annotated, Any, Callable, Optional, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.version import VERSION as PYDANTIC_VERSION

from ..datastructures import UploadFile

__all__ = [
    "PYDANTIC_VERSION",
    "PYDANTIC_VERSION_MINOR_TUPLE",
    "WithArgsTypes",
    "annotation_is_pydantic_v1",
    "field_annotation_is_complex",
    "field_annotation_is_scalar",
    "field_annotation_is_scalar_sequence",
    "field_annotation_is_sequence",
    "is_bytes_or_nonable_bytes_annotation",
    "is_bytes_sequence_annotation",
    "is_pydantic_v1_model_class",
    "is_pydantic_v1_model_instance",
    "is_uploadfile_or_nonable_uploadfile_annotation",
    "is_uploadfile_sequence_annotation",
    "lenient_issubclass",
    "sequence_annotation_to_type",
    "sequence_types",
    "value_is_sequence",
]

PYDANTIC_VERSION_MINOR_TUPLE = tuple(int(part) for part in PYDANTIC_VERSION.split(".")[:2])

# The parametrised generics (``list[int]``, ``List[int]``, ``int | None``), never classes.
WithArgsTypes: tuple[Any, ...] = (
    type(typing.List[int]),  # noqa: UP006 - the class of typing's own generics
    types.GenericAlias,
    types.UnionType,
)

# Each sequence annotation and the type a value of it is built as.
sequence_annotation_to_type: dict[Any, type[Any]] = {
    Sequence: list,
    list: list,
    tuple: tuple,
    set: set,
    frozenset: frozenset,
    deque: deque,
}
sequence_types: tuple[type[Any], ...] = tuple(sequence_annotation_to_type)


def lenient_issubclass(cls: Any, class_or_tuple: Any) -> bool:
    """``issubclass`` that answers False, not TypeError, for what is not a class."""
    if not isinstance(cls, type):
        return False
    try:
        return issubclass(cls, class_or_tuple)
    except TypeError:
        if isinstance(cls, WithArgsTypes):
            return False
        raise


def _union_arms(annotation: Any) -> Optional[tuple[Any, ...]]:
    """The arms of ``Union[...]`` or ``a | b``; None for anything else."""
    origin = get_origin(annotation)
    return get_args(annotation) if origin is Union or origin is types.UnionType else None


def _unannotated(annotation: Any) -> Any:
    """``X`` for ``Annotated[X, ...]``, else the annotation itself."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _is_sequence_class(cls: Any) -> bool:
    # str and bytes are sequences to Python, but single values to a request.
    return not lenient_issubclass(cls, (str, bytes)) and lenient_issubclass(cls, sequence_types)


def field_annotation_is_sequence(annotation: Any) -> bool:
    """A list, tuple, set, deque or ``Sequence`` (of anything), or a union with one."""
    annotation = _unannotated(annotation)
    arms = _union_arms(annotation)
    if arms is not None:
        return any(field_annotation_is_sequence(arm) for arm in arms)
    return _is_sequence_class(annotation) or _is_sequence_class(get_origin(annotation))


def value_is_sequence(value: Any) -> bool:
    """A list, tuple, set, deque... value, but not a str or bytes."""
    return isinstance(value, sequence_types) and not isinstance(value, (str, bytes))


def _is_complex_class(cls: Any) -> bool:
    return (
        lenient_issubclass(cls, (BaseModel, Mapping, UploadFile))
        or _is_sequence_class(cls)
        or is_dataclass(cls)
    )


def field_annotation_is_complex(annotation: Any) -> bool:
    """A model, mapping, dataclass, upload or sequence, or a union with one of them."""
    annotation = _unannotated(annotation)
    arms = _union_arms(annotation)
    if arms is not None:
        return any(field_annotation_is_complex(arm) for arm in arms)
    origin = get_origin(annotation)
    return (
        _is_complex_class(annotation)
        or _is_complex_class(origin)
        or hasattr(origin, "__pydantic_core_schema__")
        or hasattr(origin, "__get_pydantic_core_schema__")
    )


def field_annotation_is_scalar(annotation: Any) -> bool:
    """A single value (``int``, ``str``, an enum...): what a query parameter can be."""
    # `...` is the repeated item of `tuple[int, ...]`.
    return annotation is Ellipsis or not field_annotation_is_complex(annotation)


def field_annotation_is_scalar_sequence(annotation: Any) -> bool:
    """A sequence of scalars (``list[int]``), or a union of one with scalars only."""
    annotation = _unannotated(annotation)
    arms = _union_arms(annotation)
    if arms is not None:
        sequences = [arm for arm in arms if field_annotation_is_scalar_sequence(arm)]
        others = [arm for arm in arms if arm not in sequences]
        return bool(sequences) and all(field_annotation_is_scalar(arm) for arm in others)
    return field_annotation_is_sequence(annotation) and all(
        field_annotation_is_scalar(arg) for arg in get_args(annotation)
    )


def _is_or_has_arm(annotation: Any, cls: type) -> bool:
    if lenient_issubclass(annotation, cls):
        return True
    return any(lenient_issubclass(arm, cls) for arm in _union_arms(annotation) or ())


def _is_sequence_of(annotation: Any, item: Callable[[Any], bool]) -> bool:
    arms = _union_arms(annotation)
    if arms is not None:
        return any(_is_sequence_of(arm, item) for arm in arms)
    return field_annotation_is_sequence(annotation) and all(map(item, get_args(annotation)))


def is_bytes_or_nonable_bytes_annotation(annotation: Any) -> bool:
    """``bytes``, or a union with ``bytes`` in it (``Optional[bytes]``)."""
    return _is_or_has_arm(annotation, bytes)


def is_uploadfile_or_nonable_uploadfile_annotation(annotation: Any) -> bool:
    """``UploadFile``, or a union with one in it (``Optional[UploadFile]``)."""
    return _is_or_has_arm(annotation, UploadFile)


def is_bytes_sequence_annotation(annotation: Any) -> bool:
    """A sequence of ``bytes`` (``list[bytes]``), possibly in a union."""
    return _is_sequence_of(annotation, is_bytes_or_nonable_bytes_annotation)


def is_uploadfile_sequence_annotation(annotation: Any) -> bool:
    """A sequence of uploads (``list[UploadFile]``), possibly in a union."""
    return _is_sequence_of(annotation, is_uploadfile_or_nonable_uploadfile_annotation)


def _pydantic_v1_model() -> Optional[type]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pydantic.v1 warns on Python 3.14
            from pydantic import v1
    except ImportError:
        return None
    return v1.BaseModel


def is_pydantic_v1_model_instance(obj: Any) -> bool:
    """An instance of a ``pydantic.v1`` model, which Ignyx does not accept."""
    model = _pydantic_v1_model()
    return model is not None and isinstance(obj, model)


def is_pydantic_v1_model_class(cls: Any) -> bool:
    """A ``pydantic.v1`` model class, which Ignyx does not accept."""
    model = _pydantic_v1_model()
    return model is not None and lenient_issubclass(cls, model)


def annotation_is_pydantic_v1(annotation: Any) -> bool:
    """A ``pydantic.v1`` model, alone, in a union or as a sequence's item."""
    if is_pydantic_v1_model_class(annotation):
        return True
    if any(is_pydantic_v1_model_class(arm) for arm in _union_arms(annotation) or ()):
        return True
    return field_annotation_is_sequence(annotation) and any(
        annotation_is_pydantic_v1(arg) for arg in get_args(annotation)
    )
