"""Finding the app named on the command line, as ``uvicorn`` and ``fastapi run`` do:

- ``main:app`` (or ``package.module:attr.sub``) imports the module and takes the attribute;
- ``main.py`` or ``src/shop/main.py`` imports the file as a module of its package (the
  folders above it with an ``__init__.py``), and takes ``app``, else ``api``, else the one
  Ignyx app defined in it;
- nothing looks for ``main.py``, ``app.py``, ``api.py``, ``app/main.py``, ``app/app.py``,
  ``app/api.py`` in the current directory.

A target that cannot be found raises `AppNotFound` with one line saying why; an error
raised by the app's own code while importing propagates with its traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any, Optional

DEFAULT_FILES = ("main.py", "app.py", "api.py", "app/main.py", "app/app.py", "app/api.py")
DEFAULT_NAMES = ("app", "api")


# True while the command imports the app: an `app.run(...)` at the module's top level (for
# `python main.py`) then returns at once, since the command serves the app itself.
loading = False


class AppNotFound(Exception):
    """The app named cannot be found; the message says why, in one line."""


def import_app(target: Optional[str], app_dir: str = "", factory: bool = False) -> Any:
    """The app `target` names (see the module's docstring); with `factory`, what calling
    the function it names returns."""
    _search(app_dir)
    module_name, attribute = _resolve(target, app_dir)
    global loading
    loading = True
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppNotFound(f'could not import module "{module_name}"') from None
        raise
    finally:
        loading = False
    app = _attribute(module, module_name, attribute)
    if factory:
        if hasattr(app, "_compile") or not callable(app):
            raise AppNotFound(
                f'"{module_name}:{attribute}" is not a function that returns the app '
                "(drop --factory to serve it as it is)"
            )
        app = app()
    if not hasattr(app, "_compile"):
        kind = type(app).__module__.split(".")[0]
        raise AppNotFound(
            f'"{module_name}:{attribute}" is not an Ignyx app (it is a {kind} '
            f"{type(app).__name__}); import FastAPI from ignyx"
        )
    return app


def _search(app_dir: str) -> None:
    """Modules are looked for in `app_dir`, else the current directory, first (as uvicorn)."""
    folder = os.path.abspath(app_dir or ".")
    if sys.path[:1] != [folder]:
        sys.path.insert(0, folder)


def _resolve(target: Optional[str], app_dir: str) -> tuple[str, Optional[str]]:
    """The module to import, and the attribute to take (None: look for the app)."""
    if target is None:
        base = Path(app_dir or ".")
        for candidate in DEFAULT_FILES:
            if (base / candidate).is_file():
                return _module_of(base / candidate), None
        raise AppNotFound(
            "no app named, and none of " + ", ".join(DEFAULT_FILES) + " here; "
            "name one, as main:app or main.py"
        )
    if target.endswith(".py") or os.sep in target or Path(target).is_dir():
        path = Path(target)
        if path.is_dir():
            path = path / "__init__.py"
        if not path.is_file():
            raise AppNotFound(f"no file {target}")
        return _module_of(path), None
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise AppNotFound(f'"{target}" is not an app path: use "module:attribute" or a .py file')
    return module_name, attribute


def _module_of(path: Path) -> str:
    """The dotted name `path` imports as, with its package root put on `sys.path`."""
    path = path.resolve()
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    sys.path.insert(0, str(folder))
    return ".".join(parts)


def _attribute(module: Any, module_name: str, attribute: Optional[str]) -> Any:
    if attribute is not None:
        value = module
        for name in attribute.split("."):
            if not hasattr(value, name):
                raise AppNotFound(f'module "{module_name}" has no attribute "{attribute}"')
            value = getattr(value, name)
        return value
    for name in DEFAULT_NAMES:
        if hasattr(getattr(module, name, None), "_compile"):
            return getattr(module, name)
    apps = [value for value in vars(module).values() if hasattr(value, "_compile")]
    if len(apps) == 1:
        return apps[0]
    raise AppNotFound(f'no Ignyx app in module "{module_name}": name it, as {module_name}:app')
