"""Every use of asyncio's private attributes, in one place.

The engine steps the worker's event loop from Rust (``src/runtime/event_loop.rs``) and
runs request coroutines as tasks of its own (``src/runtime/task.rs``); both need a few
of asyncio's internals. They are all named here and nowhere else, in Python or Rust: the
Rust side calls the functions and methods of this module, or reads what they hand over.
For a new CPython release, read this table against that release's ``asyncio`` sources and
run the suite on it (``make pytest PY=python3.X VENV=.venv3X``).

"checked" is where the attribute was read in asyncio's sources and exercised by the suite
(``tests/test_asyncio_internals.py`` names each one; the whole suite ran on 3.11.7, 3.12.1
and 3.13.0, that test alone on 3.10.13):

===========================================  ==================================  =========
private attribute                            what it is for                      checked
===========================================  ==================================  =========
``BaseEventLoop._run_once()``                one iteration, never blocking       3.10-3.13
                                             (``DrivenLoop.step``); the loop's
                                             ``run_forever`` is not used while
                                             serving
``BaseEventLoop._ready``                     the deque of callbacks due now;     3.10-3.13
                                             never replaced, so handed over
                                             once (``ready_queue``)
``BaseEventLoop._scheduled``                 the timer heap; ``_run_once`` may   3.10-3.13
                                             replace it, so ``step`` hands it
                                             over each time
``TimerHandle._when``                        when the earliest timer is due      3.10-3.13
``BaseEventLoop._thread_id``, ``_stopping``  set around the iterations, as       3.10-3.13
                                             ``run_forever`` does (``begin``,
                                             ``end``)
``BaseEventLoop._check_closed()``,           the checks ``run_forever`` makes    3.10-3.13
``_check_running()``                         first (``begin``)
``BaseEventLoop._asyncgen_firstiter_hook``,  the async-generator hooks           3.10-3.13
``_asyncgen_finalizer_hook``                 ``run_forever`` installs (``begin``)
``BaseSelectorEventLoop._selector``          the selector, whose descriptor      3.10-3.13
                                             tokio watches (``selector_fileno``)
``asyncio.events._set_running_loop``         makes the loop the I/O thread's     3.10-3.13
                                             running loop while it is stepped
``asyncio.tasks._current_tasks``             loop -> current task, the dict      3.10-3.13
                                             ``current_task()`` reads; set
                                             directly for each step
``asyncio.tasks._enter_task``,               the same, for a CPython where       3.10-3.13
``_leave_task``                              ``_current_tasks`` is gone
``Future._asyncio_future_blocking``          the flag a future raises when a     3.10-3.13
                                             task awaits it; checked and
                                             cleared as asyncio's Task does
``Handle._cancelled``, ``_run()``,           what ``_run_once`` reads of a       3.11, 3.13
``_callback``, ``_args``, ``_loop``          handle in the ready deque, offered
                                             by the engine's ``Handle``
``format_helpers._format_callback_source``   how a handle names its callback,    3.11, 3.13
                                             in its repr and in the report of
                                             an exception it raised
===========================================  ==================================  =========

While the loop is not in debug mode, its ``call_soon`` is the engine's (``CallSoon``,
``src/runtime/callbacks.rs``): the same deque, a ``Handle`` made in Rust. In debug mode it is
asyncio's, with its checks and tracebacks.

``CoroutineTask`` (Rust) also offers ``_fut_waiter`` and ``_must_cancel``, attributes of
``asyncio.Task`` that anyio reads; they are its own, not asyncio's.
"""

from __future__ import annotations

import asyncio
import asyncio.format_helpers
import selectors
import sys
import threading
from collections import deque
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Optional

from ._core import CallSoon

#: The attribute a future raises when a task awaits it (read and cleared from Rust).
FUTURE_BLOCKING = "_asyncio_future_blocking"


def set_running_loop(loop: Optional[asyncio.AbstractEventLoop]) -> None:
    """Makes `loop` the calling thread's running loop (``None``: no running loop)."""
    asyncio.events._set_running_loop(loop)


def current_task_registry() -> Optional[dict[Any, Any]]:
    """The dict ``asyncio.current_task()`` reads (loop -> task), or ``None`` where this
    CPython keeps the current task elsewhere (then use `enter_task`/`leave_task`)."""
    registry = getattr(asyncio.tasks, "_current_tasks", None)
    return registry if isinstance(registry, dict) else None


def enter_task(loop: asyncio.AbstractEventLoop, task: Any) -> None:
    """Makes `task` the current task of `loop` for a step."""
    asyncio.tasks._enter_task(loop, task)


def leave_task(loop: asyncio.AbstractEventLoop, task: Any) -> None:
    """Ends the step of `task` on `loop`."""
    asyncio.tasks._leave_task(loop, task)


class _Selector(selectors.DefaultSelector):
    """The loop's selector; while the engine drives the loop it never blocks, and is
    asked at all only when its descriptor is readable."""

    driven = False
    #: Set by ``step``: whether this iteration should look for I/O.
    io = True
    #: Whether the last look found any.
    found = False

    def select(self, timeout: Optional[float] = None) -> list:
        if not self.driven:
            return super().select(timeout)
        if not self.io:
            return []
        events = super().select(0)
        self.found = bool(events)
        return events


class DrivenLoop(asyncio.SelectorEventLoop):
    """A selector loop that an outside driver steps one iteration at a time.

    ``begin``/``end`` bracket the driving on the driver's thread and do what
    ``run_forever`` does around its iterations; in between, the driver calls ``step``.
    """

    if TYPE_CHECKING:
        # The private parts of asyncio's loop that this one drives (typeshed has none).
        _selector: _Selector
        _ready: deque[asyncio.Handle]
        _scheduled: list[asyncio.TimerHandle]
        _stopping: bool
        _thread_id: Optional[int]

        def _run_once(self) -> None: ...
        def _check_closed(self) -> None: ...
        def _check_running(self) -> None: ...
        def _asyncgen_firstiter_hook(self, agen: AsyncGenerator[Any, Any]) -> None: ...
        def _asyncgen_finalizer_hook(self, agen: AsyncGenerator[Any, Any]) -> None: ...

    def __init__(self) -> None:
        super().__init__(_Selector())
        self._saved_asyncgen_hooks: Any = None

    def set_debug(self, enabled: bool) -> None:
        """Also chooses the ``call_soon``: asyncio's in debug mode, the engine's otherwise
        (asyncio's ``__init__`` calls this once)."""
        super().set_debug(enabled)
        if enabled or self.is_closed():
            vars(self).pop("call_soon", None)
        else:
            vars(self)["call_soon"] = CallSoon(self._ready, self)

    def close(self) -> None:
        super().close()
        # asyncio's `call_soon` says that the loop is closed.
        vars(self).pop("call_soon", None)

    def selector_fileno(self) -> int:
        """The descriptor the driver watches: readable when the loop has I/O."""
        return self._selector.fileno()

    def ready_queue(self) -> deque[asyncio.Handle]:
        """The callbacks due now (asyncio never replaces this deque)."""
        return self._ready

    def timer_heap(self) -> list[asyncio.TimerHandle]:
        """The pending timers as the last iteration left them."""
        return self._scheduled

    def begin(self) -> None:
        self._check_closed()
        self._check_running()
        self._thread_id = threading.get_ident()
        self._saved_asyncgen_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook,
            finalizer=self._asyncgen_finalizer_hook,
        )
        self._selector.driven = True

    def end(self) -> None:
        self._selector.driven = False
        self._stopping = False
        self._thread_id = None
        if self._saved_asyncgen_hooks is not None:
            sys.set_asyncgen_hooks(*self._saved_asyncgen_hooks)
            self._saved_asyncgen_hooks = None

    def step(self, io: bool) -> tuple[float, bool, list[asyncio.TimerHandle]]:
        """One iteration, never blocking. Returns ``(delay, io_again, timers)``: 0.0 when
        callbacks are ready, the seconds to the next timer, or -1.0 for none; whether the
        selector should be asked again; and the timer heap as the iteration left it."""
        selector = self._selector
        selector.io = io
        self._run_once()
        io_again = io and selector.found
        timers = self._scheduled
        if self._ready:
            return 0.0, io_again, timers
        if timers:
            # `_when` is what `when()` returns, without a method call on every step.
            delay = timers[0]._when - self.time()  # type: ignore[attr-defined]
            return (delay if delay > 0.0 else 0.0), io_again, timers
        return -1.0, io_again, timers


def _callback_source(handle: Any) -> str:
    return asyncio.format_helpers._format_callback_source(handle._callback, handle._args)


def handle_repr(handle: Any) -> str:
    """The repr of the engine's ``Handle``, as asyncio writes its own."""
    info = [type(handle).__name__]
    if handle.cancelled():
        info.append("cancelled")
    if handle._callback is not None:
        info.append(_callback_source(handle))
    return f"<{' '.join(info)}>"


def callback_failed(handle: Any, exc: BaseException) -> None:
    """Reports `exc`, raised by the callback of the engine's `handle`, to the loop's exception
    handler, as asyncio's ``Handle._run`` does."""
    loop = handle._loop
    if loop is None:
        raise exc  # the loop is gone: nowhere else to report it
    message = f"Exception in callback {_callback_source(handle)}"
    loop.call_exception_handler({"message": message, "exception": exc, "handle": handle})


__all__: list[str] = [
    "FUTURE_BLOCKING",
    "DrivenLoop",
    "callback_failed",
    "current_task_registry",
    "enter_task",
    "handle_repr",
    "leave_task",
    "set_running_loop",
]
