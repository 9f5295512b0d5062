"""The documentation routes: ``/openapi.json``, ``/docs`` and ``/redoc``."""

from __future__ import annotations

from typing import Any


def docs_routes(app: Any) -> list[Any]:
    """Routes serving the app's OpenAPI document and docs pages (empty until written)."""
    return []
