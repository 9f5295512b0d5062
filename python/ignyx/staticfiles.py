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
import functools
import importlib.util
import mimetypes
import os
import stat
from email.utils import parsedate_to_datetime
from typing import Any, Optional, Union

from ._paths import route_path
from .concurrency import run_in_threadpool
from .datastructures import Headers
from .exceptions import HTTPException
from .requests import HTTPConnection
from .responses import FileResponse, RedirectResponse, Response, _content_type

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

    def _native_directories(self) -> Any:
        """What the engine needs to answer this app's plain file requests itself (mounted
        with ``app.mount``): the directories, and each extension's content type as this
        app would give it."""
        from . import _core

        return _core.StaticDirectories(
            [os.fspath(directory) for directory in self.all_directories],
            self.follow_symlink,
            _content_types(),
            [*mimetypes.suffix_map, *mimetypes.encodings_map],
        )

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
                return FileResponse(page_path, status_code=404, stat_result=page_stat)
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
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
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


@functools.lru_cache(maxsize=1)
def _content_types() -> dict[str, str]:
    """The content type ``FileResponse`` gives each extension ``mimetypes`` knows."""
    mimetypes.init()
    return {
        extension: _content_type(media_type, "utf-8").decode("latin-1")
        for extension, media_type in mimetypes.types_map.items()
    }
