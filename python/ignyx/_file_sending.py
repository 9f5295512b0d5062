"""Sending a ``FileResponse`` through ASGI ``send`` (under an ASGI server, or from a Python
middleware): the file in chunks, and ``Range`` requests answered as Starlette answers them
(206, ``multipart/byteranges`` for several ranges, 400 for an unreadable header, 416 past
the end, ``If-Range``). The native server sends files from Rust instead
(``src/http/files.rs``, ``src/http/ranges.rs``).
"""

from __future__ import annotations

from secrets import token_hex
from typing import Any, BinaryIO, Optional

from ._ranges import MalformedRange, RangeNotSatisfiable, parse_ranges
from .concurrency import run_in_threadpool
from .datastructures import Headers

CHUNK_SIZE = 64 * 1024


async def send_file(response: Any, scope: dict[str, Any], send: Any) -> None:
    """Sends `response` (a ``FileResponse``) for the request of `scope`."""
    request_headers = Headers(
        raw=[(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", ())]
    )
    asked = request_headers.get("range")
    ranges: list[tuple[int, int]] = []
    if (
        response.status_code == 200
        and asked is not None
        and _range_applies(response, request_headers.get("if-range"))
    ):
        size = response.stat_result.st_size
        try:
            ranges = parse_ranges(asked, size)
        except MalformedRange as exc:
            await _plain_text(send, 400, exc.message.encode(), [])
            return
        except RangeNotSatisfiable:
            await _plain_text(send, 416, b"", [(b"content-range", f"bytes */{size}".encode())])
            return
    head_only = response.send_header_only or scope.get("method", "GET").upper() == "HEAD"
    if len(ranges) == 1:
        start, end = ranges[0]
        headers = Headers(raw=list(response.raw_headers)).mutablecopy()
        headers["content-range"] = f"bytes {start}-{end - 1}/{response.stat_result.st_size}"
        headers["content-length"] = str(end - start)
        await _start(send, 206, headers.raw)
        await _send_span(response.path, send, start, end, head_only=head_only)
    elif ranges:
        await _send_ranges(response, send, ranges, head_only)
    else:
        await _start(send, response.status_code, response.raw_headers)
        await _send_span(response.path, send, 0, None, head_only=head_only)


def _range_applies(response: Any, if_range: Optional[str]) -> bool:
    """``If-Range``: the range stands only while the file is the one the client names."""
    if if_range is None:
        return True
    if if_range.startswith("W/"):
        return False
    return if_range in (response.headers.get("last-modified"), response.headers.get("etag"))


async def _send_ranges(
    response: Any, send: Any, spans: list[tuple[int, int]], head_only: bool
) -> None:
    boundary = token_hex(13)
    content_type = response.headers["content-type"]
    size = response.stat_result.st_size

    def part_head(start: int, end: int) -> bytes:
        return (
            f"--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
        ).encode("latin-1")

    closing = f"--{boundary}--".encode("latin-1")
    length = sum(len(part_head(s, e)) + (e - s) + 2 for s, e in spans) + len(closing)
    headers = Headers(raw=list(response.raw_headers)).mutablecopy()
    headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
    headers["content-length"] = str(length)
    await _start(send, 206, headers.raw)
    if head_only:
        await _body(send, b"", more=False)
        return
    for start, end in spans:
        await _body(send, part_head(start, end), more=True)
        await _send_span(response.path, send, start, end, last=False)
        await _body(send, b"\r\n", more=True)
    await _body(send, closing, more=False)


async def _plain_text(
    send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    """A ``PlainTextResponse`` as Starlette sends it: given headers, then length and type."""
    headers = [
        *extra,
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    await _start(send, status, headers)
    await _body(send, body, more=False)


async def _start(send: Any, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _send_span(
    path: Any,
    send: Any,
    start: int,
    end: Optional[int],
    *,
    head_only: bool = False,
    last: bool = True,
) -> None:
    """Sends the bytes from `start` to `end` (None: to the end of the file) in chunks; with
    `last`, the final message ends the body. For HEAD, only that end."""
    if head_only:
        await _body(send, b"", more=False)
        return
    file: BinaryIO = await run_in_threadpool(open, path, "rb")
    try:
        await run_in_threadpool(file.seek, start)
        position = start
        while True:
            wanted = CHUNK_SIZE if end is None else min(CHUNK_SIZE, end - position)
            chunk = await run_in_threadpool(file.read, wanted)
            position += len(chunk)
            if end is not None and len(chunk) < wanted:
                raise RuntimeError(f"File at path {path} is shorter than expected.")
            finished = len(chunk) < wanted or position == end
            await _body(send, chunk, more=not (finished and last))
            if finished:
                return
    finally:
        file.close()


async def _body(send: Any, chunk: bytes, *, more: bool) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": more})
