"""The request size limits a route inherits from its routers and app: ``max_body_size`` (the
largest body, refused with 413 by the engine while it streams in) and ``form_limits`` (how
many fields and files a form may have, and how large a field, refused with 400)::

    @app.post("/upload", max_body_size=50 * 1024 * 1024, form_limits={"max_files": 3})
    async def upload(files: list[UploadFile]): ...

The nearest limit wins: the route's, then its router's, then the ``include_router`` call's,
then the app's.
"""

from __future__ import annotations

from typing import Optional

from pydantic import ConfigDict, NonNegativeInt, TypeAdapter, with_config
from typing_extensions import TypedDict


@with_config(ConfigDict(strict=True, extra="forbid"))
class FormLimits(TypedDict, total=False):
    """Limits on the forms that ``Form``, ``File`` and ``UploadFile`` parameters read."""

    max_fields: NonNegativeInt  # text fields
    max_files: NonNegativeInt  # files, in a multipart form
    max_part_size: NonNegativeInt  # bytes of one text field


_FORM_LIMITS = TypeAdapter(FormLimits)


def checked_max_body_size(max_body_size: Optional[int]) -> Optional[int]:
    """`max_body_size` if it is a byte count or None; a ValueError otherwise."""
    if max_body_size is not None and (
        isinstance(max_body_size, bool) or not isinstance(max_body_size, int) or max_body_size < 0
    ):
        raise ValueError("max_body_size must be a non-negative integer or None")
    return max_body_size


def checked_form_limits(limits: Optional[FormLimits]) -> FormLimits:
    """`limits` validated (unknown keys and negative counts refused), ``{}`` for None."""
    return {} if limits is None else _FORM_LIMITS.validate_python(limits)


def nearest(*limits: Optional[int]) -> Optional[int]:
    """The first limit given, nearest first."""
    return next((limit for limit in limits if limit is not None), None)
