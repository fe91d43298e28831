"""A process started with `child_env()` ends when the process that started it is killed outright: a
trainer with its worker, a worker with `preflab serve` (directly, through prctl, or as a grandchild, as
the ranks of `accelerate launch` are, by watching the process id)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = "from mlcore.lifeline import die_with_parent; die_with_parent(); import time; time.sleep(120)"
# A parent that starts the child (through a plain shell when `via_shell`, so the child is a grandchild),
# prints its pid, and sleeps until it is killed.
PARENT = """
import subprocess, sys, time
from mlcore.lifeline import child_env
command = [sys.executable, "-c", sys.argv[1]]
if sys.argv[2] == "shell":
    command = ["/bin/sh", "-c", " ".join(repr(part) for part in command) + "; sleep 120"]
child = subprocess.Popen(command, env=child_env())
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("how", ["direct", "shell"])
def test_a_child_ends_when_its_parent_is_killed_outright(how: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, how], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        started = psutil.Process(int(parent.stdout.readline()))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the python child itself, under the shell
            found = [p for p in [started, *started.children()] if p.cmdline()[:2] == [sys.executable, "-c"]]
            if found:
                break
            time.sleep(0.1)
        (child,) = found
        time.sleep(1.0)  # it has asked for the signal (or started watching) by now
        assert child.is_running()
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        gone, _ = psutil.wait_procs([child], timeout=10)
        assert gone, "the child outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        for p in psutil.process_iter(["cmdline"]):
            if CHILD in " ".join(p.info["cmdline"] or []):
                p.kill()


def test_without_the_parent_variable_nothing_happens() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFLAB_PARENT_PID"}
    code = "from mlcore.lifeline import die_with_parent; die_with_parent(); print('alive')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "alive"
