"""HTTPS and HTTP/2 as a user serves them: ``ignyx run`` with certificates the test makes
with ``openssl`` (a private authority, a server certificate for localhost and a client
certificate), checked over real sockets with httpx (HTTP/1.1 and HTTP/2 by ALPN), h2c, and a
TLS WebSocket client. Each server is a subprocess stopped by its PID."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
from pathlib import Path

import httpx
import pytest
import websockets
from conftest import free_port, openssl, private_authority
from test_cli import assert_one_error_line, local, run_cli, serve, write

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

APP = """
import os

from ignyx import FastAPI, Request, WebSocket

app = FastAPI()


@app.get("/who")
def who(request: Request):
    return {
        "pid": os.getpid(),
        "scheme": request.url.scheme,
        "scope_scheme": request.scope["scheme"],
        "url": str(request.url),
        "http_version": request.scope["http_version"],
        "docs": str(request.url_for("who")),
    }


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_json({"scheme": websocket.url.scheme, "scope": websocket.scope["scheme"]})
    await websocket.close()
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private authority (ca.pem), a server certificate for localhost and 127.0.0.1 signed
    by it (server.pem, server.key; server-enc.key encrypted with "s3cret", legacy.key in
    OpenSSL's legacy encrypted format), a client certificate signed by it (client.pem,
    client.key), an unrelated key (other.key) and a self-signed client certificate for it
    (stranger.pem)."""
    d = private_authority(tmp_path_factory.mktemp("certs"))
    openssl("pkcs8", "-topk8", "-in", "server.key", "-out", "server-enc.key", "-passout",
            "pass:s3cret", "-v2", "aes-256-cbc", cwd=d)  # fmt: skip
    openssl("rsa", "-in", "server.key", "-aes128", "-traditional", "-passout", "pass:x",
            "-out", "legacy.key", cwd=d)  # fmt: skip
    openssl("genpkey", "-algorithm", "RSA", "-out", "other.key", cwd=d)
    openssl("req", "-x509", "-key", "other.key", "-out", "stranger.pem", "-days", "2", "-subj",
            "/CN=mallory", "-addext", "extendedKeyUsage=clientAuth", cwd=d)  # fmt: skip
    return d


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    write(tmp_path, {"main.py": APP})
    return tmp_path


def tls_args(certs: Path, key: str = "server.key") -> list[str]:
    return ["--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile", str(certs / key)]


def https(certs: Path, *, http2: bool = True, cert: tuple[str, str] | None = None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if cert:
        context.load_cert_chain(certs / cert[0], certs / cert[1])
    return httpx.Client(verify=context, http2=http2, timeout=10)


def test_https_serves_http2_and_http11_by_alpn_with_the_scheme_right(app_dir, certs):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), *tls_args(certs)], port=port) as server:
        with https(certs) as client:
            h2 = client.get(f"https://localhost:{port}/who")
        with https(certs, http2=False) as client:
            h1 = client.get(f"https://localhost:{port}/who")
        assert "Ignyx serving on https://127.0.0.1:" in server.stderr()
    assert h2.http_version == "HTTP/2"
    assert h2.json()["http_version"] == "2"
    assert h1.http_version == "HTTP/1.1"
    for response in (h1, h2):
        body = response.json()
        assert body["scheme"] == body["scope_scheme"] == "https"
        # The host is the one the client named (HTTP/2's :authority, HTTP/1.1's Host).
        assert body["url"] == body["docs"] == f"https://localhost:{port}/who"


def test_plain_http_on_the_tls_port_fails_fast_and_the_server_goes_on(app_dir, certs):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), *tls_args(certs)], port=port):
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/who", timeout=5)
        with https(certs) as client:
            assert client.get(f"https://localhost:{port}/who").status_code == 200


def test_http_1_offers_only_http11_by_alpn(app_dir, certs):
    port = free_port()
    args = ["run", "main:app", *local(port), *tls_args(certs), "--http", "1"]
    with serve(app_dir, args, port=port), https(certs) as client:
        response = client.get(f"https://localhost:{port}/who")
    assert response.http_version == "HTTP/1.1"


def test_h2c_with_prior_knowledge_and_http_2_only(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), "--http", "2"], port=port):
        with httpx.Client(http1=False, http2=True, timeout=10) as client:
            response = client.get(f"http://127.0.0.1:{port}/who")
        assert response.http_version == "HTTP/2"
        assert response.json()["scheme"] == "http"
        assert response.json()["url"] == f"http://127.0.0.1:{port}/who"
        # An HTTP/1.1 request to an HTTP/2-only server is refused.
        refused = httpx.get(f"http://127.0.0.1:{port}/who", timeout=5)
        assert refused.status_code == 505
        assert refused.headers["connection"] == "close"


def test_http_1_refuses_h2c(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), "--http", "1"], port=port):
        with httpx.Client(http1=False, http2=True, timeout=10) as client:
            assert client.get(f"http://127.0.0.1:{port}/who").status_code == 505
        assert httpx.get(f"http://127.0.0.1:{port}/who", timeout=5).status_code == 200


def test_websockets_over_tls_are_wss(app_dir, certs):
    port = free_port()

    async def talk() -> dict:
        context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        async with websockets.connect(f"wss://localhost:{port}/ws", ssl=context) as ws:
            return json.loads(await ws.recv())

    with serve(app_dir, ["run", "main:app", *local(port), *tls_args(certs)], port=port):
        assert asyncio.run(talk()) == {"scheme": "wss", "scope": "wss"}


def test_an_encrypted_key_is_read_with_its_password(app_dir, certs):
    port = free_port()
    args = [*tls_args(certs, "server-enc.key"), "--ssl-keyfile-password", "s3cret"]
    with serve(app_dir, ["run", "main:app", *local(port), *args], port=port):
        with https(certs) as client:
            assert client.get(f"https://localhost:{port}/who").json()["scheme"] == "https"


@pytest.mark.parametrize(
    ("key", "extra", "expected"),
    [
        ("server-enc.key", [], "the key is encrypted: give ssl_keyfile_password"),
        ("server-enc.key", ["--ssl-keyfile-password", "wrong"], "cannot decrypt the key"),
        ("legacy.key", ["--ssl-keyfile-password", "x"], "openssl pkcs8 -topk8"),
        ("other.key", [], "the private key is not the certificate's"),
        ("server.pem", [], "no PEM private key"),
        ("missing.key", [], "No such file"),
    ],
)
def test_a_key_that_cannot_be_used_ends_with_one_error_line(app_dir, certs, key, extra, expected):
    result = run_cli(
        app_dir, ["run", "main:app", *local(free_port()), *tls_args(certs, key), *extra]
    )
    assert_one_error_line(result, expected)


def test_a_file_without_a_certificate_ends_with_one_error_line(app_dir, certs):
    args = ["--ssl-certfile", str(certs / "server.key"), "--ssl-keyfile", str(certs / "server.key")]
    result = run_cli(app_dir, ["run", "main:app", *local(free_port()), *args])
    assert_one_error_line(result, "no PEM certificate")


def test_required_client_certificates_are_verified(app_dir, certs):
    port = free_port()
    args = [*tls_args(certs), "--ssl-ca-certs", str(certs / "ca.pem"), "--ssl-cert-reqs", "2"]
    with serve(app_dir, ["run", "main:app", *local(port), *args], port=port):
        with https(certs, cert=("client.pem", "client.key")) as client:
            assert client.get(f"https://localhost:{port}/who").status_code == 200
        with pytest.raises(httpx.HTTPError), https(certs) as client:
            client.get(f"https://localhost:{port}/who")
        # A certificate of another authority is refused too.
        with pytest.raises(httpx.HTTPError), https(certs, cert=("stranger.pem", "other.key")) as c:
            c.get(f"https://localhost:{port}/who")


def test_optional_client_certificates_let_clients_without_one_in(app_dir, certs):
    port = free_port()
    args = [*tls_args(certs), "--ssl-ca-certs", str(certs / "ca.pem"), "--ssl-cert-reqs", "1"]
    with serve(app_dir, ["run", "main:app", *local(port), *args], port=port):
        with https(certs) as client:
            assert client.get(f"https://localhost:{port}/who").status_code == 200
        with https(certs, cert=("client.pem", "client.key")) as client:
            assert client.get(f"https://localhost:{port}/who").status_code == 200


def test_client_certificates_without_authorities_end_with_one_error_line(app_dir, certs):
    result = run_cli(
        app_dir, ["run", "main:app", *local(free_port()), *tls_args(certs), "--ssl-cert-reqs", "2"]
    )
    assert_one_error_line(result, "give ssl_ca_certs")


def test_two_workers_serve_tls(app_dir, certs):
    port = free_port()
    args = ["run", "main:app", *local(port), *tls_args(certs), "--workers", "2"]
    with serve(app_dir, args, port=port) as server, https(certs) as client:
        body = client.get(f"https://localhost:{port}/who").json()
        server.pids.add(body["pid"])
        assert body["scheme"] == "https"
        assert "Ignyx serving on https://127.0.0.1:" in server.stderr()


def test_app_run_takes_the_tls_settings_as_keyword_arguments(tmp_path, certs):
    port = free_port()
    script = APP + (
        f"\nif __name__ == '__main__':\n"
        f"    app.run(port={port}, ssl_certfile={str(certs / 'server.pem')!r},"
        f" ssl_keyfile={str(certs / 'server.key')!r})\n"
    )
    write(tmp_path, {"script.py": script})
    import sys

    with serve(tmp_path, ["script.py"], port=port, launcher=[sys.executable]):
        with https(certs) as client:
            assert client.get(f"https://localhost:{port}/who").json()["scheme"] == "https"
