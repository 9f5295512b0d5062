"""Replays the Python fuzzers' saved inputs (``fuzz/regressions/python_*``: seeds and every
disagreement found) through the fuzzers' differential checks, Ignyx against Starlette; no
atheris needed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fuzz" / "python"))

import check_cookies  # noqa: E402
import check_forms  # noqa: E402

REGRESSIONS = ROOT / "fuzz" / "regressions"
CHECKS = {"python_cookies": check_cookies.check, "python_forms": check_forms.check}


def _inputs(name: str) -> list[Path]:
    return sorted(path for path in (REGRESSIONS / name).iterdir() if path.is_file())


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_has_inputs(name: str) -> None:
    assert _inputs(name), f"no inputs in fuzz/regressions/{name}/"


@pytest.mark.parametrize(
    "name,path",
    [(name, path) for name in sorted(CHECKS) for path in _inputs(name)],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_replay(name: str, path: Path) -> None:
    CHECKS[name](path.read_bytes())


def test_replay_cookies_as_atheris_text() -> None:
    """The cookie fuzzer also checks the text atheris's FuzzedDataProvider makes of an input."""
    atheris = pytest.importorskip("atheris")
    for path in _inputs("python_cookies"):
        data = path.read_bytes()
        check_cookies.check_text(atheris.FuzzedDataProvider(data).ConsumeUnicode(len(data)))
