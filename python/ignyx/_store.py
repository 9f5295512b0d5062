"""Replies from Redis (``ignyx._core.RedisClient``), handed to the asyncio future that
waits for them on its own event loop."""

from __future__ import annotations

import asyncio
from typing import Any


class StoreError(ConnectionError):
    """Redis could not be reached in time, or refused a command."""


def settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Resolves `future` with a reply (`ok`), or with a StoreError saying `value`; a
    future cancelled meanwhile is left alone."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(StoreError(value))


async def execute(client: Any, *args: Any, again_if_cut: bool = False) -> Any:
    """The reply to the command `args` sent through `client` (sent once more on a new
    connection if the one it went on broke, with `again_if_cut`: for commands that may be
    repeated)."""
    future = asyncio.get_running_loop().create_future()
    client.execute(future, *args, again_if_cut=again_if_cut)
    return await future
