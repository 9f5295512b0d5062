"""Swagger UI and ReDoc, rendered by a real browser: headless Chromium opens ``/docs`` and
``/redoc`` of the shop app and every documented operation shows up in the page; in Swagger
UI, "Try it out" then "Execute" gets real answers from the server.

The pages' JavaScript and CSS come from the npm packages FastAPI's CDN serves (pinned
versions, checked against their registry integrity), fetched once with ``npm pack`` into a
cache directory (``IGNYX_DOCS_ASSETS``, default ``~/.cache/ignyx/docs-assets``) and served
by the app itself, since CI has no internet. Screenshots land in ``test-artifacts/``.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package) and ``npm``; skipped without them.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from ignyx.responses import Response
from ignyx.server import Server
from test_openapi_validation import ARTIFACTS, build_shop

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)",
)

# npm package -> its tarball's integrity, as the registry publishes it.
PACKAGES = {
    "swagger-ui-dist@5.35.0": "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
    "redoc@2.5.4": "sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==",
}
# URL name -> (package, file in its tarball, media type)
ASSETS = {
    "swagger-ui-bundle.js": (
        "swagger-ui-dist@5.35.0",
        "package/swagger-ui-bundle.js",
        "text/javascript",
    ),
    "swagger-ui.css": ("swagger-ui-dist@5.35.0", "package/swagger-ui.css", "text/css"),
    "redoc.standalone.js": (
        "redoc@2.5.4",
        "package/bundles/redoc.standalone.js",
        "text/javascript",
    ),
}


def _tarball(spec: str, cache: Path) -> Path:
    name, version = spec.rsplit("@", 1)
    path = cache / f"{name}-{version}.tgz"
    if not path.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is missing: cannot fetch Swagger UI and ReDoc")
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "pack", spec, "--pack-destination", str(cache), "--json"],
            capture_output=True,
            text=True,
            cwd=cache,
            timeout=300,
        )
        if result.returncode != 0 or not path.exists():
            pytest.skip(f"npm pack {spec} failed: {result.stderr.strip()[-500:]}")
    digest = base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != PACKAGES[spec]:
        path.unlink()
        pytest.fail(f"{path} does not match the registry's integrity for {spec}")
    return path


@pytest.fixture(scope="module")
def assets() -> dict[str, tuple[bytes, str]]:
    default = Path.home() / ".cache" / "ignyx" / "docs-assets"
    cache = Path(os.environ.get("IGNYX_DOCS_ASSETS", default))
    out = {}
    for url_name, (spec, member, media_type) in ASSETS.items():
        with tarfile.open(_tarball(spec, cache)) as tar:
            out[url_name] = (tar.extractfile(member).read(), media_type)
    return out


@pytest.fixture(scope="module")
def shop(assets: dict[str, tuple[bytes, str]]) -> Any:
    """The shop app, its docs pages loading their assets from the app, served live."""
    app = build_shop(
        swagger_js_url="/assets/swagger-ui-bundle.js",
        swagger_css_url="/assets/swagger-ui.css",
        redoc_js_url="/assets/redoc.standalone.js",
    )
    served: list[str] = []

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        served.append(name)
        body, media_type = assets[name]
        return Response(body, media_type=media_type)

    server = Server(app, "127.0.0.1", 0, graceful_timeout=2.0)
    server.start_in_thread()
    yield app, f"http://127.0.0.1:{server.port}", served
    server.shutdown()


def _flags(profile: str) -> list[str]:
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # Nothing but the app: the CDN-less page must not wait on outside hosts.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--window-size=1280,1600",
        "--hide-scrollbars",
    ]


def _chromium(url: str, *args: str) -> subprocess.CompletedProcess:
    # Chromium's helper processes may still be writing the profile as it is removed.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        return subprocess.run(
            [*_flags(profile), "--virtual-time-budget=30000", *args, url],
            capture_output=True,
            text=True,
            timeout=180,
        )


class _Page:
    """One browser tab driven through the DevTools protocol."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.last_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.last_id:
                assert "error" not in message, message
                return message["result"]

    def evaluate(self, script: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")


@contextmanager
def _browser_page() -> Iterator[_Page]:
    from websockets.sync.client import connect

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        log = Path(profile) / "chromium.log"
        with log.open("w") as stderr:
            # Its own process group, so that stopping it stops its helper processes too.
            browser = subprocess.Popen(
                [*_flags(profile), "--remote-debugging-port=0", "about:blank"],
                stderr=stderr,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            port = None
            while port is None and time.monotonic() < deadline:
                time.sleep(0.1)
                found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", log.read_text())
                port = found and found.group(1)
            assert port, "Chromium did not open its DevTools port: " + log.read_text()[-2000:]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
                targets = json.load(answer)
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            with connect(url, max_size=None) as socket:
                yield _Page(socket)
        finally:
            try:
                os.killpg(browser.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            browser.wait(timeout=30)


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"method": method, "path": path, **operation}
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _screenshot(url: str, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    result = _chromium(url, f"--screenshot={path}")
    assert path.exists(), result.stderr[-2000:]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def test_swagger_ui_renders_every_operation(shop: Any) -> None:
    app, base, served = shop
    document = app.openapi()
    dom = _chromium(f"{base}/docs", "--dump-dom").stdout
    assert '<div id="swagger-ui">' in dom
    missing = [
        (op["method"], op["path"])
        for op in _operations(document)
        if f'id="operations-{op["tags"][0]}-{op["operationId"]}"' not in dom
        or f'data-path="{op["path"]}"' not in dom
        or op["summary"] not in dom
    ]
    assert missing == []
    assert {"swagger-ui-bundle.js", "swagger-ui.css"} <= set(served)
    assert _screenshot(f"{base}/docs", "docs-swagger-ui.png").stat().st_size > 20_000


def test_redoc_renders_every_operation(shop: Any) -> None:
    app, base, served = shop
    document = app.openapi()
    dom = _chromium(f"{base}/redoc", "--dump-dom").stdout
    missing = [
        (op["method"], op["path"])
        for op in _operations(document)
        if f'id="tag/{op["tags"][0]}/operation/{op["operationId"]}"' not in dom
        or op["summary"] not in dom
    ]
    assert missing == []
    assert "redoc.standalone.js" in served
    assert _screenshot(f"{base}/redoc", "docs-redoc.png").stat().st_size > 20_000


# Waits (15 s at most) for `find()` to give something, in the page.
_UNTIL = """
  const until = async (find, what) => {
    for (let i = 0; i < 300; i++) {
      const found = find();
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("timed out waiting for " + what);
  };
"""

# Runs in the page: opens an operation, presses "Try it out" and focuses its input, if any.
_TRY_IT_OUT = """
(async () => {
%(until)s  const block = await until(() => document.getElementById(%(block)s), "the operation");
  block.querySelector(".opblock-summary-control").click();
  (await until(() => block.querySelector(".try-out__btn"), "Try it out")).click();
  const input = %(input)s && await until(() => block.querySelector(%(input)s), "the input");
  if (input) input.focus();
  return true;
})()
"""

# Runs in the page: presses "Execute" and returns the live response Swagger UI shows.
_EXECUTE = """
(async () => {
%(until)s  await new Promise((resolve) => setTimeout(resolve, 1000));  // typing is debounced
  const block = document.getElementById(%(block)s);
  block.querySelector("button.execute").click();
  const row = await until(() => block.querySelector(".live-responses-table tbody tr"), "a response");
  const body = await until(() => row.querySelector(".response-col_description pre"), "its body");
  return {
    status: row.querySelector(".response-col_status").textContent.trim(),
    body: body.textContent,
    url: block.querySelector(".request-url pre").textContent,
  };
})()
"""


def _try_it_out(page: _Page, block: str, input_selector: str = "", text: str = "") -> Any:
    """Opens the operation `block`, types `text` into its input and executes it."""
    args = {"until": _UNTIL, "block": json.dumps(block), "input": json.dumps(input_selector)}
    page.evaluate(_TRY_IT_OUT % args)
    if text:
        page.call("Input.insertText", text=text)  # typed as a user would, for React to see
    return page.evaluate(_EXECUTE % args)


def test_swagger_ui_try_it_out_gets_real_answers(shop: Any) -> None:
    """What a user does first: open an operation, "Try it out", "Execute", read the answer."""
    _, base, _ = shop
    with _browser_page() as page:
        page.call("Page.navigate", url=f"{base}/docs")
        read = _try_it_out(
            page,
            "operations-items-read_item_items__item_id__get",
            'input[placeholder="item_id"]',
            "1",
        )
        created = _try_it_out(page, "operations-items-create_item_items_post")
        shot = page.call("Page.captureScreenshot", format="png")
    assert read["url"] == f"{base}/items/1"
    assert read["status"] == "200"
    assert json.loads(read["body"])["name"] == "Hammer"
    # The request body Swagger UI fills in from the schema is valid, so the item is created.
    assert created["url"] == f"{base}/items"
    assert created["status"] == "201"
    assert json.loads(created["body"])["category"] == "tools"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "docs-swagger-ui-try-it-out.png").write_bytes(base64.b64decode(shot["data"]))
