"""`python -m mlcore CONFIG.json` as a worker runs it: events file, exit codes, cancel, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.mlcore.rows import preference_rows, sft_rows, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"events_file": str(tmp_path / "events.jsonl"), **fields}))
    return path


def start(config_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlcore", str(config_path)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def wait_for_step(proc: subprocess.Popen[str], events_file: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["event"] == "step" for e in read_events(events_file)):
            return
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.05)
    raise AssertionError("no step event within the timeout")


def test_a_run_writes_events_and_ends_with_done(tiny_model: Path, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        method="reward",
        base_model=str(tiny_model),
        train_file=str(write_jsonl(tmp_path / "train.jsonl", preference_rows(8, conversational=True))),
        eval_file=str(write_jsonl(tmp_path / "eval.jsonl", preference_rows(4, conversational=True))),
        output_dir=str(tmp_path / "out"),
        max_steps=3,
        per_device_train_batch_size=2,
        lora={"r": 4},
    )
    proc = start(config)
    _, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 0, stderr
    events = read_events(tmp_path / "events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and events[0]["total_steps"] == 3
    assert kinds[-2:] == ["eval", "done"]
    assert [e["step"] for e in events if e["event"] == "metrics"] == [1, 2, 3]
    assert 0.0 <= events[-2]["metrics"]["accuracy"] <= 1.0
    result = events[-1]["result"]
    assert result["cancelled"] is False and result["global_step"] == 3 and result["weights"] == "adapter"
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()


def test_a_missing_base_model_exits_2_with_a_readable_error(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        method="dpo",
        base_model="preflab-tests/no-such-model",
        train_file=str(write_jsonl(tmp_path / "train.jsonl", preference_rows(4))),
        output_dir=str(tmp_path / "out"),
    )
    proc = start(config)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 2
    message = (
        "base model 'preflab-tests/no-such-model' is not a directory on this worker and the hub is offline"
    )
    assert stderr.strip().splitlines()[-1] == f"error: {message}"
    assert read_events(tmp_path / "events.jsonl") == [{"event": "error", "message": message}]


def test_an_invalid_config_exits_2(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, method="dpo", base_model="x", train_file="t.jsonl", output_dir="o", learning_rate=-1
    )
    proc = start(config)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 2
    assert stderr.strip() == "error: invalid config: learning_rate must be in (0, 1], got -1"


def test_a_cancel_file_stops_the_run_with_exit_3(tiny_model: Path, tmp_path: Path) -> None:
    cancel_file = tmp_path / "cancel"
    config = write_config(
        tmp_path,
        method="sft",
        base_model=str(tiny_model),
        train_file=str(write_jsonl(tmp_path / "train.jsonl", sft_rows(8))),
        output_dir=str(tmp_path / "out"),
        max_steps=100_000,
        per_device_train_batch_size=2,
        cancel_file=str(cancel_file),
    )
    proc = start(config)
    wait_for_step(proc, tmp_path / "events.jsonl")
    cancel_file.touch()
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 3, stderr
    done = read_events(tmp_path / "events.jsonl")[-1]
    assert done["event"] == "done" and done["result"]["cancelled"] is True
    assert done["result"]["global_step"] < 100_000
    assert not any((tmp_path / "out").glob("*"))  # a cancelled run keeps no weights


def test_sigterm_stops_the_run_at_the_next_step_with_exit_3(tiny_model: Path, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        method="dpo",
        base_model=str(tiny_model),
        train_file=str(write_jsonl(tmp_path / "train.jsonl", preference_rows(8))),
        output_dir=str(tmp_path / "out"),
        max_steps=100_000,
        per_device_train_batch_size=2,
        lora={"r": 4},
    )
    proc = start(config)
    wait_for_step(proc, tmp_path / "events.jsonl")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 3, stderr
    done = read_events(tmp_path / "events.jsonl")[-1]
    assert done["event"] == "done" and done["result"]["cancelled"] is True
    assert not any((tmp_path / "out").glob("*"))
