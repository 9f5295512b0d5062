"""Run by ``make test-wheel`` with the Python of a venv that installed Ignyx from its sdist:
the package imported is the installed one, and the README's quick start serves over a
socket. (Not a pytest module: that venv has none of the test tools.)"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import ignyx

SOURCE = Path(__file__).resolve().parent.parent / "python"


def main() -> None:
    installed = Path(ignyx.__file__).resolve()
    assert SOURCE not in installed.parents, f"imported from the source tree: {installed}"
    assert "site-packages" in installed.parts, installed

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = f"""
from ignyx import Ignyx
app = Ignyx()

@app.get("/users/{{id}}")
def get_user(id: int):
    return {{"id": id}}

app.run(host="127.0.0.1", port={port})
"""
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "main.py"
        script.write_text(app)
        server = subprocess.Popen([sys.executable, str(script)], cwd=directory)
        try:
            answer = None
            deadline = time.monotonic() + 30
            while answer is None and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/users/7") as response:
                        answer = json.loads(response.read())
                except OSError:
                    time.sleep(0.1)
            assert answer == {"id": 7}, answer
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"ignyx {installed.parent} from the sdist serves the quick start")


if __name__ == "__main__":
    main()
