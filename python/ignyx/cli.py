"""The ``ignyx`` command (also ``python -m ignyx``)::

    ignyx run main:app --workers 4          # production: 0.0.0.0:8000
    ignyx run main.py --port 8080
    ignyx dev                               # main.py, reloaded on change, 127.0.0.1, debug logs

Every flag is a setting of `ignyx.config.Config`, which ``app.run(...)`` takes as keyword
arguments and the environment as ``IGNYX_*`` variables. A mistake on the command line (an
app that cannot be found, a port in use, a bad value) ends the command with exit code 1
and one line saying what is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import MISSING, fields
from typing import Any, NoReturn, Optional

from .config import ENV_PREFIX, Config, parse_flag, settings_for
from .importer import AppNotFound, import_app

GROUPS = {
    "server": "where to listen",
    "workers": "worker processes",
    "tls": "TLS and HTTP versions",
    "limits": "limits and timeouts",
    "logging": "logging",
    "metrics": "metrics",
    "app": "finding and loading the app",
}

# What each command changes from the settings' defaults.
COMMAND_DEFAULTS: dict[str, dict[str, Any]] = {
    "run": {"host": "0.0.0.0"},
    "dev": {"host": "127.0.0.1", "reload": True, "log_level": "debug"},
}


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = _parser()
    arguments = vars(parser.parse_args(argv))
    command = arguments.pop("command")
    target = arguments.pop("path")
    given = {name: value for name, value in arguments.items() if value is not None}
    for name, value in COMMAND_DEFAULTS[command].items():
        if name not in given and ENV_PREFIX + name.upper() not in os.environ:
            given[name] = value
    try:
        config = settings_for(given)
        config.tls()  # a certificate that cannot be used is told before anything starts
    except (TypeError, ValueError) as exc:
        _fail(str(exc))
    from .logs import configure_logging

    try:
        configure_logging(config.log_level, config.log_config)
    except ValueError as exc:
        _fail(str(exc))
    if config.reload:
        from .reloader import reload

        sys.exit(reload(_child_argv(command, target, given), config))
    sys.exit(_serve(target, config))


# The command's entry point under the name ``fastapi.cli`` gives it.
cli_main = main


def _serve(target: Optional[str], config: Config) -> int:
    from .launch import launch

    def load() -> Any:
        return import_app(target, config.app_dir, config.factory)

    try:
        if config.workers <= 1 and not (config.workers_max_requests or config.workers_max_rss):
            app = load()  # found before binding, so a wrong path is told as such
            return launch(lambda: app, config)
        _probe(load)
        return launch(load, config)
    except AppNotFound as exc:
        _fail(f"cannot load the app: {exc}")
    except OSError as exc:
        _fail(str(exc))


def _probe(load: Any) -> None:
    """Loads the app once in a forked process, so that an app that cannot be found is told
    in one line before any worker starts (the supervisor itself never imports the app, so
    that a reload sees new code)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        code = 0
        try:
            load()
        except AppNotFound as exc:
            os.write(writer, str(exc).encode())
            code = 1
        except BaseException:  # noqa: BLE001 - the app's own error, shown with its traceback
            traceback.print_exc()
            code = 2
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 1:
        raise AppNotFound(message)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(1)


def _child_argv(command: str, target: Optional[str], given: dict[str, Any]) -> list[str]:
    """The command line that serves the same app with the same settings, without reload."""
    argv = [sys.executable, "-m", "ignyx", "run"]
    if target:
        argv.append(target)
    for name, value in given.items():
        if name == "reload":
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + name.replace("_", "-"))
        else:
            argv += [flag, str(value)]
    argv.append("--no-reload")
    return argv


def _fail(message: str) -> NoReturn:
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ignyx", description="Serve an Ignyx (FastAPI-style) app on the Rust engine."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    descriptions = {
        "run": "Serve the app in production (0.0.0.0:8000 by default).",
        "dev": "Serve the app for development: reloaded when files change, debug logs, 127.0.0.1.",
    }
    for command, description in descriptions.items():
        sub = commands.add_parser(
            command,
            help=description,
            description=description
            + " Each flag may also be set as an IGNYX_* environment variable "
            "(--timeout-keep-alive as IGNYX_TIMEOUT_KEEP_ALIVE).",
        )
        sub.add_argument(
            "path",
            nargs="?",
            help="The app: module:attribute (main:app) or a file (main.py); "
            "by default main.py, app.py or api.py here.",
        )
        groups = {key: sub.add_argument_group(title) for key, title in GROUPS.items()}
        for setting in fields(Config):
            meta = setting.metadata
            default = COMMAND_DEFAULTS[command].get(setting.name, setting.default)
            assert default is not MISSING
            flag = "--" + setting.name.replace("_", "-")
            shown = "" if default in (None, "") else f" (default: {default})"
            group = groups[meta["group"]]
            if meta["parse"] is parse_flag:
                group.add_argument(
                    flag,
                    action=argparse.BooleanOptionalAction,
                    default=None,
                    help=meta["help"] + shown,
                )
            else:
                group.add_argument(
                    flag,
                    default=None,
                    choices=meta["choices"],
                    metavar=None if meta["choices"] else setting.name.upper(),
                    help=meta["help"] + shown,
                )
    return parser
