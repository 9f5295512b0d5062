"""Work that runs after the response has been sent::

    from ignyx.background import BackgroundTasks

    @app.post("/signup")
    async def signup(email: str, tasks: BackgroundTasks):
        tasks.add_task(send_welcome_mail, email, subject="Welcome")
        return {"ok": True}

Coroutine functions are awaited on the worker's event loop; plain functions run in the
threadpool (``run_in_threadpool``), so that a slow one does not hold up other requests, and
see the request's ContextVars, as in Starlette.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Sequence
from typing import Any, Callable, Optional, ParamSpec

from ._runtime import report_fault
from .concurrency import run_in_threadpool

__all__ = ["BackgroundTask", "BackgroundTasks"]

# The parameters of a task's function, which its arguments are checked against.
P = ParamSpec("P")


def _is_async_callable(func: Any) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or (
        callable(func) and inspect.iscoroutinefunction(func.__call__)
    )


class BackgroundTask:
    """One call, ``func(*args, **kwargs)``, kept for later; ``await task()`` runs it."""

    def __init__(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = _is_async_callable(func)

    async def __call__(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await run_in_threadpool(self.func, *self.args, **self.kwargs)


class BackgroundTasks(BackgroundTask):
    """An ordered list of tasks; ``await tasks()`` runs them one after another."""

    def __init__(self, tasks: Optional[Sequence[BackgroundTask]] = None) -> None:
        self.tasks = list(tasks) if tasks else []

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    # The spelling of Ignyx's first README.
    add = add_task

    async def __call__(self) -> None:
        # One failing task is logged and does not stop the ones after it: nothing queued
        # for after the response is silently dropped.
        telemetry = sys.modules.get("ignyx.telemetry._api")  # loaded once an app has it on
        for task in self.tasks:
            try:
                if telemetry is None:
                    await task()
                else:
                    with telemetry.operation("background_task", task.func):
                        await task()
            except Exception as exc:
                logging.getLogger("ignyx.error").exception("Exception in background task")
                report_fault(exc)
                if telemetry is not None:
                    telemetry.exception(exc)
