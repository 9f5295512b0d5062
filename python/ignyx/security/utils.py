"""Reading an ``Authorization`` header.

get_authorization_scheme_param("Bearer abc")   # ("Bearer", "abc")
"""

from __future__ import annotations

from typing import Optional


def get_authorization_scheme_param(authorization_header_value: Optional[str]) -> tuple[str, str]:
    """Splits an ``Authorization`` value at its first space into the scheme and its
    parameter; ``("", "")`` when there is no value."""
    if not authorization_header_value:
        return "", ""
    scheme, _, param = authorization_header_value.partition(" ")
    return scheme, param.strip()
