"""``ignyx dev``'s reloading: the server runs as a child process (``ignyx run`` with the
same settings), and watchfiles restarts it whenever a Python file under the app's
directory changes. Ctrl+C (or SIGTERM) stops the child gracefully, then the reloader.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from typing import Any

from .config import Config

logger = logging.getLogger("ignyx.error")


def reload(argv: list[str], config: Config) -> int:
    """Runs `argv` until stopped, restarting it on each change; returns the exit code."""
    import watchfiles

    root = os.path.abspath(config.app_dir or ".")
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    logger.info("Watching %s for changes", root)
    child = subprocess.Popen(argv)
    try:
        for changes in watchfiles.watch(
            root, watch_filter=watchfiles.PythonFilter(), stop_event=stop, yield_on_timeout=True
        ):
            if not changes:
                continue  # a timeout; a child that stopped (an error in the app) waits for a fix
            names = sorted({os.path.relpath(path, root) for _, path in changes})
            logger.info("Changed: %s; restarting", ", ".join(names))
            _stop(child, config)
            child = subprocess.Popen(argv)
    finally:
        _stop(child, config)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _stop(child: subprocess.Popen[Any], config: Config) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(config.timeout_graceful_shutdown + 5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
