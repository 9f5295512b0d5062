"""Side-by-side load test: Ignyx against its peers, one interleaved run.

Each server is pinned to one core (``taskset -c 0``) and wrk to another
(``taskset -c 1 wrk -t1 -c64``). For every endpoint the frameworks take turns
(ignyx, fastapi, ignyx, fastapi, ...) for ``--rounds`` rounds and the median is
kept, so drift on a shared machine hits every framework alike: read the ratios,
not the absolute numbers. Endpoints compared with each other (/sync and /async)
share their rounds, so each round pairs them.

    .venv/bin/python benchmarks/run.py                     # what `make bench` runs
    .venv/bin/python benchmarks/run.py --frameworks fastapi --duration 2 --rounds 1
    .venv/bin/python benchmarks/run.py --endpoints plaintext,users_get
    .venv/bin/python benchmarks/run.py --endpoints static_4k,static_1m,gzip_json,session \\
        --frameworks ignyx,fastapi,nginx --baseline fastapi,nginx    # make bench-files
    .venv/bin/python benchmarks/run.py --endpoints users_get,limited \\
        --frameworks ignyx,ignyx-ratelimit-memory,fastapi --baseline fastapi,ignyx  # bench-ratelimit
    .venv/bin/python benchmarks/run.py \\
        --server-cmd 'granian=env PYTHONPATH={apps} {python} -m granian --interface asgi --host {host} --port {port} fastapi_app:app'

Results go to stdout as a markdown table and to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from harness import RESULTS_DIR
from harness.catalog import (
    CPU_RATIO,
    DEFAULT_BASELINE,
    ENDPOINTS,
    FRAMEWORKS,
    MEASURED_TOGETHER,
    STATIC_FILES,
    Endpoint,
    Framework,
)
from harness.cli import csv_list, exit_on_sigterm, print_results_path
from harness.fleet import Fleet
from harness.proc import Resources, Sampler
from harness.redis_server import REDIS_SERVER, SCRIPT_CALLS, Redis
from harness.report import environment, median, summary, version
from harness.servers import Server, check_endpoint, endpoint_headers, run_directory
from harness.wrk import run_wrk


def _one_run(
    server: Server,
    ep: Endpoint,
    args: argparse.Namespace,
    wrk_cpu: Optional[int],
    headers: list[str],
    redis: Optional[Redis] = None,
) -> dict[str, Any]:
    server.check_alive()
    # Only the server under load talks to Redis meanwhile: what Redis ran is its doing.
    counting = redis if ep.redis else None
    calls0 = counting.command_calls() if counting else {}
    with Sampler(server.proc.pid, aux_pgid=redis.pid if redis else None) as sampler:
        r = run_wrk(server.base_url, ep, args.duration, args.connections, wrk_cpu, headers)
    if counting:
        calls = {
            name: n - calls0.get(name, 0)
            for name, n in counting.command_calls().items()
            if n != calls0.get(name, 0)
        }
        r["redis_cpu_pct"] = round(sampler.aux_cpu_pct, 1)
        r["redis_calls"] = calls
        if r["requests"]:
            # Scripts sent (round trips, for these limiters), and every command run,
            # those inside the scripts included.
            scripts = sum(calls.get(name, 0) for name in SCRIPT_CALLS)
            r["redis_scripts_per_request"] = round(scripts / r["requests"], 3)
            r["redis_commands_per_request"] = round(sum(calls.values()) / r["requests"], 3)
    r.update(sampler.fields())
    r["peak_rss_kib"] = sampler.peak.rss_kib
    r["processes"] = sampler.peak.processes
    # What a request cost the server, whoever was the bottleneck: its CPU time during the
    # round (clock ticks, 10 ms apart) over the requests wrk completed in it.
    r["server_cpu_s"] = round(sampler.server_cpu_s, 3)
    r["server_cpu_us_per_request"] = (
        round(1e6 * sampler.server_cpu_s / r["requests"], 2) if r["requests"] else None
    )
    return r


def _noise(round_runs: dict[str, dict[str, Any]]) -> float:
    return max((r["other_cpu_pct"] for r in round_runs.values()), default=0.0)


def _print_run(ep: Endpoint, rnd: int, rounds: int, name: str, r: dict[str, Any]) -> None:
    bad = r["non_2xx"] + r["socket_errors"]
    print(
        f"  {ep.label:24} round {rnd + 1}/{rounds} {name:10} "
        f"{r['rps']:>10,.0f} req/s  p99 {r.get('p99_ms', float('nan')):7.2f} ms"
        f"  cpu: server {r['server_cpu_pct']:3.0f}% wrk {r['wrk_cpu_pct']:3.0f}%"
        f" other {r['other_cpu_pct']:3.0f}%"
        + (
            f", server {r['server_cpu_us_per_request']:.1f} µs a request"
            if r["server_cpu_us_per_request"] is not None
            else ""
        )
        + (
            f" redis {r['redis_cpu_pct']:3.0f}%, a request: {r['redis_scripts_per_request']:.2f}"
            f" scripts, {r['redis_commands_per_request']:.2f} commands"
            if "redis_commands_per_request" in r
            else ""
        )
        + (f"  ({r['non_2xx']} non-2xx, {r['socket_errors']} socket errors)" if bad else "")
    )


def _warm(
    key: str,
    names: list[str],
    fleet: Fleet,
    args: argparse.Namespace,
    wrk_cpu: Optional[int],
    out: dict[str, Any],
) -> dict[str, tuple[Server, list[str]]]:
    """Checks and warms up endpoint `key` on each framework's server: for those that passed,
    the server and the headers every request carries (the others go to `out`)."""
    ep = ENDPOINTS[key]
    active = {}
    for name in names:
        server, why = fleet.server(name, key)
        if server is None:
            print(f"  {ep.label}: skipping {name}: {why}")
            out[name] = {"skipped": why}
            continue
        headers: list[str] = []
        required = fleet.frameworks[name].answer_headers
        try:
            headers = endpoint_headers(server, ep)
            if ep.redis:
                why = _check_with_redis(server, ep, headers, required, fleet.redis)
            else:
                why = check_endpoint(server, ep, headers, required) or ""
        except (RuntimeError, OSError) as e:
            why = str(e)
        headers = args.header + headers
        if not why and args.warmup > 0:
            try:
                run_wrk(server.base_url, ep, args.warmup, args.connections, wrk_cpu, headers)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                why = f"warm-up failed: {e}"
            # As between rounds: a slow server finishes what wrk left in flight before the
            # next one is loaded (its Redis commands would be counted as the next one's).
            time.sleep(0.3)
        if why:
            print(f"  {ep.label}: skipping {name}: {why}")
            out[name] = {"skipped": why}
        else:
            active[name] = (server, headers)
    return active


def _check_with_redis(
    server: Server,
    ep: Endpoint,
    headers: list[str],
    required: tuple[str, ...],
    redis: Optional[Redis],
) -> str:
    """The check of a row whose servers count in Redis: the check's request, watched with
    MONITOR, must also have written to the server's own database, so that a limit that
    silently did nothing (no Redis, or a storage it never wrote) is not measured. (The keys
    themselves may be gone by then: a GCRA key expires as soon as its TAT has passed, here
    after a millisecond.) Says what it saw."""
    if redis is None or server.redis_db is None:
        return "no Redis in this run"
    db = server.redis_db
    why, seen = redis.watch(lambda: check_endpoint(server, ep, headers, required))
    if why:
        return why
    writes = [c for c in seen if c.db == db and redis.is_write(c.name)]
    if not writes:
        elsewhere = sorted({f"{c.name} in db {c.db}" for c in seen})
        return (
            f"its answer was right, but it wrote nothing to its Redis database ({redis.url(db)})"
            + (f"; Redis ran {', '.join(elsewhere)}" if elsewhere else "; Redis ran nothing")
        )
    ran = " ".join(c.name if c.client != "lua" else f"({c.name})" for c in seen if c.db == db)
    key = writes[0].args[0] if writes[0].args else ""
    print(f"  {ep.label}: {server.name} in {redis.url(db)}: {ran}; wrote {key!r}")
    return ""


def _turn_order(names: list[str]) -> list[str]:
    """The frameworks' turns in a round: in their order, except that CPU_RATIO's reference
    goes right after the framework it is compared with, so that the two are measured seconds
    apart and the round's ratio is theirs, not the machine's drift between them."""
    num, den = CPU_RATIO
    if num in names and den in names:
        names = [n for n in names if n != den]
        names.insert(names.index(num) + 1, den)
    return names


def measure_endpoints(
    keys: list[str],
    names: list[str],
    fleet: Fleet,
    peaks: dict[str, Resources],
    args: argparse.Namespace,
    wrk_cpu: Optional[int],
) -> dict[str, dict[str, Any]]:
    """Check, warm up, then load the endpoints `keys` in the same rounds: each round, every
    endpoint in turn, and for each every framework in turn. One endpoint is the usual case;
    several make rounds whose numbers can be paired (see MEASURED_TOGETHER)."""
    eps = {key: ENDPOINTS[key] for key in keys}
    out: dict[str, dict[str, Any]] = {key: {} for key in keys}
    active = {key: _warm(key, names, fleet, args, wrk_cpu, out[key]) for key in keys}

    Turn = tuple[str, str]  # (endpoint, framework)
    runs: dict[Turn, list[dict[str, Any]]] = {(k, n): [] for k in keys for n in active[k]}
    discarded: dict[Turn, list[dict[str, Any]]] = {turn: [] for turn in runs}
    retries = args.retries
    attempts: list[dict[Turn, dict[str, Any]]] = []  # tries at the current round
    rnd = 0
    while rnd < args.rounds and any(active.values()):
        this_round: dict[Turn, dict[str, Any]] = {}
        for key, ep in eps.items():
            for name in _turn_order(list(active[key])):
                server, headers = active[key][name]
                try:
                    r = _one_run(server, ep, args, wrk_cpu, headers, fleet.redis)
                except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                    print(f"  {ep.label}: {name} failed, dropping it for this endpoint: {e}")
                    out[key][name] = {"skipped": f"failed in round {rnd + 1}: {e}"}
                    del active[key][name]
                    del runs[(key, name)]
                    continue
                r["round"] = rnd
                this_round[(key, name)] = r
                _print_run(ep, rnd, args.rounds, name, r)
                time.sleep(0.3)
        attempts.append(this_round)
        noisy = _noise(this_round)
        if noisy > args.max_other and retries > 0:
            retries -= 1
            print(
                f"  round {rnd + 1} was noisy (other {noisy:.0f}% > {args.max_other:g}%), "
                "repeating it"
            )
            continue
        # Out of retries, the quietest try stands for the round.
        best = min(attempts, key=_noise)
        for attempt in attempts:
            for (key, name), r in attempt.items():
                if (key, name) not in runs:
                    continue
                if attempt is not best:
                    discarded[(key, name)].append(r)
                    continue
                runs[(key, name)].append(r)
                peak = peaks.setdefault(name, Resources())
                peak.hwm_kib = max(peak.hwm_kib, r["peak_hwm_kib"])
                peak.threads = max(peak.threads, r["peak_threads"])
                peak.processes = max(peak.processes, r["processes"])
        attempts = []
        rnd += 1

    for (key, name), rs in runs.items():
        out[key][name] = {
            "rps": median([r["rps"] for r in rs]),
            "p50_ms": median([r["p50_ms"] for r in rs if "p50_ms" in r]),
            "p99_ms": median([r["p99_ms"] for r in rs if "p99_ms" in r]),
            "errors": sum(r["non_2xx"] + r["socket_errors"] for r in rs),
            # Medians over the rounds: the server's CPU per request, and how full its core
            # and wrk's were (which side was the limit).
            "server_cpu_us_per_request": median(
                [
                    r["server_cpu_us_per_request"]
                    for r in rs
                    if r["server_cpu_us_per_request"] is not None
                ]
            ),
            "server_cpu_pct": median([r["server_cpu_pct"] for r in rs]),
            "wrk_cpu_pct": median([r["wrk_cpu_pct"] for r in rs]),
            "noisy": any(r["other_cpu_pct"] > args.max_other for r in rs),
            **(
                {
                    "redis_scripts_per_request": median(
                        [r["redis_scripts_per_request"] for r in rs]
                    ),
                    "redis_commands_per_request": median(
                        [r["redis_commands_per_request"] for r in rs]
                    ),
                    "redis_cpu_pct": median([r["redis_cpu_pct"] for r in rs]),
                }
                if all("redis_commands_per_request" in r for r in rs) and rs
                else {}
            ),
            "runs": [{k: v for k, v in r.items() if k != "raw"} for r in rs],
            "discarded_noisy_runs": [
                {k: v for k, v in r.items() if k != "raw"} for r in discarded[(key, name)]
            ],
            "wrk_output_last": rs[-1]["raw"],
        }
    return out


def _groups(keys: list[str]) -> list[list[str]]:
    """The selected endpoints in order, those of a MEASURED_TOGETHER group as one block
    where its first selected member stands."""
    groups: list[list[str]] = []
    placed: set[str] = set()
    for key in keys:
        if key in placed:
            continue
        together = next((g for g in MEASURED_TOGETHER if key in g), (key,))
        group = [k for k in together if k in keys]
        placed.update(group)
        groups.append(group)
    return groups


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
    p.add_argument(
        "--max-other",
        type=float,
        default=25,
        help="repeat a round when other work took more than this %% of a core (default 25)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=3,
        help="noisy rounds repeated at most this many times per endpoint (default 3)",
    )
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument(
        "--endpoints",
        action="append",
        default=[],
        metavar="A,B",
        help="endpoints to run (default: "
        + ",".join(k for k, ep in ENDPOINTS.items() if ep.default)
        + "; also available: "
        + ",".join(k for k, ep in ENDPOINTS.items() if not ep.default)
        + ")",
    )
    p.add_argument(
        "--frameworks",
        action="append",
        default=[],
        metavar="A,B",
        help="frameworks to run, in this order (default: "
        + ",".join(n for n, fw in FRAMEWORKS.items() if fw.default)
        + " and any --server-cmd; see --list for the others)",
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
        metavar="A,B",
        help=f"framework ratios are taken against (default {DEFAULT_BASELINE}); after a comma, "
        "more references, each with ratio columns of its own (e.g. fastapi,nginx)",
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
        "--redis-cpu",
        type=int,
        default=None,
        help="core the run's redis-server is pinned to, for the rows that use it "
        "(default: wrk's core, so that the server's core stays its own)",
    )
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
    defaults = [n for n, fw in FRAMEWORKS.items() if fw.default]
    names = csv_list(args.frameworks) or defaults + [n for n in extra if n not in FRAMEWORKS]
    endpoint_keys = csv_list(args.endpoints) or [k for k, ep in ENDPOINTS.items() if ep.default]

    if args.list:
        print("endpoints:")
        for key, ep in ENDPOINTS.items():
            print(f"  {key:12} {ep.label}")
        print("frameworks:")
        for key, fw in frameworks.items():
            print(f"  {key:22} {fw.command}")
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

    server_cpu = wrk_cpu = redis_cpu = None
    if not args.no_pin:
        allowed = os.sched_getaffinity(0)
        redis_wanted = args.wrk_cpu if args.redis_cpu is None else args.redis_cpu
        wanted = {args.server_cpu, args.wrk_cpu, redis_wanted}
        if wanted <= allowed and args.server_cpu != args.wrk_cpu:
            server_cpu, wrk_cpu, redis_cpu = args.server_cpu, args.wrk_cpu, redis_wanted
        else:
            print(
                f"note: cores {args.server_cpu}, {args.wrk_cpu} (and {redis_wanted} for Redis) "
                "are not all available "
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

    results: dict[str, Any] = {
        "environment": environment(),
        "config": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "max_other_pct": args.max_other,
            "retries": args.retries,
            "wrk_threads": 1,
            "server_cpu": server_cpu,
            "wrk_cpu": wrk_cpu,
            "redis_cpu": redis_cpu,
            "headers": args.header,
            "baseline": args.baseline,
            "cpu_ratio": list(CPU_RATIO),
            "frameworks": {n: frameworks[n].command for n in names},
        },
        "skipped": {},
        "versions": {},
        "endpoints": {},
        "resources": {},
    }
    fleet = Fleet(frameworks)
    peaks: dict[str, Resources] = {}
    run_dir = run_directory(STATIC_FILES)

    def skip(name: str, why: str) -> None:
        print(f"skipping {name}: {why}")
        results["skipped"][name] = why

    try:
        # The rows that keep their state in Redis get the run's own; without it they are
        # skipped, and the others still run.
        redis_rows = [key for key in endpoint_keys if ENDPOINTS[key].redis]
        if redis_rows:
            try:
                if not os.access(REDIS_SERVER, os.X_OK):
                    raise RuntimeError(
                        f"{REDIS_SERVER} is missing (sh benchmarks/ensure_tools.sh installs it)"
                    )
                fleet.redis = Redis.start(run_dir / "redis", log_dir, redis_cpu)
            except (RuntimeError, OSError) as e:
                for key in redis_rows:
                    skip(key, f"no Redis: {e}")
                endpoint_keys = [key for key in endpoint_keys if key not in redis_rows]
            else:
                where = "unpinned" if redis_cpu is None else f"on core {redis_cpu}"
                version_ = fleet.redis.version()
                results["versions"]["redis-server"] = version_
                for module in ("slowapi", "limits", "redis"):
                    results["versions"][f"{module} (python)"] = version(module)
                results["config"]["redis"] = {"port": fleet.redis.server.port, "cpu": redis_cpu}
                print(
                    f"started redis-server {version_} (pid {fleet.redis.pid}, port "
                    f"{fleet.redis.server.port}, {where}, a database for each server)"
                )

        for name in names:
            fw = frameworks[name]
            missing = _missing_modules(fw.requires)
            if fw.binary and not os.access(fw.binary, os.X_OK):
                missing = f"{fw.binary} is missing (sh benchmarks/ensure_tools.sh installs it)"
            if missing:
                skip(name, missing)
                continue
            if fw.version_of:
                results["versions"][name] = version(fw.version_of)
            failures = fleet.start(
                name, endpoint_keys, server_cpu, log_dir, args.startup_timeout, run_dir
            )
            for label, why in failures:
                skip(label, f"server did not start: {why}")

        running = [n for n in names if fleet.of(n)]
        if not running:
            print("error: no server could be started, nothing to measure", file=sys.stderr)
            return 1

        total = len(endpoint_keys) * len(running) * (args.warmup + args.rounds * args.duration)
        print(
            f"measuring {len(endpoint_keys)} endpoints x {len(running)} frameworks, "
            f"{args.rounds} rounds of {args.duration:g}s (about {total / 60:.1f} min)"
        )

        for group in _groups(endpoint_keys):
            measured = measure_endpoints(group, running, fleet, peaks, args, wrk_cpu)
            for key in group:
                ep = ENDPOINTS[key]
                results["endpoints"][key] = {
                    "label": ep.label,
                    "method": ep.method,
                    "path": ep.path,
                    "headers": list(ep.headers),
                    "variant": ep.variant,
                    "frameworks": measured[key],
                }

        for name in running:
            if name not in peaks:
                continue  # never measured: idle numbers would pass for loaded ones
            # With servers in several variants, the largest of them.
            own = fleet.of(name)
            final = [Resources.sample(server.proc.pid) for server in own]
            peak = peaks[name]
            results["resources"][name] = {
                "idle_threads": max(server.idle.threads for server in own),
                "idle_rss_kib": max(server.idle.rss_kib for server in own),
                "peak_threads": peak.threads,
                "peak_hwm_kib": max([peak.hwm_kib] + [f.hwm_kib for f in final]),
                "processes": max([peak.processes] + [f.processes for f in final]),
            }
    finally:
        fleet.stop()
        shutil.rmtree(run_dir, ignore_errors=True)

    results["environment"]["loadavg_end"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")

    shown = [n for n in names if fleet.of(n)]
    baselines = [b for b in csv_list([args.baseline]) if b in shown]
    print()
    print(summary(results, shown, baselines[0] if baselines else None, baselines[1:], CPU_RATIO))
    print_results_path(args.output)
    return 0


if __name__ == "__main__":
    exit_on_sigterm()
    sys.exit(main())
