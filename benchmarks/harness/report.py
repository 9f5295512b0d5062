"""The markdown table and the description of the machine a run happened on."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any, Optional

from harness import REPO_ROOT
from harness.catalog import CPU_RATIO


def median(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def _fmt(value: Optional[float], spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + suffix


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return _fmt(a / b if a and b else None, ".2f", "x")


def _marks(result: dict[str, Any]) -> str:
    return (" *" if result.get("errors") else "") + (" ~" if result.get("noisy") else "")


def _cell(result: dict[str, Any], key: str, spec: str) -> str:
    """A framework's number on a row; "skipped" where it was not measured (its answer failed
    the check, it does not serve the endpoint, or it failed during the run)."""
    if "skipped" in result:
        return "skipped"
    return _fmt(result.get(key), spec) + _marks(result)


def _ratio_columns(
    names: list[str], baseline: Optional[str], also_against: Sequence[str]
) -> list[tuple[str, str]]:
    """(framework, reference) for each ratio column: every framework against the baseline,
    then those that are no reference against each further one (nginx for static files)."""
    references = [b for b in [baseline, *also_against] if b in names]
    return [
        (n, ref)
        for i, ref in enumerate(references)
        for n in names
        if n != ref and (i == 0 or n not in references)
    ]


def markdown_table(
    results: dict[str, Any],
    names: list[str],
    baseline: Optional[str],
    also_against: Sequence[str] = (),
) -> str:
    """endpoint | req/s per framework | ratios to the baseline (and to `also_against`) | p99 |
    p50, then RSS and threads. A ratio is n/a where either side did not run the endpoint."""
    ratios = _ratio_columns(names, baseline, also_against)
    head = ["endpoint"] + [f"{n} req/s" for n in names]
    head += [f"ratio {n}/{ref}" for n, ref in ratios]
    head += [f"{n} p99" for n in names] + [f"{n} p50" for n in names]
    rows = [head, ["---"] + ["---:"] * (len(head) - 1)]

    for ep in results["endpoints"].values():
        per = {n: ep["frameworks"].get(n, {}) for n in names}
        row = [ep["label"]]
        row += [_cell(per[n], "rps", ",.0f") for n in names]
        row += [_ratio(per[n].get("rps"), per[ref].get("rps")) for n, ref in ratios]
        row += [_fmt(per[n].get("p99_ms"), ".2f", " ms") for n in names]
        row += [_fmt(per[n].get("p50_ms"), ".2f", " ms") for n in names]
        rows.append(row)

    res = {n: results["resources"].get(n) for n in names}
    rss = {n: r["peak_hwm_kib"] / 1024 if r else None for n, r in res.items()}
    row = ["peak RSS (VmHWM)"] + [_fmt(rss[n], ".1f", " MiB") for n in names]
    row += [_ratio(rss[n], rss[ref]) for n, ref in ratios]
    rows.append(row)
    row = ["threads idle → under load"]
    row += [f"{r['idle_threads']} → {r['peak_threads']}" if r else "n/a" for r in res.values()]
    rows.append(row)
    return "\n".join("| " + " | ".join(r + [""] * (len(head) - len(r))) + " |" for r in rows)


def cpu_table(results: dict[str, Any], names: list[str], ratio: tuple[str, str]) -> str:
    """endpoint | server CPU µs per request per framework | `ratio` (first's over second's,
    when both ran) | the server's and wrk's core % per framework, all medians of the rounds.
    The ratio is the median of each round's own (the two ran seconds apart in it), so the
    machine's drift from round to round does not pass for a difference. Empty when no
    endpoint was measured."""
    num, den = ratio
    with_ratio = num in names and den in names
    head = ["endpoint"] + [f"{n} µs/req" for n in names]
    head += [f"cpu {num}/{den}"] if with_ratio else []
    head += [f"{n} core % server/wrk" for n in names]
    rows = [head, ["---"] + ["---:"] * (len(head) - 1)]
    measured = False
    for ep in results["endpoints"].values():
        per = {n: ep["frameworks"].get(n, {}) for n in names}
        cost = {n: per[n].get("server_cpu_us_per_request") for n in names}
        measured = measured or any(v is not None for v in cost.values())
        row = [ep["label"]] + [_cell(per[n], "server_cpu_us_per_request", ",.1f") for n in names]
        if with_ratio:
            pairs = paired_ratios(
                per[num].get("runs", []), per[den].get("runs", []), "server_cpu_us_per_request"
            )
            row.append(_fmt(median(pairs), ".2f", "x"))
        row += [
            f"{per[n]['server_cpu_pct']:.0f}/{per[n]['wrk_cpu_pct']:.0f}"
            if "server_cpu_pct" in per[n]
            else "n/a"
            for n in names
        ]
        rows.append(row)
    if not measured:
        return ""
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def summary(
    results: dict[str, Any],
    names: list[str],
    baseline: Optional[str],
    also_against: Sequence[str] = (),
    cpu_ratio: tuple[str, str] = CPU_RATIO,
) -> str:
    """What a run printed at its end: the setup, versions, the table, and what to distrust."""
    cfg = results["config"]
    pinning = (
        f"server on core {cfg['server_cpu']}, wrk on core {cfg['wrk_cpu']}"
        if cfg["server_cpu"] is not None
        else "unpinned"
    )
    out = [
        f"wrk -t{cfg['wrk_threads']} -c{cfg['connections']} -d{cfg['duration_s']}s, "
        f"median of {cfg['rounds']} interleaved rounds; {pinning}",
        ", ".join(f"{n} {v}" for n, v in results["versions"].items() if n in names and v),
        "",
        markdown_table(results, names, baseline, also_against),
    ]
    cpu = cpu_table(results, names, cpu_ratio)
    if cpu:
        out += [
            "",
            "Server CPU per request (its CPU time in a round over the requests wrk completed, "
            "median of the rounds), and how full each core was (server/wrk, %):",
            "",
            cpu,
        ]
    out += _async_against_sync(results, names)
    out += _redis_rows(results, names)
    fws = [fw for ep in results["endpoints"].values() for fw in ep["frameworks"].values()]
    if any(fw.get("errors") for fw in fws):
        out.append("\n* some responses were non-2xx or hit socket errors; see the JSON")
    if any(fw.get("noisy") for fw in fws):
        out.append(
            f"\n~ other work took more than {cfg['max_other_pct']:g}% of a core even in the "
            "quietest try of a round (see 'other' above): that number is unreliable, ratio "
            "included. Rerun when the machine is quieter."
        )
    out += _not_measured(results, names)
    for name, why in results["skipped"].items():
        out.append(f"\n{name} was skipped: {why}")
    return "\n".join(out)


def _not_measured(results: dict[str, Any], names: list[str]) -> list[str]:
    """Why each "skipped" cell is one: the answer that failed the check (status,
    Content-Type or body), or the endpoint not being one the framework serves."""
    lines = [
        f"- {n}, {ep['label']}: {ep['frameworks'][n]['skipped']}"
        for ep in results["endpoints"].values()
        for n in names
        if "skipped" in ep["frameworks"].get(n, {})
    ]
    if not lines:
        return []
    return ["", "skipped (not measured), and why:", *lines]


def _async_against_sync(results: dict[str, Any], names: list[str]) -> list[str]:
    """Issue 4's target: each framework's /async against its own sync twin, /sync. The two
    share their rounds (MEASURED_TOGETHER), so the ratio is the median of each round's pair."""
    eps = results["endpoints"]
    if "async" not in eps or "sync" not in eps:
        return []
    lines = [""]
    for name in names:
        a = eps["async"]["frameworks"].get(name, {})
        s = eps["sync"]["frameworks"].get(name, {})
        if a.get("rps") is None or s.get("rps") is None:
            continue  # a server without both routes is left out
        pairs = paired_ratios(a["runs"], s["runs"])
        spread = f", {min(pairs):.2f}x-{max(pairs):.2f}x" if len(pairs) > 1 else ""
        lines.append(
            f"{name}: GET /async is {median(pairs):.2f}x of GET /sync "
            f"(median of {len(pairs)} rounds, each pairing the two{spread})"
        )
    return lines


def _redis_rows(results: dict[str, Any], names: list[str]) -> list[str]:
    """For the rows that count in the run's Redis: where Redis ran, and per framework the
    commands it ran per request (1.00: one round trip each) and the CPU it took."""
    redis = results["config"].get("redis")
    if not redis:
        return []
    v = results["versions"]
    where = "unpinned" if redis["cpu"] is None else f"on core {redis['cpu']}"
    lines = [
        "",
        f"redis-server {v.get('redis-server')} {where}; slowapi {v.get('slowapi (python)')}, "
        f"limits {v.get('limits (python)')}, redis-py {v.get('redis (python)')}",
    ]
    for ep in results["endpoints"].values():
        per = []
        for n in names:
            fw = ep["frameworks"].get(n, {})
            if "redis_commands_per_request" in fw:
                scripts, commands = (
                    fw["redis_scripts_per_request"],
                    fw["redis_commands_per_request"],
                )
                per.append(
                    f"{n} {scripts:.2f} scripts, {commands:.2f} commands "
                    f"(Redis's CPU {fw['redis_cpu_pct']:.0f}%)"
                )
        if per:
            lines.append(f"{ep['label']}, Redis a request: {'; '.join(per)}")
    return lines


def paired_ratios(
    runs: list[dict[str, Any]], twins: list[dict[str, Any]], key: str = "rps"
) -> list[float]:
    """`runs[i][key] / twins[j][key]` for each round both were measured in."""
    by_round = {r["round"]: r[key] for r in twins if r.get(key)}
    return [r[key] / by_round[r["round"]] for r in runs if r["round"] in by_round and r.get(key)]


def version(module: str) -> Optional[str]:
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
