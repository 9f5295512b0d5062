"""``pip install ignyx`` brings every package its modules import: each third-party import in
``python/ignyx`` is a declared dependency in ``pyproject.toml``."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

# The standard library reads TOML from Python 3.11 on.
tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "ignyx"

# The distribution that provides each importable name, where the two differ.
DISTRIBUTIONS = {
    "python_multipart": "python-multipart",
    "typing_extensions": "typing-extensions",
    "pydantic_core": "pydantic",
    "yaml": "pyyaml",
    "opentelemetry": "opentelemetry-api",
}


def imported_top_level_names() -> dict[str, str]:
    """Each top-level module imported anywhere in the package, with one file importing it."""
    names: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                names.setdefault(module.split(".")[0], path.name)
    return names


def declared_distributions() -> set[str]:
    """The dependencies, and those of the extras (imported only where the extra is used)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    return {
        re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower()
        for requirement in [*project["dependencies"], *(r for extra in extras for r in extra)]
    }


def test_every_third_party_import_is_a_declared_dependency():
    declared = declared_distributions()
    missing = {
        f"{name} (imported by {where})"
        for name, where in imported_top_level_names().items()
        if name not in sys.stdlib_module_names
        and name != "ignyx"
        and DISTRIBUTIONS.get(name, name).lower() not in declared
    }
    assert missing == set()


def test_the_check_sees_an_undeclared_import():
    assert "pydantic" in imported_top_level_names()
    assert "pytest" not in declared_distributions()


def test_an_app_runs_without_the_opentelemetry_api():
    """opentelemetry-api is declared, but an environment without it still serves an app
    (telemetry off, with a warning when it was asked for) rather than failing to start."""
    import subprocess
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if it were not installed
        import ignyx
        from ignyx.testclient import TestClient

        app = ignyx.FastAPI(telemetry={"operation_spans": True})

        @app.get("/")
        def root():
            return {"ok": True}

        with TestClient(app) as client:
            print(client.get("/").json())
        try:
            import ignyx.telemetry
        except ImportError as exc:
            print("error:", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "{'ok': True}",
        "error: telemetry needs the OpenTelemetry API, a dependency of ignyx: "
        "pip install opentelemetry-api",
    ]
    assert "Telemetry is off" in done.stderr
