"""What the engine needs of asyncio's internals (``ignyx._asyncio_internals``), checked on
the running CPython: a new release that changes one of them fails here, by name, before
it fails anywhere else."""

import asyncio
import re
from pathlib import Path

import pytest
from ignyx import _asyncio_internals as internals

PACKAGE = Path(internals.__file__).resolve().parent
SRC = PACKAGE.parent.parent / "src"


@pytest.fixture
def loop():
    loop = internals.DrivenLoop()
    yield loop
    loop.close()


def test_the_current_task_is_what_current_task_reads(loop):
    async def probe():
        return asyncio.current_task()

    marker = object()
    registry = internals.current_task_registry()

    def run_as(task):
        if registry is not None:
            registry[loop] = task
        else:
            internals.enter_task(loop, task)
        internals.set_running_loop(loop)
        try:
            coro = probe()
            try:
                coro.send(None)
            except StopIteration as done:
                return done.value
        finally:
            internals.set_running_loop(None)
            if registry is not None:
                del registry[loop]
            else:
                internals.leave_task(loop, task)

    assert run_as(marker) is marker


def test_the_running_loop_can_be_set_and_cleared(loop):
    internals.set_running_loop(loop)
    try:
        assert asyncio.get_running_loop() is loop
    finally:
        internals.set_running_loop(None)
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_stepping_runs_callbacks_and_reports_timers(loop):
    ran = []
    loop.begin()
    try:
        ready = loop.ready_queue()
        loop.call_soon(ran.append, "soon")
        assert len(ready) == 1
        delay, _io, timers = loop.step(False)
        assert ran == ["soon"] and delay == -1.0 and timers == []
        loop.call_later(30, ran.append, "later")
        delay, _io, timers = loop.step(False)
        assert 29 < delay <= 30 and len(timers) == 1
        assert timers is loop.timer_heap()
        assert loop.ready_queue() is ready
    finally:
        loop.end()


def test_an_awaited_future_raises_the_blocking_flag(loop):
    future = loop.create_future()
    assert getattr(future, internals.FUTURE_BLOCKING) is False
    awaiting = future.__await__()
    assert next(awaiting) is future
    assert getattr(future, internals.FUTURE_BLOCKING) is True


def test_nothing_else_names_a_private_attribute_of_asyncio():
    # The fence holds: no other module, Python or Rust, reaches into asyncio's internals.
    private = re.compile(
        r"_run_once|\b_ready\b|_scheduled|_current_tasks|_enter_task|_leave_task"
        r"|_set_running_loop|_asyncio_future_blocking|_thread_id|_check_closed"
        r"|_check_running|_asyncgen_\w+_hook|_stopping|\b_selector\b|_format_callback_source"
    )
    offenders = []
    for path in [*PACKAGE.rglob("*.py"), *SRC.rglob("*.rs")]:
        if path.name == "_asyncio_internals.py":
            continue
        code = "\n".join(
            line for line in path.read_text().splitlines() if not line.strip().startswith("//")
        )
        offenders += [f"{path.name}: {m}" for m in private.findall(code)]
    assert offenders == []


def test_entering_and_leaving_a_task_sets_the_current_task(loop):
    # The fallback for a CPython without the registry dict, exercised on every CPython.
    marker = object()

    async def probe():
        return asyncio.current_task()

    internals.set_running_loop(loop)
    internals.enter_task(loop, marker)
    try:
        coro = probe()
        with pytest.raises(StopIteration) as done:
            coro.send(None)
        assert done.value.value is marker
    finally:
        internals.leave_task(loop, marker)
        internals.set_running_loop(None)
    assert asyncio.current_task(loop) is None
