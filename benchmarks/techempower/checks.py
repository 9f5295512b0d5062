"""What a correct answer to each TechEmpower test is, checked over a real socket before
anything is measured (``run.py``) and by ``tests/test_techempower.py``.

Every answer must be a 200 with the test's Content-Type, a ``Date`` header, and TechEmpower's
``Server`` header; the body is checked for its shape and values (``World`` rows with ids and
numbers in 1..10000, as many as the ``queries`` rule asks, the fortunes page's rows in order
and escaped), the updates are read back from the database, plaintext is sent 16 requests
pipelined in one write, and the two frameworks' fortunes pages must be byte for byte the
same.
"""

from __future__ import annotations

import email.utils
import json
import socket
import sys
import time
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from harness.servers import _request  # noqa: E402

from .postgres import ADDED_FORTUNE, FORTUNES  # noqa: E402

# The page's rows, as a reader sees them: sorted by message, the added one among them.
EXPECTED_FORTUNES = [(str(i), m) for i, m in sorted([*FORTUNES, ADDED_FORTUNE], key=lambda f: f[1])]

# `queries` as sent, and how many rows TechEmpower's rule answers with.
QUERY_COUNTS: list[tuple[Optional[str], int]] = [
    (None, 1),
    ("", 1),
    ("foo", 1),
    ("0", 1),
    ("-3", 1),
    ("1", 1),
    ("20", 20),
    ("500", 500),
    ("501", 500),
]

PIPELINE_DEPTH = 16

# Problem kinds: a missing Server header is told apart (builds of Ignyx before its
# server_header setting sent none).
WRONG = "wrong"
NO_SERVER_HEADER = "no-server-header"


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes


@dataclass
class Problem:
    framework: str
    test: str
    what: str
    kind: str = WRONG

    def __str__(self) -> str:
        return f"{self.framework} {self.test}: {self.what}"


def fetch(base_url: str, path: str) -> Answer:
    status, headers, body = _request(base_url + path)
    return Answer(status, headers, body)


def _preview(body: bytes, limit: int = 120) -> str:
    text = body.decode(errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _media(value: Optional[str]) -> tuple[str, dict[str, str]]:
    parts = [p.strip() for p in (value or "").split(";")]
    params = {}
    for p in parts[1:]:
        name, _, v = p.partition("=")
        params[name.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params


def content_type_problems(answer: Answer, media: str, charset: Optional[str]) -> list[str]:
    """`media` wanted; with `charset`, that charset too (else any or none)."""
    value = answer.headers.get("Content-Type")
    got, params = _media(value)
    if got != media or (charset and params.get("charset") != charset):
        want = media + (f"; charset={charset}" if charset else "")
        return [f"Content-Type {value!r}, wanted {want!r}"]
    return []


def header_problems(answer: Answer) -> list[tuple[str, str]]:
    """(what, kind) for TechEmpower's required headers: Date (an HTTP date, within a minute
    of now) and Server."""
    out = []
    date = answer.headers.get("Date")
    if not date:
        out.append(("no Date header", WRONG))
    else:
        try:
            when = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            out.append((f"Date {date!r} is not an HTTP date", WRONG))
        else:
            if abs(when - time.time()) > 60:
                out.append((f"Date {date!r} is more than a minute off", WRONG))
    if not answer.headers.get("Server"):
        out.append(("no Server header (TechEmpower requires one)", NO_SERVER_HEADER))
    return out


def _json(answer: Answer) -> tuple[Any, list[str]]:
    try:
        return json.loads(answer.body), []
    except ValueError:
        return None, [f"body is not JSON: {_preview(answer.body)}"]


def world_problems(value: Any, where: str = "") -> list[str]:
    """A World row: exactly {"id": 1..10000, "randomNumber": 1..10000}, both integers."""
    if not isinstance(value, dict) or set(value) != {"id", "randomNumber"}:
        return [f"{where}{value!r} is not an object with exactly id and randomNumber"]
    bad = [
        key
        for key in ("id", "randomNumber")
        if type(value[key]) is not int or not 1 <= value[key] <= 10000
    ]
    return [f"{where}{key} {value[key]!r} is not an integer in 1..10000" for key in bad]


def check_json(answer: Answer) -> list[str]:
    out = content_type_problems(answer, "application/json", None)
    value, bad = _json(answer)
    if bad:
        return out + bad
    if value != {"message": "Hello, World!"}:
        out.append(f'body {_preview(answer.body)}, wanted {{"message":"Hello, World!"}}')
    return out


def check_plaintext(answer: Answer) -> list[str]:
    out = content_type_problems(answer, "text/plain", None)
    if answer.body != b"Hello, World!":
        out.append(f"body {_preview(answer.body)}, wanted 'Hello, World!'")
    return out


def check_db(answer: Answer) -> list[str]:
    out = content_type_problems(answer, "application/json", None)
    value, bad = _json(answer)
    return out + (bad or world_problems(value))


def check_worlds(answer: Answer, count: int) -> list[str]:
    """A JSON array of `count` World rows (/queries and /updates)."""
    out = content_type_problems(answer, "application/json", None)
    value, bad = _json(answer)
    if bad:
        return out + bad
    if not isinstance(value, list):
        return out + [f"body is not a JSON array: {_preview(answer.body)}"]
    if len(value) != count:
        out.append(f"{len(value)} rows, wanted {count}")
    for i, world in enumerate(value):
        out += world_problems(world, f"row {i}: ")
        if len(out) > 5:
            break
    return out


class _Table(HTMLParser):
    """The text of each <td> row of a page, and whether its markup is the expected shape."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.headings: list[str] = []
        self.tags: list[str] = []
        self._cell: Optional[list[str]] = None
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = []
        elif tag == "th":
            self._in_th = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_th:
            self.headings[-1] += data


def check_fortunes(answer: Answer) -> list[str]:
    out = content_type_problems(answer, "text/html", "utf-8")
    try:
        page = answer.body.decode("utf-8")
    except UnicodeDecodeError:
        return out + ["body is not UTF-8"]
    if not page.lstrip().lower().startswith("<!doctype html>"):
        out.append(f"page does not begin with <!DOCTYPE html>: {_preview(answer.body)}")
    if "<script>" in page:
        out.append("the <script> fortune is not escaped")
    table = _Table()
    table.feed(page)
    table.close()
    if "script" in table.tags:
        out.append("the page has a <script> element")
    if [h.strip() for h in table.headings] != ["id", "message"]:
        out.append(f"table headings {table.headings!r}, wanted ['id', 'message']")
    rows = [tuple(r) for r in table.rows if r]
    if rows != EXPECTED_FORTUNES:
        wrong = next(
            (f"row {i}: {got!r}, wanted {want!r}"
             for i, (got, want) in enumerate(zip(rows, EXPECTED_FORTUNES, strict=False)) if got != want),
            f"{len(rows)} rows, wanted {len(EXPECTED_FORTUNES)}",
        )  # fmt: skip
        out.append(f"fortune rows are not TechEmpower's, sorted by message: {wrong}")
    for tag in ("html", "head", "title", "body", "table"):
        if tag not in table.tags:
            out.append(f"no <{tag}> in the page")
    return out


def check_updates(
    answer: Answer, count: int, before: dict[int, int], after: dict[int, int]
) -> list[str]:
    """The rows answered are in the database as answered (`after`, read once the answer
    came), and the request changed the database (`before`, read just before it): some row
    answered has a new number. With `count` random numbers in 1..10000, that none of them
    differs from the old one has a chance of 1e-4 ** count."""
    out = check_worlds(answer, count)
    if out:
        return out
    worlds = json.loads(answer.body)
    ids = [w["id"] for w in worlds]
    if len(set(ids)) != len(ids):
        out.append("the same id is updated twice in one request")
    stale = [w for w in worlds if after.get(w["id"]) != w["randomNumber"]]
    if stale:
        w = stale[0]
        out.append(
            f"{len(stale)} of {count} rows answered are not in the database as answered "
            f"(id {w['id']}: answered {w['randomNumber']}, the table has {after.get(w['id'])})"
        )
    changed = {i for i in after if after[i] != before.get(i)}
    if count >= 5 and not changed & set(ids):
        out.append("no row answered changed in the database")
    if changed - set(ids):
        out.append(f"rows not answered changed too: {sorted(changed - set(ids))[:5]}")
    return out


def pipelined(base_url: str, path: str, depth: int = PIPELINE_DEPTH) -> list[Answer]:
    """`depth` GETs of `path` written at once on one connection (HTTP/1.1 pipelining), and
    the answers read back in order (each must have a Content-Length)."""
    url = urlsplit(base_url)
    one = f"GET {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n\r\n".encode()
    answers: list[Answer] = []
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(one * depth)
        buf = b""
        while len(answers) < depth:
            head_end = buf.find(b"\r\n\r\n")
            if head_end >= 0:
                head = buf[:head_end].decode("latin-1").split("\r\n")
                msg = Message()
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    msg[name.strip()] = value.strip()
                length = msg.get("Content-Length")
                if length is None:
                    raise ValueError(f"answer {len(answers) + 1} has no Content-Length: {head}")
                end = head_end + 4 + int(length)
                if len(buf) >= end:
                    status = int(head[0].split()[1])
                    answers.append(Answer(status, msg, buf[head_end + 4 : end]))
                    buf = buf[end:]
                    continue
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError(f"connection closed after {len(answers)} of {depth} answers")
            buf += chunk
    return answers


def verify(
    urls: dict[str, str], read_worlds: Callable[[], dict[int, int]]
) -> tuple[list[Problem], dict[str, Any]]:
    """Checks every test on every framework (`urls`: name -> base URL); `read_worlds` reads
    the World table. Returns the problems, and what was seen (the fortunes page of each)."""
    problems: list[Problem] = []
    seen: dict[str, Any] = {"fortunes": {}}

    def judge(name: str, test: str, answer: Answer, found: list[str]) -> None:
        if answer.status != 200:
            found = [f"status {answer.status}: {_preview(answer.body)}"]
        problems.extend(Problem(name, test, what) for what in found)
        problems.extend(Problem(name, test, what, kind) for what, kind in header_problems(answer))

    for name, base in urls.items():
        try:
            a = fetch(base, "/json")
            judge(name, "GET /json", a, check_json(a))
            a = fetch(base, "/plaintext")
            judge(name, "GET /plaintext", a, check_plaintext(a))
            a = fetch(base, "/db")
            judge(name, "GET /db", a, check_db(a))
            for value, count in QUERY_COUNTS:
                path = "/queries" if value is None else f"/queries?queries={value}"
                a = fetch(base, path)
                judge(name, f"GET {path}", a, check_worlds(a, count))
            a = fetch(base, "/fortunes")
            judge(name, "GET /fortunes", a, check_fortunes(a))
            seen["fortunes"][name] = a.body
            for value, count in [("20", 20), ("1", 1), ("0", 1), ("foo", 1), ("501", 500)]:
                path = f"/updates?queries={value}"
                before = read_worlds()
                a = fetch(base, path)
                after = read_worlds()
                judge(name, f"GET {path}", a, check_updates(a, count, before, after))
            answers = pipelined(base, "/plaintext")
            for i, a in enumerate(answers):
                judge(name, f"GET /plaintext pipelined ({i + 1}/{len(answers)})", a,
                      check_plaintext(a))  # fmt: skip
        except (OSError, ValueError) as e:
            problems.append(Problem(name, "requests", f"failed: {e}"))
    pages = seen["fortunes"]
    if len(set(pages.values())) > 1:
        names = list(pages)
        first = pages[names[0]]
        for other in names[1:]:
            if pages[other] != first:
                at = next(
                    (
                        i
                        for i, (x, y) in enumerate(zip(first, pages[other], strict=False))
                        if x != y
                    ),
                    min(len(first), len(pages[other])),
                )
                problems.append(
                    Problem(
                        other,
                        "GET /fortunes",
                        f"page differs from {names[0]}'s from byte {at}: "
                        f"{pages[other][at : at + 60]!r} against {first[at : at + 60]!r}",
                    )
                )
    return problems, seen
