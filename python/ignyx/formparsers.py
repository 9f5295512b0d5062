"""Reading a submitted form: ``application/x-www-form-urlencoded`` and ``multipart/form-data``
bodies become a ``FormData``, with Starlette's rules and limits::

    form = parse_form(request.headers.get("content-type"), body)
    form["name"]            # a text field, as str
    form["upload"].filename # a file, as UploadFile

Multipart bodies go through python-multipart, the parser Starlette uses, so that what is
accepted, what is refused and how file names are read is the same as in FastAPI. The body is
already in memory (the engine read it), so parsing is one synchronous pass.
"""

from __future__ import annotations

import codecs
import functools
from tempfile import SpooledTemporaryFile
from types import ModuleType
from typing import TYPE_CHECKING, Optional, Union
from urllib.parse import parse_qsl

from .datastructures import FormData, Headers, UploadFile

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FILES = 1000
MAX_FIELDS = 1000
MAX_PART_SIZE = 1024 * 1024
# Files are kept in memory up to this size, then moved to a temporary file on disk.
SPOOL_MAX_SIZE = 1024 * 1024


@functools.cache
def _multipart() -> ModuleType:
    # python-multipart loads with the first form parsed, not with every app; looked up
    # through a cache rather than imported in place, as each form asks for it.
    import python_multipart.exceptions
    import python_multipart.multipart

    return python_multipart


class MultiPartException(Exception):
    """A form that cannot be read; `message` is the 400 response's detail."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_form(
    content_type: Optional[str],
    body: bytes,
    *,
    max_files: Union[int, float] = MAX_FILES,
    max_fields: Union[int, float] = MAX_FIELDS,
    max_part_size: int = MAX_PART_SIZE,
) -> FormData:
    """The form in `body`; an empty ``FormData`` for any other content type.

    Raises `MultiPartException` for a malformed or oversized form.
    """
    media_type, options = _multipart().multipart.parse_options_header(content_type)
    if media_type == b"multipart/form-data":
        parser = _MultiPartParser(
            options,
            max_files=max_files,
            max_fields=max_fields,
            max_part_size=max_part_size,
        )
        return parser.parse(body)
    if media_type == b"application/x-www-form-urlencoded":
        return _parse_urlencoded(body, max_fields=max_fields, max_part_size=max_part_size)
    return FormData()


def _parse_urlencoded(
    body: bytes, *, max_fields: Union[int, float], max_part_size: int
) -> FormData:
    # Starlette decodes the raw bytes as latin-1, then percent-escapes as UTF-8.
    text = body.decode("latin-1")
    if len(body) > max_part_size or body.count(b"&") >= max_fields:
        # Field by field, as Starlette reads them: a field's size is checked as it is read,
        # the count when it ends, so the first field over either limit names the error.
        fields = 0
        for piece in text.split("&"):
            if not piece:
                continue
            if len(piece) - ("=" in piece) > max_part_size:
                raise MultiPartException(
                    f"Field exceeded maximum size of {int(max_part_size / 1024)}KB."
                )
            fields += 1
            if fields > max_fields:
                raise MultiPartException(
                    f"Too many fields. Maximum number of fields is {max_fields}."
                )
    return FormData(parse_qsl(text, keep_blank_values=True))


def _decode(data: Union[bytes, bytearray], charset: str) -> str:
    try:
        return data.decode(charset)
    # UnicodeError, not only UnicodeDecodeError: some codecs (punycode, idna) raise the
    # base class, which Starlette lets through as a 500 for a client's charset.
    except (UnicodeError, LookupError):
        return data.decode("latin-1")


class _MultiPartParser:
    """One multipart body, read through python-multipart's callbacks."""

    def __init__(
        self,
        options: dict[bytes, bytes],
        *,
        max_files: Union[int, float],
        max_fields: Union[int, float],
        max_part_size: int,
    ) -> None:
        self.options = options
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self.charset = "utf-8"
        self.items: list[tuple[str, Union[str, UploadFile]]] = []
        self.files: list[UploadFile] = []
        self.fields = 0
        self.header_name = b""
        self.header_value = b""
        self._new_part()

    def _new_part(self) -> None:
        self.disposition: Optional[bytes] = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.name = ""
        self.data = bytearray()
        self.file: Optional[UploadFile] = None

    def parse(self, body: bytes) -> FormData:
        charset: Union[bytes, str] = self.options.get(b"charset", "utf-8")
        if isinstance(charset, bytes):
            charset = charset.decode("latin-1")
        try:
            self.charset = codecs.lookup(charset).name
        except LookupError:
            self.charset = "latin-1"
        boundary = self.options.get(b"boundary")
        if boundary is None:
            raise MultiPartException("Missing boundary in multipart.")
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._new_part,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }
        python_multipart = _multipart()
        try:
            parser = python_multipart.MultipartParser(boundary, callbacks)
            parser.write(body)
            parser.finalize()
        except BaseException as exc:
            for upload in self.files:
                upload.file.close()
            if isinstance(exc, python_multipart.exceptions.FormParserError):
                raise MultiPartException("Invalid multipart data.") from exc
            raise
        return FormData(self.items)

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self.header_name.lower()
        if name == b"content-disposition":
            self.disposition = self.header_value
        self.headers.append((name, self.header_value))
        self.header_name = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = _multipart().multipart.parse_options_header(self.disposition)
        try:
            self.name = _decode(options[b"name"], self.charset)
        except KeyError:
            raise MultiPartException(
                'The Content-Disposition header field "name" must be provided.'
            ) from None
        if b"filename" in options:
            if len(self.files) >= self.max_files:
                raise MultiPartException(
                    f"Too many files. Maximum number of files is {self.max_files}."
                )
            self.file = UploadFile(
                file=SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE),  # type: ignore[arg-type]
                size=0,
                filename=_decode(options[b"filename"], self.charset),
                headers=Headers(raw=self.headers),
            )
            self.files.append(self.file)
        else:
            self.fields += 1
            if self.fields > self.max_fields:
                raise MultiPartException(
                    f"Too many fields. Maximum number of fields is {self.max_fields}."
                )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file is None:
            if len(self.data) + (end - start) > self.max_part_size:
                raise MultiPartException(
                    f"Part exceeded maximum size of {int(self.max_part_size / 1024)}KB."
                )
            self.data += data[start:end]
        else:
            self.file.file.write(memoryview(data)[start:end])
            self.file.size += end - start  # type: ignore[operator]

    def on_part_end(self) -> None:
        if self.file is None:
            self.items.append((self.name, _decode(self.data, self.charset)))
        else:
            self.file.file.seek(0)
            self.items.append((self.name, self.file))
