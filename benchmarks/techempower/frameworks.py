"""The two servers of the TechEmpower rows: ``app.py`` as written (FastAPI on uvicorn) and a
copy of it whose FastAPI imports are Ignyx's (Ignyx's own server), each started by the
benchmark harness (``harness.servers.start_server``: a free port, its own process group,
pinned with taskset, stopped by PID).

The swap is the one ``docs/migrating-from-fastapi.md`` describes: in lines that begin with
``from fastapi`` (or ``from starlette``), that module name becomes ``ignyx``; every other
line, and the template directory next to the app, is copied unchanged. ``swap_imports``
checks that this is all that changed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from harness.catalog import Framework  # noqa: E402
from harness.servers import Server, start_server  # noqa: E402

APP = HERE / "app.py"
TEMPLATES = HERE / "templates"

# `from fastapi import X` / `from fastapi.responses import Y` (any indentation).
_IMPORT = re.compile(r"^(\s*)from (fastapi|starlette)([. ])")

# Both serve the module `app` of {appdir} (the copy written for each), one worker, no
# access log. FastAPI gets its fastest uvicorn: uvloop and httptools.
FRAMEWORKS: dict[str, Framework] = {
    "fastapi": Framework(
        "{python} -m uvicorn app:app --app-dir {appdir} --host {host} --port {port}"
        " --loop uvloop --http httptools --workers 1 --log-level warning --no-access-log",
        requires=("fastapi", "uvicorn", "uvloop", "httptools", "asyncpg", "jinja2"),
        version_of="fastapi",
    ),
    "ignyx": Framework(
        "{python} -m ignyx run app:app --app-dir {appdir} --host {host} --port {port}"
        " --workers 1 --log-level warning --no-access-log",
        requires=("ignyx", "asyncpg", "jinja2"),
        version_of="ignyx",
    ),
}
NAMES = ("fastapi", "ignyx")


def swap_imports(source: str) -> str:
    """`source` with ``from fastapi...``/``from starlette...`` import lines reading
    ``from ignyx...``; ValueError if there is none to swap."""
    lines = source.splitlines(keepends=True)
    swapped = [_IMPORT.sub(r"\1from ignyx\3", line) for line in lines]
    changed = [new for old, new in zip(lines, swapped, strict=True) if old != new]
    if not changed:
        raise ValueError("no `from fastapi` import line to swap")
    # Only import lines changed, and only their module name.
    if not all(new.lstrip().startswith("from ignyx") for new in changed) or any(
        re.search(r"\b(fastapi|starlette)\b", new) for new in changed
    ):
        raise ValueError(f"the swap changed more than the module names: {changed}")
    return "".join(swapped)


def write_app(name: str, directory: Path) -> Path:
    """Writes the app as framework `name` serves it into `directory` (``app.py`` and its
    ``templates/``): for FastAPI the file as it is, for Ignyx with its imports swapped."""
    directory.mkdir(parents=True, exist_ok=True)
    source = APP.read_text()
    if name == "ignyx":
        source = swap_imports(source)
    (directory / "app.py").write_text(source)
    shutil.copytree(TEMPLATES, directory / "templates", dirs_exist_ok=True)
    return directory / "app.py"


def start(
    name: str,
    dsn: str,
    pool_size: int,
    pin: Optional[int],
    log_dir: Path,
    run_dir: Path,
    timeout: float = 30,
    wrapper: str = "",
) -> Server:
    """Writes framework `name`'s app into ``run_dir/<name>-app`` and starts it from there with
    the harness, `pin`ned (None: any core), its command after `wrapper` (``valgrind ...``).
    It is up once ``/plaintext`` answers, that is once its lifespan has opened the pool. Its
    log is ``log_dir/tfb-<name>.log``."""
    app_dir = run_dir / f"{name}-app"
    write_app(name, app_dir)
    fw = FRAMEWORKS[name]
    command = wrapper + fw.command.replace("{appdir}", shlex.quote(str(app_dir)))
    env = {"TFB_DATABASE_URL": dsn, "TFB_POOL_SIZE": str(pool_size)}
    return start_server(
        f"tfb-{name}", replace(fw, command=command), pin, log_dir, "/plaintext", timeout,
        run_dir, env,
    )  # fmt: skip
