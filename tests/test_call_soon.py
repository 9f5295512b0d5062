"""The engine's loop schedules ``call_soon`` callbacks in Rust (``src/runtime/callbacks.rs``):
what a program sees of them is what asyncio's own loop shows, checked side by side: the
order, the arguments, the context, cancelling, the repr, an exception's report, a closed
loop; debug mode keeps asyncio's own; and a server keeps serving when a callback fails."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
from typing import Any, Callable

import pytest
from conftest import http_client, live_server
from ignyx import FastAPI, _core
from ignyx._asyncio_internals import DrivenLoop

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "engine": DrivenLoop,
}

HAS_GET_CONTEXT = sys.version_info >= (3, 12)

tag: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="unset")


def fail(value: Any) -> None:
    raise ValueError(value)


def observe(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> dict[str, Any]:
    """What one scenario shows on a loop made by `make_loop`."""
    loop = make_loop()
    seen: list[Any] = []
    reports: list[tuple[str, str, str]] = []
    loop.set_exception_handler(
        lambda _, c: reports.append((c["message"], repr(c["exception"]), repr(c["handle"])))
    )
    try:
        own = contextvars.copy_context()
        own.run(tag.set, "own")
        tag.set("when scheduled")
        first = loop.call_soon(seen.append, "first")
        given = loop.call_soon(lambda: seen.append(tag.get()), context=own)
        copied = loop.call_soon(lambda: seen.append(tag.get()))
        tag.set("after")
        dropped = loop.call_soon(seen.append, "cancelled")
        dropped.cancel()
        loop.call_soon(fail, 7)
        loop.call_soon(seen.extend, ("a", "b"))
        loop.call_soon_threadsafe(seen.append, "threadsafe")
        # Scheduled by a callback: runs in the next iteration, after the ones due now.
        loop.call_soon(lambda: loop.call_soon(seen.append, "next round"))
        loop.call_soon(seen.append, "last of this round")
        reprs = (repr(first), repr(dropped))
        states = (first.cancelled(), dropped.cancelled())
        # `get_context` is asyncio's from Python 3.12; the engine's handles have it on any.
        contexts = (
            (given.get_context() is own, copied.get_context() is not own)
            if hasattr(given, "get_context")
            else None
        )
        # What asyncio's debug log reads of a handle.
        attributes = (first._callback == seen.append, first._args, dropped._callback)
        loop.run_until_complete(asyncio.sleep(0))
        loop.run_until_complete(asyncio.sleep(0))
        outcome = {
            "seen": seen,
            "reports": reports,
            "reprs": reprs,
            "states": states,
            "attributes": attributes,
            "contexts": contexts,
        }
    finally:
        loop.close()
    with pytest.raises(RuntimeError) as closed:
        loop.call_soon(seen.append, "after close")
    outcome["closed"] = str(closed.value)
    return outcome


def test_callbacks_show_what_asyncios_loop_shows():
    theirs, ours = observe(LOOPS["asyncio"]), observe(LOOPS["engine"])
    assert ours.pop("contexts") == (True, True)
    assert theirs.pop("contexts") == ((True, True) if HAS_GET_CONTEXT else None)
    assert ours == theirs
    assert ours["seen"][:4] == ["first", "own", "when scheduled", "a"]
    # With its arguments on Python 3.12 and before; from 3.13 asyncio shows them in debug mode.
    assert ours["reports"][0][0].startswith("Exception in callback fail(")


@pytest.mark.parametrize("name", list(LOOPS))
def test_system_exit_in_a_callback_leaves_the_loop(name):
    loop = LOOPS[name]()
    try:
        loop.call_soon(sys.exit, 3)
        with pytest.raises(SystemExit):
            loop.run_forever()
    finally:
        loop.close()


def test_the_engines_handles_are_its_own_and_debug_mode_gets_asyncios():
    loop = DrivenLoop()
    try:
        assert type(loop.call_soon(print)) is _core.Handle
        loop.set_debug(True)
        assert type(loop.call_soon(print)) is asyncio.Handle
        loop.set_debug(False)
        assert type(loop.call_soon(print)) is _core.Handle
    finally:
        loop.close()


def test_a_failing_callback_is_logged_and_the_server_keeps_serving(caplog):
    app = FastAPI()

    @app.get("/schedule")
    async def schedule():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        handle = loop.call_soon(fail, "from a callback")
        loop.call_soon(done.set_result, "set by a callback")
        return {"handle": type(handle).__module__, "result": await done}

    with caplog.at_level(logging.ERROR, logger="asyncio"), live_server(app) as server:
        with http_client(server.port) as client:
            for _ in range(3):
                response = client.get("/schedule")
                assert response.json() == {"handle": "ignyx._core", "result": "set by a callback"}
    failures = [r for r in caplog.records if "Exception in callback fail" in r.getMessage()]
    assert len(failures) == 3
    assert failures[0].exc_info is not None and failures[0].exc_info[0] is ValueError
