"""TechEmpower's six test types on FastAPI and on Ignyx, one interleaved run (`make bench-tfb`).

One app (``app.py``, FastAPI's imports) is served by uvicorn (uvloop, httptools, one worker)
and, from a copy with its imports swapped, by Ignyx (one worker); both use the same
PostgreSQL, a cluster made for the run in a temporary directory and removed at its end.
Every answer of both is checked first (``checks.py``): a wrong one stops the run before
anything is measured. Then, test by test, the two take turns under wrk for ``--rounds``
rounds and the median is kept, as ``benchmarks/run.py`` does, with the same harness (servers
started and pinned by ``harness.servers``, wrk run and read by ``harness.wrk``, CPU sampled by
``harness.proc``).

    .venv/bin/python benchmarks/techempower/run.py                   # what make bench-tfb runs
    .venv/bin/python benchmarks/techempower/run.py --tests json,db --duration 2 --rounds 1
    .venv/bin/python benchmarks/techempower/run.py --verify-only     # the checks, no load

Pinning: the server on core 0, wrk on core 1, PostgreSQL on wrk's core (--pg-cpu,
--pg-unpinned). Results: a table on stdout, everything in
``benchmarks/results/techempower.json``, server and PostgreSQL logs in
``benchmarks/results/logs/tfb-*.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from harness import RESULTS_DIR  # noqa: E402
from harness.catalog import Endpoint  # noqa: E402
from harness.cli import csv_list, exit_on_sigterm, print_results_path  # noqa: E402
from harness.proc import Sampler  # noqa: E402
from harness.report import environment, median, version  # noqa: E402
from harness.servers import Server  # noqa: E402
from harness.wrk import run_wrk  # noqa: E402

from techempower import checks, frameworks  # noqa: E402
from techempower.postgres import Cluster, read_worlds  # noqa: E402


@dataclass
class Test:
    label: str
    path: str
    # The target for Ignyx / FastAPI (None: reported only).
    target: Optional[float] = None
    # A wrk script, relative to benchmarks/.
    script: Optional[str] = None


# TechEmpower's order. /queries and /updates at 20 rows a request, the count TechEmpower's
# charts show.
TESTS: dict[str, Test] = {
    "json": Test("JSON serialisation", "/json", target=10),
    "db": Test("single query", "/db", target=2),
    "queries": Test("multiple queries (20)", "/queries?queries=20"),
    "fortunes": Test("fortunes", "/fortunes", target=2),
    "updates": Test("updates (20)", "/updates?queries=20"),
    "plaintext": Test(
        "plaintext (pipelined x16)", "/plaintext", target=10, script="techempower/pipeline.lua"
    ),
}


def one_run(
    server: Server, ep: Endpoint, args: argparse.Namespace, wrk_cpu: Optional[int], pg: Cluster
) -> dict[str, Any]:
    server.check_alive()
    # PostgreSQL's CPU is counted apart, not as other tenants' work (its backends are not in
    # its process group, so the sampler's own aux_pgid would miss them).
    pg0, t0 = pg.cpu_seconds(), time.monotonic()
    with Sampler(server.proc.pid) as sampler:
        r = run_wrk(server.base_url, ep, args.duration, args.connections, wrk_cpu, [])
    pg_pct = 100 * (pg.cpu_seconds() - pg0) / (time.monotonic() - t0)
    r.update(sampler.fields())
    r["postgres_cpu_pct"] = round(pg_pct, 1)
    r["other_cpu_pct"] = round(max(0.0, sampler.other_cpu_pct - pg_pct), 1)
    return r


def _print_run(test: Test, rnd: int, rounds: int, name: str, r: dict[str, Any]) -> None:
    bad = r["non_2xx"] + r["socket_errors"]
    print(
        f"  {test.label:26} round {rnd + 1}/{rounds} {name:8} {r['rps']:>10,.0f} req/s"
        f"  p99 {r.get('p99_ms', float('nan')):7.2f} ms  cpu: server {r['server_cpu_pct']:3.0f}%"
        f" wrk {r['wrk_cpu_pct']:3.0f}% postgres {r['postgres_cpu_pct']:3.0f}%"
        f" other {r['other_cpu_pct']:3.0f}%"
        + (f"  ({r['non_2xx']} non-2xx, {r['socket_errors']} socket errors)" if bad else "")
    )


def measure(
    test: Test,
    servers: dict[str, Server],
    args: argparse.Namespace,
    wrk_cpu: Optional[int],
    pg: Cluster,
) -> dict[str, dict[str, Any]]:
    """Warms each server up on `test`, then loads it in interleaved rounds (fastapi, ignyx,
    fastapi, ignyx, ...). A round in which other work took more than --max-other of a core
    is repeated (at most --retries times per test) and the quietest try kept. Median per
    framework."""
    ep = Endpoint(test.label, "GET", test.path, None, script=test.script)
    active = dict(servers)
    out: dict[str, dict[str, Any]] = {}
    for name, server in list(active.items()):
        if args.warmup > 0:
            try:
                run_wrk(server.base_url, ep, args.warmup, args.connections, wrk_cpu, [])
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                print(f"  {test.label}: {name} failed its warm-up, skipping it: {e}")
                out[name] = {"skipped": f"warm-up failed: {e}"}
                del active[name]
            time.sleep(0.3)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in active}
    discarded: dict[str, list[dict[str, Any]]] = {name: [] for name in active}
    retries = args.retries
    attempts: list[dict[str, dict[str, Any]]] = []
    rnd = 0
    while rnd < args.rounds and active:
        this_round: dict[str, dict[str, Any]] = {}
        for name, server in list(active.items()):
            try:
                r = one_run(server, ep, args, wrk_cpu, pg)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                print(f"  {test.label}: {name} failed, dropping it for this test: {e}")
                out[name] = {"skipped": f"failed in round {rnd + 1}: {e}"}
                del active[name], runs[name]
                continue
            r["round"] = rnd
            this_round[name] = r
            _print_run(test, rnd, args.rounds, name, r)
            # A slow server finishes what wrk left in flight before the next one is loaded.
            time.sleep(0.3)
        attempts.append(this_round)
        noise = max((r["other_cpu_pct"] for r in this_round.values()), default=0.0)
        if noise > args.max_other and retries > 0:
            retries -= 1
            print(f"  round {rnd + 1} was noisy (other {noise:.0f}% > {args.max_other:g}%), "
                  "repeating it")  # fmt: skip
            continue
        best = min(
            attempts,
            key=lambda a: max((r["other_cpu_pct"] for r in a.values()), default=0.0),
        )
        for attempt in attempts:
            for name, r in attempt.items():
                if name in runs:
                    (runs if attempt is best else discarded)[name].append(r)
        attempts = []
        rnd += 1
    for name, rs in runs.items():
        out[name] = {
            "rps": median([r["rps"] for r in rs]),
            "p50_ms": median([r["p50_ms"] for r in rs if "p50_ms" in r]),
            "p99_ms": median([r["p99_ms"] for r in rs if "p99_ms" in r]),
            "server_cpu_pct": median([r["server_cpu_pct"] for r in rs]),
            "wrk_cpu_pct": median([r["wrk_cpu_pct"] for r in rs]),
            "postgres_cpu_pct": median([r["postgres_cpu_pct"] for r in rs]),
            "errors": sum(r["non_2xx"] + r["socket_errors"] for r in rs),
            "noisy": any(r["other_cpu_pct"] > args.max_other for r in rs),
            "peak_hwm_kib": max((r["peak_hwm_kib"] for r in rs), default=None),
            "runs": [{k: v for k, v in r.items() if k != "raw"} for r in rs],
            "discarded_noisy_runs": [
                {k: v for k, v in r.items() if k != "raw"} for r in discarded[name]
            ],
            "wrk_output_last": rs[-1]["raw"] if rs else None,
        }
    return out


def _fmt(value: Optional[float], spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + suffix


def table(results: dict[str, Any]) -> str:
    """test | FastAPI req/s | Ignyx req/s | ratio | target, then where the CPU went."""
    rows = [
        "| test | FastAPI req/s | Ignyx req/s | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    cpu = [
        "| test | FastAPI: server / wrk / postgres CPU | Ignyx: server / wrk / postgres CPU |"
        " FastAPI CPU a request | Ignyx CPU a request | FastAPI p99 | Ignyx p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, entry in results["tests"].items():
        test = TESTS[key]
        fa, ig = entry["frameworks"].get("fastapi", {}), entry["frameworks"].get("ignyx", {})

        def cell(r: dict[str, Any]) -> str:
            marks = (" *" if r.get("errors") else "") + (" ~" if r.get("noisy") else "")
            return _fmt(r.get("rps"), ",.0f") + marks

        ratio = ig["rps"] / fa["rps"] if ig.get("rps") and fa.get("rps") else None
        if test.target is None:
            target = "reported"
        elif ratio is None:
            target = f">= {test.target:g}x: n/a"
        else:
            target = f">= {test.target:g}x: {'met' if ratio >= test.target else 'MISSED'}"
        rows.append(
            f"| `GET {test.path}` {test.label} | {cell(fa)} | {cell(ig)} | "
            f"{_fmt(ratio, '.2f', 'x')} | {target} |"
        )

        def use(r: dict[str, Any]) -> str:
            if r.get("rps") is None:
                return "n/a"
            return (f"{r['server_cpu_pct']:.0f}% / {r['wrk_cpu_pct']:.0f}% / "
                    f"{r['postgres_cpu_pct']:.0f}%")  # fmt: skip

        # wrk's latencies of pipelined requests mean nothing (it times a batch, not a request).
        p99 = ["n/a" if test.script else _fmt(r.get("p99_ms"), ".2f", " ms") for r in (fa, ig)]
        # The server's CPU time per answer: what a request costs it, whatever held it back.
        per = [
            _fmt(r["server_cpu_pct"] * 1e4 / r["rps"] if r.get("rps") else None, ".0f", " µs")
            for r in (fa, ig)
        ]
        cpu.append(
            f"| {test.label} | {use(fa)} | {use(ig)} | {per[0]} | {per[1]} | {p99[0]} | {p99[1]} |"
        )
    return "\n".join(rows) + "\n\n" + "\n".join(cpu)


def _print_problems(problems: list[checks.Problem]) -> None:
    """One line per framework and problem, with the requests it was seen in."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for p in problems:
        grouped.setdefault((p.framework, p.what, p.kind), []).append(p.test)
    for (name, what, kind), tests in grouped.items():
        where = tests[0] if len(tests) == 1 else f"{len(tests)} answers: {', '.join(tests[:4])}..."
        print(
            f"  {'RULE' if kind == checks.NO_SERVER_HEADER else 'WRONG'} {name}: {what} ({where})"
        )


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per server and test")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument(
        "--pool-size",
        type=int,
        default=None,
        help="asyncpg pool of each server, opened in its lifespan (default: --connections, so "
        "that no request waits for a connection)",
    )
    p.add_argument(
        "--tests",
        action="append",
        default=[],
        metavar="A,B",
        help=f"tests to run (default all: {','.join(TESTS)})",
    )
    p.add_argument("--max-other", type=float, default=25,
                   help="repeat a round when other work took more than this %% of a core")  # fmt: skip
    p.add_argument("--retries", type=int, default=3, help="noisy rounds repeated per test (3)")
    p.add_argument("--server-cpu", type=int, default=0, help="the servers' core (default 0)")
    p.add_argument("--wrk-cpu", type=int, default=1, help="wrk's core (default 1)")
    p.add_argument("--pg-cpu", type=int, default=None,
                   help="PostgreSQL's core (default: wrk's)")  # fmt: skip
    p.add_argument("--pg-unpinned", action="store_true", help="do not pin PostgreSQL")
    p.add_argument("--no-pin", action="store_true", help="pin nothing")
    p.add_argument(
        "--allow-missing-server-header",
        action="store_true",
        help="report a missing Server header (a TechEmpower rule) instead of stopping",
    )
    p.add_argument("--verify-only", action="store_true", help="check the answers, measure nothing")
    p.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "techempower.json", help="results JSON"
    )
    return p.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.pool_size is None:
        args.pool_size = args.connections
    keys = csv_list(args.tests) or list(TESTS)
    unknown = [k for k in keys if k not in TESTS]
    if unknown:
        print(f"unknown test: {', '.join(unknown)} (have {', '.join(TESTS)})", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None and not args.verify_only:
        print("error: wrk is not installed (sh benchmarks/ensure_tools.sh)", file=sys.stderr)
        return 2

    server_cpu = wrk_cpu = pg_cpu = None
    if not args.no_pin:
        wanted_pg = (
            None if args.pg_unpinned else (args.wrk_cpu if args.pg_cpu is None else args.pg_cpu)
        )
        allowed = os.sched_getaffinity(0)
        wanted = {args.server_cpu, args.wrk_cpu} | ({wanted_pg} if wanted_pg is not None else set())
        if shutil.which("taskset") and wanted <= allowed and args.server_cpu != args.wrk_cpu:
            server_cpu, wrk_cpu, pg_cpu = args.server_cpu, args.wrk_cpu, wanted_pg
        else:
            print(f"note: cores {sorted(wanted)} are not all available (have {sorted(allowed)}) "
                  "or taskset is missing; running unpinned")  # fmt: skip

    try:
        return _run(args, keys, server_cpu, wrk_cpu, pg_cpu)
    except KeyboardInterrupt:
        print("\ninterrupted: servers and PostgreSQL stopped, nothing saved", file=sys.stderr)
        return 130


def _run(
    args: argparse.Namespace,
    keys: list[str],
    server_cpu: Optional[int],
    wrk_cpu: Optional[int],
    pg_cpu: Optional[int],
) -> int:
    log_dir = RESULTS_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="ignyx-tfb-"))
    servers: dict[str, Server] = {}
    pg: Optional[Cluster] = None
    results: dict[str, Any] = {
        "environment": environment(),
        "config": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": 1,
            "pipeline_depth": checks.PIPELINE_DEPTH,
            "pool_size": args.pool_size,
            "max_other_pct": args.max_other,
            "server_cpu": server_cpu,
            "wrk_cpu": wrk_cpu,
            "postgres_cpu": pg_cpu,
            "frameworks": {n: fw.command for n, fw in frameworks.FRAMEWORKS.items()},
        },
        "versions": {},
        "verification": [],
        "tests": {},
    }
    try:
        # Both pools, the harness's connections and PostgreSQL's reserved ones.
        max_connections = 2 * args.pool_size + 20
        # Started before this script moves itself to wrk's core, so that unpinned it may use any.
        pg = Cluster.start(pin=pg_cpu, max_connections=max_connections,
                           log_path=log_dir / "tfb-postgres.log")  # fmt: skip
        where = "unpinned" if pg_cpu is None else f"on core {pg_cpu}"
        print(f"started PostgreSQL {pg.version} (pid {pg.pid}, port {pg.port}, {where}, "
              f"max_connections {max_connections}, fsync and synchronous_commit off)")  # fmt: skip
        results["versions"]["postgresql"] = pg.version
        results["config"]["postgres_settings"] = pg.settings
        if wrk_cpu is not None:
            # Keep this script (and its /proc sampler) off the server's core.
            os.sched_setaffinity(0, {wrk_cpu})
        for module in ("fastapi", "uvicorn", "ignyx", "asyncpg", "jinja2", "uvloop", "httptools"):
            results["versions"][module] = version(module)
        for name in frameworks.NAMES:
            try:
                servers[name] = frameworks.start(
                    name, pg.dsn, args.pool_size, server_cpu, log_dir, run_dir
                )
            except (RuntimeError, OSError) as e:
                log = log_dir / f"tfb-{name}.log"
                tail = log.read_text(errors="replace").strip().splitlines()[-15:]
                print(f"error: {name} did not start: {e}", file=sys.stderr)
                print("\n".join("    " + line for line in tail), file=sys.stderr)
                return 1
            s = servers[name]
            print(f"started {name} (pid {s.proc.pid}, port {s.port}, pool of {args.pool_size})")

        print("checking every answer of both servers...")
        problems, _ = checks.verify(
            {name: s.base_url for name, s in servers.items()}, lambda: read_worlds(pg.dsn)
        )
        results["verification"] = [vars(p) for p in problems]
        fatal = [
            p for p in problems
            if p.kind != checks.NO_SERVER_HEADER or not args.allow_missing_server_header
        ]  # fmt: skip
        _print_problems(problems)
        if fatal:
            print(f"error: {len(fatal)} wrong answers; nothing was measured", file=sys.stderr)
            return 1
        print("  every answer is right" + (" (but see RULE above)" if problems else ""))
        if args.verify_only:
            return 0

        per_test = len(servers) * (args.warmup + args.rounds * args.duration)
        print(f"measuring {len(keys)} tests x {len(servers)} frameworks, {args.rounds} rounds "
              f"of {args.duration}s (about {len(keys) * per_test / 60:.1f} min)")  # fmt: skip
        for key in keys:
            results["tests"][key] = {
                "label": TESTS[key].label,
                "path": TESTS[key].path,
                "script": TESTS[key].script,
                "target": TESTS[key].target,
                "frameworks": measure(TESTS[key], servers, args, wrk_cpu, pg),
            }
    finally:
        for server in servers.values():
            server.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(run_dir, ignore_errors=True)

    results["environment"]["loadavg_end"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    v = results["versions"]
    pinning = (
        f"server on core {server_cpu}, wrk on core {wrk_cpu}, PostgreSQL "
        + ("unpinned" if pg_cpu is None else f"on core {pg_cpu}")
        if server_cpu is not None
        else "unpinned"
    )
    print()
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s (plaintext pipelined by "
          f"{checks.PIPELINE_DEPTH}), median of {args.rounds} interleaved rounds; {pinning}; "
          f"asyncpg pool of {args.pool_size} per server")  # fmt: skip
    print(f"FastAPI {v['fastapi']} on uvicorn {v['uvicorn']} (uvloop, httptools), "
          f"Ignyx {v['ignyx']}, asyncpg {v['asyncpg']}, Jinja2 {v['jinja2']}, "
          f"PostgreSQL {v['postgresql']}")  # fmt: skip
    print()
    print(table(results))
    if any(p["kind"] == checks.NO_SERVER_HEADER for p in results["verification"]):
        names = sorted({p["framework"] for p in results["verification"]})
        print(f"\nRULE: {', '.join(names)} sent no Server header, which TechEmpower requires")
    fws = [fw for t in results["tests"].values() for fw in t["frameworks"].values()]
    if any(fw.get("errors") for fw in fws):
        print("\n* some responses were non-2xx or hit socket errors; see the JSON")
    if any(fw.get("noisy") for fw in fws):
        print(f"\n~ other work took more than {args.max_other:g}% of a core in that number's "
              "quietest try: rerun when the machine is quieter")  # fmt: skip
    print_results_path(args.output)
    return 0


if __name__ == "__main__":
    exit_on_sigterm()
    # Ctrl-C stops the run (and the finally above stops the servers and PostgreSQL), even when
    # started from a shell that had SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
