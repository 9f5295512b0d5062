"""The server's loggers, set up as uvicorn sets up its own: ``ignyx.error`` for what the
server does and what went wrong, ``ignyx.access`` for requests. ``--log-level`` sets their
level; ``--log-config`` hands the whole configuration to ``logging.config`` instead::

    configure_logging("debug", None)
    configure_logging("info", "logging.yaml")
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, Optional

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}


class _Formatter(logging.Formatter):
    """``INFO:     message``, the level padded as uvicorn pads it."""

    def format(self, record: logging.LogRecord) -> str:
        record.levelprefix = f"{record.levelname}:".ljust(9)
        return super().format(record)


def configure_logging(level: str, config_file: Optional[str]) -> None:
    """Applies `config_file` (.json and .yaml as dictConfig, else fileConfig), or, without
    one, prints the ignyx loggers to stderr at `level`. A file that cannot be read or
    applied raises ValueError naming it."""
    if config_file:
        # Only for a configuration file: logging.config imports a dozen modules more.
        from logging import config as logging_config

        try:
            if config_file.endswith(".json"):
                with open(config_file, encoding="utf-8") as source:
                    logging_config.dictConfig(json.load(source))
            elif config_file.endswith((".yaml", ".yml")):
                import yaml  # type: ignore[import-untyped]  # only for a YAML log config

                with open(config_file, encoding="utf-8") as source:
                    logging_config.dictConfig(yaml.safe_load(source))
            else:
                logging_config.fileConfig(config_file, disable_existing_loggers=False)
        except ImportError:
            raise ValueError(f"--log-config {config_file}: reading YAML needs PyYAML") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"--log-config {config_file}: {exc}") from None
        return
    handler = _DefaultHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(levelprefix)s %(message)s"))
    root = logging.getLogger("ignyx")  # ignyx.error and ignyx.access take its level
    root.setLevel(LEVELS[level])
    if not root.handlers:
        root.addHandler(handler)
        root.propagate = False


class _DefaultHandler(logging.StreamHandler):
    """The handler `configure_logging` installs when given no configuration file."""


def access_log_sink(enabled: bool) -> Any:
    """Where the engine writes its access log: None when it is off or ``ignyx.access`` does
    not log INFO; ``"stderr"`` when that logger goes only to the default handler (the engine
    then writes the same lines itself, off the request's path); else the logger, which the
    engine calls with uvicorn's access-log message and arguments."""
    access = logging.getLogger("ignyx.access")
    if not enabled or not access.isEnabledFor(logging.INFO):
        return None
    handlers: list[logging.Handler] = []
    logger: Optional[logging.Logger] = access
    while logger is not None:
        handlers += logger.handlers
        logger = logger.parent if logger.propagate else None
    if len(handlers) == 1 and type(handlers[0]) is _DefaultHandler:
        return "stderr"
    return access
