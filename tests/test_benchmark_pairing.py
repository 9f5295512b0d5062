"""The benchmark harness pairs /sync with /async: the two share their rounds, and the
"/async is N x of /sync" line is the median of each round's ratio."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from harness.report import summary  # noqa: E402
from run import _groups  # noqa: E402


def test_sync_and_async_are_measured_in_the_same_rounds_wherever_they_are_listed():
    keys = ["plaintext", "async", "users_get", "sync", "deps"]
    assert _groups(keys) == [["plaintext"], ["sync", "async"], ["users_get"], ["deps"]]
    assert _groups(["async", "plaintext"]) == [["async"], ["plaintext"]]


def endpoint(label, rps_by_framework):
    return {
        "label": label,
        "frameworks": {
            name: {
                "rps": sorted(rps)[len(rps) // 2],
                "runs": [{"round": i, "rps": r} for i, r in enumerate(rps)],
            }
            for name, rps in rps_by_framework.items()
        },
    }


def test_the_async_line_is_the_median_of_paired_rounds_not_a_ratio_of_medians():
    # Per round, /async against /sync: 95/100, 66/60, 60/80 -> 0.95x, 1.10x, 0.75x, median
    # 0.95x. The medians of each route come from different rounds (66 and 80): their
    # ratio, 0.82x, would mix two moments of the machine.
    results = {
        "config": {
            "wrk_threads": 1,
            "connections": 64,
            "duration_s": 5,
            "rounds": 3,
            "server_cpu": 0,
            "wrk_cpu": 1,
            "max_other_pct": 25,
        },
        "versions": {},
        "skipped": {},
        "resources": {},
        "endpoints": {
            "sync": endpoint("GET /sync", {"ignyx": [100.0, 60.0, 80.0]}),
            "async": endpoint("GET /async", {"ignyx": [95.0, 66.0, 60.0]}),
        },
    }
    out = summary(results, ["ignyx"], None)
    assert "ignyx: GET /async is 0.95x of GET /sync (median of 3 rounds" in out
    assert "0.75x-1.10x" in out
    assert "0.82x" not in out
