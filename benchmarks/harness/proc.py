"""Reading /proc: memory, threads and CPU of a server's process group while it is under load."""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass
from typing import Optional


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


def group_pids(pgid: int) -> list[int]:
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
        for pid in group_pids(pgid):
            st = _proc_status(pid)
            if not st:
                continue
            r.rss_kib += _kib(st.get("VmRSS", ""))
            r.hwm_kib += _kib(st.get("VmHWM", ""))
            r.threads += int(st.get("Threads", "0") or 0)
            r.processes += 1
        return r


class Sampler:
    """Polls a process group's /proc status in the background while wrk runs. The CPU of
    `aux_pgid` (the run's Redis), when given, is counted apart (``aux_cpu_pct``), not as
    other work."""

    def __init__(self, pgid: int, interval: float = 0.1, aux_pgid: Optional[int] = None) -> None:
        self.pgid = pgid
        self.aux_pgid = aux_pgid
        self.aux_cpu_pct = 0.0
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
        self._cpu0 = (_machine_cpu_s(), _group_cpu_s(self.pgid), _own_cpu_s(), self._aux_s())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._take()
        wall = time.monotonic() - self._t0
        (busy0, steal0), server0, own0, aux0 = self._cpu0
        busy1, steal1 = _machine_cpu_s()
        # The server's CPU time in the window (user and system, every process of its group).
        self.server_cpu_s = _group_cpu_s(self.pgid) - server0
        self.server_cpu_pct = 100 * self.server_cpu_s / wall
        self.harness_cpu_pct = 100 * (_own_cpu_s() - own0) / wall
        self.aux_cpu_pct = 100 * (self._aux_s() - aux0) / wall
        # CPU the machine spent on neither the server, wrk nor Redis: other tenants'
        # work on our cores, which is what makes a run noisy.
        ours = self.server_cpu_pct + self.harness_cpu_pct + self.aux_cpu_pct
        other = (busy1 - busy0) - ours * wall / 100
        self.other_cpu_pct = max(0.0, 100 * other / wall)
        self.steal_pct = 100 * (steal1 - steal0) / wall

    def _aux_s(self) -> float:
        return _group_cpu_s(self.aux_pgid) if self.aux_pgid is not None else 0.0

    def fields(self) -> dict[str, float]:
        """What every round records of the window: peak memory and threads, and each
        party's share of the machine's CPU (%)."""
        return {
            "peak_hwm_kib": self.peak.hwm_kib,
            "peak_threads": self.peak.threads,
            "server_cpu_pct": round(self.server_cpu_pct, 1),
            "wrk_cpu_pct": round(self.harness_cpu_pct, 1),
            "other_cpu_pct": round(self.other_cpu_pct, 1),
            "steal_pct": round(self.steal_pct, 1),
        }
