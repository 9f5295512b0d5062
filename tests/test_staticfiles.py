"""``ignyx.staticfiles.StaticFiles`` against Starlette's, mounted on an Ignyx app and on a
FastAPI app serving the same directory: files and their types, HEAD, 404/405, conditional
requests and 304s, byte ranges, ``html=True``, ``url_for`` and requests trying to leave the
directory.
"""

import asyncio
import importlib
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Dual

# Headers of a file response a browser or a cache acts on.
STATIC_HEADERS = (
    "content-type",
    "content-length",
    "etag",
    "last-modified",
    "accept-ranges",
    "content-range",
    "location",
    "allow",
)

BIG = bytes(range(256)) * 800  # 200 KiB: sent in several chunks


def _make_tree(root: Path) -> None:
    static = root / "static"
    for folder in ("css", "js", "sub", "empty_dir", "pkg/statics", "pkg/assets"):
        (static if not folder.startswith("pkg") else root).joinpath(folder).mkdir(parents=True)
    files = {
        "hello.txt": b"hello world\n",
        "css/app.css": b"body { color: red; }\n",
        "js/app.js": b"console.log('hi');\n",
        "data.json": b'{"a": 1}',
        "image.png": b"\x89PNG\r\n\x1a\n" + bytes(100),
        "README": b"no extension",
        "thing.weird": b"unknown type",
        "with space.txt": b"spaced",
        "caf\u00e9.txt": b"accented",
        "index.html": b"<h1>home</h1>",
        "sub/index.html": b"<h1>sub</h1>",
        "sub/page.html": b"<p>page</p>",
        "404.html": b"<h1>not here</h1>",
        "big.bin": BIG,
    }
    for name, content in files.items():
        (static / name).write_bytes(content)
    (root / "secret.txt").write_bytes(b"secret")
    os.symlink("../secret.txt", static / "link_out")
    os.symlink("hello.txt", static / "link_in")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "statics" / "from_package.txt").write_bytes(b"packaged")
    (root / "pkg" / "assets" / "asset.txt").write_bytes(b"asset")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("statics")
    _make_tree(root)
    sys.path.insert(0, str(root))  # for packages=["pkg"]
    yield root
    sys.path.remove(str(root))


def _build(tree: Path) -> Any:
    def build(fw: Any) -> Any:
        static_files = importlib.import_module(f"{fw.name}.staticfiles").StaticFiles
        directory = tree / "static"
        app = fw.FastAPI()
        app.mount("/static", static_files(directory=directory), name="static")
        app.mount("/site", static_files(directory=directory, html=True), name="site")
        app.mount("/follow", static_files(directory=directory, follow_symlink=True))
        app.mount(
            "/packaged",
            static_files(packages=["pkg", ("pkg", "assets")]),
            name="packaged",
        )

        @app.get("/links")
        def links(request: fw.Request) -> dict[str, str]:
            return {
                "css": str(request.url_for("static", path="css/app.css")),
                "page": app.url_path_for("site", path="sub/page.html"),
            }

        return app

    return build


@pytest.fixture(scope="module")
def clients(dual: Any, tree: Path) -> Dual:
    return dual(_build(tree))


def same(clients: Dual, method: str, url: str, **kwargs: Any) -> Any:
    """The same request to both: the same status, body and file headers. Returns Ignyx's."""
    theirs, ours = clients.request(method, url, **kwargs)
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), url
    expected = {name: theirs.headers.get(name) for name in STATIC_HEADERS}
    assert {name: ours.headers.get(name) for name in STATIC_HEADERS} == expected, url
    return ours


FILES = [
    "hello.txt",
    "css/app.css",
    "js/app.js",
    "data.json",
    "image.png",
    "README",
    "thing.weird",
    "with%20space.txt",
    "caf%C3%A9.txt",
    "index.html",
    "sub/page.html",
    "link_in",
]


@pytest.mark.parametrize("name", FILES)
def test_a_file_is_served_with_its_type_length_and_validators(clients, name):
    response = same(clients, "GET", f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["etag"].startswith('"')
    assert response.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("name", ["hello.txt", "image.png", "sub/page.html"])
def test_head_gives_the_headers_of_get_without_the_body(clients, name):
    response = same(clients, "HEAD", f"/static/{name}")
    assert response.content == b""
    assert (
        response.headers["content-length"]
        == same(clients, "GET", f"/static/{name}").headers["content-length"]
    )


@pytest.mark.parametrize(
    "url",
    [
        "/static/missing.txt",
        "/static/",
        "/static/sub",
        "/static/sub/",
        "/static/empty_dir",
        "/static/hello.txt/more",
        "/static/" + "a" * 300,
    ],
)
def test_what_is_not_a_file_is_a_404(clients, url):
    response = same(clients, "GET", url)
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


def test_the_mount_without_a_slash_redirects_to_it(clients):
    response = same(clients, "GET", "/static")
    assert response.status_code == 307


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("url", ["/static/hello.txt", "/static/missing.txt"])
def test_other_methods_are_a_405_allowing_get_and_head(clients, method, url):
    response = same(clients, method, url)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "url",
    [
        "/static/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/sub/..%2f..%2fsecret.txt",
        "/static/sub/%2e%2e/%2e%2e/secret.txt",
        "/static/%2fetc%2fpasswd",
        "/static//etc/passwd",
        "/static/..%5csecret.txt",
        "/static/%00",
        "/static/hello.txt%00.png",
        "/static/link_out",
        "/site/link_out",
    ],
)
def test_no_request_leaves_the_directory(clients, url):
    response = same(clients, "GET", url)
    assert response.status_code == 404
    assert b"secret" not in response.content


@pytest.mark.parametrize(
    "target",
    [
        b"/static/../secret.txt",
        b"/static/../../../../etc/passwd",
        b"/static/sub/../../secret.txt",
        b"/static/..\\secret.txt",
        b"/static/%2e%2e/secret.txt",
    ],
)
def test_a_raw_request_target_stays_inside(clients, target):
    # httpx resolves ".." before sending; a client on a socket need not.
    with socket.create_connection(("127.0.0.1", clients.ignyx.port)) as connection:
        request = b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert answer.endswith(b'\r\n\r\n{"detail":"Not Found"}')


def test_follow_symlink_serves_what_a_link_points_to(clients):
    assert same(clients, "GET", "/follow/link_out").content == b"secret"
    assert same(clients, "GET", "/follow/%2e%2e/secret.txt").status_code == 404


@pytest.mark.parametrize(
    "url, status",
    [
        ("/site", 307),
        ("/site/", 200),
        ("/site/sub", 307),
        ("/site/sub?x=1", 307),
        ("/site/sub/", 200),
        ("/site/sub/page.html", 200),
        ("/site/missing", 404),
        ("/site/empty_dir", 404),
        ("/site/empty_dir/", 404),
    ],
)
def test_html_mode_serves_index_pages_and_the_404_page(clients, url, status):
    response = same(clients, "GET", url)
    assert response.status_code == status
    if status == 404:
        assert response.content == b"<h1>not here</h1>"
        assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_html_mode_redirects_a_directory_to_its_slash(clients):
    response = same(clients, "GET", "/site/sub?x=1")
    assert response.headers["location"] == "http://testserver/site/sub/?x=1"


def test_files_come_from_packages(clients):
    assert same(clients, "GET", "/packaged/from_package.txt").content == b"packaged"
    assert same(clients, "GET", "/packaged/asset.txt").content == b"asset"
    assert same(clients, "GET", "/packaged/hello.txt").status_code == 404


def test_url_for_names_a_file_of_a_mount(clients):
    response = same(clients, "GET", "/links")
    assert response.json() == {
        "css": "http://testserver/static/css/app.css",
        "page": "/site/sub/page.html",
    }


# --- conditional requests ------------------------------------------------------------------


@pytest.fixture(scope="module")
def validators(clients: Dual) -> dict[str, str]:
    response = clients.ignyx.get("/static/hello.txt")
    return {"etag": response.headers["etag"], "last_modified": response.headers["last-modified"]}


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"if-none-match": "{etag}"}, 304),
        ({"if-none-match": "W/{etag}"}, 304),
        ({"if-none-match": '"other", {etag}'}, 304),
        ({"if-none-match": "*"}, 304),
        ({"if-none-match": '"other"'}, 200),
        ({"if-modified-since": "{last_modified}"}, 304),
        ({"if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT"}, 200),
        ({"if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 304),
        ({"if-modified-since": "yesterday"}, 200),
        ({"if-none-match": '"other"', "if-modified-since": "{last_modified}"}, 200),
    ],
)
def test_conditional_requests_get_304_when_the_client_has_the_file(
    clients, validators, headers, status
):
    sent = {name: value.format(**validators) for name, value in headers.items()}
    response = same(clients, "GET", "/static/hello.txt", headers=sent)
    assert response.status_code == status
    if status == 304:
        assert response.content == b""
        assert response.headers["etag"] == validators["etag"]
        assert "content-type" not in response.headers


def test_a_304_is_given_for_an_index_page_too(clients):
    etag = clients.ignyx.get("/site/").headers["etag"]
    assert same(clients, "GET", "/site/", headers={"if-none-match": etag}).status_code == 304


# --- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"range": "bytes=0-4"}, 206),
        ({"range": "bytes=6-"}, 206),
        ({"range": "bytes=-3"}, 206),
        ({"range": "bytes=0-999"}, 206),
        ({"range": "bytes=50-"}, 416),
        ({"range": "items=0-1"}, 400),
        ({"range": "bytes=3-1"}, 400),
        ({"range": "bytes=x-y"}, 400),
        ({"range": "bytes"}, 400),
        ({"range": "bytes=0-4", "if-range": "{etag}"}, 206),
        ({"range": "bytes=0-4", "if-range": "{last_modified}"}, 206),
        ({"range": "bytes=0-4", "if-range": '"other"'}, 200),
        ({"range": "bytes=0-4", "if-range": "W/{etag}"}, 200),
    ],
)
def test_ranges_are_answered_as_starlette_does(clients, validators, headers, status):
    sent = {name: value.format(**validators) for name, value in headers.items()}
    assert same(clients, "GET", "/static/hello.txt", headers=sent).status_code == status
    assert same(clients, "HEAD", "/static/hello.txt", headers=sent).content == b""


def test_a_range_of_the_404_page_is_the_whole_page(clients):
    response = same(clients, "GET", "/site/missing", headers={"range": "bytes=0-3"})
    assert response.status_code == 404


def _without_boundary(response: Any) -> tuple[int, bytes, str]:
    boundary = response.headers["content-type"].split("boundary=")[1]
    return (
        response.status_code,
        response.content.replace(boundary.encode(), b"B"),
        response.headers["content-type"].replace(boundary, "B"),
    )


@pytest.mark.parametrize("ranges", ["bytes=0-1,4-6", "bytes=0-1, 1-3, 8-", "bytes=-2,0-0"])
def test_several_ranges_are_one_multipart_answer(clients, ranges):
    theirs, ours = clients.request("GET", "/static/hello.txt", headers={"range": ranges})
    assert _without_boundary(ours) == _without_boundary(theirs)
    assert ours.status_code == 206


def test_a_large_file_arrives_whole_and_in_ranges(clients):
    # Sent in chunks: the engine streams them, so without the content-length Starlette sends.
    theirs, ours = clients.request("GET", "/static/big.bin")
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content) == (200, BIG)
    assert ours.headers["etag"] == theirs.headers["etag"]
    span = {"range": "bytes=100-70000"}
    theirs, ours = clients.request("GET", "/static/big.bin", headers=span)
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
    assert (ours.status_code, ours.content) == (206, BIG[100:70001])
    assert ours.headers["content-range"] == theirs.headers["content-range"]
    head = same(clients, "HEAD", "/static/big.bin")
    assert head.headers["content-length"] == str(len(BIG))


# --- configuration and direct use ----------------------------------------------------------


def test_a_missing_directory_is_refused_at_once(tmp_path):
    from ignyx.staticfiles import StaticFiles

    missing = tmp_path / "nowhere"
    with pytest.raises(RuntimeError, match=re.escape(f"Directory '{missing}' does not exist")):
        StaticFiles(directory=missing)
    with pytest.raises(AssertionError, match="Package 'no_such_package_here'"):
        StaticFiles(packages=["no_such_package_here"])


def test_without_check_dir_a_missing_directory_fails_its_first_request(tmp_path):
    from ignyx.staticfiles import StaticFiles

    static = StaticFiles(directory=tmp_path / "later", check_dir=False)
    scope = {"type": "http", "method": "GET", "path": "/a.txt", "headers": []}
    with pytest.raises(RuntimeError, match="does not exist"):
        asyncio.run(static(scope, None, None))


def _serve(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    base = {"type": "http", "method": "GET", "headers": [], "root_path": "", "query_string": b""}
    asyncio.run(app({**base, **scope}, receive, send))
    return sent


def test_as_an_asgi_app_a_large_file_goes_in_64_kib_chunks_with_its_length(tree):
    from ignyx.staticfiles import StaticFiles

    sent = _serve(StaticFiles(directory=tree / "static"), {"path": "/big.bin"})
    start, *bodies = sent
    assert start["status"] == 200
    assert (b"content-length", str(len(BIG)).encode()) in start["headers"]
    assert [len(m["body"]) for m in bodies] == [65536, 65536, 65536, 8192]
    assert [m["more_body"] for m in bodies] == [True, True, True, False]
    assert b"".join(m["body"] for m in bodies) == BIG


def test_a_websocket_to_static_files_is_closed(tree):
    from ignyx.staticfiles import StaticFiles

    sent = _serve(StaticFiles(directory=tree / "static"), {"type": "websocket", "path": "/"})
    assert sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


def test_a_subclass_can_serve_a_single_page_app(tree):
    from ignyx import FastAPI
    from ignyx.exceptions import HTTPException
    from ignyx.staticfiles import StaticFiles
    from ignyx.testclient import TestClient

    class SinglePage(StaticFiles):
        async def get_response(self, path: str, scope: dict[str, Any]) -> Any:
            try:
                return await super().get_response(path, scope)
            except HTTPException as exc:
                if exc.status_code != 404:
                    raise
                return await super().get_response("index.html", scope)

    app = FastAPI()
    app.mount("/", SinglePage(directory=tree / "static"), name="spa")
    with TestClient(app) as client:
        assert client.get("/orders/7").content == b"<h1>home</h1>"
        assert client.get("/hello.txt").content == b"hello world\n"
        assert client.post("/orders/7").status_code == 405


# -- served by the engine ------------------------------------------------------------------


def test_the_engine_answers_plain_file_requests_without_python(tree, monkeypatch):
    """A mounted StaticFiles' GET/HEAD of a file (200, 304, a range) never reaches the Python
    app; the rest (a missing file, html pages, odd paths) does, and answers as Starlette."""
    import ignyx
    from ignyx.staticfiles import StaticFiles
    from ignyx.testclient import TestClient

    seen: list[str] = []
    python_call = StaticFiles.__call__

    async def counting(self, scope, receive, send):
        seen.append(scope["path"])
        await python_call(self, scope, receive, send)

    monkeypatch.setattr(StaticFiles, "__call__", counting)
    app = ignyx.FastAPI()
    app.mount("/static", StaticFiles(directory=tree / "static"), name="static")
    with TestClient(app) as client:
        first = client.get("/static/css/app.css")
        again = client.get("/static/css/app.css", headers={"if-none-match": first.headers["etag"]})
        head = client.head("/static/big.bin")
        whole = client.get("/static/big.bin")
        partial = client.get("/static/big.bin", headers={"range": "bytes=0-9"})
        assert seen == []
        missing = client.get("/static/missing.txt")
    assert (first.status_code, first.content) == (200, b"body { color: red; }\n")
    assert again.status_code == 304 and again.content == b""
    assert head.headers["content-length"] == str(len(BIG)) and head.content == b""
    assert whole.content == BIG
    assert (partial.status_code, partial.content) == (206, BIG[:10])
    assert missing.status_code == 404
    assert seen == ["/static/missing.txt"]


def test_a_file_larger_than_memory_streams_with_flat_rss(tmp_path):
    """A 1 GiB sparse file through a live server: every byte arrives, and the server's peak
    RSS grows by far less than the file."""
    import textwrap

    import httpx
    from conftest import served_script

    big = tmp_path / "files" / "huge.bin"
    big.parent.mkdir()
    with open(big, "wb") as file:
        file.truncate(1 << 30)
    source = textwrap.dedent(
        f"""
        import sys
        from ignyx import FastAPI
        from ignyx.staticfiles import StaticFiles

        app = FastAPI()
        app.mount("/files", StaticFiles(directory={str(big.parent)!r}))

        @app.get("/rss")
        def rss():
            fields = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
            return {{"peak_kib": int(fields["VmHWM"].split()[0])}}

        app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
        """
    )
    with served_script(tmp_path / "app.py", source) as (_, port):
        base = f"http://127.0.0.1:{port}"
        before = httpx.get(f"{base}/rss").json()["peak_kib"]
        received = 0
        with httpx.stream("GET", f"{base}/files/huge.bin", timeout=120) as response:
            assert response.headers["content-length"] == str(1 << 30)
            for chunk in response.iter_raw(1 << 20):
                assert not chunk.strip(b"\0")  # a sparse file reads as zeros
                received += len(chunk)
        growth = httpx.get(f"{base}/rss").json()["peak_kib"] - before
    assert received == 1 << 30
    assert growth < 32 * 1024, f"peak RSS grew by {growth} KiB serving 1 GiB"


def test_curl_ranges_and_conditional_requests_on_the_wire(tree):
    """curl as a user runs it against a live server: a range (-r), a conditional request
    (-z, If-Modified-Since from the file's own date) and a resumed download (-C)."""
    import shutil
    import subprocess

    import ignyx
    from conftest import live_server
    from ignyx.staticfiles import StaticFiles

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    app = ignyx.FastAPI()
    app.mount("/static", StaticFiles(directory=tree / "static"), name="static")

    def curl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["curl", "-s", *args], capture_output=True, check=True, timeout=30)

    with live_server(app) as server:
        url = f"http://127.0.0.1:{server.port}/static/big.bin"
        ranged = curl("-r", "100-199", "-w", "%{http_code}", url).stdout
        assert ranged == BIG[100:200] + b"206"
        unchanged = curl("-z", str(tree / "static" / "big.bin"), "-w", "%{http_code}", url)
        assert unchanged.stdout == b"304"
        partial = tree / "partial.bin"
        partial.write_bytes(BIG[:1000])
        curl("-C", "-", "-o", str(partial), url)
        assert partial.read_bytes() == BIG
