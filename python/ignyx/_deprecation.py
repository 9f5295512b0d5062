"""Deprecation warnings that point at the user's line, however deep in Ignyx they start::

    warn_deprecated(REGEX)  # in Param.__init__; the warning names the line calling Query(regex=...)

The messages are FastAPI's, word for word, so filters written for FastAPI keep matching.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType
from typing import Optional

from .exceptions import FastAPIDeprecationWarning

ON_EVENT = """
        on_event is deprecated, use lifespan event handlers instead.

        Read more about it in the
        [FastAPI docs for Lifespan Events](https://fastapi.tiangolo.com/advanced/events/).
        """
REGEX = "`regex` has been deprecated, please use `pattern` instead"
EXAMPLE = "`example` has been deprecated, please use `examples` instead"
ROOT_PATH = (
    "The `root_path` parameter is deprecated. Configure the server's root path instead, "
    "for example with `ignyx run --root-path /api/v1`."
)


def _in_ignyx(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__", "")
    return module == "ignyx" or module.startswith("ignyx.")


def warn_deprecated(message: str, category: type[Warning] = FastAPIDeprecationWarning) -> None:
    """Warns with `message`, attributed to the first caller outside the ``ignyx`` package."""
    level = 2
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None and _in_ignyx(frame):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
