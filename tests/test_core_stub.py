"""``python/ignyx/_core.pyi`` describes the compiled engine as it is: every class, method,
function and parameter the stub names exists with that shape, and nothing is missing."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent / "python"


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_the_core_stub_matches_the_compiled_engine() -> None:
    import ignyx

    env = {**os.environ, "MYPYPATH": str(PYTHON_DIR)}
    # The stub is checked against the engine ignyx is imported with here.
    env["PYTHONPATH"] = str(Path(ignyx.__file__).parent.parent)
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "ignyx._core"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PYTHON_DIR.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
