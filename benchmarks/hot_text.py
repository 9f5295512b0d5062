"""Writes ``link/hot_text.ld``: the engine's functions that a served app runs, placed first.

The kernel maps a shared library's code into a process in blocks around what runs (64 KiB
at a time here), so the code that runs, 753 KiB scattered over the engine's 5.5 MB of text,
made 3.3 MiB of it resident. The linker script this writes puts those functions in one
output section, ``.text.hot``, before the rest of ``.text`` (``build.rs`` hands it to the
linker on Linux), and 1.2 MiB is resident.

Which functions run is counted by callgrind: the benchmark app, with its access log on (an
app's default), started under valgrind and loaded on every route ``make bench`` measures,
a 404 and two 422s among them. Valgrind names only the functions of ``.text``, so this runs
on a build without the layout (``IGNYX_HOT_TEXT=0``). Functions are named twice: by their
exact symbols first (``make build`` gives a crate the same hash each time, until its
dependencies or features change: run this again then), so that the code that ran lies
together; then by pattern, without the hash at the end of their symbol, for the wheel's
build, whose hashes differ. The allocator's code goes in whole (see ``ALLOCATOR``).

    make hot-text        # builds without the layout, runs this, builds with the new script

Run it again when the engine's code changes much; ``tests/test_hot_text.py`` fails when
the layout no longer keeps the code a served app runs together.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "link" / "hot_text.ld"
APP = ROOT / "benchmarks" / "apps" / "ignyx_app.py"
PORT = int(os.environ.get("PORT", "8078"))

# Loaded for two seconds each, by as many connections as make bench (paths that run only
# under contention, such as a contended lock, run too): (path, wrk's script).
LOADS = [
    ("/plaintext", None),
    ("/users/7", None),
    ("/users", "benchmarks/post_user.lua"),  # POSTs a User
    ("/sync", None),
    ("/async", None),
    ("/deps", None),
]
# Answered once or twice: a long stream, and the errors every app gives.
ONCE = [
    ("GET", "/jsonl", None, 200),
    ("GET", "/nowhere", None, 404),
    ("GET", "/users/abc", None, 422),
    ("POST", "/users", b'{"name": "Ada"}', 422),
]

_HASH = re.compile(r"17h[0-9a-f]{16}E$")
# LLVM's suffix on a Rust function local to the library, ".llvm.<n>" or ".<n>": a number in
# the order of the library's symbols, which any change to the code shifts.
_LLVM_SUFFIX = re.compile(r"\.(llvm\.)?\d+$")
_GCC_CLONE = re.compile(r"\.(isra|constprop|part|cold)\.\d+.*$")
_NAME_TABLES = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn"}


def _request(method: str, path: str, body: bytes | None, pause: float = 0.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    headers = {"content-type": "application/json"} if body else {}
    connection.connect()
    time.sleep(pause)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def _profile(out: Path) -> Path:
    """Runs the app under callgrind through the workload; the path of its dump."""
    env = {**os.environ, "IGNYX_ACCESS_LOG": "1"}
    server = subprocess.Popen(
        [
            "valgrind", "--tool=callgrind", "--demangle=no",
            f"--callgrind-out-file={out}/callgrind.%p",
            sys.executable, str(APP), str(PORT),
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(240):
            try:
                if _request("GET", "/plaintext", None) == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit("the app did not start under valgrind")
        for path, script in LOADS:
            wrk = ["wrk", "-t1", "-c64", "-d2s", f"http://127.0.0.1:{PORT}{path}"]
            if script:
                wrk[1:1] = ["-s", script]
            subprocess.run(wrk, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        for method, path, body, status in ONCE:
            got = _request(method, path, body)
            assert got == status, f"{method} {path}: {got}, expected {status}"
        # A client that connects and sends its request a moment later, as clients do when
        # connecting takes longer than valgrind's server takes to accept: the server waits
        # for its first bytes (wrk's are there by the time valgrind's server looks).
        assert _request("GET", "/plaintext", None, pause=1.0) == 200
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
    (dump,) = out.glob("callgrind.*")
    return dump


def run_functions(dump: Path) -> set[str]:
    """The functions of the engine's library that ran, as its symbols name them."""
    names: dict[str, dict[str, str]] = {"ob": {}, "fn": {}}
    current_object = callee_object = ""
    ran: set[str] = set()

    def engine(path: str) -> bool:
        return Path(path).name.startswith("_core.") and Path(path).parent.name == "ignyx"

    for line in dump.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        table = _NAME_TABLES.get(key)
        if table is None:
            continue
        # Callgrind names each object and function once, "(id) name", then "(id)" alone.
        ident, _, name = value.partition(" ")
        if name:
            names[table][ident] = name
        name = names[table].get(ident, ident)
        if key == "ob":
            current_object = name
        elif key == "cob":
            callee_object = name
        elif key == "fn" and engine(current_object):
            ran.add(name)
        elif key == "cfn":
            if engine(callee_object or current_object):
                ran.add(name)
            callee_object = ""
    # "'2" marks a recursive call; an address, what valgrind could not name (a handful).
    return {symbol.split("'")[0] for symbol in ran if not symbol.startswith("0x")}


def _sections(name: str) -> str:
    """The input sections a function named `name` (a pattern) may be in: its own, and those
    compilers give functions marked cold (slow paths that run all the same) or run at load."""
    return f".text.{name} .text.unlikely.{name} .text.startup.{name}"


def _rust(symbol: str) -> bool:
    return symbol.startswith(("_ZN", "_R"))  # Rust's mangling, legacy and v0


def exact(symbol: str) -> str:
    """The input sections of `symbol`'s function in this build: only LLVM's numbered suffix
    left open (`make build` builds the engine's crates with the same hashes each time)."""
    if not _rust(symbol):
        return pattern(symbol)
    return _sections(_LLVM_SUFFIX.sub("", symbol) + "*")


def pattern(symbol: str) -> str:
    """The input sections of `symbol`'s function in any build, as linker script patterns: a
    Rust symbol's hash (its crate's build, not its code) and LLVM's numbered suffix left
    open; a C function's copy that GCC specialised, in its original's section."""
    if _rust(symbol):
        name = _HASH.sub("17h", _LLVM_SUFFIX.sub("", symbol)) + "*"
    else:
        name = _GCC_CLONE.sub("", symbol) + "*"
    return _sections(name)


# The allocator's code, all of it (75 KiB): which of its slow paths run (a page moved between
# queues, a heap reclaimed) depends on timing that valgrind's one-thread-at-a-time run does
# not reproduce, and one of them left alone in .text maps a block of its own.
ALLOCATOR = ("mi_*", "_mi_*", "__mi_*")


def script(functions: set[str]) -> str:
    """The linker script: the functions by their exact names first, so that in this build
    they lie together, and the allocator; then by pattern, which places them in a build
    whose hashes differ (the wheel's: zig and `--target`), with every other instance of a
    generic function that ran (in this build, after the ones that ran)."""
    exacts = sorted(set(map(exact, functions)))
    exacts += [_sections(name) for name in ALLOCATOR]
    patterns = sorted(set(map(pattern, functions)) - set(exacts))
    lines = [
        "/* The engine's functions a served app runs, placed together before the rest of its",
        "   code: written by benchmarks/hot_text.py (make hot-text), read by build.rs. */",
        "SECTIONS {",
        "  .text.hot : {",
        *(f"    *({p})" for p in exacts),
        "    /* The same functions in a build whose crates' hashes differ. */",
        *(f"    *({p})" for p in patterns),
        "  }",
        "} INSERT BEFORE .text;",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    engine = importlib.util.find_spec("ignyx._core")
    assert engine and engine.origin, "ignyx is not built: make build"
    sections = subprocess.run(["readelf", "-SW", engine.origin], capture_output=True, text=True)
    if ".text.hot" in sections.stdout:
        # Valgrind names only the functions of .text: the hot ones would go unseen.
        raise SystemExit("profile a build without the layout: IGNYX_HOT_TEXT=0 (make hot-text)")
    with tempfile.TemporaryDirectory() as out:
        functions = run_functions(_profile(Path(out)))
    SCRIPT.parent.mkdir(exist_ok=True)
    SCRIPT.write_text(script(functions))
    print(f"{SCRIPT.relative_to(ROOT)}: {len(functions)} functions")


if __name__ == "__main__":
    main()
