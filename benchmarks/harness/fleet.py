"""The servers of one run: each framework started once per variant of the endpoints it
serves (``Endpoint.variant``; ``None`` is the main app), and which of them answers what;
the run's Redis, when its endpoints need one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from harness.catalog import ENDPOINTS, VARIANTS, Framework
from harness.proc import Resources
from harness.redis_server import Redis
from harness.servers import Server, start_server

Variant = Optional[str]


@dataclass
class Fleet:
    frameworks: dict[str, Framework]
    servers: dict[tuple[str, Variant], Server] = field(default_factory=dict)
    # Why a framework has no server for a variant.
    failed: dict[tuple[str, Variant], str] = field(default_factory=dict)
    # Started before the servers, each of which gets a database in it ({redis}).
    redis: Optional[Redis] = None

    def start(
        self,
        name: str,
        keys: list[str],
        pin: Optional[int],
        log_dir: Path,
        timeout: float,
        run_dir: Path,
    ) -> list[tuple[str, str]]:
        """Starts framework `name` in each variant the endpoints `keys` need; a variant's
        server is called ``<name>-<variant>`` in logs and messages. Returns (label, why) for
        each server that did not start."""
        fw = self.frameworks[name]
        ready_paths: dict[Variant, str] = {}  # the server is up once this answers at all
        for key in keys:
            if fw.serves(key):
                ready_paths.setdefault(ENDPOINTS[key].variant, ENDPOINTS[key].path)
        failures = []
        for variant, ready_path in ready_paths.items():
            label = name if variant is None else f"{name}-{variant}"
            env = VARIANTS[variant] if variant else None
            try:
                server = start_server(
                    label, fw, pin, log_dir, ready_path, timeout, run_dir, env, self.redis
                )
            except (RuntimeError, OSError) as e:
                tail = (log_dir / f"{label}.log").read_text(errors="replace").strip()
                # The last line is usually why (an app that cannot serve a row says so).
                why = f"{e}: {tail.splitlines()[-1]}" if tail else str(e)
                self.failed[(name, variant)] = f"{label} did not start: {why}"
                failures.append((label, why))
                if tail:
                    print("\n".join("    " + line for line in tail.splitlines()[-15:]))
                continue
            self.servers[(name, variant)] = server
            server.idle = Resources.sample(server.proc.pid)
            print(
                f"started {label} (pid {server.proc.pid}, port {server.port}, "
                f"{server.idle.threads} threads, {server.idle.rss_kib / 1024:.1f} MiB)"
            )
        return failures

    def server(self, name: str, key: str) -> tuple[Optional[Server], str]:
        """The server that answers endpoint `key` for framework `name`, or why there is none."""
        fw = self.frameworks[name]
        if not fw.serves(key):
            return None, f"it serves only {', '.join(fw.endpoints or ())}"
        variant = ENDPOINTS[key].variant
        server = self.servers.get((name, variant))
        return server, "" if server else self.failed.get((name, variant), "not started")

    def of(self, name: str) -> list[Server]:
        return [server for (n, _), server in self.servers.items() if n == name]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        if self.redis is not None:
            self.redis.stop()
