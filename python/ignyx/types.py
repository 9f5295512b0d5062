"""The type aliases FastAPI's signatures use, for code that annotates with them::

from ignyx.types import DecoratedCallable

def route(path: str) -> Callable[[DecoratedCallable], DecoratedCallable]: ...
"""

from __future__ import annotations

import types
from collections.abc import Callable
from enum import Enum
from typing import Any, Optional, TypeVar, Union

from pydantic import BaseModel

from .encoders import IncEx

__all__ = ["DecoratedCallable", "DependencyCacheKey", "IncEx", "ModelNameMap", "UnionType"]

# A decorator that hands back the function it was given, with its exact type.
DecoratedCallable = TypeVar("DecoratedCallable", bound=Callable[..., Any])

# The class of ``int | None``; ``typing.Union`` where that syntax is missing.
UnionType: Any = getattr(types, "UnionType", Union)

# The name each model (or enum) has under ``components/schemas``.
ModelNameMap = dict[Union[type[BaseModel], type[Enum]], str]

# What identifies a dependency's cached value: its callable, its scopes and its scope.
DependencyCacheKey = tuple[Optional[Callable[..., Any]], tuple[str, ...], str]
