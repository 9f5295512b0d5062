"""``from ignyx.depends import Depends, BackgroundTask``, as the original Ignyx README writes it.

There ``task: BackgroundTask`` is the per-request task list (``task.add(func, *args)``),
so here ``BackgroundTask`` names ``BackgroundTasks``.
"""

from .background import BackgroundTasks
from .background import BackgroundTasks as BackgroundTask
from .params import Depends, Security

__all__ = ["BackgroundTask", "BackgroundTasks", "Depends", "Security"]
