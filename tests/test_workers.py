"""`app.run(workers=N)`: N processes share one listening socket and stop together."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import httpx

APP = textwrap.dedent(
    """
    import os
    import sys

    from ignyx import Ignyx

    app = Ignyx()


    @app.on_event("shutdown")
    def bye():
        print(f"worker {os.getpid()} shut down", file=sys.stderr, flush=True)


    @app.get("/pid")
    def pid():
        return {"pid": os.getpid()}


    app.run(host="127.0.0.1", port=int(sys.argv[1]), workers=2)
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_workers_share_the_port_and_stop_together(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(APP)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        pids: set[int] = set()
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                # A new connection each time: the kernel spreads them over the workers.
                with httpx.Client(timeout=2) as client:
                    pids.add(client.get(f"http://127.0.0.1:{port}/pid").json()["pid"])
            except httpx.TransportError:
                time.sleep(0.05)
        assert len(pids) == 2
        assert process.pid not in pids  # the parent only supervises
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()
    for pid in pids:
        assert f"worker {pid} shut down" in stderr
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pass
        else:
            raise AssertionError(f"worker {pid} still running")
