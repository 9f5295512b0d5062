"""Forms and file uploads behave as in FastAPI: ``Form()``, ``File()``, ``UploadFile``,
form models and ``await request.form()``, each request sent to both frameworks."""

import importlib
from types import SimpleNamespace
from typing import Annotated, Any, Optional

import pytest
from conftest import differential
from pydantic import BaseModel, ConfigDict, Field

pytest.importorskip("python_multipart", reason="FastAPI needs python-multipart for forms")

BINARY = bytes(range(256))


class Login(BaseModel):
    username: str
    password: str
    remember: bool = False


class StrictLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    age: int = Field(ge=0)


def _upload(file: Any, data: bytes) -> dict[str, Any]:
    return {
        "filename": file.filename,
        "content_type": file.content_type,
        "size": file.size,
        "hex": data.hex(),
    }


def build(fw: SimpleNamespace) -> Any:
    pkg = importlib.import_module(fw.name)
    Form, File, UploadFile = pkg.Form, pkg.File, pkg.UploadFile
    app = fw.FastAPI(title="Forms")

    @app.post("/fields")
    def fields(
        name: str = Form(),
        count: int = Form(),
        note: Optional[str] = Form(None),
        tags: list[str] = Form([]),
        level: Annotated[int, Form(ge=1)] = 5,
    ):
        return {"name": name, "count": count, "note": note, "tags": tags, "level": level}

    @app.post("/alias")
    async def alias(item_name: str = Form(alias="item-name")):
        return {"item_name": item_name}

    class PasswordRequestForm:
        def __init__(
            self,
            *,
            grant_type: Annotated[Optional[str], Form(pattern="^password$")] = None,
            username: Annotated[str, Form()],
            password: Annotated[str, Form()],
            scope: Annotated[str, Form()] = "",
        ):
            self.grant_type = grant_type
            self.username = username
            self.password = password
            self.scopes = scope.split()

    @app.post("/token")
    def token(form: Annotated[PasswordRequestForm, fw.Depends()]):
        return {"user": form.username, "password": form.password, "scopes": form.scopes}

    @app.post("/login")
    def login(data: Annotated[Login, Form()]):
        return data

    @app.post("/strict")
    async def strict(data: Annotated[StrictLogin, Form()]):
        return data

    @app.post("/file")
    async def file(upload: UploadFile = File()):
        return _upload(upload, await upload.read())

    @app.post("/files")
    def files(uploads: list[UploadFile] = File()):
        return [_upload(upload, upload.file.read()) for upload in uploads]

    @app.post("/bare")
    def bare(file: UploadFile):
        return _upload(file, file.file.read())

    @app.post("/optional-file")
    async def optional_file(file: Optional[UploadFile] = None):
        return {"file": None if file is None else file.filename}

    @app.post("/bytes")
    def raw_bytes(data: bytes = File()):
        return {"hex": data.hex(), "size": len(data)}

    @app.post("/bytes-and-file")
    async def bytes_and_file(data: bytes = File(), upload: UploadFile = File()):
        # The same part, as bytes and as a file: reading one leaves the other whole.
        return {"bytes": data.hex(), "file": (await upload.read()).hex()}

    @app.post("/mixed")
    async def mixed(title: str = Form(), upload: UploadFile = File(), public: bool = Form(False)):
        return {"title": title, "public": public, **_upload(upload, await upload.read())}

    @app.post("/request-form")
    async def request_form(request: fw.Request):
        form = await request.form()
        out: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                out.setdefault(key, []).append(value)
            else:
                out.setdefault(key, []).append(_upload(value, await value.read()))
        return out

    @app.post("/request-form-context")
    async def request_form_context(request: fw.Request):
        async with request.form() as form:
            upload = form["file"]
            data = await upload.read()
        return {"size": len(data), "closed": upload.file.closed}

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


def test_openapi_document_equals_fastapis(clients):
    assert clients.ignyx_app.openapi() == clients.fastapi_app.openapi()


# -- urlencoded fields --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"name": "ada", "count": "3"},
        {"name": "ada", "count": "3", "note": "hi", "tags": ["a", "b"], "level": "2"},
        {"name": "a d+a é", "count": "-1", "tags": "solo"},
        {"name": "ada", "count": "3", "note": "", "level": ""},
    ],
)
def test_urlencoded_form_fields(clients, data):
    differential(clients, "POST", "/fields", data=data)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "ada"},
        {"name": "", "count": ""},
        {"name": "ada", "count": "three"},
        {"name": "ada", "count": "3", "level": "0"},
    ],
)
def test_missing_or_invalid_form_fields_give_fastapis_422(clients, data):
    response = differential(clients, "POST", "/fields", data=data)
    assert response.status_code == 422


def test_missing_form_field_error_is_fastapis(clients):
    response = differential(clients, "POST", "/fields", data={"count": "1"})
    assert response.json() == {
        "detail": [
            {"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": None}
        ]
    }


@pytest.mark.parametrize(
    "content",
    [
        b"name=x&count=1&tags=a&tags=&tags=b",
        b"name=%C3%A9%26&count=+7",
        b"name&count=1",
        b"&&name=x&count=2&",
    ],
)
def test_raw_urlencoded_bodies(clients, content):
    headers = {"content-type": "application/x-www-form-urlencoded"}
    differential(clients, "POST", "/fields", content=content, headers=headers)


def test_form_field_read_by_its_alias(clients):
    assert differential(clients, "POST", "/alias", data={"item-name": "x"}).json() == {
        "item_name": "x"
    }
    differential(clients, "POST", "/alias", data={"item_name": "x"})


def test_json_sent_to_a_form_route_gives_422(clients):
    differential(clients, "POST", "/fields", json={"name": "ada", "count": 3})


def test_form_fields_sent_as_multipart(clients):
    data = {"name": "ada", "count": "3", "tags": ["x", "y"]}
    differential(clients, "POST", "/fields", data=data, files={"other": ("o.txt", b"o")})


# -- a class dependency of Form fields, as OAuth2PasswordRequestForm --------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"username": "ada", "password": "secret"},
        {"username": "ada", "password": "secret", "scope": "read write", "grant_type": "password"},
        {"username": "ada"},
        {"username": "ada", "password": "x", "grant_type": "client"},
    ],
)
def test_password_request_form_dependency(clients, data):
    differential(clients, "POST", "/token", data=data)


# -- form models ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"username": "ada", "password": "pw"},
        {"username": "ada", "password": "pw", "remember": "true", "other": "ignored"},
        {"username": "ada"},
        {},
        {"username": "ada", "password": "pw", "remember": "maybe"},
    ],
)
def test_form_model(clients, data):
    differential(clients, "POST", "/login", data=data)


@pytest.mark.parametrize(
    "data",
    [
        {"username": "ada", "age": "3"},
        {"username": "ada", "age": "-1"},
        {"username": "ada", "x": "1"},
    ],
)
def test_form_model_with_extra_forbidden(clients, data):
    differential(clients, "POST", "/strict", data=data)


# -- files ------------------------------------------------------------------------------------


def test_binary_file_is_byte_exact(clients):
    files = {"upload": ("data.bin", BINARY, "application/octet-stream")}
    response = differential(clients, "POST", "/file", files=files)
    assert response.json() == {
        "filename": "data.bin",
        "content_type": "application/octet-stream",
        "size": 256,
        "hex": BINARY.hex(),
    }


@pytest.mark.parametrize("filename", ["report.pdf", "naïve résumé.txt", "space and ;semi.txt"])
def test_file_name_and_content_type(clients, filename):
    files = {"upload": (filename, b"%PDF-1.4\r\n\r\n--not-a-boundary\r\n", "application/pdf")}
    response = differential(clients, "POST", "/file", files=files)
    assert response.json()["filename"] == filename
    assert response.json()["content_type"] == "application/pdf"


@pytest.mark.parametrize(
    "disposition",
    [
        b'filename="quo\\"te.txt"',  # an escaped quote
        b'filename="C:\\Users\\ada\\photo.jpg"',  # a Windows path: its last part
        b"filename*=UTF-8''%C3%A9.txt",  # RFC 2231, which forms do not use: not a file
        'filename="\u00e9t\u00e9.txt"'.encode(),  # raw UTF-8
        b"filename=plain.txt",
    ],
)
def test_file_names_as_browsers_and_clients_send_them(clients, disposition):
    content = (
        b'--xyz\r\nContent-Disposition: form-data; name="upload"; ' + disposition + b"\r\n"
        b"Content-Type: text/plain\r\nX-Extra: 1\r\n\r\nhello\r\n--xyz--\r\n"
    )
    headers = {"content-type": "multipart/form-data; boundary=xyz"}
    differential(clients, "POST", "/file", content=content, headers=headers)
    differential(clients, "POST", "/request-form", content=content, headers=headers)


def test_large_file_spooled_to_disk_is_byte_exact(clients):
    data = BINARY * 5000  # 1.28 MB: past the in-memory limit
    response = differential(clients, "POST", "/file", files={"upload": ("big.bin", data)})
    assert response.json()["size"] == len(data)


def test_several_files_in_one_field(clients):
    files = [
        ("uploads", ("a.txt", b"first", "text/plain")),
        ("uploads", ("b.bin", BINARY, "application/octet-stream")),
    ]
    response = differential(clients, "POST", "/files", files=files)
    assert [item["filename"] for item in response.json()] == ["a.txt", "b.bin"]


def test_bare_upload_file_parameter(clients):
    response = differential(clients, "POST", "/bare", files={"file": ("x.bin", BINARY)})
    assert response.json()["hex"] == BINARY.hex()


def test_missing_file_gives_fastapis_422(clients):
    for url in ("/file", "/files", "/bare", "/bytes"):
        differential(clients, "POST", url, data={"unrelated": "1"})
        differential(clients, "POST", url)


def test_text_value_for_a_file_gives_fastapis_422(clients):
    differential(clients, "POST", "/file", data={"upload": "not a file"})


def test_optional_file_defaults_to_none(clients):
    assert differential(clients, "POST", "/optional-file", data={"a": "1"}).json() == {"file": None}
    differential(clients, "POST", "/optional-file", files={"file": ("f.txt", b"x")})


def test_empty_file_input_counts_as_missing(clients):
    # What a browser sends for a file input left empty.
    differential(clients, "POST", "/optional-file", files={"file": ("", b"")})
    differential(clients, "POST", "/file", files={"upload": ("", b"")})


def test_bytes_file_parameter(clients):
    response = differential(clients, "POST", "/bytes", files={"data": ("d.bin", BINARY)})
    assert response.json() == {"hex": BINARY.hex(), "size": 256}
    differential(clients, "POST", "/bytes", data={"data": "text part"})


def test_same_part_as_bytes_and_as_file(clients):
    files = [("data", ("d.bin", BINARY)), ("upload", ("u.bin", b"other"))]
    differential(clients, "POST", "/bytes-and-file", files=files)


def test_form_fields_and_files_together(clients):
    files = {"upload": ("pic.png", BINARY, "image/png")}
    response = differential(
        clients, "POST", "/mixed", data={"title": "holiday", "public": "yes"}, files=files
    )
    assert response.json()["title"] == "holiday"
    assert response.json()["public"] is True
    differential(clients, "POST", "/mixed", files=files)


# -- request.form() -------------------------------------------------------------------------


def test_request_form_in_a_handler(clients):
    files = [("file", ("a.bin", BINARY, "application/x-thing")), ("file", ("b.txt", b"b"))]
    data = {"name": "ada", "tags": ["x", "y"]}
    response = differential(clients, "POST", "/request-form", data=data, files=files)
    assert response.json()["tags"] == ["x", "y"]
    differential(clients, "POST", "/request-form", data=data)
    differential(clients, "POST", "/request-form", json={"not": "a form"})


def test_request_form_as_a_context_manager_closes_files(clients):
    response = differential(
        clients, "POST", "/request-form-context", files={"file": ("a.bin", BINARY)}
    )
    assert response.json() == {"size": 256, "closed": True}


# -- malformed forms ------------------------------------------------------------------------

_PART = b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nada\r\n'


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("multipart/form-data; boundary=xyz", b"garbage"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nno header colon\r\n\r\nx\r\n--xyz--"),
        (
            "multipart/form-data; boundary=xyz",
            b"--xyz\nContent-Disposition: form-data\n\nx\n--xyz--",
        ),
        (
            "multipart/form-data; boundary=xyz",
            b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyz--",
        ),
        ("multipart/form-data", _PART + b"--xyz--\r\n"),
        ("multipart/form-data; boundary=xyz", b"preamble\r\n" + _PART),
    ],
)
def test_malformed_multipart_gives_400(clients, content_type, content):
    headers = {"content-type": content_type}
    response = differential(clients, "POST", "/fields", content=content, headers=headers)
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    differential(clients, "POST", "/request-form", content=content, headers=headers)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        _PART,  # no closing boundary: the part never ends
        _PART + b"--xyz--\r\n",
        _PART + b"--xyz--\r\ntrailing bytes",
    ],
)
def test_unterminated_or_empty_multipart_is_read_like_fastapi(clients, content):
    headers = {"content-type": "multipart/form-data; boundary=xyz"}
    differential(clients, "POST", "/fields", content=content, headers=headers)


def test_oversized_text_part_gives_400(clients):
    big = "x" * (1024 * 1024 + 1)
    response = differential(
        clients, "POST", "/fields", data={"name": big, "count": "1"}, files={"f": ("f", b"")}
    )
    assert response.json() == {"detail": "Part exceeded maximum size of 1024KB."}
    response = differential(clients, "POST", "/fields", data={"name": big, "count": "1"})
    assert response.json() == {"detail": "Field exceeded maximum size of 1024KB."}


def test_too_many_fields_gives_400(clients):
    content = "&".join(f"f{i}=1" for i in range(1001)).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = differential(clients, "POST", "/fields", content=content, headers=headers)
    assert response.json() == {"detail": "Too many fields. Maximum number of fields is 1000."}
