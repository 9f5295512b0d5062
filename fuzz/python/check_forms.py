"""The differential check behind ``fuzz_forms.py``: one input, parsed as a form by Ignyx
(``ignyx.formparsers.parse_form``) and by Starlette (``Request.form()``, the reference), must
give the same form or the same refusal.

Plain Python, no atheris: ``tests/test_fuzz_regressions.py`` replays the saved inputs
through `check`.

An input is the request, readable in a file::

    %files=1 fields=2 part=64 split=10,20   <- optional: limits, and where the body is cut
    multipart/form-data; boundary=xyz       <- the Content-Type header (a trailing CR is dropped)
    --xyz\\r\\n...                            <- everything after the first LF: the body

``files``, ``fields`` and ``part`` are ``max_files``, ``max_fields`` and ``max_part_size``,
the same on both sides (Starlette's defaults when absent). Starlette reads the body as a
stream, in the chunks ``split`` cuts it into; Ignyx parses it in one piece.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, Union

from ignyx.datastructures import UploadFile
from ignyx.formparsers import MAX_FIELDS, MAX_FILES, MAX_PART_SIZE, MultiPartException, parse_form
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartException as StarletteMultiPartException
from starlette.requests import Request as StarletteRequest

_KNOB = re.compile(rb"(files|fields|part|split)=([0-9,]*)")


@dataclass
class Case:
    content_type: bytes
    body: bytes
    max_files: int = MAX_FILES
    max_fields: int = MAX_FIELDS
    max_part_size: int = MAX_PART_SIZE
    splits: list[int] = field(default_factory=list)

    def chunks(self) -> list[bytes]:
        cuts = [0, *sorted(min(cut, len(self.body)) for cut in self.splits), len(self.body)]
        return [self.body[start:end] for start, end in pairwise(cuts)]


def decode_input(data: bytes) -> Case:
    """The request an input stands for (any bytes are one)."""
    knobs = b""
    if data.startswith(b"%"):
        knobs, _, data = data.partition(b"\n")
    content_type, _, body = data.partition(b"\n")
    if content_type.endswith(b"\r"):
        content_type = content_type[:-1]
    case = Case(content_type, body)
    for name, value in _KNOB.findall(knobs):
        numbers = [int(number[:7]) for number in value.split(b",") if number]
        if not numbers:
            continue
        if name == b"split":
            case.splits = numbers[:8]
        elif name == b"files":
            case.max_files = numbers[0]
        elif name == b"fields":
            case.max_fields = numbers[0]
        else:
            case.max_part_size = numbers[0]
    return case


# What a user of either framework sees: ("refused", message) or ("form", items), each item
# (name, str value) or (name, "file", filename, content type, headers, content, size).
Outcome = tuple[Any, ...]


def _items(form: Any, upload_type: type[Union[UploadFile, StarletteUploadFile]]) -> Outcome:
    items: list[tuple[Any, ...]] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, str):
                items.append((name, value))
            elif isinstance(value, upload_type):
                content = value.file.read()  # where the parser left it: at the start
                items.append(
                    (
                        name,
                        "file",
                        value.filename,
                        value.content_type,
                        value.headers.raw,
                        content,
                        value.size,
                    )
                )
            else:
                items.append((name, "unexpected", type(value).__name__))
    finally:
        for _, value in form.multi_items():
            if isinstance(value, upload_type):
                value.file.close()
    return ("form", items)


def ignyx_outcome(case: Case) -> Outcome:
    """Ignyx's form; any exception other than `MultiPartException` escapes (a finding)."""
    try:
        form = parse_form(
            case.content_type.decode("latin-1"),
            case.body,
            max_files=case.max_files,
            max_fields=case.max_fields,
            max_part_size=case.max_part_size,
        )
    except MultiPartException as exc:
        return ("refused", exc.message)
    return _items(form, UploadFile)


_loop: Union[asyncio.AbstractEventLoop, None] = None


def starlette_outcome(case: Case) -> Outcome:
    """Starlette's form, read the way a request handler does: ``await request.form()``."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(_starlette_form(case))


async def _starlette_form(case: Case) -> Outcome:
    chunks = case.chunks()
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"content-type", case.content_type)],
    }
    request = StarletteRequest(scope, receive)
    try:
        form = await request.form(
            max_files=case.max_files,
            max_fields=case.max_fields,
            max_part_size=case.max_part_size,
        )
    except StarletteMultiPartException as exc:
        return ("refused", exc.message)
    return _items(form, StarletteUploadFile)


def _starlette_crash(exc: Exception) -> bool:
    """Whether `exc` is one of Starlette's own crashes (an error 500 in FastAPI), not a
    refusal: cases the check leaves out, since Starlette's behaviour there is no reference.

    Both come from the multipart ``charset`` parameter, which Starlette looks up and decodes
    with, catching only LookupError and UnicodeDecodeError (``_user_safe_decode``):

    - a charset with a NUL in it: ``codecs.lookup`` raises ValueError("embedded null
      character"). A header value cannot carry a NUL on the wire, so no client gets here.
    - a codec whose decoding fails with a plain UnicodeError, not a UnicodeDecodeError:
      ``charset=punycode`` (or ``idna``) and a field name or value it cannot decode.

    Ignyx's parser raises the same exceptions in these cases (the same error 500).
    """
    if isinstance(exc, UnicodeError):
        return not isinstance(exc, UnicodeDecodeError)
    return isinstance(exc, ValueError) and str(exc) == "embedded null character"


def check(data: bytes) -> None:
    """Raises AssertionError when Ignyx and Starlette disagree on the form in `data`."""
    case = decode_input(data)
    try:
        expected = starlette_outcome(case)
    except ValueError as exc:
        if _starlette_crash(exc):
            return
        raise
    actual = ignyx_outcome(case)
    if actual != expected and len(case.chunks()) > 1:
        # python-multipart does not always read a body the same way whatever the chunks it
        # comes in: before the first boundary, a CR or LF makes it skip to the next "-" *in
        # the same chunk*, so "\r\n" + junk + "--boundary..." is a form when whole and
        # "Invalid multipart data." when cut after the "\r\n". Ignyx has the whole body and
        # parses it in one write: its reference is Starlette given the body in one chunk.
        if actual == starlette_outcome(replace(case, splits=[])):
            return
    assert actual == expected, f"{case!r}\nignyx:     {actual!r}\nstarlette: {expected!r}"
