"""The deployment recipes of docs/deployment.md, run for real.

Behind nginx: the systemd unit's command line (``ignyx run main:app --workers 4 --host
127.0.0.1 --port 8000 --proxy-headers ...``, on a free port) behind nginx configured with
deploy/nginx/ignyx.conf, whose ports, certificate paths and upstream address are swapped
for the test's by plain replacement. The certificate is one for localhost, signed by a
private authority the test makes with ``openssl``, and every check goes through nginx over
HTTPS, as a browser's request would. The same again on a Unix socket, done as the config's
comment says.

nginx runs in the foreground with its own configuration, pid file, logs and temporary files
under the test's directory, on free loopback ports, and is stopped by its PID, as is every
Ignyx process. `make debian-tools` installs nginx; where it is missing these tests are
skipped.

The other recipes are checked as far as this machine can: the Dockerfile's command serves
its example app and the path the Kubernetes probes call, deploy/kubernetes.yaml parses and
its timings fit together, the systemd unit passes ``systemd-analyze verify``, and the guide
shows the nginx config and the unit exactly as they are in their files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints
from conftest import eventually, free_port, private_authority, wait_for_port
from ignyx.config import Config
from test_cli import SCRIPT, Served, alive, answering_pids, serve, write
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
NGINX_SITE = ROOT / "deploy" / "nginx" / "ignyx.conf"
UNIT = ROOT / "deploy" / "systemd" / "ignyx.service"
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = ROOT / "deploy" / "kubernetes.yaml"
EXAMPLE_APP = ROOT / "deploy" / "app" / "main.py"
GUIDE = ROOT / "docs" / "deployment.md"

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
needs_nginx = pytest.mark.skipif(
    not os.access(NGINX, os.X_OK),
    reason=f"nginx is not installed ({NGINX}); `make debian-tools` installs it",
)
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

# The supervisor kills workers still running this long past --timeout-graceful-shutdown
# (supervisor.py), so whatever stops Ignyx must wait longer than the sum.
SUPERVISOR_MARGIN = 5.0

APP = """
import asyncio
import os

from ignyx import FastAPI, Request, WebSocket

app = FastAPI()


@app.get("/")
def root():
    return {"pid": os.getpid()}


@app.get("/who")
def who(request: Request):
    return {
        "pid": os.getpid(),
        "client": request.client.host,
        "scheme": request.url.scheme,
        "url": str(request.url),
        "url_for": str(request.url_for("who")),
    }


@app.get("/items/")
def items():
    return []


@app.get("/slow/{n}")
async def slow(n: int):
    await asyncio.sleep(0.3)
    return {"n": n, "pid": os.getpid()}


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_json({"scheme": websocket.url.scheme, "client": websocket.client.host})
    while True:
        await websocket.send_text(await websocket.receive_text())
"""

# Forwarding headers a client sends on its own, claiming another address, scheme and host.
SPOOFED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Port": "81",
    "Forwarded": "for=203.0.113.9;proto=http;host=evil.example",
}

# The test's nginx.conf around the guide's site file: everything nginx writes is kept under
# the test's prefix, and nginx stays in the foreground so that its PID is the process's.
MAIN_CONF = """\
daemon off;
{user}
worker_processes 2;
worker_shutdown_timeout 5s;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;

events {{
    worker_connections 1024;
}}

http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/ignyx.conf;
}}
"""


# --- certificates, ports and the site file ------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private authority (ca.pem) and a certificate for localhost it signed (server.pem,
    server.key), as a public authority would sign one for a real name."""
    return private_authority(tmp_path_factory.mktemp("certs"))


def trusting(certs: Path) -> ssl.SSLContext:
    """A client's TLS settings that trust the test's authority, as a browser trusts public ones."""
    return ssl.create_default_context(cafile=str(certs / "ca.pem"))


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6 = _ipv6_loopback()


def free_loopback_port() -> int:
    """A port free on 127.0.0.1 and, where there is IPv6, on ::1 (the site listens on both)."""
    for _ in range(20):
        port = free_port()
        if not IPV6:
            return port
        with socket.socket(socket.AF_INET6) as sock:
            try:
                sock.bind(("::1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free on both 127.0.0.1 and ::1")


@dataclass(frozen=True)
class Ports:
    http: int
    https: int


def site_config(
    ports: Ports, certs: Path, upstream: str, also: Optional[dict[str, str]] = None
) -> str:
    """deploy/nginx/ignyx.conf listening on the test's loopback ports, with its certificate
    and `upstream` (a ``server ...;`` line), and the replacements `also`. Each text replaced
    must be in the file exactly once, so that an edit that moves one fails here, not later."""
    v6 = "listen [::1]:{}" if IPV6 else "# listen [::1]:{}"
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{ports.http};",
        "listen [::]:80;": v6.format(ports.http) + ";",
        "listen 443 ssl": f"listen 127.0.0.1:{ports.https} ssl",
        "listen [::]:443 ssl": v6.format(ports.https) + " ssl",
        "/etc/letsencrypt/live/example.com/fullchain.pem": str(certs / "server.pem"),
        "/etc/letsencrypt/live/example.com/privkey.pem": str(certs / "server.key"),
        "server 127.0.0.1:8000;": upstream,
        **(also or {}),
    }
    text = NGINX_SITE.read_text()
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{NGINX_SITE} should have {old!r} exactly once"
        text = text.replace(old, new)
    return text


def nginx_prefix(prefix: Path, site: str) -> Path:
    """Writes nginx.conf and the site file under `prefix`; returns nginx.conf's path."""
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    (prefix / "ignyx.conf").write_text(site)
    # As root, nginx's workers would run as nobody, who cannot enter the test's private
    # directory (its temporary files, a Unix socket there): they run as the test's user.
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(MAIN_CONF.format(prefix=prefix, user=user))
    return conf


def nginx_command(prefix: Path, conf: Path, *flags: str) -> list[str]:
    return [NGINX, *flags, "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "error.log")]


# --- nginx and Ignyx as processes -----------------------------------------------------------


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (nginx's workers, for its master)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # The command name, in parentheses, may hold spaces: the fields follow its end.
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


@dataclass
class Nginx:
    process: subprocess.Popen
    prefix: Path
    ports: Ports

    def errors(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self, timeout: float = 10.0) -> int:
        """SIGQUIT to the master by its PID, as ``nginx -s quit`` sends it: requests in
        progress finish, then nginx exits."""
        self.process.send_signal(signal.SIGQUIT)
        return self.process.wait(timeout)


@contextlib.contextmanager
def run_nginx(prefix: Path, site: str, ports: Ports) -> Iterator[Nginx]:
    """nginx serving `site` on `ports` until the block ends (stopped by its PID, with its
    workers if it had to be killed)."""
    conf = nginx_prefix(prefix, site)
    process = subprocess.Popen(
        nginx_command(prefix, conf),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nginx = Nginx(process, prefix, ports)
    try:
        try:
            for port in (ports.https, ports.http):
                wait_for_port(port, process, timeout=10)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"nginx: {exc}; error.log:\n{nginx.errors()}")
        yield nginx
    finally:
        if process.poll() is None:
            workers = children(process.pid)
            process.terminate()  # nginx's fast shutdown, which stops its workers too
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
                for pid in workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def unit_command() -> list[str]:
    """The ``ignyx`` arguments of the systemd unit's ExecStart (its program left out)."""
    for line in UNIT.read_text().splitlines():
        if line.startswith("ExecStart="):
            return shlex.split(line.removeprefix("ExecStart="))[1:]
    raise AssertionError(f"{UNIT} has no ExecStart")


def with_value(args: Sequence[str], flag: str, value: str) -> list[str]:
    """`args` with the value after `flag` replaced by `value`."""
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


def every_worker_serving(ignyx: Served, count: int = 4) -> None:
    """Waits until each of the `count` workers has answered a request of its own, and so
    is remembered, to be stopped by its PID whatever happens."""
    pids = answering_pids(ignyx, count)
    assert len(pids) == count, (pids, ignyx.stderr())


@dataclass
class Stack:
    """Ignyx behind nginx, and a client of nginx's public HTTPS address."""

    ignyx: Served
    nginx: Nginx
    certs: Path

    @property
    def public(self) -> str:
        return f"https://localhost:{self.nginx.ports.https}"

    def get(
        self, path: str, *, source: Optional[str] = None, http2: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """GET `path` through nginx on a new connection from the address `source`; the
        worker's pid an answer names is remembered, so that none is left running."""
        transport = httpx.HTTPTransport(
            verify=trusting(self.certs), local_address=source, http2=http2
        )
        with httpx.Client(transport=transport, base_url=self.public, timeout=10) as client:
            response = client.get(path, **kwargs)
        self.remember(response)
        return response

    def remember(self, response: httpx.Response) -> None:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            self.ignyx.pids.add(int(response.json()["pid"]))


@contextlib.contextmanager
def behind_nginx(directory: Path, certs: Path) -> Iterator[Stack]:
    """The systemd unit's command line, on a free port, behind nginx with the guide's site."""
    (directory / "app").mkdir()
    write(directory / "app", {"main.py": APP})
    upstream = free_port()
    args = with_value(unit_command(), "--port", str(upstream))
    ports = Ports(free_loopback_port(), free_loopback_port())
    site = site_config(ports, certs, f"server 127.0.0.1:{upstream};")
    with serve(directory / "app", args, port=upstream) as ignyx:
        every_worker_serving(ignyx, int(args[args.index("--workers") + 1]))
        with run_nginx(directory / "nginx", site, ports) as nginx:
            yield Stack(ignyx, nginx, certs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, certs: Path) -> Iterator[Stack]:
    with behind_nginx(tmp_path_factory.mktemp("stack"), certs) as started:
        yield started


# --- the nginx recipe -------------------------------------------------------------------


@needs_openssl
@needs_nginx
def test_the_site_config_passes_nginx_t(tmp_path, certs):
    """deploy/nginx/ignyx.conf, with the test's ports and certificate, is a configuration
    nginx accepts (``nginx -t``)."""
    ports = Ports(free_loopback_port(), free_loopback_port())
    conf = nginx_prefix(tmp_path, site_config(ports, certs, "server 127.0.0.1:8000;"))
    result = subprocess.run(
        nginx_command(tmp_path, conf, "-t"), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@needs_openssl
@needs_nginx
def test_the_app_sees_the_address_the_client_connected_to_nginx_from(stack):
    """``request.client`` is the client's own address, 127.0.0.2 as well as 127.0.0.1,
    although Ignyx's only peer is nginx on 127.0.0.1: the address comes from the
    X-Forwarded-For nginx sets, believed because nginx is a trusted proxy."""
    assert stack.get("/who").json()["client"] == "127.0.0.1"
    assert stack.get("/who", source="127.0.0.2").json()["client"] == "127.0.0.2"


@needs_openssl
@needs_nginx
def test_a_client_cannot_claim_another_address_scheme_or_host(stack):
    """Forwarding headers a client sends itself, X-Forwarded-* and RFC 7239 Forwarded alike,
    change nothing the app sees: nginx replaces or drops each of them."""
    response = stack.get("/who", source="127.0.0.2", headers=SPOOFED)
    assert response.status_code == 200
    body = response.json()
    del body["pid"]
    url = f"{stack.public}/who"
    assert body == {"client": "127.0.0.2", "scheme": "https", "url": url, "url_for": url}


@needs_openssl
@needs_nginx
@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_the_app_sees_the_public_https_url(stack, http2):
    """Over HTTP/1.1 and HTTP/2 to nginx alike, ``request.url`` and ``url_for`` are the
    public URL (https, nginx's host and port), not Ignyx's own http://127.0.0.1:<port>."""
    response = stack.get("/who", http2=http2)
    assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    body = response.json()
    url = f"{stack.public}/who"
    assert (body["scheme"], body["url"], body["url_for"]) == ("https", url, url)


@needs_openssl
@needs_nginx
def test_a_trailing_slash_redirect_stays_on_the_public_https_url(stack):
    response = stack.get("/items?page=2", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == f"{stack.public}/items/?page=2"


@needs_openssl
@needs_nginx
def test_plain_http_is_redirected_to_https_with_301(stack):
    """The redirect names the same host and path on the default HTTPS port, where the site
    listens in production (the test moved it elsewhere)."""
    response = httpx.get(
        f"http://localhost:{stack.nginx.ports.http}/items/?page=2",
        follow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 301
    assert response.headers["location"] == "https://localhost/items/?page=2"


@needs_openssl
@needs_nginx
def test_a_websocket_upgrades_through_nginx_and_echoes(stack):
    """A wss:// client reaches the app's WebSocket through nginx; the app sees the scheme
    wss and the client's address, and messages, large ones included, come back whole."""
    url = f"wss://localhost:{stack.nginx.ports.https}/ws"
    with connect(url, ssl=trusting(stack.certs), open_timeout=10, close_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=10)) == {"scheme": "wss", "client": "127.0.0.1"}
        for message in ("hello", "x" * 100_000):
            ws.send(message)
            assert ws.recv(timeout=10) == message


@needs_openssl
@needs_nginx
def test_100_requests_in_flight_at_once_are_all_answered_by_several_workers(stack):
    """100 requests sent at once, each on its own connection and each taking 0.3 s in the
    app, all get 200 with their own answer, and more than one of the four workers answers."""

    async def all_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            verify=trusting(stack.certs),
            base_url=stack.public,
            limits=httpx.Limits(max_connections=100),
            timeout=30,
        ) as client:
            return await asyncio.gather(*(client.get(f"/slow/{n}") for n in range(100)))

    responses = asyncio.run(all_at_once())
    for response in responses:
        stack.remember(response)
    assert [response.status_code for response in responses] == [200] * 100
    assert [response.json()["n"] for response in responses] == list(range(100))
    pids = {response.json()["pid"] for response in responses}
    assert stack.ignyx.process.pid not in pids
    assert len(pids) > 1, pids


@needs_openssl
@needs_nginx
def test_nginx_and_ignyx_stop_by_their_pids_and_exit_0(tmp_path, certs):
    """nginx, sent SIGQUIT by its PID, and then Ignyx, sent SIGTERM (what systemd, Docker and
    Kubernetes send), both exit 0; nginx removes its pid file, its port stops answering,
    and no Ignyx worker is left running."""
    with behind_nginx(tmp_path, certs) as stopped:
        assert stopped.get("/who").status_code == 200
        pid_file = stopped.nginx.prefix / "nginx.pid"
        assert int(pid_file.read_text()) == stopped.nginx.process.pid
        assert stopped.nginx.stop() == 0
        assert not pid_file.exists()
        with pytest.raises(httpx.ConnectError):
            stopped.get("/who")
        try:
            code = stopped.ignyx.stop()
        except subprocess.TimeoutExpired:
            pytest.fail(f"Ignyx still running 15 s after SIGTERM:\n{stopped.ignyx.stderr()}")
        assert code == 0, stopped.ignyx.stderr()
        workers = sorted(stopped.ignyx.pids)
        assert workers
        assert eventually(lambda: not any(alive(pid) for pid in workers), 5), workers


@needs_openssl
@needs_nginx
def test_on_a_unix_socket_the_client_address_cannot_be_spoofed_either(tmp_path, certs):
    """The site's Unix socket variant, done as its comment says: Ignyx on ``--uds`` believes
    every peer (``--forwarded-allow-ips '*'``, a Unix peer having no address), and nginx
    sets X-Forwarded-For to the client's address alone. The app sees the client's address,
    and one the client claims changes nothing."""
    write(tmp_path, {"main.py": APP})
    uds = tmp_path / "ignyx.sock"
    args = ["run", "main:app", "--workers", "4", "--uds", str(uds), "--proxy-headers",
            "--forwarded-allow-ips", "*"]  # fmt: skip
    ports = Ports(free_loopback_port(), free_loopback_port())
    site = site_config(
        ports,
        certs,
        f"server unix:{uds};",
        also={
            "X-Forwarded-For $proxy_add_x_forwarded_for;": "X-Forwarded-For $remote_addr;",
        },
    )
    with serve(tmp_path, args, uds=uds) as ignyx:
        every_worker_serving(ignyx)
        with run_nginx(tmp_path / "nginx", site, ports) as nginx:
            stack = Stack(ignyx, nginx, certs)
            plain = stack.get("/who", source="127.0.0.2").json()
            spoofed = stack.get("/who", source="127.0.0.2", headers=SPOOFED).json()
    url = f"{stack.public}/who"
    for body in (plain, spoofed):
        assert (body["client"], body["url"]) == ("127.0.0.2", url)


# --- the other recipes, as far as this machine can run them ------------------------------


def dockerfile_command() -> list[str]:
    """The runtime stage's CMD, in exec form."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD ")]
    assert len(lines) == 1, lines
    return json.loads(lines[0].removeprefix("CMD "))


def kubernetes_documents() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(KUBERNETES.read_text()))


def test_the_images_command_serves_the_example_app_and_the_probes_path(tmp_path):
    """The image's command (on 127.0.0.1 and a free port instead of 0.0.0.0:8000) serves the
    app the image holds by default, and answers 200 on every path the Kubernetes probes call;
    the port the image exposes is the one the command and the pods use."""
    command = dockerfile_command()
    assert command[:2] == ["ignyx", "run"]
    exposed = re.search(r"^EXPOSE (\d+)$", DOCKERFILE.read_text(), flags=re.M)
    assert exposed and command[command.index("--port") + 1] == exposed.group(1)
    (deployment,) = [d for d in kubernetes_documents() if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [int(exposed.group(1))]
    probed = {container[probe]["httpGet"]["path"] for probe in ("readinessProbe", "livenessProbe")}

    shutil.copy(EXAMPLE_APP, tmp_path / "main.py")
    port = free_port()
    args = with_value(with_value(command[1:], "--host", "127.0.0.1"), "--port", str(port))
    with serve(tmp_path, args, port=port) as server:
        assert server.get("/").json() == {"message": "Ignyx is live"}
        for path in sorted(probed):
            response = server.get(path)
            assert response.status_code == 200, (path, response.text)


def test_the_kubernetes_manifest_parses_and_its_timings_fit_together():
    """deploy/kubernetes.yaml (no cluster here to apply it to) is a Deployment and a Service
    that reaches its pods; the pods' settings, read from their environment as Ignyx reads
    them, give one worker per requested core, and Kubernetes' grace period outlasts the
    preStop sleep, the graceful shutdown and the supervisor's margin after it."""
    deployment, service = kubernetes_documents()
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]
    assert service["spec"]["selector"] == pod["metadata"]["labels"]
    (container,) = pod["spec"]["containers"]
    assert service["spec"]["ports"][0]["targetPort"] in [p["name"] for p in container["ports"]]

    environ = {item["name"]: item["value"] for item in container["env"]}
    config = Config.resolve({}, environ=environ)
    assert config.workers == int(container["resources"]["requests"]["cpu"])
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    stopping = float(command[1]) + config.timeout_graceful_shutdown + SUPERVISOR_MARGIN
    assert pod["spec"]["terminationGracePeriodSeconds"] > stopping


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    """The unit, its paths pointed at this checkout's ignyx and an existing directory, has
    nothing systemd would ignore or refuse; and systemd waits for Ignyx to stop before
    killing it: TimeoutStopSec outlasts the graceful timeout on the command line and the
    supervisor's margin after it."""
    text = UNIT.read_text()
    for old, new in {"/srv/app/.venv/bin/ignyx": SCRIPT[0], "/srv/app": str(tmp_path)}.items():
        assert old in text
        text = text.replace(old, new)
    unit = tmp_path / "ignyx.service"
    unit.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")

    settings = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    args = unit_command()
    graceful = float(args[args.index("--timeout-graceful-shutdown") + 1])
    assert float(settings["TimeoutStopSec"]) > graceful + SUPERVISOR_MARGIN
    assert settings["KillSignal"] == "SIGTERM"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"


def fenced_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_the_guide_shows_the_nginx_site_and_the_unit_as_they_are_in_their_files():
    assert NGINX_SITE.read_text() in fenced_blocks("nginx")
    assert UNIT.read_text() in fenced_blocks("ini")
