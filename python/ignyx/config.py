"""The settings of serving an app, in one table read three ways: as flags of ``ignyx run``
and ``ignyx dev`` (``--timeout-keep-alive 10``), as keyword arguments of ``app.run(...)``
(``timeout_keep_alive=10``) and from the environment (``IGNYX_TIMEOUT_KEEP_ALIVE=10``).
A flag or an argument wins over the environment, which wins over the default. Names are
uvicorn's where the two servers share a setting, so habits carry over::

    config = Config.resolve({"port": 8080, "workers": 4})
    config.port, config.workers, config.server_options()
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Optional, Union

from .logs import access_log_sink

ENV_PREFIX = "IGNYX_"


def parse_flag(value: Union[str, bool]) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, not {value!r}")


def _size(value: Union[str, int]) -> int:
    """A byte count: ``1048576``, ``512k``, ``16m``, ``1g`` (powers of 1,024)."""
    if isinstance(value, int):
        return value
    text = value.strip().lower().removesuffix("b")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _addresses(value: str) -> str:
    """Comma-separated IP addresses and networks, or ``*``, each checked."""
    for item in filter(None, (part.strip() for part in value.split(","))):
        if item != "*":
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address, a network or *") from None
    return value


def _setting(
    default: Any,
    help: str,
    parse: Callable[[Any], Any] = str,
    *,
    group: str = "server",
    choices: Optional[tuple[str, ...]] = None,
    env: tuple[str, ...] = (),
) -> Any:
    metadata = {"help": help, "parse": parse, "group": group, "choices": choices, "env": env}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Config:
    """Every setting, with its default; `resolve` fills one from arguments and environment."""

    # Where to listen.
    host: str = _setting("127.0.0.1", "Address to bind to; 0.0.0.0 for every interface.")
    port: int = _setting(8000, "Port to bind to; 0 picks a free one.", int)
    uds: Optional[str] = _setting(None, "Listen on this Unix domain socket instead.")
    fd: Optional[int] = _setting(None, "Listen on this inherited socket descriptor instead.", int)
    backlog: int = _setting(2048, "Connections the kernel queues before they are accepted.", int)
    # Processes.
    workers: int = _setting(
        1,
        "Worker processes sharing the listening socket; a supervisor restarts one that dies.",
        int,
        group="workers",
        env=("WEB_CONCURRENCY",),
    )
    workers_max_requests: Optional[int] = _setting(
        None,
        "Replace a worker after it has served this many requests (nothing in flight is lost).",
        int,
        group="workers",
    )
    workers_max_requests_jitter: int = _setting(
        0,
        "Add up to this many to each worker's max requests, so workers are not all replaced at once.",
        int,
        group="workers",
    )
    workers_max_rss: Optional[int] = _setting(
        None,
        "Replace a worker whose resident memory grows past this many MiB.",
        int,
        group="workers",
    )
    # TLS and HTTP versions.
    ssl_certfile: Optional[str] = _setting(
        None, "Serve HTTPS with this PEM certificate chain.", group="tls"
    )
    ssl_keyfile: Optional[str] = _setting(
        None, "The certificate's PEM private key (if not in the certificate's file).", group="tls"
    )
    ssl_keyfile_password: Optional[str] = _setting(
        None, "Password of an encrypted (PKCS#8) private key.", group="tls"
    )
    ssl_ca_certs: Optional[str] = _setting(
        None, "PEM authorities whose client certificates are accepted.", group="tls"
    )
    ssl_cert_reqs: int = _setting(
        0,
        "Client certificates: 0 not asked for, 1 optional, 2 required (with --ssl-ca-certs).",
        int,
        group="tls",
    )
    http: str = _setting(
        "auto",
        "HTTP versions served: auto (HTTP/1.1 and HTTP/2, by ALPN over TLS or h2c), 1 or 2.",
        group="tls",
        choices=("auto", "1", "2"),
    )
    # What the app is told.
    root_path: str = _setting("", "The path prefix a proxy serves the app under (/api/v1).")
    proxy_headers: bool = _setting(
        False,
        "Believe X-Forwarded-For/-Proto/-Host/-Port and Forwarded (RFC 7239) from the "
        "proxies of --forwarded-allow-ips: the client's address, scheme and host.",
        parse_flag,
    )
    server_header: bool = _setting(
        True,
        "Send Server: ignyx with every response that has no Server header of its own, as "
        "uvicorn sends its own.",
        parse_flag,
    )
    forwarded_allow_ips: str = _setting(
        "127.0.0.1,::1",
        "Proxies whose headers are believed: addresses, networks (10.0.0.0/8), or * for any.",
        _addresses,
        env=("FORWARDED_ALLOW_IPS",),
    )
    # Limits and timeouts.
    limit_concurrency: Optional[int] = _setting(
        None, "Answer 503 past this many requests in progress at once.", int, group="limits"
    )
    max_in_flight: int = _setting(
        2048,
        "Requests handed to Python at once; past it, requests wait in the engine.",
        int,
        group="limits",
    )
    sync_threads: int = _setting(
        40,
        "Most threads for sync (def) handlers and the event loop's executor work"
        " (run_in_threadpool, asyncio.to_thread, sync generators), FastAPI's 40.",
        int,
        group="limits",
    )
    max_body_size: Optional[int] = _setting(
        None,
        "Largest request body in bytes (512k, 16m...), refused with 413 past it; "
        "the app's own max_body_size by default.",
        _size,
        group="limits",
    )
    h11_max_incomplete_event_size: Optional[int] = _setting(
        None,
        "Largest request head (request line and headers) in bytes, 431 past it (at least 8k).",
        _size,
        group="limits",
    )
    timeout_keep_alive: float = _setting(
        5.0,
        "Seconds a connection may wait for its next request's head (idle, or one arriving slowly).",
        float,
        group="limits",
    )
    body_timeout: float = _setting(
        60.0, "Seconds a request body may take to arrive (408 past it).", float, group="limits"
    )
    timeout_graceful_shutdown: float = _setting(
        30.0,
        "Seconds given to requests in progress, and to background tasks, on shutdown.",
        float,
        group="limits",
    )
    ws_max_size: int = _setting(
        16 << 20, "Largest WebSocket message in bytes (1009 past it).", _size, group="limits"
    )
    ws_ping_interval: Optional[float] = _setting(
        20.0, "Seconds between WebSocket pings (0: none).", float, group="limits"
    )
    ws_ping_timeout: float = _setting(
        20.0, "Seconds to wait for a WebSocket pong.", float, group="limits"
    )
    # Logging and environment.
    log_level: str = _setting(
        "info",
        "Level of the ignyx loggers.",
        group="logging",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
    )
    access_log: bool = _setting(
        True,
        "Log each request on the ignyx.access logger, as uvicorn's access log.",
        parse_flag,
        group="logging",
    )
    access_log_format: str = _setting(
        "text",
        'Access log lines: text (127.0.0.1:5123 - "GET / HTTP/1.1" 200 OK) or json (one object '
        "per line).",
        group="logging",
        choices=("text", "json"),
    )
    metrics_port: Optional[int] = _setting(
        None,
        "Serve Prometheus metrics (GET /metrics) on this port; off unless given.",
        int,
        group="metrics",
    )
    metrics_host: Optional[str] = _setting(
        None, "Address of the metrics port; --host's unless given.", group="metrics"
    )
    log_config: Optional[str] = _setting(
        None,
        "A logging configuration file (.json, .yaml or .ini/.conf), as uvicorn's --log-config.",
        group="logging",
    )
    env_file: Optional[str] = _setting(
        None, "Read environment variables from this file (KEY=value lines) first.", group="app"
    )
    app_dir: str = _setting("", "Look for the app's module in this directory.", group="app")
    factory: bool = _setting(
        False, "The app path names a function that returns the app.", parse_flag, group="app"
    )
    reload: bool = _setting(
        False,
        "Restart the server when a file under the app's directory changes.",
        parse_flag,
        group="app",
    )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def resolve(
        cls, given: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None
    ) -> Config:
        """The settings `given` (None meaning not given), then the environment, then the
        defaults. An unknown name is a TypeError; a value that does not parse, a ValueError
        naming the setting."""
        environ = os.environ if environ is None else environ
        unknown = set(given) - set(cls.names())
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for setting in fields(cls):
            meta = setting.metadata
            value = given.get(setting.name)
            origin = setting.name
            if value is None:
                for name in (ENV_PREFIX + setting.name.upper(), *meta["env"]):
                    if environ.get(name, "") != "":
                        value, origin = environ[name], name
                        break
            if value is None:
                continue
            try:
                value = meta["parse"](value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{origin}: {exc}") from None
            if meta["choices"] and value not in meta["choices"]:
                raise ValueError(f"{origin}: {value!r} is not one of {', '.join(meta['choices'])}")
            values[setting.name] = value
        return cls(**values)

    def server_options(self) -> dict[str, Any]:
        """The keyword arguments of the engine's `Server` for these settings (the access
        log's as logging is configured now)."""
        return {
            "backlog": self.backlog,
            "max_in_flight": self.max_in_flight,
            "sync_threads": self.sync_threads,
            "graceful_timeout": self.timeout_graceful_shutdown,
            "header_timeout": self.timeout_keep_alive,
            "body_timeout": self.body_timeout,
            "limit_concurrency": self.limit_concurrency,
            "max_head_size": self.h11_max_incomplete_event_size,
            "ws_max_size": self.ws_max_size,
            "ws_ping_interval": self.ws_ping_interval,
            "ws_ping_timeout": self.ws_ping_timeout,
            "http": self.http,
            "proxy_headers": self.proxy_headers,
            "server_header": self.server_header,
            "forwarded_allow_ips": self.forwarded_allow_ips,
            "access_log": access_log_sink(self.access_log),
            "access_log_format": self.access_log_format,
            "metrics_port": self.metrics_port,
            "metrics_host": self.metrics_host or self.host,
        }

    def tls(self) -> Any:
        """The engine's TLS settings (`ignyx._core.Tls`), read from the certificate and key
        files now, or None without ``ssl_certfile``. A file that cannot be used raises
        ValueError naming it."""
        if not self.ssl_certfile:
            if self.ssl_keyfile:
                raise ValueError("ssl_keyfile needs ssl_certfile")
            return None
        from . import _core

        return _core.Tls(
            self.ssl_certfile,
            self.ssl_keyfile,
            password=self.ssl_keyfile_password,
            ca_certs=self.ssl_ca_certs,
            cert_reqs=self.ssl_cert_reqs,
        )


def settings_for(given: Mapping[str, Any]) -> Config:
    """The settings `given` completed from the environment, after the variables of their
    `env_file`, if any, are added to it (without replacing those already set)."""
    config = Config.resolve(given)
    if config.env_file:
        try:
            values = read_env_file(config.env_file)
        except OSError as exc:
            raise ValueError(f"env_file {config.env_file}: {exc.strerror}") from None
        for key, value in values.items():
            os.environ.setdefault(key, value)
        config = Config.resolve(given)
    return config


def read_env_file(path: str) -> dict[str, str]:
    """``KEY=value`` lines (``export`` prefix, quotes and ``#`` comments allowed), as
    python-dotenv reads the simple cases."""
    values: dict[str, str] = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.removeprefix("export ").partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            elif " #" in value:
                value = value.split(" #", 1)[0].rstrip()
            values[key.strip()] = value
    return values
