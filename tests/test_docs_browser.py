"""Swagger UI and ReDoc, rendered by a real browser: headless Chromium opens ``/docs`` and
``/redoc`` of the shop app and every documented operation shows up in the page.

The pages' JavaScript and CSS come from the npm packages FastAPI's CDN serves (pinned
versions, checked against their registry integrity), fetched once with ``npm pack`` into a
cache directory (``IGNYX_DOCS_ASSETS``, default ``~/.cache/ignyx/docs-assets``) and served
by the app itself, since CI has no internet. Screenshots land in ``test-artifacts/``.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package) and ``npm``; skipped without them.
"""

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

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


def _chromium(url: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
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
                "--virtual-time-budget=30000",
                "--window-size=1280,1600",
                "--hide-scrollbars",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )


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
