"""Running a coroutine to its end from synchronous code (a job's runner), wherever that code is called."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_to_end(make: Callable[[], Coroutine[Any, Any, T]], *, name: str) -> T:
    """asyncio.run(make()); where an event loop already runs in this thread (a notebook, Playwright's sync
    API in the tests), in a thread of its own."""

    def run() -> T:
        return asyncio.run(make())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        return pool.submit(run).result()
