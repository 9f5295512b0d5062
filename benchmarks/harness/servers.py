"""Starting, checking and stopping the servers under test."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from harness import APPS_DIR, HOST, REPO_ROOT
from harness.catalog import Endpoint, Framework
from harness.proc import Resources, group_pids


def _free_port() -> int:
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

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in text[-lines:])

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
    url: str, method: str = "GET", body: Optional[bytes] = None, content_type: Optional[str] = None
) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    # The run's own self-signed certificate.
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_server(
    name: str, fw: Framework, pin: Optional[int], log_dir: Path, ready_path: str, timeout: float
) -> Server:
    port = _free_port()
    certfile, keyfile = certificate(log_dir) if fw.tls else ("", "")
    argv = shlex.split(
        fw.command.format(
            python=shlex.quote(sys.executable),
            host=HOST,
            port=port,
            apps=shlex.quote(str(APPS_DIR)),
            certfile=shlex.quote(certfile),
            keyfile=shlex.quote(keyfile),
        )
    )
    if pin is not None:
        argv = ["taskset", "-c", str(pin), *argv]
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")
    env = dict(os.environ, PORT=str(port), PYTHONUNBUFFERED="1")
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
    server = Server(name, port, proc, log_path, tls=fw.tls)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with code {proc.returncode} before answering")
        try:
            _request(server.base_url + ready_path)
            return server
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
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


def check_endpoint(server: Server, ep: Endpoint) -> Optional[str]:
    """None when the endpoint answers 200 with the expected body, else why not."""
    try:
        status, raw = _request(server.base_url + ep.path, ep.method, ep.body, ep.content_type)
    except (OSError, urllib.error.URLError) as e:
        return f"request failed: {e}"
    if status != 200:
        return f"status {status}: {_preview(raw)}"
    if isinstance(ep.expected, str):
        ok = raw.decode(errors="replace") == ep.expected
    else:
        try:
            ok = json.loads(raw) == ep.expected
        except ValueError:
            ok = False
    return None if ok else f"unexpected body {_preview(raw)}, wanted {ep.expected!r}"
