"""GPU-readiness training benchmark: SFT and DPO speed under TRL's defaults (a) and Preflab's choice (b).

    .venv/bin/python bench/train_gpu.py                 # 0.5b on a CUDA GPU, small on CPU; --json OUT to keep

Builds a Qwen2-shaped model with random weights (nothing is downloaded; the tokenizer is the project's tiny
BPE one from mlcore.tiny) and synthetic chat data of varied length, runs a fixed number of optimizer
steps per configuration, times each step end to end (the first --warmup untimed) and counts the real,
non-padding tokens of each batch as the collator builds it. MFU = model FLOPs / (seconds x peak FLOP/s), with
6·N FLOPs per trained token and 2·N per token of a forward-only reference pass. Targets on an H100: SFT (b)
at 40 % MFU or more; (b) at 1.3x the tokens/s of (a) or more.
"""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module: keep the script's own
# folder off the import path.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import deque  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"  # random weights and a local tokenizer: nothing may come from a hub
for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
    os.environ.setdefault(name, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore", category=FutureWarning)  # TRL's own defaults trip transformers' renames

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

# (hidden, layers, heads, kv heads, intermediate, vocab); vocab 0: the tokenizer's, rounded up to 64s.
SIZES = {
    "0.5b": (896, 24, 14, 2, 4864, 151936),  # Qwen2-0.5B
    "small": (256, 4, 4, 2, 1024, 0),
    "tiny": (64, 2, 4, 2, 256, 0),
}
MIN_LEN, MAX_LEN, MAX_LENGTH = 100, 900, 1024  # tokens per sequence (log-uniform); TRL's default max_length
TARGET_MFU, TARGET_SPEEDUP = 0.40, 1.3
VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3", "flex_attention")  # skip work across documents
CUDA = torch.cuda.is_available()


def sync_now() -> float:
    if CUDA:
        torch.cuda.synchronize()
    return time.perf_counter()


def peak_flops(override_tflops: float | None) -> tuple[float | None, str]:
    """Dense bf16 peak of the device, from its name."""
    if override_tflops:
        return override_tflops * 1e12, f"--peak-tflops {override_tflops:g}"
    if not CUDA:
        return None, "none on CPU (pass --peak-tflops for an estimate)"
    name = torch.cuda.get_device_name()
    if "H100" in name and "PCIe" in name:
        return 756e12, name
    for key, flops in (("H200", 989e12), ("H100", 989e12), ("A100", 312e12)):
        if key in name:
            return flops, name
    return None, f"unknown for {name} (pass --peak-tflops)"


def default_attention() -> str:
    """A padding-free batch is one flat row: only a varlen kernel keeps its documents apart without computing
    the whole (batch x length)^2 attention. FlashAttention when installed, else torch's flex attention."""
    try:
        import flash_attn  # noqa: F401

        return "flash_attention_2" if CUDA else "sdpa"
    except ImportError:
        return "flex_attention" if CUDA else "sdpa"  # flex has no backward on CPU


# ------------------------------------------------------------------------------------------ model and data


def build_model(out: Path, size: str, vocab: int | None) -> tuple[Any, dict[str, Any]]:
    """The project's tiny BPE tokenizer and a random Qwen2 of the chosen shape, saved in `out`."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from mlcore.tiny import build_tiny_model

    build_tiny_model(out / "tok", vocab_size=1024)  # only its tokenizer (and chat template) is kept
    tokenizer = AutoTokenizer.from_pretrained(out / "tok", model_max_length=MAX_LENGTH)
    hidden, layers, heads, kv_heads, intermediate, size_vocab = SIZES[size]
    vocab = vocab or size_vocab or 64 * math.ceil(len(tokenizer) / 64)
    if vocab < len(tokenizer):
        raise SystemExit(f"--vocab {vocab} is smaller than the tokenizer's {len(tokenizer)}")
    shape = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, vocab_size=vocab)
    shape |= dict(num_key_value_heads=kv_heads, intermediate_size=intermediate, max_position_embeddings=4096)
    special = {f"{t}_token_id": getattr(tokenizer, f"{t}_token_id") for t in ("bos", "eos", "pad")}
    config = Qwen2Config(**shape, **special, rope_theta=1_000_000.0, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())  # tied embeddings counted once
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    # Tied embeddings: every parameter sits in a matmul (the embedding matrix as LM head), so N = params.
    shape = dict(hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, intermediate=intermediate)
    return tokenizer, dict(size=size, **shape, vocab=vocab, tokenizer_vocab=len(tokenizer), params=params)


def synthetic_rows(tokenizer: Any, n_sft: int, n_pref: int) -> tuple[list[dict], list[dict]]:
    """SFT rows (`messages`) and conversational preference rows (prompt/chosen/rejected) whose sequences are
    MIN_LEN..MAX_LEN tokens, log-uniform, made of the tiny module's synthetic sentences."""
    from mlcore.tiny import synthetic_sentences

    rng = random.Random(0)
    pool = synthetic_sentences(3000, seed=1)
    cost = [len(tokenizer(" " + s, add_special_tokens=False)["input_ids"]) for s in pool]

    def text(tokens: int) -> str:
        parts, total = [], 0
        while total < tokens:
            i = rng.randrange(len(pool))
            parts.append(pool[i])
            total += cost[i]
        return " ".join(parts)

    def lengths() -> tuple[int, int]:  # prompt and answer tokens; ~12 more come from the chat template
        total = math.exp(rng.uniform(math.log(MIN_LEN), math.log(MAX_LEN)))
        prompt = int(total * rng.uniform(0.1, 0.4))
        return prompt, int(total) - prompt - 12

    def turn(role: str, tokens: int) -> list[dict[str, str]]:
        return [{"role": role, "content": text(max(8, tokens))}]

    sft = []
    for _ in range(n_sft):
        p, a = lengths()
        sft.append({"messages": turn("user", p) + turn("assistant", a)})
    pref = []
    for _ in range(n_pref):
        p, a = lengths()
        rejected = min(int(a * rng.uniform(0.6, 1.4)), MAX_LEN - p)
        chosen, rejected = turn("assistant", a), turn("assistant", rejected)
        pref.append({"prompt": turn("user", p), "chosen": chosen, "rejected": rejected})
    return sft, pref


# ------------------------------------------------------------------------------------------ measuring


class CountingCollator:
    """Wraps a trainer's collator to record (real, padded) tokens of each batch, in the order built."""

    def __init__(self, inner: Any, counts: deque[tuple[int, int]], pad_id: int) -> None:
        self.inner, self.counts, self.pad_id = inner, counts, pad_id

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.inner(examples)
        ids, mask = batch["input_ids"], batch.get("attention_mask")
        real = mask.sum() if mask is not None else (ids != self.pad_id).sum()  # padding-free: no mask
        self.counts.append((int(real), ids.numel()))
        return batch


class StepTimer(TrainerCallback):
    """Wall time between consecutive step ends (data loading and logging included) and each step's tokens.
    Accelerate's loader builds one batch ahead, so batches are matched to steps first in, first out."""

    def __init__(self, counts: deque[tuple[int, int]]) -> None:
        self.counts, self.last = counts, 0.0
        self.times: list[float] = []
        self.real: list[int] = []
        self.padded: list[int] = []

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.last = sync_now()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        now = sync_now()
        self.times.append(now - self.last)
        self.last = now
        real, padded = self.counts.popleft()
        self.real.append(real)
        self.padded.append(padded)


def timed_dpo_trainer() -> type:
    from trl import DPOTrainer

    class TimedDPOTrainer(DPOTrainer):  # the reference log-prob precompute runs inside __init__
        precompute_s = 0.0

        def _precompute_ref_logps(self, dataset: Any, name: str, batch_size: int) -> Any:
            start = time.perf_counter()
            out = super()._precompute_ref_logps(dataset, name, batch_size)
            self.precompute_s += sync_now() - start
            return out

    return TimedDPOTrainer


def run_config(method: str, label: str, kwargs: dict[str, Any], rows: list[dict], ctx: dict) -> dict:
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import DPOConfig, SFTConfig, SFTTrainer

    config_cls, trainer_cls = (SFTConfig, SFTTrainer) if method == "sft" else (DPOConfig, timed_dpo_trainer())
    counts: deque[tuple[int, int]] = deque()
    timer = StepTimer(counts)
    if CUDA:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer = trainer_cls(
        model=str(ctx["model_dir"]),  # loaded by TRL: fp32 master weights, its default
        args=config_cls(**kwargs),
        train_dataset=Dataset.from_list(rows),
        processing_class=ctx["tokenizer"],
        callbacks=[timer],
    )
    setup_s = time.perf_counter() - start
    for quiet in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(quiet)
    trainer.data_collator = CountingCollator(trainer.data_collator, counts, ctx["tokenizer"].pad_token_id)
    trainer.train()

    warmup, n = ctx["warmup"], ctx["info"]["params"]
    times, real = timer.times[warmup:], timer.real[warmup:]
    step_s, tokens_s = sum(times) / len(times), sum(real) / sum(times)
    precomputed = method == "dpo" and trainer.precompute_ref_logps
    r: dict[str, Any] = {
        "method": method,
        "config": label,
        "batch": kwargs["per_device_train_batch_size"],
        "attention": trainer.model.config._attn_implementation,
        "steps": len(timer.times),
        "steps_timed": len(times),
        "step_s": step_s,
        "tokens_per_step": sum(real) / len(real),
        "tokens_s": tokens_s,
        "flops_s": (6 if method == "sft" or precomputed else 8) * n * tokens_s,  # 8: + the reference forward
        "padding": 1 - sum(real) / sum(timer.padded[warmup:]),
        "setup_s": setup_s,
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if CUDA else None,
        "args": {k: v for k, v in kwargs.items() if k != "output_dir"},
    }
    if precomputed:
        data = trainer.train_dataset
        pre_tokens = sum(  # the precompute's real tokens, prompt twice, truncated as the collator does
            min(len(p) + len(c), MAX_LENGTH) + min(len(p) + len(j), MAX_LENGTH)
            for p, c, j in zip(data["prompt_ids"], data["chosen_ids"], data["rejected_ids"], strict=True)
        )
        # The precompute covers exactly the rows the steps train on: spread its time over those steps.
        step_pre = step_s + trainer.precompute_s / len(timer.times)
        r["precompute_s"], r["precompute_tokens"] = trainer.precompute_s, pre_tokens
        r["step_s_with_precompute"] = step_pre
        r["tokens_s_with_precompute"] = r["tokens_per_step"] / step_pre
        pre_flops_per_step = 2 * n * pre_tokens / len(timer.times)
        r["flops_s_with_precompute"] = (r["flops_s"] * step_s + pre_flops_per_step) / step_pre
    del trainer
    gc.collect()
    if CUDA:
        torch.cuda.empty_cache()
    return r


# ------------------------------------------------------------------------------------------ the two configs


def base_kwargs(out: str, steps: int, batch: int) -> dict[str, Any]:
    kwargs = dict(output_dir=out, max_steps=steps, per_device_train_batch_size=batch, report_to="none")
    return kwargs | dict(save_strategy="no", disable_tqdm=True)


def trl_defaults(out: str, steps: int) -> tuple[dict[str, Any], list[str]]:
    """(a): TRL's defaults (batch 8 included), overriding only what the device or the benchmark needs."""
    kwargs = base_kwargs(out, steps, 8)
    overridden = ["max_steps", "report_to=none", "save_strategy=no", "disable_tqdm"]
    if not CUDA:  # TRL defaults bf16=True and gradient (activation) checkpointing, which CPU training refuses
        kwargs |= {"use_cpu": True, "bf16": False, "activation_checkpointing": False}
        overridden += ["use_cpu=True", "bf16=False", "activation_checkpointing=False"]
    return kwargs, overridden


def preflab_choice(method: str, out: str, steps: int, batch: int, attention: str) -> dict[str, Any]:
    """(b): bf16 where the GPU has it, no activation checkpointing, a larger batch, the chosen attention; SFT
    packs rows (best-fit decreasing) into padding-free batches; DPO, whose padding_free TRL 1.16 disables,
    computes the reference log-probs once, before training."""
    kwargs = base_kwargs(out, steps, batch) | {
        "use_cpu": not CUDA,
        "bf16": CUDA and torch.cuda.is_bf16_supported(),
        "activation_checkpointing": False,
        "model_init_kwargs": {"attn_implementation": attention},
    }
    if method == "sft":  # assistant-only loss, as Preflab's SFT runs use: it changes the labels, not the work
        return kwargs | dict(
            packing=True, packing_strategy="bfd", padding_free=True, assistant_only_loss=True
        )
    return kwargs | {"precompute_ref_log_probs": True, "precompute_ref_batch_size": 2 * batch}


def run_method(method: str, rows: list[dict], args: argparse.Namespace, ctx: dict) -> tuple[list, list]:
    tmp, steps = ctx["tmp"], args.steps
    a_kwargs, overridden = trl_defaults(str(tmp / f"{method}-a"), steps)
    # Each DPO config gets exactly the rows its steps train on, so the (b) precompute covers no more.
    results = [run_config(method, "a", a_kwargs, rows[: steps * 8] if method == "dpo" else rows, ctx)]
    notes = [f"{method} (a) overrides of TRL's defaults: " + ", ".join(overridden)]
    if method == "sft":
        batch, attention = args.batch_sft, args.attn
    else:  # padded batches: FlashAttention unpads them; flex would only add compile time, so sdpa otherwise
        batch, attention = args.batch_dpo, args.attn if args.attn.startswith("flash") else "sdpa"
    while True:
        b_kwargs = preflab_choice(method, str(tmp / f"{method}-b"), steps, batch, attention)
        b_rows = rows[: steps * batch] if method == "dpo" else rows
        try:
            return [*results, run_config(method, "b", b_kwargs, b_rows, ctx)], notes
        except torch.cuda.OutOfMemoryError:
            if batch <= 1:
                raise
            notes.append(f"{method} (b): batch {batch} ran out of GPU memory; retried with {batch // 2}")
            batch //= 2
        except Exception as exc:
            if attention == "sdpa":
                raise
            # An attention kernel this machine cannot run: measure sdpa instead (for SFT, one packed row a
            # step: see main), and say so.
            batch = 1 if method == "sft" else batch
            failure = f"{type(exc).__name__}: {str(exc)[:200]}"
            notes.append(f"{method} (b): {attention} failed ({failure}); retried with sdpa, batch {batch}")
            attention = "sdpa"
        gc.collect()
        if CUDA:
            torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------ report


def table(results: list[dict[str, Any]], peak: float | None) -> list[str]:
    head = f"{'method':<7}{'cfg':<6}{'batch':>6}{'attention':>16}{'timed':>6}{'step s':>9}{'tokens/s':>11}"
    lines = [head + f"{'MFU':>8}{'pad':>6}{'GiB':>7}{'b/a':>7}", "-" * (len(head) + 34)]
    for method in ("sft", "dpo"):
        rows = [r for r in results if r["method"] == method]
        for r in rows:
            shown = [(r["config"], r["step_s"], r["tokens_s"], r["flops_s"])]
            if "precompute_s" in r:  # DPO (b): train steps alone, then with the precompute spread over them
                shown.append(
                    ("b+pre", *(r[f"{k}_with_precompute"] for k in ("step_s", "tokens_s", "flops_s")))
                )
            for label, step_s, tokens_s, flops_s in shown:
                mfu = f"{100 * flops_s / peak:.1f}%" if peak else "n/a"
                mem = f"{r['peak_mem_gib']:.1f}" if r["peak_mem_gib"] is not None else "-"
                speedup = "" if label == "a" else f"{tokens_s / rows[0]['tokens_s']:.2f}x"
                lines.append(
                    f"{method.upper():<7}{label:<6}{r['batch']:>6}{r['attention']:>16}{r['steps_timed']:>6}"
                    f"{step_s:>9.3f}{tokens_s:>11,.0f}{mfu:>8}{100 * r['padding']:>5.0f}%{mem:>7}{speedup:>7}"
                )
    for r in results:
        if "precompute_s" in r:
            rate = r["precompute_tokens"] / max(r["precompute_s"], 1e-9)
            lines.append(
                f"DPO (b) reference precompute: {r['precompute_s']:.2f} s for {r['precompute_tokens']:,} "
                f"tokens ({rate:,.0f} tokens/s), spread over its {r['steps']} steps in 'b+pre'"
            )
    return lines


def header(args: argparse.Namespace, info: dict, n_rows: tuple[int, int], peak: float | None, peak_src: str):
    n = info["params"]
    return [
        f"GPU run on {torch.cuda.get_device_name()}"
        if CUDA
        else f"CPU run, {args.size} config: figures are not GPU figures",
        f"model: Qwen2-shaped, random weights, {args.size}: hidden {info['hidden']}, {info['layers']} "
        f"layers, {info['heads']}/{info['kv_heads']} q/kv heads, intermediate {info['intermediate']}, vocab "
        f"{info['vocab']} (tokenizer {info['tokenizer_vocab']}; other rows unused), tied embeddings, "
        f"{n / 1e6:.1f}M params",
        f"data: {n_rows[0]} SFT rows, {n_rows[1]} preference rows, sequences of {MIN_LEN}-{MAX_LEN} tokens "
        f"(log-uniform), max_length {MAX_LENGTH}",
        f"timing: {args.steps} optimizer steps a config, the first {args.warmup} untimed; tokens/s counts "
        "the real (non-padding) tokens through the model (DPO: prompt twice, chosen, rejected)",
        f"MFU = 6 x N x tokens/s / peak, N = {n / 1e6:.1f}M; DPO (a): 8 x N (+ 2 x N, the reference "
        "forward); attention scores not counted; peak: "
        + (f"{peak / 1e12:.0f} TFLOP/s bf16 dense, {peak_src}" if peak else peak_src),
        "(a) TRL defaults, batch 8 | (b) Preflab: bf16 on GPU, no activation checkpointing, larger batch; "
        f"SFT bfd packing + padding_free, {args.attn}; DPO precompute_ref_log_probs",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="0.5b" if CUDA else "small")
    parser.add_argument("--vocab", type=int, help="model vocabulary (default: Qwen2's 151936 for 0.5b)")
    parser.add_argument("--steps", type=int, default=20 if CUDA else 4, help="optimizer steps per config")
    parser.add_argument("--warmup", type=int, default=2, help="first steps left out of the timing")
    parser.add_argument("--attn", default=default_attention(), help="SFT (b)'s attention implementation")
    parser.add_argument("--batch-sft", type=int, help="(b) packed rows of 1024 tokens a step (16; sdpa: 1)")
    parser.add_argument("--batch-dpo", type=int, default=16 if CUDA else 8, help="(b) pairs a step")
    parser.add_argument("--peak-tflops", type=float, help="device peak, for MFU where it is not known")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    if args.steps <= args.warmup:
        parser.error("--steps must exceed --warmup")
    # Without a varlen kernel a padding-free batch attends across all its packed rows at once; one row a step
    # keeps the attention to one row's, as padded batching has it.
    args.batch_sft = args.batch_sft or (16 if args.attn in VARLEN_ATTENTION else 1)

    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    peak, peak_src = peak_flops(args.peak_tflops)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="train_gpu-") as tmp_name:
        tmp = Path(tmp_name)
        tokenizer, info = build_model(tmp, args.size, args.vocab)
        mean_len = (MAX_LEN - MIN_LEN) / math.log(MAX_LEN / MIN_LEN)  # rows enough for every packed step
        n_sft = max(args.steps * 8, math.ceil(1.2 * args.steps * args.batch_sft * MAX_LENGTH / mean_len))
        sft_rows, pref_rows = synthetic_rows(tokenizer, n_sft, args.steps * max(8, args.batch_dpo))
        ctx = dict(tmp=tmp, model_dir=tmp / "model", tokenizer=tokenizer, info=info, warmup=args.warmup)
        results, notes = [], []
        for method, rows in (("sft", sft_rows), ("dpo", pref_rows)):
            method_results, method_notes = run_method(method, rows, args, ctx)
            results, notes = results + method_results, notes + method_notes

    lines = [*header(args, info, (len(sft_rows), len(pref_rows)), peak, peak_src), *notes]
    if args.attn not in VARLEN_ATTENTION:
        lines.append(
            f"note: {args.attn} has no varlen kernel, so a padding-free batch would attend over all its "
            f"packed rows at once: SFT (b) takes {args.batch_sft} packed row(s) of {MAX_LENGTH} a step"
        )
    lines += ["", *table(results, peak), ""]
    sft_a, sft_b, dpo_a, dpo_b = results
    sft_up = sft_b["tokens_s"] / sft_a["tokens_s"]
    dpo_up = dpo_b.get("tokens_s_with_precompute", dpo_b["tokens_s"]) / dpo_a["tokens_s"]
    sft_mfu = sft_b["flops_s"] / peak if peak else None
    targets: dict[str, Any] = {"sft_b_mfu": sft_mfu, "sft_speedup": sft_up, "dpo_speedup": dpo_up}
    if CUDA and sft_mfu is not None:
        met = {"sft_mfu": sft_mfu >= TARGET_MFU, "sft_speedup": sft_up >= TARGET_SPEEDUP}
        met["dpo_speedup"] = dpo_up >= TARGET_SPEEDUP
        targets["met"] = met
        word = {True: "met", False: "NOT met"}
        lines.append(
            f"targets: SFT (b) MFU {100 * sft_mfu:.1f}% >= {TARGET_MFU:.0%}: {word[met['sft_mfu']]}; (b)/(a) "
            f"tokens/s >= {TARGET_SPEEDUP}x: SFT {sft_up:.2f}x {word[met['sft_speedup']]}, DPO with "
            f"precompute {dpo_up:.2f}x {word[met['dpo_speedup']]}"
        )
    else:
        lines.append(
            f"targets (H100: SFT (b) MFU >= {TARGET_MFU:.0%}; (b) >= {TARGET_SPEEDUP}x the tokens/s of (a)) "
            f"not checked on this run; speed-ups here: SFT {sft_up:.2f}x, DPO with precompute {dpo_up:.2f}x"
        )
    lines.append(f"total wall time {time.perf_counter() - started:.0f} s")
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        device = torch.cuda.get_device_name() if CUDA else "cpu"
        payload = dict(device=device, peak_flops=peak, model=info, args=vars(args), notes=notes)
        payload |= dict(results=results, targets=targets)
        args.json.write_text(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
