"""The run's Redis, for the rows whose servers keep their rate limits in it
(``Endpoint.redis``): one ``redis-server`` started by the harness on a free loopback port,
with its directory in the run's temporary directory and no persistence, pinned to a core,
stopped with the servers. Each server gets a database of its own (``{redis}`` is
``redis://127.0.0.1:<port>/<db>``), so the harness can see what each one did; it talks to
Redis over a plain socket (RESP), with no client library."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TypeVar, Union

from harness import HOST, REPO_ROOT
from harness.servers import Server, free_port

REDIS_SERVER = "/usr/bin/redis-server"

# Databases the server is started with: one per benchmarked server, with room to spare.
DATABASES = 64

Reply = Union[None, int, bytes, list[Any]]
T = TypeVar("T")

# Commands a script runs (one round trip each); their own commands are counted apart.
SCRIPT_CALLS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")

# A line of MONITOR: +<time> [<db> <client>] "NAME" "arg" ... (`lua` is a script's client).
_MONITOR_LINE = re.compile(rb"^\+[\d.]+ \[(\d+) ([^\]]*)\] (.*)$")
_MONITOR_ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')


@dataclass
class Seen:
    """One command Redis ran, as MONITOR showed it."""

    db: int
    client: str  # address, or "lua" inside a script
    name: str
    args: list[str]


class RedisError(RuntimeError):
    """An error reply (``-ERR ...``) or a broken connection."""


class Redis:
    """A running redis-server and one connection of the harness's to it."""

    def __init__(self, server: Server, pin: Optional[int]) -> None:
        self.server = server
        self.pin = pin
        self._next_db = 0
        self._writes: dict[str, bool] = {}
        self._sock = socket.create_connection((HOST, server.port), timeout=5)
        self._reader = self._sock.makefile("rb")

    @classmethod
    def start(
        cls, directory: Path, log_dir: Path, pin: Optional[int], timeout: float = 10
    ) -> Redis:
        """Starts redis-server in `directory` (created), its log in ``redis.log``, and waits
        until it answers PING."""
        directory.mkdir()
        port = free_port()
        argv = [
            REDIS_SERVER,
            "--bind", HOST,
            "--port", str(port),
            "--dir", str(directory),
            # Nothing written to disk: no RDB snapshots (`save ''`), no append-only file.
            "--save", "",
            "--appendonly", "no",
            "--databases", str(DATABASES),
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip
        if pin is not None:
            argv = ["taskset", "-c", str(pin), *argv]
        log_path = log_dir / "redis.log"
        with open(log_path, "wb") as log:
            # Its own process group, stopped by PID like the servers under test.
            proc = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = Server("redis", port, proc, log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with code {proc.returncode}:\n{server.log_tail()}"
                )
            try:
                redis = cls(server, pin)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                if redis.command("PING") == b"PONG":
                    return redis
            except (OSError, RedisError):
                pass
            redis.close()
            time.sleep(0.05)
        server.stop()
        raise RuntimeError(f"redis-server did not answer on port {port} within {timeout:.0f}s")

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def url(self, db: int) -> str:
        return f"redis://{HOST}:{self.server.port}/{db}"

    def database(self) -> int:
        """A database no other server of the run uses."""
        if self._next_db >= DATABASES:
            raise RuntimeError(f"more than {DATABASES} servers want a Redis database")
        self._next_db += 1
        return self._next_db - 1

    def command(self, *args: Union[str, bytes, int]) -> Reply:
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        request = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        try:
            self._sock.sendall(request)
            return self._read()
        except OSError as e:  # a redis-server gone: the row fails, the run goes on
            raise RedisError(f"redis-server: {e}") from e

    def _read(self) -> Reply:
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise RedisError("connection to redis-server closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._reader.read(size + 2)[:-2]
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise RedisError(f"unexpected reply {line!r}")

    def info(self, section: str) -> dict[str, str]:
        raw = self.command("INFO", section)
        assert isinstance(raw, bytes)
        fields = {}
        for line in raw.decode().splitlines():
            name, sep, value = line.partition(":")
            if sep and not line.startswith("#"):
                fields[name] = value
        return fields

    def command_calls(self) -> dict[str, int]:
        """Calls of each command since Redis started (``INFO commandstats``), those a script
        ran included, the harness's own INFO left out."""
        calls = {}
        for name, value in self.info("commandstats").items():
            fields = dict(item.split("=", 1) for item in value.split(","))
            calls[name.removeprefix("cmdstat_")] = int(fields["calls"])
        calls.pop("info", None)
        return calls

    def is_write(self, name: str) -> bool:
        """Whether Redis flags command `name` as one that writes (``COMMAND INFO``)."""
        key = name.lower()
        if key not in self._writes:
            reply = self.command("COMMAND", "INFO", key)
            info = reply[0] if isinstance(reply, list) and reply else None
            flags = info[2] if isinstance(info, list) and len(info) > 2 else []
            self._writes[key] = b"write" in flags
        return self._writes[key]

    def watch(self, action: Callable[[], T], timeout: float = 5) -> tuple[T, list[Seen]]:
        """Runs `action` with a MONITOR connection open: what it returned, and every
        command Redis ran meanwhile (those of scripts too, with the database of each)."""
        marker = f"ignyx-bench-{uuid.uuid4().hex}"
        with socket.create_connection((HOST, self.server.port), timeout=timeout) as sock:
            reader = sock.makefile("rb")
            sock.sendall(b"MONITOR\r\n")
            if reader.readline() != b"+OK\r\n":
                raise RedisError("MONITOR was refused")
            result = action()
            # Every command before it has been shown once this one is.
            self.command("ECHO", marker)
            seen: list[Seen] = []
            while True:
                line = reader.readline()
                if not line.endswith(b"\r\n"):
                    raise RedisError("MONITOR connection closed")
                match = _MONITOR_LINE.match(line.rstrip(b"\r\n"))
                if not match:
                    continue
                db, client, rest = match.groups()
                args = [a.decode(errors="replace") for a in _MONITOR_ARG.findall(rest)]
                if args[:2] == ["ECHO", marker]:
                    return result, seen
                if args:
                    seen.append(Seen(int(db), client.decode(), args[0].upper(), args[1:]))

    def version(self) -> str:
        return self.info("server").get("redis_version", "?")

    def close(self) -> None:
        try:
            self._reader.close()
            self._sock.close()
        except OSError:
            pass

    def stop(self) -> None:
        self.close()
        self.server.stop()
