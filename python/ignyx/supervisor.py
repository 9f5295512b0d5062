"""Supervised workers: one process binds the listening socket and forks the workers that
accept on it, then watches them.

- **One shared socket.** Every worker accepts from the same queue, so connections waiting
  there are never tied to one worker: a worker that dies or is replaced leaves them to the
  others (with ``SO_REUSEPORT`` each worker would have its own queue, lost with it).
- **Respawn.** A worker that exits while the server is running (killed, crashed, or done
  after ``workers_max_requests`` / ``workers_max_rss``) is replaced at once.
- **Reload.** ``SIGHUP`` starts a new set of workers (which import the app afresh when it
  was named by its import path) and stops the old ones once every new one is ready.
- **Stop.** ``SIGTERM`` or ``SIGINT`` stops every worker gracefully, then the supervisor
  exits 0. Workers that fail to boot (import error, failing startup) stop the server with
  exit code 3, as gunicorn does, rather than being restarted forever.
- **Metrics.** With ``metrics_port``, the supervisor serves the workers' metrics, gathered
  at each scrape (`metrics_gateway`), with its own count of restarted workers.

The supervisor never imports the app itself when given an import path, so it holds no
app state a fork could copy, and a reload sees new code.
"""

from __future__ import annotations

import logging
import os
import random
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from . import _core
from .config import Config
from .metrics_gateway import MetricsGateway
from .server import Server, prepare

logger = logging.getLogger("ignyx.error")

BOOT_FAILED = 3
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
# The generation of workers abandoned by a failed reload: stopped, and never replaced.
RETIRED = -1
# Workers that failed to boot in a row, after having booted before, before giving up.
MAX_BOOT_FAILURES = 5


@dataclass
class _Worker:
    pid: int
    generation: int
    # Its place among the workers (0 to workers - 1), which a replacement takes over.
    slot: int
    # Read end of the pipe the worker writes to once it accepts requests (None once read).
    ready_pipe: Optional[int]
    ready: bool = False


class Supervisor:
    """Runs `config.workers` workers serving the app `load_app()` returns (called in each
    worker), over TLS with `tls` (`config.tls()`), until SIGTERM or SIGINT."""

    def __init__(self, load_app: Callable[[], Any], config: Config, tls: Any = None) -> None:
        self.load_app = load_app
        self.config = config
        self.tls = tls  # `config.tls()`, read once here and shared by the forked workers
        self.workers: dict[int, _Worker] = {}
        self.generation = 0
        self.stopping = False
        self.exit_code = 0
        self.boot_failures = 0
        self.booted_once = False
        self.signals: list[int] = []
        self.deadline = 0.0
        self.restarts = 0
        self.metrics: Optional[MetricsGateway] = None

    def run(self) -> int:
        """Serves until stopped; returns the exit code (0, or 3 when workers failed to boot)."""
        config = self.config
        self.listener = _core.ListeningSocket(
            config.host, config.port, uds=config.uds, fd=config.fd, backlog=config.backlog
        )
        if config.metrics_port is not None:
            try:
                self.metrics = MetricsGateway(
                    config.metrics_host or config.host, config.metrics_port
                )
            except OSError:
                self.listener.close()
                raise
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self.wake = (wake_read, wake_write)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        logger.info(
            "Ignyx serving on %s with %d workers (supervisor %d; Ctrl+C to stop)",
            self.listener.address.replace("http://", "https://" if self.tls else "http://", 1),
            self.config.workers,
            os.getpid(),
        )
        try:
            for slot in range(self.config.workers):
                self._spawn(slot)
            while self.workers or not self.stopping:
                self._step()
        finally:
            if self.metrics is not None:
                self.metrics.close()
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for fd in self.wake:
                os.close(fd)
            self.listener.close()
        return self.exit_code

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signals.append(signum)

    def _step(self) -> None:
        pipes = [w.ready_pipe for w in self.workers.values() if w.ready_pipe is not None]
        scrapes = [self.metrics.fileno()] if self.metrics is not None else []
        try:
            readable, _, _ = select.select([self.wake[0], *pipes, *scrapes], [], [], 0.5)
        except InterruptedError:
            readable = []
        if self.metrics is not None and self.metrics.fileno() in readable:
            self._scraped(self.metrics)
        if self.wake[0] in readable:
            while True:
                try:
                    if not os.read(self.wake[0], 512):
                        break
                except BlockingIOError:
                    break
        for worker in list(self.workers.values()):
            if worker.ready_pipe is not None and worker.ready_pipe in readable:
                self._readied(worker)
        self._reap()
        while self.signals:
            signum = self.signals.pop(0)
            if signum in (signal.SIGINT, signal.SIGTERM):
                self._stop()
            elif signum == signal.SIGHUP:
                self._reload()
        if self.stopping and self.workers and time.monotonic() > self.deadline:
            for pid in self.workers:
                logger.warning("Worker %d did not stop in time; killing it", pid)
                _signal(pid, signal.SIGKILL)
            self.deadline = float("inf")

    def _scraped(self, gateway: MetricsGateway) -> None:
        current = [w for w in self.workers.values() if w.generation == self.generation]
        gateway.answer(
            {w.slot: gateway.socket_for(w.slot) for w in current if w.ready},
            {"ignyx_workers": len(current), "ignyx_worker_restarts_total": self.restarts},
        )

    def _spawn(self, slot: int) -> None:
        config = self.config
        max_requests = config.workers_max_requests
        if max_requests:
            max_requests += random.randint(0, max(0, config.workers_max_requests_jitter))
        ready_read, ready_write = os.pipe()
        # Held until the worker has its own handlers: a stop signal sent to a worker just
        # forked would otherwise go to a copy of the supervisor's handler and be lost.
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.close(ready_read)
                code = self._work(ready_write, max_requests, slot, unblocked)
            finally:
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        os.close(ready_write)
        self.workers[pid] = _Worker(pid, self.generation, slot, ready_read)
        logger.info("Started worker %d", pid)

    def _work(self, ready: int, max_requests: Optional[int], slot: int, unblocked: set[int]) -> int:
        """A worker's life, in the forked child (with the stop signals blocked until its
        handlers are set, `unblocked` the mask to restore); returns its exit code."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloads are the supervisor's
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        for fd in (*self.wake, *(w.ready_pipe for w in self.workers.values() if w.ready_pipe)):
            os.close(fd)
        metrics: dict[str, Any] = {"metrics_port": None}
        if self.metrics is not None:
            self.metrics.listener.close()
            metrics.update(metrics_uds=self.metrics.socket_for(slot), metrics_worker=slot)
        config = self.config
        started = False

        def announce() -> None:
            nonlocal started
            started = True
            os.write(ready, b"1")
            os.close(ready)

        try:
            server = Server(
                prepare(self.load_app(), config),
                fd=self.listener.fileno(),
                tls=self.tls,
                **{**config.server_options(), **metrics},
                max_requests=max_requests,
                max_rss=config.workers_max_rss * 1024 * 1024 if config.workers_max_rss else None,
            )
            stopped_for = server.serve(handle_signals=True, started=announce)
        except BaseException:  # noqa: BLE001 - reported here, told by the exit code
            logger.exception("Worker %d failed", os.getpid())
            return 1 if started else BOOT_FAILED
        if stopped_for == "max_requests":
            logger.info("Worker %d served %d requests; replacing it", os.getpid(), max_requests)
        elif stopped_for == "max_rss":
            logger.info(
                "Worker %d grew past %d MiB; replacing it", os.getpid(), config.workers_max_rss
            )
        return 0

    def _readied(self, worker: _Worker) -> None:
        """The worker's pipe can be read: it is ready, or it ended before (nothing to read)."""
        assert worker.ready_pipe is not None
        worker.ready = os.read(worker.ready_pipe, 1) == b"1"
        os.close(worker.ready_pipe)
        worker.ready_pipe = None
        if not worker.ready:
            return
        self.booted_once = True
        self.boot_failures = 0
        current = [w for w in self.workers.values() if w.generation == self.generation]
        old = [w for w in self.workers.values() if RETIRED < w.generation < self.generation]
        if old and all(w.ready for w in current):
            logger.info("New workers ready; stopping the old ones")
            for retired in old:
                _signal(retired.pid, signal.SIGTERM)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            if worker.ready_pipe is not None:
                os.close(worker.ready_pipe)
            self._exited(worker, status)

    def _exited(self, worker: _Worker, status: int) -> None:
        if self.stopping or worker.generation < self.generation:
            return
        how = _describe(status)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == BOOT_FAILED and not worker.ready:
            self.boot_failures += 1
            if not self.booted_once or self.boot_failures >= MAX_BOOT_FAILURES:
                logger.error("Worker %d failed to boot; stopping", worker.pid)
                self.exit_code = BOOT_FAILED
                self._stop()
                return
            if any(RETIRED < w.generation < self.generation for w in self.workers.values()):
                self._abandon_reload()
                return
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            logger.info("Worker %d %s; starting another", worker.pid, how)
        else:
            logger.warning("Worker %d %s; starting another", worker.pid, how)
        self.restarts += 1
        self._spawn(worker.slot)

    def _abandon_reload(self) -> None:
        """New workers failed to boot: they go, the old ones stay."""
        logger.error("New workers failed to boot; keeping the running ones")
        for worker in self.workers.values():
            if worker.generation == self.generation:
                worker.generation = RETIRED
                _signal(worker.pid, signal.SIGTERM)
        self.generation -= 1

    def _reload(self) -> None:
        if self.stopping:
            return
        if self.tls is not None:
            # A renewed certificate is served by the new workers.
            try:
                self.tls = self.config.tls()
            except ValueError as exc:
                logger.error("Reload: %s; the new workers keep the certificate read before", exc)
        logger.info("Reloading: starting %d new workers", self.config.workers)
        self.generation += 1
        for slot in range(self.config.workers):
            self._spawn(slot)

    def _stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.deadline = time.monotonic() + self.config.timeout_graceful_shutdown + 5
        logger.info("Stopping the workers")
        for pid in self.workers:
            _signal(pid, signal.SIGTERM)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
