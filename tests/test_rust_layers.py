"""The engine's modules import only the layers below them, and sibling files of one folder
never import each other in a circle. Read from the sources, as a reviewer would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

# From the bottom up; a module may use only modules of a lower rank.
RANKS = {
    "pycall": 0,
    "runtime": 1,
    "json": 1,
    "router": 1,
    "store": 1,
    "layers": 2,
    "http": 3,
    "ws": 4,
    "app": 5,
    "server": 6,
    "asgi": 6,
    # The fuzz targets' entry points drive the parsers of the layers below.
    "fuzzing": 7,
}

_CRATE_PATH = re.compile(r"\bcrate::(\w+)")
_SUPER_PATH = re.compile(r"\bsuper::(\w+)")
_SUPER_GROUP = re.compile(r"\buse super::\{([^}]*)\}")


def _code(path: Path) -> str:
    """The file without comments and without its `#[cfg(test)]` tail."""
    text = path.read_text()
    text = re.sub(r"//[^\n]*", "", text)
    return text.split("#[cfg(test)]")[0]


def _top_module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.rs") if p.name != "lib.rs" and "tests" not in p.parts)


def test_every_module_has_a_rank():
    assert {_top_module(p) for p in _sources()} == set(RANKS)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_modules_use_only_the_layers_below_them(path):
    own = _top_module(path)
    used = set(_CRATE_PATH.findall(_code(path))) - {own}
    upward = {name for name in used if RANKS.get(name, -1) >= RANKS[own]}
    assert not upward, f"{path.relative_to(SRC)} ({own}) uses {sorted(upward)}"


def _sibling_edges(folder: Path) -> dict[str, set[str]]:
    files = {p.stem for p in folder.glob("*.rs") if p.name != "mod.rs"}
    edges: dict[str, set[str]] = {name: set() for name in files}
    for name in files:
        code = _code(folder / f"{name}.rs")
        used = set(_SUPER_PATH.findall(code))
        for group in _SUPER_GROUP.findall(code):
            used |= {item.strip().split("::")[0] for item in group.split(",")}
        edges[name] = (used & files) - {name}
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


@pytest.mark.parametrize(
    "folder", sorted(p for p in SRC.iterdir() if p.is_dir()), ids=lambda p: p.name
)
def test_sibling_files_do_not_import_each_other_in_a_circle(folder):
    cycle = _cycle(_sibling_edges(folder))
    assert not cycle, f"{folder.name}: " + " -> ".join(cycle)


def test_the_checks_see_a_cycle_and_an_upward_use():
    # The checks themselves: an invented folder with a circle, and a runtime file that
    # names the HTTP layer, are both caught.
    assert _cycle({"channel": {"session"}, "session": {"channel"}}) == [
        "channel",
        "session",
        "channel",
    ]
    used = set(_CRATE_PATH.findall("use crate::http::Reply;")) - {"runtime"}
    assert {name for name in used if RANKS[name] >= RANKS["runtime"]} == {"http"}
