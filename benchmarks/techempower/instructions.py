"""Instructions a TechEmpower request costs, counted by callgrind (`make bench-tfb-instructions`).

Requests per second swing by a third within seconds on a shared machine; instructions do
not. For each test this counts, in user space:

- a request to each server (FastAPI on uvicorn with uvloop and httptools, and Ignyx, as
  ``run.py`` starts them), loaded by wrk once warm;
- the app's own work with no server (``alone.py``: the route's handler called directly), on
  asyncio's loop, on Ignyx's (asyncio's, with the engine's ``call_soon``) and on uvloop,
  FastAPI's.

The second is the least a server can spend on the request with that loop, since it is the
request minus the server. FastAPI's count over the app alone on uvloop is the most any
server could be ahead of FastAPI on that test: the last column.

    .venv/bin/python benchmarks/techempower/instructions.py                 # db, fortunes
    .venv/bin/python benchmarks/techempower/instructions.py --tests fortunes

Results: a table on stdout, everything in ``benchmarks/results/techempower-instructions.json``.
About 3 minutes a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from harness import RESULTS_DIR  # noqa: E402
from harness.cli import csv_list, exit_on_sigterm, print_results_path  # noqa: E402
from harness.report import environment  # noqa: E402
from harness.wrk import parse_wrk  # noqa: E402

from techempower import alone, frameworks  # noqa: E402
from techempower.postgres import Cluster  # noqa: E402
from techempower.run import TESTS  # noqa: E402

# wrk's connections and the app's pool, as many as alone.py's coroutines.
CONNECTIONS = alone.CONCURRENCY
LOOPS = ("asyncio", "ignyx", "uvloop")


def _valgrind(out: Path, name: str) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}/{name}.%p",
        f"--log-file={out}/{name}.valgrind.%p",
    ]


def _counted(pid: int, out: Path, name: str) -> int:
    """Dumps the counts of `pid` (callgrind `name`'s) since they were last zeroed; their total."""
    before = set(out.glob(f"{name}.{pid}.*"))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while not (dumps := set(out.glob(f"{name}.{pid}.*")) - before):
        if time.monotonic() > deadline:
            raise RuntimeError(f"callgrind wrote no dump for {name}")
        time.sleep(0.2)
    (dump,) = dumps
    time.sleep(0.5)  # written whole
    annotated = subprocess.run(
        ["callgrind_annotate", str(dump)], check=True, capture_output=True, text=True
    ).stdout
    for line in annotated.splitlines():
        if "PROGRAM TOTALS" in line:
            return int(line.split()[0].replace(",", ""))
    raise RuntimeError(f"no PROGRAM TOTALS in {dump}")


def _zero(pid: int) -> None:
    subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)


def _load(url: str, seconds: int) -> dict[str, Any]:
    """wrk on `url`; a request may take long under callgrind, and none is given up on."""
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "60s", url]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 90)
    loaded = parse_wrk(done.stdout)
    if loaded["non_2xx"] or loaded["socket_errors"] or not loaded["requests"]:
        raise RuntimeError(f"{url}: {done.stdout}")
    return loaded


def server_counts(
    name: str, keys: list[str], pg: Cluster, out: Path, seconds: int
) -> dict[str, float]:
    """Instructions a request of each test costs framework `name`'s server."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"ignyx-tfb-{name}-", dir=out))
    wrapper = " ".join(_valgrind(out, name)) + " "
    server = frameworks.start(
        name, pg.dsn, CONNECTIONS, None, out, run_dir, timeout=300, wrapper=wrapper
    )
    counts = {}
    try:
        for key in keys:
            test = TESTS[key]
            _load(server.base_url + test.path, seconds)  # warm-up
            _zero(server.proc.pid)
            loaded = _load(server.base_url + test.path, seconds)
            total = _counted(server.proc.pid, out, name)
            counts[key] = total / loaded["requests"]
            print(f"  {test.label:26} {name:8} {counts[key]:>12,.0f} a request"
                  f"  ({loaded['requests']} requests)")  # fmt: skip
    finally:
        server.stop()
    return counts


def alone_count(app: Path, path: str, loop: str, pg: Cluster, out: Path, each: int) -> float:
    """Instructions a call of the handler of `path` costs with no server, on `loop`."""
    name = f"alone-{loop}"
    env = dict(os.environ, TFB_DATABASE_URL=pg.dsn, TFB_POOL_SIZE=str(CONNECTIONS))
    argv = [*_valgrind(out, name), sys.executable, str(HERE / "alone.py"), str(app), path, loop]
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"alone.py {path} on {loop} did not start")
            _zero(proc.pid)
            proc.stdin.write(f"{each}\n")
            proc.stdin.flush()
            done = proc.stdout.readline().split()
            total = _counted(proc.pid, out, name)
            proc.stdin.close()
            proc.wait(timeout=60)
        finally:
            proc.kill()
    return total / int(done[1])


def table(results: dict[str, Any]) -> str:
    rows = [
        "| test | FastAPI | Ignyx | FastAPI / Ignyx | the app alone: asyncio | Ignyx's loop"
        " | uvloop | FastAPI / the app alone on uvloop |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in results["tests"].values():
        fastapi, ignyx, alone = entry["fastapi"], entry["ignyx"], entry["alone"]
        rows.append(
            f"| {entry['label']} | {fastapi:,.0f} | {ignyx:,.0f} | {fastapi / ignyx:.2f}x"
            + "".join(f" | {alone[loop]:,.0f}" for loop in LOOPS)
            + f" | {fastapi / alone['uvloop']:.2f}x |"
        )
    return "\n".join(rows)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", action="append", default=[],
                        help="comma-separated, of " + ", ".join(TESTS) + " (default: db,fortunes)")  # fmt: skip
    parser.add_argument("--duration", type=int, default=10, help="seconds of load a count")
    parser.add_argument("--calls", type=int, default=40,
                        help="calls of each of alone.py's coroutines a count")  # fmt: skip
    args = parser.parse_args(argv)
    keys = csv_list(args.tests) or ["db", "fortunes"]
    unknown = [k for k in keys if k not in TESTS]
    if unknown:
        print(f"unknown test: {', '.join(unknown)} (have {', '.join(TESTS)})", file=sys.stderr)
        return 2
    exit_on_sigterm()
    results: dict[str, Any] = {"environment": environment(), "tests": {}}
    with tempfile.TemporaryDirectory(prefix="ignyx-tfb-instructions-") as scratch:
        out = Path(scratch)
        app = frameworks.write_app("fastapi", out / "fastapi-alone")
        with Cluster.start(max_connections=2 * CONNECTIONS + 20) as pg:
            print(f"started PostgreSQL {pg.version} (port {pg.port}); counting, user space only")
            servers = {n: server_counts(n, keys, pg, out, args.duration) for n in frameworks.NAMES}
            for key in keys:
                path = TESTS[key].path
                entry = {"label": TESTS[key].label, "path": path, "alone": {}}
                entry.update({name: counts[key] for name, counts in servers.items()})
                for loop in LOOPS:
                    entry["alone"][loop] = alone_count(app, path, loop, pg, out, args.calls)
                    print(f"  {TESTS[key].label:26} alone on {loop:8}"
                          f" {entry['alone'][loop]:>12,.0f} a call")  # fmt: skip
                results["tests"][key] = entry
    print()
    print(table(results))
    path = RESULTS_DIR / "techempower-instructions.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print_results_path(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
