"""Ignyx's logger, ``ignyx``: the parent of ``ignyx.error`` and ``ignyx.access``::

from ignyx.logger import logger

logger.setLevel(logging.DEBUG)  # also the level of the error and access logs
"""

import logging

__all__ = ["logger"]

logger = logging.getLogger("ignyx")
