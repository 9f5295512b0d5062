"""The README's quick start and `examples/app.py`, run for real in a server process and
called the way the README's curl commands call them."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import free_port, http_client, wait_for_port

ROOT = Path(__file__).resolve().parent.parent

# The quick start of issue 2, which must run exactly as written.
QUICK_START = """\
from ignyx import Ignyx
from pydantic import BaseModel

app = Ignyx()

class User(BaseModel):
    name: str
    age: int

@app.get("/")
def hello():
    return {"message": "Ignyx is live"}

@app.get("/users/{id}")
def get_user(id: int):
    return {"id": id}

@app.post("/users")
def create_user(body: User):
    return {"name": body.name, "age": body.age}

app.run(host="0.0.0.0", port=8000)
"""


def normalised(source: str) -> str:
    return re.sub(r"\n{2,}", "\n\n", source.strip())


def readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def readme_curl_examples() -> list[tuple[list[str], str]]:
    """The README's ``$ curl ...`` lines, each with the output line that follows it."""
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    return [
        (shlex.split(line[2:]), lines[i + 1])
        for i, line in enumerate(lines)
        if line.startswith("$ curl ") and i + 1 < len(lines)
    ]


def run_curl(http, argv: list[str]):
    """Sends what ``curl`` would send for `argv` (-X, -H, -d and a URL) with httpx."""
    method, headers, data, url = "GET", {}, None, None
    args = iter(argv[1:])
    for arg in args:
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data"):
            data = next(args).encode()
            if method == "GET":
                method = "POST"
        else:
            url = arg
    path = "/" + url.split("/", 1)[1] if "/" in url else "/"
    return http.request(method, path, headers=headers, content=data)


def serve_and_check(source: str, tmp_path: Path, curl_examples=()) -> None:
    """Runs `source` with its port replaced, checks the three endpoints and the README's
    curl examples, stops it."""
    port = free_port()
    assert 'host="0.0.0.0", port=8000' in source
    script = tmp_path / "quick_start.py"
    # On 127.0.0.1 only, where the tests talk.
    script.write_text(source.replace('host="0.0.0.0", port=8000', f'host="127.0.0.1", port={port}'))
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process)
        with http_client(port, timeout=10) as http:
            # curl http://127.0.0.1:PORT/
            response = http.get("/")
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            assert response.content == b'{"message":"Ignyx is live"}'
            # curl http://127.0.0.1:PORT/users/7
            response = http.get("/users/7")
            assert (response.status_code, response.content) == (200, b'{"id":7}')
            # curl -X POST -H 'content-type: application/json' \
            #      -d '{"name":"Ada","age":36}' http://127.0.0.1:PORT/users
            response = http.post(
                "/users",
                content=b'{"name":"Ada","age":36}',
                headers={"content-type": "application/json"},
            )
            assert (response.status_code, response.content) == (200, b'{"name":"Ada","age":36}')
            response = http.post(
                "/users", content=b'{"name":"Ada"}', headers={"content-type": "application/json"}
            )
            assert response.status_code == 422
            assert response.json()["detail"][0]["loc"] == ["body", "age"]
            for argv, expected in curl_examples:
                assert run_curl(http, argv).text == expected, argv
        process.terminate()
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


def test_example_app_is_the_quick_start():
    assert normalised((ROOT / "examples" / "app.py").read_text()) == normalised(QUICK_START)


def test_example_app_serves_the_quick_start(tmp_path):
    serve_and_check((ROOT / "examples" / "app.py").read_text(), tmp_path)


def test_readme_opens_with_make_run_and_make_test():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh|console)?\n(.*?)```", text, flags=re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make run", "make test"]


def test_readme_quick_start_runs_as_written_and_answers_its_curl_examples(tmp_path):
    blocks = [b for b in readme_python_blocks() if "app.run(" in b]
    assert blocks, "no runnable python block in README.md"
    assert normalised(blocks[0]) == normalised(QUICK_START)
    examples = [e for e in readme_curl_examples() if any("localhost:8000" in a for a in e[0])]
    assert len(examples) >= 3
    serve_and_check(blocks[0], tmp_path, examples)
