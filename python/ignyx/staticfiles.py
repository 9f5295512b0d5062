"""``StaticFiles``: the files of a directory served as an ASGI app, as Starlette serves them::

    app.mount("/static", StaticFiles(directory="static"), name="static")
    # GET /static/css/app.css; in a template: url_for("static", path="css/app.css")

GET and HEAD only; ``ETag`` and ``Last-Modified`` with 304 answers to conditional requests;
byte ranges; with ``html=True``, ``index.html`` for a directory and ``404.html`` for a
missing file. A request never reaches outside the directories served: ``..``, absolute
paths and symlinks pointing elsewhere (unless ``follow_symlink=True``) are 404s.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import stat
from email.utils import parsedate_to_datetime
from secrets import token_hex
from typing import Any, BinaryIO, Optional, Union

from ._paths import route_path
from ._ranges import MalformedRange, RangeNotSatisfiable, parse_ranges
from .concurrency import run_in_threadpool
from .datastructures import Headers
from .exceptions import HTTPException
from .requests import HTTPConnection
from .responses import FileResponse, PlainTextResponse, RedirectResponse, Response

__all__ = ["StaticFiles"]

PathLike = Union[str, "os.PathLike[str]"]
Scope = dict[str, Any]

# The headers a 304 keeps from the response it stands for.
_NOT_MODIFIED_KEEPS = ("cache-control", "content-location", "date", "etag", "expires", "vary")


class StaticFiles:
    """Serves `directory` and the ``statics`` folder of each of `packages` (or the folder
    named in a ``(package, folder)`` pair), the first that has the file winning."""

    def __init__(
        self,
        *,
        directory: Optional[PathLike] = None,
        packages: Optional[list[Union[str, tuple[str, str]]]] = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
    ) -> None:
        self.directory = directory
        self.packages = packages
        self.all_directories = self.get_directories(directory, packages)
        self.html = html
        self.follow_symlink = follow_symlink
        self.config_checked = False
        if check_dir and directory is not None and not os.path.isdir(directory):
            raise RuntimeError(f"Directory '{directory}' does not exist")

    def get_directories(
        self,
        directory: Optional[PathLike] = None,
        packages: Optional[list[Union[str, tuple[str, str]]]] = None,
    ) -> list[PathLike]:
        """The directories served, in the order they are searched."""
        directories: list[PathLike] = [directory] if directory is not None else []
        for package in packages or []:
            name, folder = package if isinstance(package, tuple) else (package, "statics")
            spec = importlib.util.find_spec(name)
            assert spec is not None and spec.origin is not None, (
                f"Package {name!r} could not be found."
            )
            found = os.path.normpath(os.path.join(os.path.dirname(spec.origin), folder))
            assert os.path.isdir(found), (
                f"Directory '{folder!r}' in package {name!r} could not be found."
            )
            directories.append(found)
        return directories

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
            return
        assert scope["type"] == "http"
        if not self.config_checked:
            await self.check_config()
            self.config_checked = True
        response = await self.get_response(self.get_path(scope), scope)
        await response(scope, receive, send)

    def get_path(self, scope: Scope) -> str:
        """The file asked for, relative to the directory, with ``.`` and ``..`` resolved."""
        return os.path.normpath(os.path.join(*route_path(scope).split("/")))

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The response for `path`: the file, a redirect, a 304, or an ``HTTPException``."""
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        full_path, stat_result = await self._lookup(path)
        if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
            return self.file_response(full_path, stat_result, scope)
        if stat_result is not None and stat.S_ISDIR(stat_result.st_mode) and self.html:
            index_path, index_stat = await self._lookup(os.path.join(path, "index.html"))
            if index_stat is not None and stat.S_ISREG(index_stat.st_mode):
                if not scope["path"].endswith("/"):
                    url = HTTPConnection(scope).url
                    return RedirectResponse(url=url.replace(path=url.path + "/"))
                return self.file_response(index_path, index_stat, scope)
        if self.html:
            page_path, page_stat = await self._lookup("404.html")
            if page_stat is not None and stat.S_ISREG(page_stat.st_mode):
                return _FileStream(page_path, page_stat, status_code=404)
        raise HTTPException(status_code=404)

    async def _lookup(self, path: str) -> tuple[str, Optional[os.stat_result]]:
        try:
            return await run_in_threadpool(self.lookup_path, path)
        except PermissionError:
            raise HTTPException(status_code=401) from None
        except ValueError:  # a NUL byte, or another character no file name has
            raise HTTPException(status_code=404) from None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise HTTPException(status_code=404) from None
            raise

    def lookup_path(self, path: str) -> tuple[str, Optional[os.stat_result]]:
        """The full path of `path` in the first directory that has it, and its stat;
        ``("", None)`` when none has it, or when it would lie outside them."""
        if path.startswith(("/", "\\")):
            return "", None
        resolve = os.path.abspath if self.follow_symlink else os.path.realpath
        for directory in self.all_directories:
            root = resolve(directory)
            full_path = resolve(os.path.join(directory, path))
            if os.path.commonpath([full_path, root]) != str(root):
                continue
            try:
                return full_path, os.stat(full_path)
            except (FileNotFoundError, NotADirectoryError):
                continue
        return "", None

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file, or a 304 when the request's validators say the client has it."""
        response = _FileStream(full_path, stat_result, status_code=status_code)
        if self.is_not_modified(response.headers, Headers(raw=_raw_headers(scope))):
            kept = {k: v for k, v in response.headers.items() if k in _NOT_MODIFIED_KEEPS}
            return Response(status_code=304, headers=kept)
        return response

    async def check_config(self) -> None:
        """Fails loudly, on the first request, when `directory` is not a directory."""
        if self.directory is None:
            return
        try:
            stat_result = await run_in_threadpool(os.stat, self.directory)
        except FileNotFoundError:
            raise RuntimeError(
                f"StaticFiles directory '{self.directory}' does not exist."
            ) from None
        if not (stat.S_ISDIR(stat_result.st_mode) or stat.S_ISLNK(stat_result.st_mode)):
            raise RuntimeError(f"StaticFiles path '{self.directory}' is not a directory.")

    def is_not_modified(self, response_headers: Headers, request_headers: Headers) -> bool:
        """True when ``If-None-Match`` (or, without it, ``If-Modified-Since``) matches."""
        if_none_match = request_headers.get("if-none-match")
        if if_none_match:
            if if_none_match.strip() == "*":
                return True
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return response_headers["etag"] in tags
        since = request_headers.get("if-modified-since")
        modified = response_headers.get("last-modified")
        if since is None or modified is None:
            return False
        try:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(modified)
        except (TypeError, ValueError):
            return False


def _raw_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    return [(bytes(name).lower(), bytes(value)) for name, value in scope.get("headers", ())]


class _FileStream(Response):
    """A file sent through ASGI ``send`` in chunks, with the headers of a ``FileResponse``
    (type, length, ``Last-Modified``, ``ETag``); a 200 answers ``Range`` requests with 206."""

    chunk_size = 64 * 1024

    def __init__(self, path: PathLike, stat_result: os.stat_result, status_code: int) -> None:
        # A HEAD FileResponse has every header of the file and never reads it.
        headers_only = FileResponse(
            path, status_code=status_code, stat_result=stat_result, method="HEAD"
        )
        self.path = path
        self.stat_result = stat_result
        self.status_code = status_code
        self.media_type = headers_only.media_type
        self.background = None
        self.body = b""
        self.raw_headers = headers_only.raw_headers

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        method = scope.get("method", "GET").upper()
        request_headers = Headers(raw=_raw_headers(scope))
        asked = request_headers.get("range")
        if_range = request_headers.get("if-range")
        ranges: list[tuple[int, int]] = []
        if self.status_code == 200 and asked is not None and self._range_applies(if_range):
            size = self.stat_result.st_size
            try:
                ranges = parse_ranges(asked, size)
            except MalformedRange as exc:
                await PlainTextResponse(exc.message, status_code=400)(scope, receive, send)
                return
            except RangeNotSatisfiable:
                refusal = PlainTextResponse(
                    status_code=416, headers={"content-range": f"bytes */{size}"}
                )
                await refusal(scope, receive, send)
                return
        head_only = method == "HEAD"
        if len(ranges) == 1:
            await self._send_range(send, ranges[0], head_only)
        elif ranges:
            await self._send_ranges(send, ranges, head_only)
        else:
            await self._start(send, self.status_code, self.raw_headers)
            await self._send_span(send, 0, None, head_only=head_only)

    def _range_applies(self, if_range: Optional[str]) -> bool:
        """``If-Range``: the range stands only while the file is the one the client names."""
        if if_range is None:
            return True
        if if_range.startswith("W/"):
            return False
        return if_range in (self.headers["last-modified"], self.headers["etag"])

    async def _send_range(self, send: Any, span: tuple[int, int], head_only: bool) -> None:
        start, end = span
        headers = Headers(raw=list(self.raw_headers)).mutablecopy()
        headers["content-range"] = f"bytes {start}-{end - 1}/{self.stat_result.st_size}"
        headers["content-length"] = str(end - start)
        await self._start(send, 206, headers.raw)
        await self._send_span(send, start, end, head_only=head_only)

    async def _send_ranges(self, send: Any, spans: list[tuple[int, int]], head_only: bool) -> None:
        boundary = token_hex(13)
        content_type = self.headers["content-type"]
        size = self.stat_result.st_size

        def part_head(start: int, end: int) -> bytes:
            return (
                f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
            ).encode("latin-1")

        closing = f"--{boundary}--".encode("latin-1")
        length = sum(len(part_head(s, e)) + (e - s) + 2 for s, e in spans) + len(closing)
        headers = Headers(raw=list(self.raw_headers)).mutablecopy()
        headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        headers["content-length"] = str(length)
        await self._start(send, 206, headers.raw)
        if head_only:
            await _body(send, b"", more=False)
            return
        for start, end in spans:
            await _body(send, part_head(start, end), more=True)
            await self._send_span(send, start, end, last=False)
            await _body(send, b"\r\n", more=True)
        await _body(send, closing, more=False)

    async def _start(self, send: Any, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _send_span(
        self,
        send: Any,
        start: int,
        end: Optional[int],
        *,
        head_only: bool = False,
        last: bool = True,
    ) -> None:
        """Sends the bytes from `start` to `end` (None: to the end of the file) in chunks;
        with `last`, the final message ends the body. For HEAD, only that end."""
        if head_only:
            await _body(send, b"", more=False)
            return
        file: BinaryIO = await run_in_threadpool(open, self.path, "rb")
        try:
            await run_in_threadpool(file.seek, start)
            position = start
            while True:
                wanted = self.chunk_size if end is None else min(self.chunk_size, end - position)
                chunk = await run_in_threadpool(file.read, wanted)
                position += len(chunk)
                if end is not None and len(chunk) < wanted:
                    raise RuntimeError(f"File at path {self.path} is shorter than expected.")
                finished = len(chunk) < wanted or position == end
                await _body(send, chunk, more=not (finished and last))
                if finished:
                    return
        finally:
            file.close()


async def _body(send: Any, chunk: bytes, *, more: bool) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": more})
