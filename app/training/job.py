"""The training Job, run by a Celery worker on queue "gpu": it launches the trainer in a subprocess
(`python -m mlcore`, or `accelerate launch` across the node's GPUs), follows its JSON-lines
events into the job's metric series and progress, beats a heartbeat, turns a cancel into the trainer's
cancel file (then SIGTERM, then SIGKILL), and records the Model with its lineage. A crash or a kill of
the trainer frees the GPU and fails the job; the worker itself carries on."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from app import __version__
from app.core.db import session_scope
from app.core.errors import PreflabError
from app.jobs.runtime import RunningJob, append_log, beat, record_progress, run_job
from app.models import Job, JobMetric, Project, Snapshot, TrainedModel
from app.training.schemas import TrainingRequest
from app.training.service import build_config, run_dir
from mlcore.lifeline import child_env

POLL_S = 0.5
CANCEL_GRACE_S = 20.0  # after the cancel file, SIGTERM; after twice this, SIGKILL
ROOT = Path(__file__).resolve().parents[2]


def gpu_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count())


def trainer_command(config_path: Path, distributed: str, gpus: int) -> list[str]:
    """One process on one device; `accelerate launch` with DDP, FSDP or DeepSpeed ZeRO across several."""
    entry = ["-m", "mlcore", str(config_path)]
    if gpus <= 1 or distributed == "none":
        return [sys.executable, *entry]
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(gpus)]
    strategy = "ddp" if distributed == "auto" else distributed
    flags = {
        "ddp": ["--multi_gpu"],
        "fsdp": ["--use_fsdp"],
        "deepspeed": ["--use_deepspeed", "--zero_stage", "2"],
    }
    return [*launch, *flags[strategy], *entry]


class _Follower:
    """Reads what a file gained since the last call, whole lines only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def lines(self) -> list[bytes]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        self.offset += len(data)
        *whole, self.partial = (self.partial + data).split(b"\n")
        return [line for line in whole if line.strip()]


def _eta(started: float, step: int, total: int) -> str:
    if step <= 0 or total <= 0:
        return ""
    left = (time.monotonic() - started) / step * (total - step)
    return f" · ETA {timedelta(seconds=round(left))}"


def run_training_job(job_id: int) -> str:
    """Run a training job to its end; returns its final status."""
    with run_job(job_id, "training", failure="the training job stopped: {error}") as run:
        if run is None:
            return "skipped"
        if run.interrupted:
            # Delivered again: the worker that ran it died. A run is not silently restarted from zero.
            return run.fail("the worker running this job stopped; start the run again")
        request = TrainingRequest.model_validate(run.params)
        with session_scope() as session:
            snapshot = session.get(Snapshot, request.snapshot_id)
            if snapshot is None or snapshot.status != "ready":
                raise PreflabError(f"snapshot {request.snapshot_id} is no longer available")
            config = build_config(request, snapshot, job_id)
            project = session.get_one(Project, snapshot.project_id)
            name = f"{project.name} · {request.method} · snapshot v{snapshot.version} · job {job_id}"
        gpus = gpu_count()
        run.log(f"training {request.method} on {request.base_model} ({gpus or 'no'} GPU)")
        return _train(run, request, config, gpus, name=name)
    return run.status


def _train(run: RunningJob, request: TrainingRequest, config: Any, gpus: int, *, name: str) -> str:
    job_id = run.id
    directory = run_dir(job_id)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    config_path = directory / "config.json"
    config_path.write_text(config.to_json())
    log_path = directory / "trainer.log"
    command = trainer_command(config_path, request.distributed, gpus)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env({**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}),
            start_new_session=True,  # a SIGTERM/SIGKILL reaches the whole process group (accelerate's ranks)
        )
    try:
        outcome = _follow(job_id, proc, directory, log_path)
    except BaseException:  # this attempt is over: never leave its trainer holding the GPU
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return _conclude(run, outcome, config_path, name=name, request=request)


def _follow(job_id: int, proc: subprocess.Popen[bytes], directory: Path, log_path: Path) -> dict[str, Any]:
    events, log = _Follower(directory / "events.jsonl"), _Follower(log_path)
    started = time.monotonic()
    cancel_at: float | None = None
    outcome: dict[str, Any] = {"eval": {}}
    step = total = 0
    while True:
        code = proc.poll()
        metrics: list[JobMetric] = []
        for raw in events.lines():
            try:
                event = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            name = event.get("event")
            if name in ("start", "step", "metrics"):
                total = int(event.get("total_steps") or total)
                step = int(event.get("step") or step)
            if name == "metrics":
                for metric, value in event["metrics"].items():
                    if value is not None:
                        metrics.append(JobMetric(job_id=job_id, step=step, name=metric, value=float(value)))
            elif name in ("eval", "done", "error"):
                outcome[name] = event.get("metrics") or event.get("result") or event.get("message")
        with session_scope() as session:
            job = session.get_one(Job, job_id)
            session.add_all(metrics)
            for line in log.lines()[-50:]:
                append_log(job, line.decode("utf-8", "replace")[:500])
            if total:
                record_progress(job, step / total, f"step {step} of {total}{_eta(started, step, total)}")
            else:
                beat(job)
            cancel = job.cancel_requested
        if code is not None:
            outcome["code"] = code
            outcome["cancel"] = cancel_at is not None
            return outcome
        if cancel and cancel_at is None:
            (directory / "cancel").touch()  # the trainer stops at the next step
            cancel_at = time.monotonic()
        elif cancel_at is not None and time.monotonic() - cancel_at > CANCEL_GRACE_S:
            sig = signal.SIGKILL if time.monotonic() - cancel_at > 2 * CANCEL_GRACE_S else signal.SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        time.sleep(POLL_S)


def _conclude(
    run: RunningJob, outcome: dict[str, Any], config_path: Path, *, name: str, request: TrainingRequest
) -> str:
    code = outcome["code"]
    config = orjson.loads(config_path.read_bytes())
    if code == 3 or (outcome["cancel"] and code != 0):
        return run.cancel(log="cancelled; the trainer keeps no weights of a cancelled run")
    if code != 0 or "done" not in outcome:
        if code == 2 and outcome.get("error"):
            return run.fail(str(outcome["error"]))
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return run.fail(f"the trainer process stopped unexpectedly ({how}); see the log")
    result = outcome["done"]
    with session_scope() as session:
        model = TrainedModel(
            name=name[:200],
            job_id=run.id,
            snapshot_id=request.snapshot_id,
            base_model=request.base_model,
            method=request.method,
            weights=result["weights"],
            path=result["output_dir"],
            params=config,
            metrics={
                "train": result.get("train_metrics", {}),
                "eval": result.get("eval_metrics", {}),
                "global_step": result.get("global_step"),
                "rows": result.get("rows", {}),
            },
            preflab_version=__version__,
        )
        session.add(model)
        session.flush()
        job = run.finish_in(
            session,
            "succeeded",
            result={"model_id": model.id, "eval": result.get("eval_metrics", {})},
            log=f"saved model {model.id} ({result['weights']}) to {result['output_dir']}",
        )
        for split, count in result.get("rows", {}).items():
            if count["used"] < count["given"]:
                append_log(
                    job,
                    f"{split}: {count['given'] - count['used']} of {count['given']} rows were longer than "
                    f"max_length={config['max_length']} and left out",
                )
    return "succeeded"
