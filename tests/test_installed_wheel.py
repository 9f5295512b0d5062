"""Under ``make test-wheel`` the whole suite runs against the wheel installed in a fresh venv,
with no Rust toolchain on PATH; this says so, so that a suite run against the source tree
by mistake fails there instead of passing for the wrong package."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "python"

pytestmark = pytest.mark.skipif(
    not os.environ.get("IGNYX_TESTING_WHEEL"), reason="runs under make test-wheel"
)


def test_the_package_is_the_installed_wheel() -> None:
    import ignyx
    import ignyx._core

    for module in (ignyx, ignyx._core):
        path = Path(module.__file__ or "").resolve()
        assert SOURCE not in path.parents, path
        assert "site-packages" in path.parts, path
    distribution = importlib.metadata.distribution("ignyx")
    direct_url = distribution.read_text("direct_url.json")
    # Installed from a file, not an editable checkout.
    assert direct_url is None or not json.loads(direct_url).get("dir_info", {}).get("editable")
    wheel = distribution.read_text("WHEEL") or ""
    assert "manylinux" in wheel, wheel


def test_no_rust_toolchain_is_on_the_path() -> None:
    assert shutil.which("cargo") is None
    assert shutil.which("rustc") is None
