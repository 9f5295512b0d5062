"""The event loop's own socket reads (a database driver's, an HTTP client's) do not map and
unmap memory each time. asyncio reads into a 256 KiB buffer that it shrinks before freeing,
which keeps glibc's malloc serving every such read with an mmap of its own unless its
threshold has been raised (``src/runtime/malloc_threshold.rs``): an mmap, an mremap and a
munmap a read, a third more CPU a request on TechEmpower's single query. Checked in a real
server after reads on its loop: a buffer of a read's size comes from the heap, not from an
mmap of its own (glibc's ``mallinfo2``)."""

from __future__ import annotations

import http.client
import sys

import pytest
from conftest import get_json, served_script

_APP = """
import asyncio
import ctypes
import sys

from ignyx import Ignyx

app = Ignyx()
link = {}


async def echo(reader, writer):
    while data := await reader.read(100):
        writer.write(data)
        await writer.drain()


@app.on_event("startup")
async def connect():
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link["server"] = server
    link["reader"], link["writer"] = await asyncio.open_connection("127.0.0.1", port)


@app.get("/echo")
async def echo_once():
    link["writer"].write(b"ping")
    await link["writer"].drain()
    return {"echo": (await link["reader"].readexactly(4)).decode()}


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]


mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2


@app.get("/mapped")
def mapped():
    # How many blocks malloc has mapped on their own, before and while a buffer the size of
    # an asyncio read is held.
    before = mallinfo2().hblks
    buffer = bytes(256 * 1024)
    during = mallinfo2().hblks
    del buffer
    return {"mapped": during - before}


app.run(host="127.0.0.1", port=int(sys.argv[1]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_loops_socket_reads_are_not_each_mapped_and_unmapped(tmp_path):
    with served_script(tmp_path / "app.py", _APP, {"IGNYX_ACCESS_LOG": "0"}) as (_, port):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(20):
            assert get_json(connection, "/echo") == {"echo": "ping"}
        assert get_json(connection, "/mapped") == {"mapped": 0}
