"""The differential check behind ``fuzz_cookies.py``: ``ignyx.requests.cookie_parser`` must
return exactly what ``starlette.requests.cookie_parser`` returns (or raise the same way), for
any ``Cookie`` header text.

Plain Python, no atheris: ``tests/test_fuzz_regressions.py`` replays the saved inputs
through `check`.
"""

from __future__ import annotations

from typing import Any

from ignyx.requests import cookie_parser
from starlette.requests import cookie_parser as starlette_cookie_parser

# What the ASCII-heavy reading maps the bytes 0x80-0xFF to: the characters the parser and
# ``http.cookies._unquote`` treat specially, and the digits of octal escapes.
_SPECIAL = ' \t;="\\,01234567abc\x00\x0b\x0c\r\n\x1f\x7f\xa0\u3000'


def texts(data: bytes) -> list[str]:
    """The header texts an input stands for: its bytes read three ways."""
    return [
        # What a server gives a Python app: header bytes as latin-1.
        data.decode("latin-1"),
        # Any text: UTF-8, with the invalid bytes kept as lone surrogates.
        data.decode("utf-8", "surrogateescape"),
        # ASCII-heavy: ASCII as is, every other byte one of the characters that matter.
        "".join(chr(byte) if byte < 0x80 else _SPECIAL[byte % len(_SPECIAL)] for byte in data),
    ]


def _outcome(parser: Any, text: str) -> tuple[Any, ...]:
    try:
        return ("parsed", list(parser(text).items()))
    except Exception as exc:  # the same exception on both sides is agreement
        return ("raised", type(exc).__name__, str(exc))


def check_text(text: str) -> None:
    """Raises AssertionError when the two parsers disagree on `text` (items and their order)."""
    expected = _outcome(starlette_cookie_parser, text)
    actual = _outcome(cookie_parser, text)
    assert actual == expected, f"{text!r}\nignyx:     {actual!r}\nstarlette: {expected!r}"


def check(data: bytes) -> None:
    for text in texts(data):
        check_text(text)
