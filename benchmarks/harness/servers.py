"""Starting, checking and stopping the servers under test."""

from __future__ import annotations

import gzip
import json
import os
import shlex
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from harness import APPS_DIR, BENCH_DIR, HOST, REPO_ROOT
from harness.catalog import Endpoint, Framework
from harness.proc import Resources, group_pids

if TYPE_CHECKING:
    from harness.redis_server import Redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    idle: Resources = field(default_factory=Resources)
    tls: bool = False
    # Set-Cookie values got from it, by path (Endpoint.cookie_from).
    cookies: dict[str, str] = field(default_factory=dict)
    # Its database in the run's Redis ({redis}), when the run has one.
    redis_db: Optional[int] = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in text[-lines:])

    def check_alive(self) -> None:
        """RuntimeError with the end of its log when its process has exited."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"server died (exit {self.proc.returncode}):\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left."""
        pgid = self.proc.pid
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self.proc.poll()
                if not group_pids(pgid):
                    return
                time.sleep(0.05)
        self.proc.poll()


def _request(
    url: str, method: str = "GET", body: Optional[bytes] = None, headers: Optional[list[str]] = None
) -> tuple[int, Message, bytes]:
    """(status, headers, body); `headers` written as wrk takes them, ``Name: value``."""
    fields = {}
    for header in headers or []:
        name, _, value = header.partition(":")
        fields[name.strip()] = value.strip()
    req = urllib.request.Request(url, data=body, method=method, headers=fields)
    # The run's own self-signed certificate.
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def run_directory(files: dict[str, bytes]) -> Path:
    """A temporary directory for one run: ``static/`` holding `files`, and beside it a
    directory of each server's own (``{dir}``). The caller removes it."""
    run_dir = Path(tempfile.mkdtemp(prefix="ignyx-bench-"))
    static = run_dir / "static"
    static.mkdir()
    for name, data in files.items():
        (static / name).write_bytes(data)
        (static / name).chmod(0o644)
    # Readable by anyone: nginx started as root reads the files as its worker's user (nobody).
    run_dir.chmod(0o755)
    static.chmod(0o755)
    return run_dir


def start_server(
    label: str,
    fw: Framework,
    pin: Optional[int],
    log_dir: Path,
    ready_path: str,
    timeout: float,
    run_dir: Path,
    extra_env: Optional[dict[str, str]] = None,
    redis: Optional[Redis] = None,
) -> Server:
    """Starts `fw` as `label` (its log is ``<label>.log``), with `extra_env` (formatted as the
    command is) added to the environment, and waits until it answers `ready_path`. With the
    run's `redis`, ``{redis}`` is the URL of a database of the server's own."""
    port = free_port()
    certfile, keyfile = certificate(log_dir) if fw.tls else ("", "")
    own_dir = run_dir / label
    own_dir.mkdir()
    names = {
        "host": HOST,
        "port": str(port),
        "static": str(run_dir / "static"),
        "dir": str(own_dir),
    }
    if fw.config:
        template = string.Template((BENCH_DIR / fw.config).read_text())
        filled = template.substitute(names, **fw.config_values)
        (own_dir / Path(fw.config).name).write_text(filled)
    redis_db = redis.database() if redis else None
    placeholders = dict(
        names,
        python=sys.executable,
        apps=str(APPS_DIR),
        certfile=certfile,
        keyfile=keyfile,
        redis=redis.url(redis_db) if redis and redis_db is not None else "",
    )
    argv = shlex.split(fw.command.format(**{k: shlex.quote(v) for k, v in placeholders.items()}))
    if pin is not None:
        argv = ["taskset", "-c", str(pin), *argv]
    log_path = log_dir / f"{label}.log"
    log = open(log_path, "wb")
    env = dict(
        os.environ,
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        **{key: value.format(**placeholders) for key, value in (extra_env or {}).items()},
    )
    # A new session makes the server the leader of its own process group, so
    # stop() can reach every worker it forks and nothing else.
    proc = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    log.close()
    server = Server(label, port, proc, log_path, tls=fw.tls, redis_db=redis_db)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with code {proc.returncode} before answering")
        try:
            _request(server.base_url + ready_path)
            return server
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"did not answer on {server.base_url}{ready_path} within {timeout:.0f}s")


def certificate(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (RSA 2048, as most sites serve),
    made with openssl once per run in `directory`; the same for every TLS server."""
    cert, key = directory / "bench-cert.pem", directory / "bench-key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True,
            capture_output=True,
        )  # fmt: skip
    return str(cert), str(key)


def _preview(raw: bytes, limit: int = 80) -> str:
    text = " ".join(raw.decode(errors="replace").split())
    return repr(text if len(text) <= limit else text[:limit] + "...")


def endpoint_headers(server: Server, ep: Endpoint) -> list[str]:
    """The headers every request to `ep` on `server` carries: the endpoint's own, and the
    cookie it needs, got from the server by one GET the first time (RuntimeError if none)."""
    headers = list(ep.headers)
    if ep.cookie_from:
        if ep.cookie_from not in server.cookies:
            status, answer, raw = _request(server.base_url + ep.cookie_from)
            cookie = answer.get("Set-Cookie")
            if status != 200 or not cookie:
                raise RuntimeError(
                    f"GET {ep.cookie_from} for a cookie: status {status}, "
                    f"{'no Set-Cookie, ' if not cookie else ''}{_preview(raw)}"
                )
            server.cookies[ep.cookie_from] = cookie.split(";", 1)[0]
        headers.append(f"Cookie: {server.cookies[ep.cookie_from]}")
    return headers


_DECODERS = {"gzip": gzip.decompress}


def _media(content_type: Optional[str]) -> str:
    """A Content-Type as compared: no case, no spaces (``text/plain;charset=utf-8``)."""
    return "".join((content_type or "").split()).lower()


def check_endpoint(
    server: Server, ep: Endpoint, headers: list[str], required: tuple[str, ...] = ()
) -> Optional[str]:
    """None when the endpoint answers 200 with the expected Content-Type and body (and the
    `required` headers: ``Framework.answer_headers``), else why not."""
    if ep.content_type:
        headers = [*headers, f"Content-Type: {ep.content_type}"]
    try:
        status, answer, raw = _request(server.base_url + ep.path, ep.method, ep.body, headers)
    except (OSError, urllib.error.URLError) as e:
        return f"request failed: {e}"
    if status != 200:
        return f"status {status}: {_preview(raw)}"
    missing = [name for name in required if answer.get(name) is None]
    if missing:
        return f"no {', '.join(missing)} header in its answer"
    wanted_type = ep.expected_content_type()
    answered_type = answer.get("Content-Type")
    if wanted_type and _media(answered_type) != _media(wanted_type):
        return (
            f"Content-Type {answered_type or '(none)'}, wanted {wanted_type} (body {_preview(raw)})"
        )
    if ep.content_encoding:
        encoding = answer.get("Content-Encoding")
        if encoding != ep.content_encoding:
            return f"Content-Encoding {encoding}, wanted {ep.content_encoding}"
        raw = _DECODERS[encoding](raw)
    if isinstance(ep.expected, bytes):
        if raw == ep.expected:
            return None
        same = ", the same length but other bytes" if len(raw) == len(ep.expected) else ""
        return f"a body of {len(raw):,} bytes{same}, wanted the file's {len(ep.expected):,}"
    if isinstance(ep.expected, str):
        ok = raw.decode(errors="replace") == ep.expected
    else:
        try:
            ok = json.loads(raw) == ep.expected
        except ValueError:
            ok = False
    return None if ok else f"unexpected body {_preview(raw)}, wanted {ep.expected!r}"
