"""The supervisor's metrics port: each worker counts its own requests in the engine and
answers scrapes on a Unix socket of its own; a scrape of the port gathers every current
worker's families into one document (each sample labelled with its ``worker`` slot, which a
replacement worker takes over) and adds the supervisor's own (workers running, workers
restarted). Served from the supervisor's select loop, one scrape at a time::

    gateway = MetricsGateway("0.0.0.0", 9100)
    server = Server(app, fd=..., metrics_uds=gateway.socket_for(0), metrics_worker=0)
    gateway.answer({0: gateway.socket_for(0)}, {"ignyx_worker_restarts_total": 0})
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Mapping

# Time given to a scrape's client and to each worker.
TIMEOUT = 2.0

SUPERVISOR_FAMILIES = {
    "ignyx_workers": ("gauge", "Worker processes running."),
    "ignyx_worker_restarts_total": (
        "counter",
        "Workers replaced after exiting (killed, crashed, or recycled).",
    ),
}


class MetricsGateway:
    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self.listener = socket.create_server((host, port), family=family, backlog=64)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise OSError(f"metrics: cannot listen on {host}:{port}: {reason}") from None
        self.listener.setblocking(False)
        self.directory = tempfile.mkdtemp(prefix="ignyx-metrics-")

    def fileno(self) -> int:
        return self.listener.fileno()

    def socket_for(self, slot: int) -> str:
        """The Unix socket the worker in `slot` answers scrapes on."""
        return os.path.join(self.directory, f"worker-{slot}.sock")

    def answer(self, workers: Mapping[int, str], supervisor: Mapping[str, float]) -> None:
        """Answers the scrapes waiting: the families of `workers` (slot: socket), then
        `supervisor`'s (name: value)."""
        while True:
            try:
                client, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            with client:
                client.settimeout(TIMEOUT)
                try:
                    self._answer(client, workers, supervisor)
                except OSError:
                    pass

    def _answer(
        self, client: socket.socket, workers: Mapping[int, str], supervisor: Mapping[str, float]
    ) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        method, _, rest = head.partition(b" ")
        path = rest.partition(b" ")[0].partition(b"?")[0]
        if path != b"/metrics":
            client.sendall(_response("404 Not Found", "text/plain", b"Not Found"))
            return
        families: dict[str, list[str]] = {}
        for slot in sorted(workers):
            _merge(families, _scrape(workers[slot]))
        for name, value in supervisor.items():
            kind, text = SUPERVISOR_FAMILIES[name]
            families[name] = [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value}"]
        body = "".join(line + "\n" for lines in families.values() for line in lines).encode()
        content_type = "text/plain; version=0.0.4; charset=utf-8"
        client.sendall(_response("200 OK", content_type, body, method != b"HEAD"))

    def close(self) -> None:
        self.listener.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def _scrape(path: str) -> str:
    """The worker's metrics document, or nothing when it cannot answer (starting, stopping)."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nhost: worker\r\n\r\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return ""
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return body.decode() if head.startswith(b"HTTP/1.1 200") else ""


def _merge(families: dict[str, list[str]], document: str) -> None:
    """Adds `document`'s samples to `families` (name: lines), each family's HELP and TYPE
    kept once, as the text format requires."""
    current: list[str] = []
    for line in document.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            current = families.setdefault(name, [])
            if not current:
                current.append(line)
        elif line.startswith("# TYPE "):
            if len(current) == 1:
                current.append(line)
        elif line:
            current.append(line)


def _response(status: str, content_type: str, body: bytes, with_body: bool = True) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + (body if with_body else b"")
