"""A throwaway PostgreSQL cluster for the TechEmpower rows and their test.

``Cluster.start()`` runs ``initdb`` into a new temporary directory, starts ``postgres`` on a
free 127.0.0.1 port (its Unix socket in that directory too, so nothing is read from or
written to ``/etc/postgresql`` or ``/var/run/postgresql``), creates the ``hello_world``
database with TechEmpower's two tables, and returns once it answers; ``stop()`` shuts it down
(fast shutdown, then SIGKILL) and removes the directory. Used as a context manager, the
cluster is stopped and removed however the block ends (an error, Ctrl-C, SIGTERM turned into
SystemExit by the caller).

PostgreSQL refuses to run as root: when this process is root, ``initdb`` and ``postgres`` run
as the ``postgres`` OS user (created by the Debian package), through ``subprocess.Popen``'s
``user=``/``group=``, and the directory is handed to that user. Otherwise they run as the
current user.

The tables (created without quotes, so PostgreSQL folds their names to ``world`` and
``fortune``, and the column to ``randomnumber``):

- ``World(id integer primary key, randomNumber integer)``: ids 1..10000, each with a random
  number in 1..10000;
- ``Fortune(id integer primary key, message varchar(2048))``: the 12 fortunes of
  TechEmpower's test, among them a ``<script>`` one that a correct page shows escaped.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

_TICK = os.sysconf("SC_CLK_TCK")

DATABASE = "hello_world"
USER = "benchmarkdbuser"
WORLD_ROWS = 10_000

# TechEmpower's fortunes, as its test defines them (id, message).
FORTUNES: list[tuple[int, str]] = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
]
# The row each request adds before sorting.
ADDED_FORTUNE = (0, "Additional fortune added at request time.")

# The server's settings, besides the address, port, socket directory and max_connections.
# The data is made for one run and thrown away, so nothing is flushed to disk
# (TechEmpower's own PostgreSQL configuration turns fsync and synchronous_commit off too);
# WAL may grow enough that the update rows cause no checkpoint.
SETTINGS: dict[str, str] = {
    "shared_buffers": "128MB",  # the tables take about 1 MB
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "jit": "off",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
}


def postgres_bin() -> Optional[Path]:
    """The directory of ``initdb`` and ``postgres``: $TFB_PG_BIN, else the newest
    /usr/lib/postgresql/<version>/bin (Debian's layout), else None."""
    explicit = os.environ.get("TFB_PG_BIN")
    candidates = [explicit] if explicit else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    candidates += reversed(versions)
    for directory in candidates:
        if directory and os.access(os.path.join(directory, "postgres"), os.X_OK):
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user() -> dict[str, Any]:
    """Popen keywords that drop root to the ``postgres`` user (none when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "running as root and there is no `postgres` user to run PostgreSQL as "
            "(apt-get install -y postgresql creates it)"
        ) from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class Cluster:
    """One running cluster: ``dsn`` for clients, ``pid`` (its process group) for CPU
    accounting."""

    def __init__(self, directory: Path, port: int, log_path: Path) -> None:
        self.directory = directory
        self.port = port
        self.log_path = log_path
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.version: Optional[str] = None
        self.settings: dict[str, str] = {}

    @property
    def dsn(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @classmethod
    def start(
        cls,
        pin: Optional[int] = None,
        max_connections: int = 100,
        log_path: Optional[Path] = None,
        timeout: float = 30,
    ) -> Cluster:
        """initdb, start and fill a new cluster; `pin` is the core it runs on (None: any).
        Its log is `log_path` (default: in its directory, removed with it)."""
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres); "
                "`make debian-tools` installs it (apt-get install -y postgresql)"
            )
        drop = _as_postgres_user()
        directory = Path(tempfile.mkdtemp(prefix="ignyx-tfb-pg-"))
        cluster = cls(directory, _free_port(), log_path or directory / "postgres.log")
        try:
            if drop:
                os.chown(directory, drop["user"], drop["group"])
            data = directory / "data"
            init = subprocess.run(
                [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                 "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                capture_output=True, text=True, cwd=directory, **drop,
            )  # fmt: skip
            if init.returncode != 0:
                raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip()}")
            cluster.settings = dict(
                SETTINGS,
                listen_addresses="127.0.0.1",
                port=str(cluster.port),
                unix_socket_directories=str(directory),
                max_connections=str(max_connections),
            )
            argv = [str(bindir / "postgres"), "-D", str(data)]
            for name, value in cluster.settings.items():
                argv += ["-c", f"{name}={value}"]
            if pin is not None:
                argv = ["taskset", "-c", str(pin), *argv]
            with open(cluster.log_path, "wb") as log:
                # A session of its own: its process group (the postmaster and every backend
                # it forks) is stopped by its PID, and a Ctrl-C in the terminal reaches only
                # the harness, which then stops it.
                cluster.proc = subprocess.Popen(
                    argv,
                    cwd=directory,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    **drop,
                )
            asyncio.run(cluster._fill(timeout))
        except BaseException:
            cluster.stop()
            raise
        return cluster

    async def _connect(self, database: str, timeout: float) -> Any:
        import asyncpg

        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"postgres exited with code {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                return await asyncpg.connect(
                    host="127.0.0.1", port=self.port, user=USER, database=database
                )
            except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"postgres did not answer on port {self.port} within {timeout:.0f}s: "
                        f"{self.log_tail()}"
                    ) from None
                await asyncio.sleep(0.05)

    async def _fill(self, timeout: float) -> None:
        conn = await self._connect("postgres", timeout)
        try:
            self.version = await conn.fetchval("SHOW server_version")
            await conn.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            await conn.close()
        conn = await self._connect(DATABASE, timeout)
        try:
            await conn.execute(
                "CREATE TABLE World (id integer NOT NULL PRIMARY KEY,"
                " randomNumber integer NOT NULL DEFAULT 0)"
            )
            await conn.execute(
                "CREATE TABLE Fortune (id integer NOT NULL PRIMARY KEY,"
                " message varchar(2048) NOT NULL)"
            )
            await conn.execute(
                "INSERT INTO World (id, randomNumber)"
                " SELECT i, 1 + floor(random() * 10000)::integer"
                f" FROM generate_series(1, {WORLD_ROWS}) AS i"
            )
            await conn.executemany("INSERT INTO Fortune (id, message) VALUES ($1, $2)", FORTUNES)
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()

    def cpu_seconds(self) -> float:
        """CPU time (user and system) of the postmaster and every process it forked. Each
        child calls setsid(), so they are not in the postmaster's process group; they are
        found as its children, and those already reaped (autovacuum workers) are in its
        cutime/cstime."""
        if self.proc is None:
            return 0.0
        total = 0
        root = str(self.proc.pid)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    rest = f.read().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            # state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
            # stime cutime cstime ...
            if entry == root:
                total += sum(int(x) for x in rest[11:15])
            elif rest[1] == root:
                total += int(rest[11]) + int(rest[12])
        return total / _TICK

    def log_tail(self, lines: int = 10) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster), SIGKILL to its group if that takes more
        than 10 s, then the directory is removed. Safe to call twice."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGINT)
                proc.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            # Whatever is left of its group (a backend still exiting).
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_worlds(dsn: str) -> dict[int, int]:
    """Every World row, as {id: randomNumber}, read by a connection of its own (to see what
    the servers wrote)."""
    import asyncpg

    async def read() -> dict[int, int]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT id, randomNumber FROM World")
        finally:
            await conn.close()
        return {row[0]: row[1] for row in rows}

    return asyncio.run(read())
