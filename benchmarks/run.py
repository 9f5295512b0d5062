"""Side-by-side load test: Ignyx against its peers, one interleaved run.

Each server is pinned to one core (``taskset -c 0``) and wrk to another
(``taskset -c 1 wrk -t1 -c64``). For every endpoint the frameworks take turns
(ignyx, fastapi, ignyx, fastapi, ...) for ``--rounds`` rounds and the median is
kept, so drift on a shared machine hits every framework alike: read the ratios,
not the absolute numbers.

    .venv/bin/python benchmarks/run.py                     # what `make bench` runs
    .venv/bin/python benchmarks/run.py --frameworks fastapi --duration 2 --rounds 1
    .venv/bin/python benchmarks/run.py --endpoints plaintext,users_get
    .venv/bin/python benchmarks/run.py \\
        --server-cmd 'granian=env PYTHONPATH={apps} {python} -m granian --interface asgi --host {host} --port {port} fastapi_app:app'

Results go to stdout as a markdown table and to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

BENCH_DIR = Path(__file__).resolve().parent
APPS_DIR = BENCH_DIR / "apps"
RESULTS_DIR = BENCH_DIR / "results"
REPO_ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"


@dataclass
class Endpoint:
    """One route under load, and what a correct answer to it looks like."""

    label: str
    method: str
    path: str
    expected: Any
    script: Optional[str] = None
    body: Optional[bytes] = None
    content_type: Optional[str] = None


ENDPOINTS: dict[str, Endpoint] = {
    "plaintext": Endpoint("GET /plaintext", "GET", "/plaintext", "Hello, World!"),
    "users_get": Endpoint("GET /users/{id}", "GET", "/users/1", {"id": 1, "name": "user"}),
    "users_post": Endpoint(
        "POST /users (Pydantic)",
        "POST",
        "/users",
        {"name": "a", "age": 1},
        script="post_user.lua",
        body=b'{"name":"a","age":1}',
        content_type="application/json",
    ),
    "async": Endpoint("GET /async", "GET", "/async", {"message": "Hello, World!"}),
    "deps": Endpoint("GET /deps (3 nested)", "GET", "/deps", {"deps": 3}),
}


@dataclass
class Framework:
    """How to start one server. ``command`` is formatted with
    ``{python}``, ``{host}``, ``{port}`` and ``{apps}`` and then split like a shell would."""

    command: str
    requires: tuple[str, ...] = ()
    version_of: Optional[str] = None


FRAMEWORKS: dict[str, Framework] = {
    "ignyx": Framework(
        "{python} {apps}/ignyx_app.py {port}",
        requires=("ignyx",),
        version_of="ignyx",
    ),
    "fastapi": Framework(
        "{python} -m uvicorn fastapi_app:app --app-dir {apps} --host {host} --port {port}"
        " --loop uvloop --http httptools --workers 1 --log-level warning --no-access-log",
        requires=("fastapi", "uvicorn", "uvloop", "httptools"),
        version_of="fastapi",
    ),
}

# The framework every ratio is taken against.
DEFAULT_BASELINE = "fastapi"


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _proc_status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


def _kib(value: str) -> int:
    return int(value.split()[0]) if value else 0


def _group_stats(pgid: int) -> dict[int, list[str]]:
    """/proc/<pid>/stat fields, from the state on, of every live process in a process group."""
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # After the parenthesised command name: state ppid pgrp ... utime stime ...
        rest = stat.rsplit(")", 1)[-1].split()
        if len(rest) > 12 and rest[2] == str(pgid):
            stats[int(entry)] = rest
    return stats


def _group_pids(pgid: int) -> list[int]:
    """The server and any workers it forked."""
    return list(_group_stats(pgid))


_TICK = os.sysconf("SC_CLK_TCK")


def _group_cpu_s(pgid: int) -> float:
    return sum(int(r[11]) + int(r[12]) for r in _group_stats(pgid).values()) / _TICK


def _machine_cpu_s() -> tuple[float, float]:
    """(busy, steal) seconds summed over all cores since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    busy = v[0] + v[1] + v[2] + v[5] + v[6]
    return busy / _TICK, v[7] / _TICK


def _own_cpu_s() -> float:
    """CPU of this script and of its reaped children (wrk)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class Resources:
    """Memory and threads of a server's process group, summed over its processes."""

    rss_kib: int = 0
    hwm_kib: int = 0
    threads: int = 0
    processes: int = 0

    @classmethod
    def sample(cls, pgid: int) -> Resources:
        r = cls()
        for pid in _group_pids(pgid):
            st = _proc_status(pid)
            if not st:
                continue
            r.rss_kib += _kib(st.get("VmRSS", ""))
            r.hwm_kib += _kib(st.get("VmHWM", ""))
            r.threads += int(st.get("Threads", "0") or 0)
            r.processes += 1
        return r


class Sampler:
    """Polls a process group's /proc status in the background while wrk runs."""

    def __init__(self, pgid: int, interval: float = 0.1) -> None:
        self.pgid = pgid
        self.interval = interval
        self.peak = Resources()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._take()
            self._stop.wait(self.interval)

    def _take(self) -> None:
        r = Resources.sample(self.pgid)
        p = self.peak
        p.rss_kib = max(p.rss_kib, r.rss_kib)
        p.hwm_kib = max(p.hwm_kib, r.hwm_kib)
        p.threads = max(p.threads, r.threads)
        p.processes = max(p.processes, r.processes)

    def __enter__(self) -> Sampler:
        self._t0 = time.monotonic()
        self._cpu0 = (_machine_cpu_s(), _group_cpu_s(self.pgid), _own_cpu_s())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._take()
        wall = time.monotonic() - self._t0
        (busy0, steal0), server0, own0 = self._cpu0
        busy1, steal1 = _machine_cpu_s()
        self.server_cpu_pct = 100 * (_group_cpu_s(self.pgid) - server0) / wall
        self.harness_cpu_pct = 100 * (_own_cpu_s() - own0) / wall
        # CPU the machine spent on neither the server nor wrk: other tenants'
        # work on our cores, which is what makes a run noisy.
        other = (busy1 - busy0) - (self.server_cpu_pct + self.harness_cpu_pct) * wall / 100
        self.other_cpu_pct = max(0.0, 100 * other / wall)
        self.steal_pct = 100 * (steal1 - steal0) / wall


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    idle: Resources = field(default_factory=Resources)
    peak: Resources = field(default_factory=Resources)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

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
                if not _group_pids(pgid):
                    return
                time.sleep(0.05)
        self.proc.poll()


def _request(
    url: str, method: str = "GET", body: Optional[bytes] = None, content_type: Optional[str] = None
) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_server(
    name: str, fw: Framework, pin: Optional[int], log_dir: Path, ready_path: str, timeout: float
) -> Server:
    port = _free_port()
    argv = shlex.split(
        fw.command.format(
            python=shlex.quote(sys.executable),
            host=HOST,
            port=port,
            apps=shlex.quote(str(APPS_DIR)),
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
    server = Server(name, port, proc, log_path)
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


# --------------------------------------------------------------------------- wrk

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_LATENCY_LINE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)


def parse_wrk(out: str) -> dict[str, Any]:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not rps:
        raise ValueError("no Requests/sec line in wrk output")
    result: dict[str, Any] = {"rps": float(rps.group(1))}
    for pct, value, unit in _LATENCY_LINE.findall(out):
        result[f"p{pct}_ms"] = float(value) * _UNITS_MS[unit]
    total = re.search(r"^\s*(\d+) requests in", out, re.M)
    result["requests"] = int(total.group(1)) if total else None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = sum(map(int, errors.groups())) if errors else 0
    return result


def run_wrk(
    url: str,
    ep: Endpoint,
    duration: int,
    connections: int,
    pin: Optional[int],
    extra_headers: list[str],
) -> dict[str, Any]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if ep.script:
        argv += ["-s", str(BENCH_DIR / ep.script)]
    for h in extra_headers:
        argv += ["-H", h]
    argv.append(url + ep.path)
    if pin is not None:
        argv = ["taskset", "-c", str(pin), *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(
            f"wrk exited {out.returncode}: {out.stderr.strip() or out.stdout.strip()}"
        )
    result = parse_wrk(out.stdout)
    result["raw"] = out.stdout
    return result


def _one_run(
    server: Server, ep: Endpoint, args: argparse.Namespace, wrk_cpu: Optional[int]
) -> dict[str, Any]:
    if server.proc.poll() is not None:
        raise RuntimeError(f"server died (exit {server.proc.returncode}):\n{server.log_tail()}")
    with Sampler(server.proc.pid) as sampler:
        r = run_wrk(server.base_url, ep, args.duration, args.connections, wrk_cpu, args.header)
    r["peak_rss_kib"] = sampler.peak.rss_kib
    r["peak_hwm_kib"] = sampler.peak.hwm_kib
    r["peak_threads"] = sampler.peak.threads
    r["processes"] = sampler.peak.processes
    r["server_cpu_pct"] = round(sampler.server_cpu_pct, 1)
    r["wrk_cpu_pct"] = round(sampler.harness_cpu_pct, 1)
    r["other_cpu_pct"] = round(sampler.other_cpu_pct, 1)
    r["steal_pct"] = round(sampler.steal_pct, 1)
    return r


def measure_endpoint(
    ep: Endpoint,
    names: list[str],
    servers: dict[str, Server],
    peaks: dict[str, Resources],
    args: argparse.Namespace,
    wrk_cpu: Optional[int],
) -> dict[str, Any]:
    """Check, warm up, then load one endpoint, taking turns between frameworks each round."""
    out: dict[str, Any] = {}
    active = []
    for name in names:
        why = check_endpoint(servers[name], ep)
        if why is None and args.warmup > 0:
            try:
                run_wrk(
                    servers[name].base_url, ep, args.warmup, args.connections, wrk_cpu, args.header
                )
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                why = f"warm-up failed: {e}"
        if why:
            print(f"  {ep.label}: skipping {name}: {why}")
            out[name] = {"skipped": why}
        else:
            active.append(name)

    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in active}
    for rnd in range(args.rounds):
        for name in list(active):
            try:
                r = _one_run(servers[name], ep, args, wrk_cpu)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                print(f"  {ep.label}: {name} failed, dropping it for this endpoint: {e}")
                out[name] = {"skipped": f"failed in round {rnd + 1}: {e}"}
                active.remove(name)
                del runs[name]
                continue
            runs[name].append(r)
            peak = peaks.setdefault(name, Resources())
            peak.hwm_kib = max(peak.hwm_kib, r["peak_hwm_kib"])
            peak.threads = max(peak.threads, r["peak_threads"])
            peak.processes = max(peak.processes, r["processes"])
            bad = r["non_2xx"] + r["socket_errors"]
            print(
                f"  {ep.label:24} round {rnd + 1}/{args.rounds} {name:10} "
                f"{r['rps']:>10,.0f} req/s  p99 {r.get('p99_ms', float('nan')):7.2f} ms"
                f"  cpu: server {r['server_cpu_pct']:3.0f}% wrk {r['wrk_cpu_pct']:3.0f}%"
                f" other {r['other_cpu_pct']:3.0f}%"
                + (f"  ({r['non_2xx']} non-2xx, {r['socket_errors']} socket errors)" if bad else "")
            )
            time.sleep(0.3)

    for name, rs in runs.items():
        out[name] = {
            "rps": _median([r["rps"] for r in rs]),
            "p50_ms": _median([r["p50_ms"] for r in rs if "p50_ms" in r]),
            "p99_ms": _median([r["p99_ms"] for r in rs if "p99_ms" in r]),
            "errors": sum(r["non_2xx"] + r["socket_errors"] for r in rs),
            "runs": [{k: v for k, v in r.items() if k != "raw"} for r in rs],
            "wrk_output_last": rs[-1]["raw"],
        }
    return out


# --------------------------------------------------------------------------- report


def _median(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def _fmt(value: Optional[float], spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + suffix


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return _fmt(a / b if a and b else None, ".2f", "x")


def markdown_table(results: dict[str, Any], names: list[str], baseline: Optional[str]) -> str:
    """endpoint | req/s per framework | ratio to the baseline | p99 | p50, then RSS and threads."""
    others = [n for n in names if n != baseline] if baseline in names else []
    head = ["endpoint"] + [f"{n} req/s" for n in names]
    head += [f"ratio {n}/{baseline}" for n in others]
    head += [f"{n} p99" for n in names] + [f"{n} p50" for n in names]
    rows = [head, ["---"] + ["---:"] * (len(head) - 1)]

    for ep in results["endpoints"].values():
        per = {n: ep["frameworks"].get(n, {}) for n in names}
        row = [ep["label"]]
        row += [
            _fmt(per[n].get("rps"), ",.0f") + (" *" if per[n].get("errors") else "") for n in names
        ]
        row += [_ratio(per[n].get("rps"), per[baseline].get("rps")) for n in others]
        row += [_fmt(per[n].get("p99_ms"), ".2f", " ms") for n in names]
        row += [_fmt(per[n].get("p50_ms"), ".2f", " ms") for n in names]
        rows.append(row)

    res = {n: results["resources"].get(n) for n in names}
    rss = {n: r["peak_hwm_kib"] / 1024 if r else None for n, r in res.items()}
    row = ["peak RSS (VmHWM)"] + [_fmt(rss[n], ".1f", " MiB") for n in names]
    row += [_ratio(rss[n], rss[baseline]) for n in others]
    rows.append(row)
    row = ["threads idle → under load"]
    row += [f"{r['idle_threads']} → {r['peak_threads']}" if r else "n/a" for r in res.values()]
    rows.append(row)
    return "\n".join("| " + " | ".join(r + [""] * (len(head) - len(r))) + " |" for r in rows)


def _version(module: str) -> Optional[str]:
    code = f"import importlib.metadata as m; print(m.version({module!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _git(*args: str) -> Optional[str]:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def environment() -> dict[str, Any]:
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None
            )
    except OSError:
        pass
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else None,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", ".")),
        "loadavg_start": os.getloadavg(),
    }


# --------------------------------------------------------------------------- main


def _csv(values: list[str]) -> list[str]:
    return [item.strip() for v in values for item in v.split(",") if item.strip()]


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    p.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="interleaved runs per endpoint; the median is kept (default 2)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="seconds of unmeasured load per server and endpoint (default 1)",
    )
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument(
        "--endpoints",
        action="append",
        default=[],
        metavar="A,B",
        help=f"endpoints to run (default all: {','.join(ENDPOINTS)})",
    )
    p.add_argument(
        "--frameworks",
        action="append",
        default=[],
        metavar="A,B",
        help=f"frameworks to run, in this order (default: {','.join(FRAMEWORKS)} and any --server-cmd)",
    )
    p.add_argument(
        "--server-cmd",
        action="append",
        default=[],
        metavar="NAME=CMD",
        help="add or replace a framework; CMD may use {python} {host} {port} {apps}",
    )
    p.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        help=f"framework ratios are taken against (default {DEFAULT_BASELINE})",
    )
    p.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="extra request header for wrk, e.g. 'Origin: http://example.com' to exercise CORS",
    )
    p.add_argument(
        "--server-cpu", type=int, default=0, help="core the servers are pinned to (default 0)"
    )
    p.add_argument("--wrk-cpu", type=int, default=1, help="core wrk is pinned to (default 1)")
    p.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin servers or wrk (e.g. to measure several workers)",
    )
    p.add_argument(
        "--startup-timeout", type=float, default=30, help="seconds to wait for a server to answer"
    )
    p.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "latest.json", help="results JSON path"
    )
    p.add_argument("--list", action="store_true", help="list endpoints and frameworks, then exit")
    return p.parse_args(argv)


def _check_tools(pinned: bool) -> Optional[str]:
    if shutil.which("wrk") is None:
        return (
            "wrk is not installed. Install it with `sh benchmarks/ensure_tools.sh` "
            "(apt-get install -y wrk on Debian/Ubuntu)."
        )
    if pinned and shutil.which("taskset") is None:
        return (
            "taskset is not installed (package util-linux). Install it with "
            "`sh benchmarks/ensure_tools.sh`, or pass --no-pin to run unpinned."
        )
    return None


def _missing_modules(modules: tuple[str, ...]) -> Optional[str]:
    for module in modules:
        out = subprocess.run(
            [sys.executable, "-c", f"import {module}"], capture_output=True, text=True
        )
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["?"])[-1]
            return f"`import {module}` fails under {sys.executable}: {last}"
    return None


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    frameworks = dict(FRAMEWORKS)
    for spec in args.server_cmd:
        name, sep, cmd = spec.partition("=")
        if not sep or not name.strip() or not cmd.strip():
            print(f"--server-cmd wants NAME=COMMAND, got {spec!r}", file=sys.stderr)
            return 2
        frameworks[name.strip()] = Framework(cmd.strip())
    extra = [s.partition("=")[0].strip() for s in args.server_cmd]
    names = _csv(args.frameworks) or list(FRAMEWORKS) + [n for n in extra if n not in FRAMEWORKS]
    endpoint_keys = _csv(args.endpoints) or list(ENDPOINTS)

    if args.list:
        print("endpoints:")
        for key, ep in ENDPOINTS.items():
            print(f"  {key:12} {ep.label}")
        print("frameworks:")
        for key, fw in frameworks.items():
            print(f"  {key:12} {fw.command}")
        return 0

    unknown = [n for n in names if n not in frameworks] + [
        e for e in endpoint_keys if e not in ENDPOINTS
    ]
    if unknown:
        print(f"unknown framework or endpoint: {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    if args.rounds < 1 or args.duration <= 0:
        print("--rounds must be >= 1 and --duration > 0", file=sys.stderr)
        return 2

    server_cpu = wrk_cpu = None
    if not args.no_pin:
        allowed = os.sched_getaffinity(0)
        if {args.server_cpu, args.wrk_cpu} <= allowed and args.server_cpu != args.wrk_cpu:
            server_cpu, wrk_cpu = args.server_cpu, args.wrk_cpu
        else:
            print(
                f"note: cores {args.server_cpu} and {args.wrk_cpu} are not both available "
                f"(have {sorted(allowed)}); running unpinned, numbers are less comparable"
            )
    problem = _check_tools(server_cpu is not None)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if wrk_cpu is not None:
        # Keep this script (and its /proc sampler) off the server's core.
        os.sched_setaffinity(0, {wrk_cpu})

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    env = environment()
    if env["loadavg_start"][0] > 0.5:
        print(
            f"note: load average is {env['loadavg_start'][0]:.2f}; something else is running, "
            "expect noise (the interleaving keeps ratios fair)"
        )

    results: dict[str, Any] = {
        "environment": env,
        "config": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": 1,
            "server_cpu": server_cpu,
            "wrk_cpu": wrk_cpu,
            "headers": args.header,
            "baseline": args.baseline,
            "frameworks": {n: frameworks[n].command for n in names},
        },
        "skipped": {},
        "versions": {},
        "endpoints": {},
        "resources": {},
    }
    servers: dict[str, Server] = {}
    peaks: dict[str, Resources] = {}

    def skip(name: str, why: str) -> None:
        print(f"skipping {name}: {why}")
        results["skipped"][name] = why

    try:
        for name in names:
            fw = frameworks[name]
            missing = _missing_modules(fw.requires)
            if missing:
                skip(name, missing)
                continue
            if fw.version_of:
                results["versions"][name] = _version(fw.version_of)
            try:
                server = start_server(
                    name,
                    fw,
                    server_cpu,
                    log_dir,
                    ENDPOINTS[endpoint_keys[0]].path,
                    args.startup_timeout,
                )
            except (RuntimeError, OSError) as e:
                skip(name, f"server did not start: {e}")
                tail = (log_dir / f"{name}.log").read_text(errors="replace").strip()
                if tail:
                    print("\n".join("    " + line for line in tail.splitlines()[-15:]))
                continue
            servers[name] = server
            server.idle = Resources.sample(server.proc.pid)
            print(
                f"started {name} (pid {server.proc.pid}, port {server.port}, "
                f"{server.idle.threads} threads, {server.idle.rss_kib / 1024:.1f} MiB)"
            )

        running = [n for n in names if n in servers]
        if not running:
            print("error: no server could be started, nothing to measure", file=sys.stderr)
            return 1

        total = len(endpoint_keys) * len(running) * (args.warmup + args.rounds * args.duration)
        print(
            f"measuring {len(endpoint_keys)} endpoints x {len(running)} frameworks, "
            f"{args.rounds} rounds of {args.duration:g}s (about {total / 60:.1f} min)"
        )

        for key in endpoint_keys:
            ep = ENDPOINTS[key]
            results["endpoints"][key] = {
                "label": ep.label,
                "method": ep.method,
                "path": ep.path,
                "frameworks": measure_endpoint(ep, running, servers, peaks, args, wrk_cpu),
            }

        for name, server in servers.items():
            if name not in peaks:
                continue  # never measured: idle numbers would pass for loaded ones
            peak = peaks[name]
            final = Resources.sample(server.proc.pid)
            results["resources"][name] = {
                "idle_threads": server.idle.threads,
                "idle_rss_kib": server.idle.rss_kib,
                "peak_threads": peak.threads,
                "peak_hwm_kib": max(peak.hwm_kib, final.hwm_kib),
                "processes": max(peak.processes, final.processes),
            }
    finally:
        for server in servers.values():
            server.stop()

    results["environment"]["loadavg_end"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")

    shown = [n for n in names if n in servers]
    baseline = args.baseline if args.baseline in shown else None
    print()
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration:g}s, median of {args.rounds} interleaved rounds; "
        + (
            f"server on core {server_cpu}, wrk on core {wrk_cpu}"
            if server_cpu is not None
            else "unpinned"
        )
    )
    print(", ".join(f"{n} {v}" for n, v in results["versions"].items() if n in shown and v))
    print()
    print(markdown_table(results, shown, baseline))
    if any(
        fw.get("errors") for ep in results["endpoints"].values() for fw in ep["frameworks"].values()
    ):
        print("\n* some responses were non-2xx or hit socket errors; see the JSON")
    other = [
        r["other_cpu_pct"]
        for ep in results["endpoints"].values()
        for fw in ep["frameworks"].values()
        for r in fw.get("runs", [])
    ]
    if other and statistics.median(other) > 25:
        print(
            f"\nnote: other work took a median {statistics.median(other):.0f}% of a core during the "
            "runs (see 'other' above); absolute numbers are depressed, ratios less so. "
            "Rerun on a quieter machine or with more --rounds."
        )
    for name, why in results["skipped"].items():
        print(f"\n{name} was skipped: {why}")
    try:
        shown_path = args.output.resolve().relative_to(Path.cwd())
    except ValueError:
        shown_path = args.output
    print(f"\nresults: {shown_path}")
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
