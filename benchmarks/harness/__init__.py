"""The benchmark harness behind ``benchmarks/run.py``: what is measured
(``catalog``), how servers are started and watched (``servers``, ``proc``), how
load is applied (``wrk``), how results are shown (``report``), and what the runners'
command lines share (``cli``)."""

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
APPS_DIR = BENCH_DIR / "apps"
RESULTS_DIR = BENCH_DIR / "results"
REPO_ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"
