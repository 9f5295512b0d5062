"""The engine's code that a served app runs lies together, first in the library
(``link/hot_text.ld``, handed to the linker by ``build.rs``): the kernel maps a library's code
in blocks around what runs, so scattered, that code made 3.4 MiB of the engine's text
resident in every server; together, 1.2-1.8 MiB.
"""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import ignyx._core
import pytest
from conftest import http_client, served_script

ENGINE = Path(ignyx._core.__file__)

# What a server's engine code may hold resident after serving the app below, cached in small
# folios (see _copied_package): 1.6 MiB with the layout, 1.8 MiB with the wheel's engine
# (its symbols' hashes differ from make build's: link/hot_text.ld names them by pattern, and
# a few are missed), 3.4 MiB without the layout.
MOST_RESIDENT_KIB = 2560

APP = """
import sys

from ignyx import Depends, Ignyx
from ignyx.middleware import CORSMiddleware
from ignyx.responses import PlainTextResponse
from pydantic import BaseModel

app = Ignyx()
app.add_middleware(CORSMiddleware, allow_origins=["*"])


class User(BaseModel):
    name: str
    age: int


def one() -> int:
    return 1


@app.get("/plaintext")
def plaintext():
    return PlainTextResponse("Hello, World!")


@app.get("/users/{id}")
def get_user(id: int, extra: int = Depends(one)):
    return {"id": id, "extra": extra}


@app.post("/users")
def create_user(user: User):
    return user


@app.get("/async")
async def async_route():
    return {"message": "Hello, World!"}


app.run(host="127.0.0.1", port=int(sys.argv[1]))
"""


def _sections(library: Path) -> dict[str, int]:
    """The sizes of an ELF64 library's sections, by name, from its section headers."""
    data = library.read_bytes()
    assert data[:5] == b"\x7fELF\x02", f"{library} is not an ELF64 file"
    (table,) = struct.unpack_from("<Q", data, 0x28)
    entry, count, names_index = struct.unpack_from("<HHH", data, 0x3A)
    # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, ...
    headers = [struct.unpack_from("<IIQQQQ", data, table + i * entry) for i in range(count)]
    names = headers[names_index][4]

    def name(offset: int) -> str:
        start = names + offset
        return data[start : data.index(b"\0", start)].decode()

    return {name(header[0]): header[5] for header in headers}


def _resident_code_kib(pid: int, engine: Path) -> int:
    """`engine`'s executable mapping in process `pid`: how much of it is resident."""
    mapped = in_engine = False
    resident = 0
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":"):  # a mapping's line; then "Key: value" lines about it
            in_engine = fields[1] == "r-xp" and fields[-1] == str(engine)
            mapped = mapped or in_engine
        elif in_engine and fields[0] == "Rss:":
            resident += int(fields[1])
    assert mapped, f"no executable mapping of {engine} in process {pid}"
    return resident


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the layout is made on Linux")


def test_the_engine_puts_the_code_apps_run_first():
    sections = _sections(ENGINE)
    assert ".text.hot" in sections, "built without link/hot_text.ld (see build.rs)"
    # ~1 MB of functions, which a rename or a stale script would leave in .text instead.
    assert sections[".text.hot"] > 700 * 1024, sections[".text.hot"]


def _copied_package(directory: Path) -> Path:
    """A copy of the installed package in `directory`, written 64 KiB at a time; the copy
    of the engine.

    The kernel maps a file's code a page-cache folio at a time, and at least 64 KiB around
    a fault: a file written in one piece, as pip writes the engine, is cached in folios of
    up to 2 MiB, which map whole (3.7 MiB of the engine's code resident with the layout,
    measured), until the cache lets them go. Written in pieces, as a copy or a linker
    writes a file, it is cached in small ones, and what is resident shows how the code
    lies, which is what this measures."""
    package = ENGINE.parent

    def copy(source: str, target: str) -> None:
        with open(source, "rb") as reading, open(target, "wb") as writing:
            shutil.copyfileobj(reading, writing, 64 * 1024)

    shutil.copytree(package, directory / package.name, copy_function=copy)
    return directory / package.name / ENGINE.name


def test_a_served_app_maps_little_of_the_engine_code(tmp_path):
    engine = _copied_package(tmp_path / "site")
    env = {"PYTHONPATH": str(tmp_path / "site")}
    with served_script(tmp_path / "app.py", APP, env) as (process, port):
        with http_client(port, timeout=10) as http:
            for i in range(200):
                assert http.get("/plaintext").text == "Hello, World!"
                assert http.get(f"/users/{i}").json() == {"id": i, "extra": 1}
                user = {"name": "Ada", "age": i}
                assert http.post("/users", json=user).json() == user
                assert http.get("/async").json() == {"message": "Hello, World!"}
            assert http.get("/users/abc").status_code == 422
            assert http.get("/nowhere").status_code == 404
        resident = _resident_code_kib(process.pid, engine)
    assert resident <= MOST_RESIDENT_KIB, (
        f"{resident} KiB of the engine's code resident: the code apps run is scattered again "
        "(make hot-text writes link/hot_text.ld from the engine as it is)"
    )
