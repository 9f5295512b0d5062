"""Serving an app in the foreground, as ``app.run(...)`` and ``ignyx run`` do: one worker in
this process, or several (or workers replaced after a number of requests or an amount of
memory) under a supervisor::

    launch(lambda: app, Config.resolve({"port": 8080}))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .config import Config
from .server import Server, prepare

logger = logging.getLogger("ignyx.error")


def launch(load_app: Callable[[], Any], config: Config) -> int:
    """Serves the app `load_app()` returns until SIGINT/SIGTERM; returns the exit code.
    Raises ValueError when the TLS files cannot be used."""
    tls = config.tls()
    if config.workers > 1 or config.workers_max_requests or config.workers_max_rss:
        from .supervisor import Supervisor  # one worker in this process needs none

        return Supervisor(load_app, config, tls).run()
    server = Server(
        prepare(load_app(), config),
        config.host,
        config.port,
        uds=config.uds,
        fd=config.fd,
        tls=tls,
        **config.server_options(),
    )
    logger.info("Ignyx serving on %s (Ctrl+C to stop)", server.address)
    server.serve(handle_signals=True)
    return 0
