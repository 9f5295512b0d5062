"""``ignyx.templating.Jinja2Templates`` against Starlette's: the same pages from the same
templates (escaping, ``url_for``, context processors, status and headers), the response's
``template`` and ``context``, and the older calls Starlette deprecated.
"""

import asyncio
import importlib
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import jinja2
import pytest
from conftest import Dual, differential

PAGES = {
    "item.html": (
        "<title>{{ title }}</title>"
        '<link href="{{ url_for("static", path="css/app.css") }}">'
        "<p>{{ request.url.path }} {{ user }} {{ note }}</p>"
    ),
    "plain.txt": "Hello {{ name }}",
    "nested/part.html": "{% include 'item.html' %}<footer>{{ year }}</footer>",
}

# Starlette's warnings for the calls it deprecated.
NAME_FIRST = (
    "The `name` is not the first parameter anymore. "
    "The first parameter should be the `Request` instance.\n"
    'Replace `TemplateResponse(name, {"request": request})` by `TemplateResponse(request, name)`.'
)
NO_REQUEST = (
    "The `TemplateResponse` now requires the `request` argument.\n"
    'Replace `TemplateResponse(name, {"context": context})` by `TemplateResponse(request, name)`.'
)


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("templating")
    for name, text in PAGES.items():
        (root / "templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "templates" / name).write_text(text)
    (root / "static" / "css").mkdir(parents=True)
    (root / "static" / "css" / "app.css").write_text("body {}")
    return root


def _build(root: Path) -> Any:
    def build(fw: Any) -> Any:
        templating = importlib.import_module(f"{fw.name}.templating")
        static_files = importlib.import_module(f"{fw.name}.staticfiles").StaticFiles
        templates = templating.Jinja2Templates(
            directory=root / "templates",
            context_processors=[lambda request: {"user": request.headers.get("x-user", "anon")}],
        )
        app = fw.FastAPI()
        app.mount("/static", static_files(directory=root / "static"), name="static")

        @app.get("/items/{title}", response_class=fw.responses.HTMLResponse)
        def item(request: fw.Request, title: str, note: str = "") -> Any:
            context = {"title": title, "note": note}
            return templates.TemplateResponse(request, "item.html", context)

        @app.get("/created")
        def created(request: fw.Request) -> Any:
            return templates.TemplateResponse(
                request=request,
                name="nested/part.html",
                context={"title": "new", "year": 2024},
                status_code=201,
                headers={"x-page": "part"},
            )

        @app.get("/text")
        def text(request: fw.Request) -> Any:
            return templates.TemplateResponse(
                request, "plain.txt", {"name": "<you>"}, media_type="text/plain"
            )

        @app.get("/missing")
        def missing(request: fw.Request) -> Any:
            return templates.TemplateResponse(request, "nope.html")

        return app

    return build


@pytest.fixture(scope="module")
def clients(dual: Any, template_dir: Path) -> Dual:
    return dual(_build(template_dir))


@pytest.mark.parametrize(
    "url, headers",
    [
        ("/items/lamp", {}),
        ("/items/%3Cscript%3E?note=a%26b", {"x-user": "<b>ada</b>"}),
        ("/created", {}),
        ("/text", {}),
    ],
)
def test_pages_are_rendered_as_starlette_renders_them(clients, url, headers):
    response = differential(clients, "GET", url, headers=headers)
    theirs = clients.fastapi.get(url, headers=headers)
    assert response.headers.get("x-page") == theirs.headers.get("x-page")
    assert response.headers["content-length"] == theirs.headers["content-length"]


def test_a_page_is_escaped_and_links_to_static_files(clients):
    response = clients.ignyx.get("/items/%3Cscript%3E", headers={"x-user": "<b>ada</b>"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == (
        "<title>&lt;script&gt;</title>"
        '<link href="http://testserver/static/css/app.css">'
        "<p>/items/&lt;script&gt; &lt;b&gt;ada&lt;/b&gt; </p>"
    )


def test_a_missing_template_is_a_server_error_in_both(clients):
    theirs, ours = clients.request("GET", "/missing")
    assert ours.status_code == theirs.status_code == 500


# --- the response object -------------------------------------------------------------------


def _request(path: str = "/page") -> Any:
    from ignyx.requests import Request

    scope = {"type": "http", "method": "GET", "path": path, "headers": [(b"host", b"t")]}
    return Request(scope)


def test_the_response_keeps_its_template_and_context(template_dir):
    from ignyx.background import BackgroundTask
    from ignyx.templating import Jinja2Templates

    templates = Jinja2Templates(directory=str(template_dir / "templates"))
    request = _request()
    task = BackgroundTask(print)
    response = templates.TemplateResponse(
        request, "plain.txt", {"name": "x"}, status_code=202, background=task
    )
    assert response.template is templates.get_template("plain.txt")
    assert response.template.name == "plain.txt"
    assert response.context == {"name": "x", "request": request}
    assert (response.status_code, response.body, response.background) == (202, b"Hello x", task)


def test_the_response_tells_starlettes_debug_extension_its_template(template_dir):
    from ignyx.templating import Jinja2Templates

    templates = Jinja2Templates(directory=template_dir / "templates")
    response = templates.TemplateResponse(_request(), "plain.txt", {"name": "x"})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "extensions": {"http.response.debug": {}}}
    asyncio.run(response(scope, None, send))
    assert sent[0] == {
        "type": "http.response.debug",
        "info": {"template": response.template, "context": response.context},
    }
    assert [m["type"] for m in sent[1:]] == ["http.response.start", "http.response.body"]


def test_the_old_calls_still_render_with_starlettes_warnings(template_dir):
    from ignyx.templating import Jinja2Templates

    templates = Jinja2Templates(directory=template_dir / "templates")
    request = _request()
    with pytest.warns(DeprecationWarning) as caught:
        old = templates.TemplateResponse("plain.txt", {"request": request, "name": "a"}, 201)
    assert [str(w.message) for w in caught] == [NAME_FIRST]
    assert caught[0].filename == __file__
    assert (old.status_code, old.body, old.context["request"]) == (201, b"Hello a", request)
    with pytest.warns(DeprecationWarning) as caught:
        named = templates.TemplateResponse(name="plain.txt", context={"request": request})
    assert [str(w.message) for w in caught] == [NO_REQUEST]
    assert named.body == b"Hello "
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match='context must include a "request" key'):
            templates.TemplateResponse("plain.txt", {"name": "a"})
        with pytest.raises(ValueError, match='context must include a "request" key'):
            templates.TemplateResponse(name="plain.txt")


def test_the_current_calls_do_not_warn(template_dir):
    from ignyx.templating import Jinja2Templates

    templates = Jinja2Templates(directory=template_dir / "templates")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        templates.TemplateResponse(_request(), "plain.txt")
        templates.TemplateResponse(request=_request(), name="plain.txt", context={"name": "b"})


def test_templates_come_from_several_directories_or_an_environment(template_dir, tmp_path):
    from ignyx.templating import Jinja2Templates

    (tmp_path / "extra.html").write_text("extra {{ 1 + 1 }}")
    several = Jinja2Templates(directory=[tmp_path, template_dir / "templates"])
    assert several.get_template("extra.html").render() == "extra 2"
    assert several.get_template("plain.txt").render(name="z") == "Hello z"

    env = jinja2.Environment(loader=jinja2.DictLoader({"hi.html": "hi {{ url_for }}"}))
    from_env = Jinja2Templates(env=env)
    assert from_env.env is env
    assert "url_for" in env.globals
    with pytest.raises(AssertionError, match="either 'directory' or 'env'"):
        Jinja2Templates()
    with pytest.raises(AssertionError, match="either 'directory' or 'env'"):
        Jinja2Templates(directory=tmp_path, env=env)


def test_without_jinja2_the_import_says_how_to_install_it():
    code = (
        "import sys; sys.modules['jinja2'] = None\n"
        "try:\n"
        "    import ignyx.templating\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install jinja2" in result.stdout
