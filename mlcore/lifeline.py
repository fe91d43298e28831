"""A child process that ends with its parent: `preflab serve`'s worker, a worker's trainer. Without it a
parent killed with SIGKILL leaves its children running (a worker still consuming jobs, a trainer still
holding the GPU), one more each time it is restarted.

The parent names itself in PREFLAB_PARENT_PID; the child asks Linux to send it SIGTERM when its parent
dies (prctl PR_SET_PDEATHSIG), and exits at once if the parent died before it could ask. A grandchild
(or any process off Linux) watches that process id from a thread instead. SIGTERM, not SIGKILL: a Celery
worker then stops consuming and ends; a trainer stops at its next step."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading

PARENT_ENV = "PREFLAB_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that should end with this process."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """Call first thing in the child (or grandchild: the ranks `accelerate launch` starts). Does nothing
    unless an ancestor asked for it."""
    expected = os.environ.get(PARENT_ENV)
    if not expected or not expected.isdigit():
        return
    parent = int(expected)
    if os.getppid() == parent and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
                if os.getppid() != parent:  # it died before the request took effect
                    os._exit(1)
                return
    if not _alive(parent):
        os._exit(1)

    def watch() -> None:
        while _alive(parent):
            threading.Event().wait(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="preflab-lifeline", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True
