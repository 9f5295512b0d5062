"""Every example of the documentation runs, and every output it shows is what the app gives,
so that no page can drift from the code. The pages (``docs/**/*.md``) follow these rules:

- A ```` ```python ```` block is an example: it runs as a module of its own, from the page's
  working directory (a temporary one). When the line before it is ``<!-- continues -->``,
  it runs in the module of the python block before it instead, as a tutorial adds to its
  ``main.py``. After it runs, each ``test_*`` function it defines is called.
- ``app.run(...)`` does not serve: its arguments are checked as ``app.run`` checks them, and
  the app is served by ``TestClient`` (the real engine, on a free port) for the transcripts.
- A ```` ```console ```` block is a transcript of curl commands against the ``app`` of the
  python block before it, as ``http://localhost:8000``. Each ``$ curl ...`` line (a
  trailing ``\\`` continues it) is sent as curl sends it; the lines after it, up to the next
  ``$``, are what curl prints, compared without the final newline. Options understood:
  ``-X``, ``-H``, ``-d``/``--data``, ``--json``, ``-F`` (``name=value``, ``name=@file``),
  ``-u``, ``-b``/``-c`` (cookie jars by file name, or ``-b 'a=1'``), ``-i`` (the status
  line, then only the headers shown, then the body), ``-I``, ``-L``, ``-o /dev/null``,
  ``-w '%{http_code}\\n'``, ``--compressed``, and ``-s``/``-N`` (which change nothing
  shown). A command may end in ``| jq`` (``-c``, ``-r``, and a path such as ``.paths``):
  the body is then read as JSON and printed as jq prints it. Anything else fails the test.
- A block with a title (```` ```html title="templates/item.html" ````) is a file the
  examples read: written under that path in the working directory before the page runs.
- The documented Redis, ``redis://127.0.0.1:6379/0``, is replaced by the test's own
  (the ``redis_server`` fixture).
- What cannot run (a shell command, a config file) is fenced as ``bash``, ``text``, ``ini``...

A runnable block is never indented (in a list or an admonition), so that none escapes.
"""

from __future__ import annotations

import ast
import base64
import http
import inspect
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import httpx
import pytest
from ignyx.app import Ignyx
from ignyx.config import Config
from ignyx.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))
DOCUMENTED_REDIS = "redis://127.0.0.1:6379/0"
CONTINUES = "<!-- continues -->"

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
TITLE = re.compile(r'title="([^"]+)"')


@dataclass
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    lang: str
    title: Optional[str]
    body: str
    continues: bool
    indented: bool

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def blocks_of(page: str) -> list[Block]:
    text = (DOCS / page).read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
        title = TITLE.search(match["info"])
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start()) + 1,
                lang=match["lang"],
                title=title[1] if title else None,
                body=match["body"],
                continues=before == CONTINUES,
                indented=bool(match["indent"]),
            )
        )
    return found


# --- curl, as the transcripts use it ----------------------------------------------------


@dataclass
class Curl:
    """One ``curl`` command line, read."""

    url: str
    method: Optional[str] = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: Optional[bytes] = None
    form: list[tuple[str, str]] = field(default_factory=list)
    include: bool = False
    head_only: bool = False
    follow: bool = False
    discard_body: bool = False
    write_out: Optional[str] = None
    compressed: bool = False
    user: Optional[str] = None
    send_jar: Optional[str] = None
    save_jar: Optional[str] = None
    jq: Optional[list[str]] = None


def read_curl(command: str) -> Curl:
    words = shlex.split(command)
    jq = None
    if "|" in words:
        at = words.index("|")
        words, jq = words[:at], words[at + 1 :]
        assert jq and jq[0] == "jq", f"only `| jq` may follow curl: {command}"
    assert words[0] == "curl", f"a transcript's commands are curl commands: {command}"
    curl = Curl(url="", jq=jq)
    form_encoded = False  # -d sends a form unless a content-type is given
    args = iter(words[1:])
    for arg in args:
        if arg == "-X":
            curl.method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(":")
            curl.headers.append((name.strip(), value.strip()))
        elif arg in ("-d", "--data", "--data-raw"):
            curl.data = next(args).encode()
            form_encoded = True
        elif arg == "--json":
            curl.data = next(args).encode()
            curl.headers += [("content-type", "application/json"), ("accept", "application/json")]
        elif arg == "-F":
            name, _, value = next(args).partition("=")
            curl.form.append((name, value))
        elif arg == "-u":
            curl.user = next(args)
        elif arg == "-b":
            curl.send_jar = next(args)
        elif arg == "-c":
            curl.save_jar = next(args)
        elif arg == "-o":
            assert next(args) == "/dev/null", "-o writes only to /dev/null here"
            curl.discard_body = True
        elif arg == "-w":
            curl.write_out = next(args)
        elif arg == "-i":
            curl.include = True
        elif arg == "-I":
            curl.include = curl.head_only = True
            curl.method = curl.method or "HEAD"
        elif arg == "-L":
            curl.follow = True
        elif arg == "--compressed":
            curl.compressed = True
        elif arg in ("-s", "-N", "-sN", "--no-buffer"):
            pass
        elif arg.startswith("-"):
            raise AssertionError(f"curl option {arg} is not understood by the test: {command}")
        else:
            curl.url = arg
    assert curl.url, f"no URL: {command}"
    if form_encoded and not any(name.lower() == "content-type" for name, _ in curl.headers):
        curl.headers.append(("content-type", "application/x-www-form-urlencoded"))
    return curl


class Transcript:
    """Runs curl commands against an app served by TestClient, as http://localhost:8000."""

    def __init__(self, app: Any) -> None:
        self.client = TestClient(app, base_url="http://localhost:8000", follow_redirects=False)
        self.client.headers = httpx.Headers()  # curl's own are set on each request
        self.jars: dict[str, httpx.Cookies] = {}

    def close(self) -> None:
        self.client.close()

    def run(self, curl: Curl) -> str:
        """What curl prints for `curl`."""
        url = curl.url if "://" in curl.url else "http://" + curl.url
        # curl's own headers, unless the command gives its own; a header given twice is sent
        # twice.
        given = [(name.lower(), value) for name, value in curl.headers]
        named = {name for name, _ in given}
        own = [("user-agent", "curl/8.5.0"), ("accept", "*/*")]
        if curl.compressed:
            own.append(("accept-encoding", "deflate, gzip, br, zstd"))
        cookies = httpx.Cookies()
        if curl.send_jar is not None:
            if "=" in curl.send_jar:
                for pair in curl.send_jar.split(";"):
                    name, _, value = pair.strip().partition("=")
                    cookies.set(name, value)
            else:
                cookies = self.jars.get(curl.send_jar, httpx.Cookies())
        if cookies:
            own.append(("cookie", "; ".join(f"{c.name}={c.value}" for c in cookies.jar)))
        if curl.user is not None:
            own.append(("authorization", "Basic " + base64.b64encode(curl.user.encode()).decode()))
        headers = [(name, value) for name, value in own if name not in named] + given
        files, data = [], {}
        for name, value in curl.form:
            if value.startswith("@"):
                path = Path(value[1:])
                files.append((name, (path.name, path.read_bytes())))
            else:
                data[name] = value
        if curl.form:
            headers = [(name, value) for name, value in headers if name != "content-type"]
        method = curl.method or ("POST" if curl.data is not None or curl.form else "GET")
        self.client.cookies.clear()
        request = self.client.build_request(
            method,
            url,
            headers=headers,
            content=curl.data,
            data=data or None,
            files=files or None,
        )
        if "accept-encoding" not in dict(headers) and "accept-encoding" in request.headers:
            del request.headers["accept-encoding"]  # httpx's own; curl sends none
        response = self.client.send(request, follow_redirects=curl.follow)
        if curl.save_jar is not None:
            jar = self.jars.setdefault(curl.save_jar, httpx.Cookies())
            jar.extract_cookies(response)
        return self.printed(curl, response)

    @staticmethod
    def printed(curl: Curl, response: httpx.Response) -> str:
        parts = []
        if curl.include:
            head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
            head += [f"{name}: {value}" for name, value in response.headers.multi_items()]
            parts.append("\n".join(head) + "\n\n")
        if not curl.discard_body and not curl.head_only:
            body = response.text
            if curl.jq is not None:
                body = jq(curl.jq, response.json())
            parts.append(body)
        if curl.write_out is not None:
            parts.append(
                curl.write_out.replace("%{http_code}", str(response.status_code)).replace(
                    "\\n", "\n"
                )
            )
        return "".join(parts)


def jq(argv: list[str], document: Any) -> str:
    """What ``jq [-c] [-r] [PATH]`` prints for `document` (PATH: ``.a.b``, ``."x/y"``,
    ``.[0]``, ``.a[1]``)."""
    compact = raw = False
    path = "."
    for arg in argv[1:]:
        if arg == "-c":
            compact = True
        elif arg == "-r":
            raw = True
        else:
            path = arg
    step = r'\.(\w+)|\."([^"]*)"|\[(\d+)\]'
    assert path == "." or re.fullmatch(f"(?:{step})+", path), f"jq path {path!r} is not understood"
    value = document
    for name, quoted, index in re.findall(step, path):
        value = value[int(index)] if index else value[name or quoted]
    if raw and isinstance(value, str):
        return value + "\n"
    if compact:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def commands_of(block: Block) -> list[tuple[str, str]]:
    """A transcript's commands, each with what the page says it prints."""
    commands: list[tuple[str, list[str]]] = []
    lines = iter(block.body.rstrip("\n").split("\n"))
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + next(lines).strip()
            commands.append((command, []))
        else:
            assert commands, f"{block.where}: a transcript starts with a `$ curl` line"
            commands[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in commands]


# The pages show the status lines of Python 3.11, the README's. Python 3.13 renamed a few
# phrases (RFC 9110's names: 413 "Content Too Large", 422 "Unprocessable Content"), and
# Ignyx, as uvicorn, writes the running Python's.
PAGES_PYTHON_PHRASES = {
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
}


def same_status(status: str, shown: str) -> bool:
    """Whether a status line printed is the one the page shows, written for this Python."""
    version, code, phrase = shown.split(" ", 2)
    if PAGES_PYTHON_PHRASES.get(int(code)) == phrase:
        shown = f"{version} {code} {http.HTTPStatus(int(code)).phrase}"
    return status == shown


def matches(curl: Curl, printed: str, shown: str) -> bool:
    """Whether what curl printed is what the page shows (with `-i`, the headers shown are
    checked, and any others the page leaves out are not)."""
    if not curl.include:
        return printed.rstrip("\n") == shown.rstrip("\n")
    head, _, body = printed.partition("\n\n")
    shown_head, _, shown_body = shown.rstrip("\n").partition("\n\n")
    status, *headers = head.split("\n")
    shown_status, *shown_headers = shown_head.split("\n")
    given = {line.lower() for line in headers}
    return (
        same_status(status, shown_status)
        and all(line.lower() in given for line in shown_headers)
        and body.rstrip("\n") == shown_body.rstrip("\n")
    )


# --- the pages ------------------------------------------------------------------------


def defined_tests(source: str) -> list[str]:
    return [
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


class Page:
    """One page's examples, run in order."""

    def __init__(self, page: str, redis_url: Optional[str]) -> None:
        self.page = page
        self.redis_url = redis_url
        self.module: Optional[ModuleType] = None
        self.transcript: Optional[Transcript] = None
        self.runs = 0
        self.modules: list[str] = []  # in sys.modules while the page runs
        # Transcripts that differ from what curl prints, all reported at the end.
        self.mismatches: list[str] = []

    def close(self) -> None:
        if self.transcript is not None:
            self.transcript.close()
            self.transcript = None

    def finish(self) -> None:
        self.close()
        for name in self.modules:
            sys.modules.pop(name, None)

    def python(self, block: Block) -> None:
        self.close()  # the next transcript serves the app as this block leaves it
        source = block.body
        if self.redis_url is not None:
            source = source.replace(DOCUMENTED_REDIS, self.redis_url)
        if not block.continues or self.module is None:
            assert not block.continues, f"{block.where}: continues no python block"
            self.runs += 1
            name = "docs_" + re.sub(r"\W", "_", self.page) + f"_{self.runs}"
            self.module = ModuleType(name)
            self.module.__file__ = str(Path.cwd() / "main.py")
            sys.modules[name] = self.module  # pydantic resolves its models' names there
            self.modules.append(name)
        # Blank lines first, so that a traceback's line numbers are the page's.
        code = compile("\n" * block.line + source, str(DOCS / block.page), "exec")
        exec(code, self.module.__dict__)
        for test in defined_tests(source):
            self.module.__dict__[test]()

    def console(self, block: Block) -> None:
        assert self.module is not None, f"{block.where}: a transcript needs an app before it"
        if self.transcript is None:
            app = self.module.__dict__.get("app")
            assert app is not None, f"{block.where}: the example before it has no `app`"
            self.transcript = Transcript(app)
        for command, shown in commands_of(block):
            curl = read_curl(command)
            printed = self.transcript.run(curl)
            if not matches(curl, printed, shown):
                self.mismatches.append(
                    f"{block.where}: `{command}` printed\n{printed}\nwhere the page shows\n{shown}"
                )


def run_app_checked(self: Any, *args: Any, **kwargs: Any) -> None:
    """Stands in for ``Ignyx.run``: the call is checked as the real one checks it."""
    bound = inspect.signature(RUN).bind(self, *args, **kwargs).arguments
    settings = {**bound.pop("settings", {})}
    metrics = bound.pop("metrics", None)
    given = {name: value for name, value in bound.items() if name != "self"}
    if metrics not in (None, False):
        given["metrics_port"] = 9100 if metrics is True else metrics
    Config.resolve({**given, **settings}, environ={})


RUN = Ignyx.run


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_of_the_page_run_and_show_what_they_print(
    page: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = blocks_of(page)
    indented = [b.where for b in blocks if b.indented and b.lang in ("python", "console")]
    assert not indented, f"runnable blocks inside a list or an admonition: {indented}"
    redis_url = None
    if any(DOCUMENTED_REDIS in b.body for b in blocks if b.lang == "python"):
        redis_url = request.getfixturevalue("redis_server").url
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Ignyx, "run", run_app_checked)
    for block in blocks:
        if block.title is not None:
            target = tmp_path / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body)
    runner = Page(page, redis_url)
    try:
        for block in blocks:
            if block.lang == "python":
                runner.python(block)
            elif block.lang == "console":
                runner.console(block)
    finally:
        runner.finish()
    assert not runner.mismatches, "\n\n".join(runner.mismatches)


def test_no_example_is_fenced_where_it_would_not_be_checked() -> None:
    """A transcript outside ```console, or Python outside ```python, would not be checked."""
    for page in PAGES:
        for block in blocks_of(page):
            if block.lang in ("bash", "sh", "shell", "text"):
                assert not block.body.lstrip().startswith("$ curl"), (
                    f"{block.where}: a curl transcript belongs in a ```console block"
                )
            if block.lang in ("py", "python3", "pycon"):
                raise AssertionError(f"{block.where}: Python examples are fenced ```python")


def test_the_configuration_page_lists_every_setting() -> None:
    """A setting added to ``ignyx.config.Config`` must be documented with its flag."""
    text = (DOCS / "guide" / "configuration.md").read_text()
    flags = ["--" + name.replace("_", "-") for name in Config.names()]
    assert [flag for flag in flags if f"`{flag}`" not in text] == []


def test_the_performance_tables_are_the_measured_ones() -> None:
    """Each table row of the performance page is a row of the README's or of
    ``benchmarks/README.md``'s tables, where the measurements are recorded."""
    measured = (ROOT / "README.md").read_text() + (ROOT / "benchmarks" / "README.md").read_text()
    rows = [
        line
        for line in (DOCS / "performance.md").read_text().splitlines()
        if line.startswith("| ") and not line.startswith(("| endpoint |", "| row |"))
    ]
    assert rows, "the performance page has no table rows"
    assert [row for row in rows if row not in measured] == []


def test_the_site_builds_with_no_warning(tmp_path: Path) -> None:
    """``mkdocs build --strict``: no broken link, no missing page, no unresolved reference,
    and nothing fetched from a network (no web fonts, no CDN)."""
    try:
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError:
        pytest.skip("mkdocs is not installed: `make docs` installs requirements-dev.txt")
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    remote = re.compile(r"""<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//[^"]+""")
    for page in site.rglob("*.html"):
        assert not remote.findall(page.read_text()), f"{page} loads something from a network"
    for page in PAGES:
        assert (site / page.replace(".md", "") / "index.html").exists() or page.endswith(
            "index.md"
        ), f"docs/{page} is not in the site"
