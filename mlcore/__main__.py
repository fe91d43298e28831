"""`python -m mlcore CONFIG.json`: one training run in its own process, reporting as JSON lines.

Exit codes: 0 done, 3 cancelled (cancel file or SIGTERM; nothing is saved), 2 a readable input error,
1 a crash (traceback on stderr). Events: start, metrics, step, eval, then done or error.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path
from types import FrameType
from typing import IO, Any

from mlcore.config import TrainConfig
from mlcore.lifeline import die_with_parent

EXIT_OK, EXIT_CRASH, EXIT_INPUT, EXIT_CANCELLED = 0, 1, 2, 3


class EventWriter:
    """JSON lines, flushed one by one so a reader tailing the file sees each event as it happens."""

    def __init__(self, path: str | None) -> None:
        self._lock = threading.Lock()
        self._stream: IO[str]
        if int(os.environ.get("RANK", "0")) != 0:  # under `accelerate launch`, rank 0 alone reports
            self._stream = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
            self._owned = True
        elif path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._owned = True
        else:
            self._stream = sys.stdout
            self._owned = False

    def __call__(self, event: dict[str, Any]) -> None:
        from mlcore.events import dumps_event

        with self._lock:
            self._stream.write(dumps_event(event) + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._owned:
            self._stream.close()


def _fail_input(emit: EventWriter | None, message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    if emit is not None:
        emit({"event": "error", "message": message})
    return EXIT_INPUT


def main(argv: list[str] | None = None) -> int:
    die_with_parent()  # a worker killed outright takes its trainer with it
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mlcore CONFIG.json", file=sys.stderr)
        return EXIT_INPUT
    try:
        config = TrainConfig.from_json(Path(args[0]).read_text(encoding="utf-8"))
    except OSError as exc:
        return _fail_input(None, f"cannot read config '{args[0]}': {exc.strerror or exc}")
    except (ValueError, TypeError) as exc:
        return _fail_input(None, f"invalid config: {exc}")

    emit = EventWriter(config.events_file)
    try:
        return _run(config, emit)
    finally:
        emit.close()


def _run(config: TrainConfig, emit: EventWriter) -> int:
    try:
        config.validate()
    except ValueError as exc:
        return _fail_input(emit, f"invalid config: {exc}")

    from mlcore.inputs import TrainingInputError, check_data_files, resolve_base_model

    try:  # the common mistakes, answered before torch loads
        resolve_base_model(config.base_model)
        check_data_files(config.train_file, config.eval_file)
    except TrainingInputError as exc:
        return _fail_input(emit, str(exc))

    terminated = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        terminated.set()  # stop at the next step boundary and report like a cancel

    signal.signal(signal.SIGTERM, on_sigterm)

    # Heavy imports only now, so a bad config or path answers in a fraction of a second.
    import datasets
    import transformers

    from mlcore.callbacks import CancelCallback, EventCallback
    from mlcore.runner import run_training

    warnings.filterwarnings("ignore", category=FutureWarning)  # TRL/peft use names transformers 5 deprecated
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    try:
        result = run_training(config, None, [EventCallback(emit), CancelCallback(terminated.is_set)])
    except TrainingInputError as exc:
        return _fail_input(emit, str(exc))
    except Exception as exc:
        traceback.print_exc()
        emit({"event": "error", "message": f"training crashed: {type(exc).__name__}: {exc}"})
        return EXIT_CRASH
    if result.eval_metrics:
        emit({"event": "eval", "metrics": result.eval_metrics})
    emit({"event": "done", "result": result.to_dict()})
    return EXIT_CANCELLED if result.cancelled else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
