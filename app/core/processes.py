"""A child process kept running: `preflab serve`'s embedded worker. A worker that dies (killed, out of
memory) is started again after a delay that doubles while it keeps dying young; the child ends with
this process (mlcore/lifeline.py), so killing the server outright leaves no worker behind."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mlcore.lifeline import child_env

log = logging.getLogger(__name__)


class Supervised:
    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        name: str,
        healthy_after_s: float = 30.0,  # a child that ran this long starts again after the shortest delay
        max_delay_s: float = 30.0,
        on_restart: Callable[[int, float], None] | None = None,  # exit code, delay before the restart
    ) -> None:
        self.command, self.cwd, self.name = list(command), cwd, name
        self.healthy_after_s, self.max_delay_s = healthy_after_s, max_delay_s
        self.on_restart = on_restart
        self.restarts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name=f"supervise-{name}", daemon=True)

    def start(self) -> Supervised:
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=child_env())

    def _watch(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            proc = self.proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            delay = (
                1.0
                if time.monotonic() - started >= self.healthy_after_s
                else min(delay * 2, self.max_delay_s)
            )
            log.warning("%s exited with code %s; starting it again in %.0f s", self.name, code, delay)
            if self.on_restart is not None:
                self.on_restart(code, delay)
            if self._stopping.wait(delay):
                return
            self.restarts += 1
            self._spawn()

    def stop(self, timeout_s: float = 15.0) -> None:
        with self._lock:
            self._stopping.set()
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
