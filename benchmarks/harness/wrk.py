"""Running wrk and reading its report."""

from __future__ import annotations

import re
import subprocess
from typing import Any, Optional

from harness import BENCH_DIR
from harness.catalog import Endpoint

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
    connections = ep.connections or connections
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
