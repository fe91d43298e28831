"""Generation with a trained policy (a Model from a training run), on the worker that holds the GPU.

`load_policy(path)` loads a model directory as training saved it: full weights with AutoModelForCausalLM, a
LoRA adapter with peft (merged into its base, so generation runs at full speed), and the tokenizer saved
beside it. `Policy.generate(prompts, n=…)` writes `n` responses per prompt in batches, left-padded: a
message list goes through the tokenizer's chat template with the generation prompt, plain text through the
template as one user message (or as it is, when the tokenizer has no template). Sampling is seeded, so the
same prompts, batch and seed give the same texts again.

Imports torch: only workers import this module, and only when a job needs it."""

from __future__ import annotations

import copy
import gc
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

Prompt = str | Sequence[dict[str, Any]]  # plain text, or chat messages [{"role", "content"}]
DEFAULT_BATCH_SIZE = 8


class PolicyLoadError(Exception):
    """The directory does not hold a causal LM and its tokenizer (or its adapter's base is missing)."""


@dataclass
class Generation:
    """The responses to one prompt: texts without special tokens, trimmed; tokens as the tokenizer counts."""

    texts: list[str]
    tokens_in: int  # the prompt, once
    tokens_out: list[int] = field(default_factory=list)  # per text, up to and including its end token


def choose_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def choose_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU that has it, fp16 on an older GPU, fp32 on the CPU (where half precision is slow)."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def is_adapter(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def stable_seed(*parts: object) -> int:
    """A seed from values (ids), the same in every process: Python's hash() of a str is salted per run."""
    return zlib.crc32("/".join(map(str, parts)).encode()) & 0x7FFFFFFF


class Policy:
    """A loaded causal LM and its tokenizer, ready to generate; `close()` gives the memory back."""

    def __init__(self, model: Any, tokenizer: Any, device: torch.device, *, batch_size: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = max(1, batch_size)
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tokenizer.eos_token_id is not None:
            eos_ids.add(tokenizer.eos_token_id)
        self.eos_ids = sorted(eos_ids)
        # Padding, bos, unk and role markers are never part of an answer; a sampled one would vanish when
        # special tokens are stripped and leave a shorter (or empty) text than the tokens counted.
        self.suppressed = sorted(set(tokenizer.all_special_ids) - eos_ids)
        limit = getattr(model.config, "max_position_embeddings", None)
        self.max_positions = int(limit) if isinstance(limit, int) and limit > 0 else None

    # ---- prompts -------------------------------------------------------------------------------------
    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def render(self, prompt: Prompt) -> tuple[str, bool]:
        """The prompt as the model reads it, and whether that text already holds the special tokens."""
        if not self.has_chat_template:
            if isinstance(prompt, str):
                return prompt, False
            return "\n\n".join(str(m.get("content", "")) for m in prompt), False
        messages = (
            [{"role": "user", "content": prompt}]
            if isinstance(prompt, str)
            else [{"role": str(m["role"]), "content": str(m.get("content", ""))} for m in prompt]
        )
        try:
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception:  # templates that refuse a system turn (Gemma, Mistral): fold it into the next
            if not any(m["role"] == "system" for m in messages):
                raise
            text = self.tokenizer.apply_chat_template(
                _without_system(messages), add_generation_prompt=True, tokenize=False
            )
        return str(text), True

    def encode(self, prompt: Prompt, max_new_tokens: int = 0) -> list[int]:
        text, templated = self.render(prompt)
        ids: list[int] = self.tokenizer(text, add_special_tokens=not templated)["input_ids"]
        if self.max_positions and len(ids) + max_new_tokens > self.max_positions:
            keep = max(self.max_positions - max_new_tokens, 1)
            ids = ids[-keep:]  # the end holds the question and the generation prompt
        return ids

    def prompt_tokens(self, prompt: Prompt) -> int:
        return len(self.encode(prompt))

    # ---- generation ----------------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int = 1,
        temperature: float = 0.7,
        max_new_tokens: int = 128,
        seed: int = 0,
        min_new_tokens: int = 1,
    ) -> list[Generation]:
        """`n` responses to each prompt, in the prompts' order. Samples when temperature > 0 (then the
        `n` differ), greedy otherwise. `min_new_tokens` keeps the end token away that long, so a response
        is never empty merely because the model stopped at once."""
        if n < 1 or max_new_tokens < 1:
            raise ValueError("n and max_new_tokens must be at least 1")
        # Greedy decoding has one answer per prompt: asked for n, it is computed once and given n times.
        runs = n if temperature > 0 else 1
        config = self._config(runs, temperature, max_new_tokens, min(min_new_tokens, max_new_tokens))
        out: list[Generation] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            encoded = [self.encode(p, max_new_tokens) for p in chunk]
            batch = self.tokenizer.pad({"input_ids": encoded}, padding=True, return_tensors="pt")
            input_ids = batch["input_ids"].to(self.device)
            attention_mask = batch["attention_mask"].to(self.device)
            torch.manual_seed(seed + start)  # seeds the CPU and every GPU: the same batch samples the same
            with torch.inference_mode():
                output = self.model.generate(
                    input_ids=input_ids, attention_mask=attention_mask, generation_config=config
                )
            new_tokens = output[:, input_ids.shape[1] :].tolist()
            for i, ids in enumerate(encoded):
                rows = new_tokens[i * runs : (i + 1) * runs] * (n // runs)
                texts, counts = [], []
                for row in rows:
                    used = self._until_end(row)
                    counts.append(len(used))
                    texts.append(self.tokenizer.decode(used, skip_special_tokens=True).strip())
                out.append(Generation(texts=texts, tokens_in=len(ids), tokens_out=counts))
        return out

    def _config(self, n: int, temperature: float, max_new_tokens: int, min_new_tokens: int) -> Any:
        config = copy.deepcopy(self.model.generation_config)
        sample = temperature > 0
        config.update(
            do_sample=sample,
            # greedy: the model's own sampling defaults would only earn warnings
            temperature=temperature if sample else 1.0,
            top_p=config.top_p if sample else 1.0,
            top_k=config.top_k if sample else 50,
            num_return_sequences=n,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.eos_ids or None,
            suppress_tokens=self.suppressed or None,
        )
        config.max_length = None  # max_new_tokens decides; a stale max_length from the config would clash
        return config

    def _until_end(self, row: list[int]) -> list[int]:
        for j, token in enumerate(row):
            if token in self.eos_ids:
                return row[: j + 1]
        return row

    def close(self) -> None:
        """Frees the weights (and the GPU memory they held) for the next job on this worker."""
        on_gpu = self.device.type == "cuda"
        self.model = None
        gc.collect()
        if on_gpu:
            torch.cuda.empty_cache()

    def __enter__(self) -> Policy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _without_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    elif system:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def load_policy(
    path: str | Path,
    *,
    weights: str | None = None,
    device: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Policy:
    """Loads a model directory: `weights` "full" or "adapter" (default: what the directory holds)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = Path(path)
    if not directory.is_dir():
        raise PolicyLoadError(f"the model's files are missing: {directory} is not a directory on this worker")
    adapter = is_adapter(directory) if weights is None else weights == "adapter"
    target = choose_device(device)
    dtype = choose_dtype(target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        if adapter:
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(str(directory), dtype=dtype).merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=dtype)
    except (OSError, ValueError) as exc:
        raise PolicyLoadError(f"could not load the model in {directory}: {exc}") from exc
    tokenizer.padding_side = "left"  # batched generation continues every row from its last token
    if tokenizer.pad_token is None:  # Llama-style tokenizers ship without one
        tokenizer.pad_token = tokenizer.eos_token
    model.to(target)
    model.eval()
    return Policy(model, tokenizer, target, batch_size=batch_size)
