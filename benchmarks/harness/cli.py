"""What the harness's command lines (``benchmarks/run.py``, ``benchmarks/techempower/run.py``)
share: comma lists, the results line, and SIGTERM as an exit that runs their cleanup."""

from __future__ import annotations

import signal
from pathlib import Path


def csv_list(values: list[str]) -> list[str]:
    """The items of options given as ``a,b`` (possibly repeated), in order."""
    return [item.strip() for v in values for item in v.split(",") if item.strip()]


def print_results_path(path: Path) -> None:
    """``results: <path>``, relative to the working directory when it is below it."""
    try:
        shown = path.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = path
    print(f"\nresults: {shown}")


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so the runner's ``finally`` stops what it started."""

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
