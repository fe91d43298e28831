"""Scoring responses with a trained reward model, the way TRL's RewardTrainer saw them in training:
a chat snapshot's rows as the prompt's messages plus the response as the assistant turn, through the
tokenizer's chat template; a plain-text snapshot's rows as prompt + response + EOS. Runs on a worker
(GPU when present); the web tier never imports this module."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mlcore.reward import load_reward_model


class RewardScorer:
    """A reward model loaded once; `score(pairs)` gives one scalar per (prompt, response). `chat` says
    how the snapshot it was trained on held its rows (the manifest's `chat`)."""

    def __init__(
        self,
        path: str | Path,
        *,
        chat: bool,
        max_length: int = 1024,
        batch_size: int = 16,
        device: str | None = None,
    ) -> None:
        self.model, self.tokenizer = load_reward_model(path)
        self.chat = chat and bool(getattr(self.tokenizer, "chat_template", None))
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cuda" and torch.cuda.is_bf16_supported():
            self.model.to(torch.bfloat16)
        self.model.to(self.device)

    def encode(self, prompt: str | list[dict[str, str]], response: str) -> list[int]:
        """`prompt` as the snapshot held it: a message list for a chat snapshot, text otherwise."""
        if self.chat:
            if isinstance(prompt, str):
                prompt = [{"role": "user", "content": prompt}]
            messages = [*prompt, {"role": "assistant", "content": response}]
            encoded: Any = self.tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)
            ids = encoded["input_ids"]
        else:
            if not isinstance(prompt, str):
                raise ValueError("a plain-text reward model scores text prompts")
            text = prompt + response
            eos = self.tokenizer.eos_token or ""
            ids = self.tokenizer(text=text if text.endswith(eos) else text + eos)["input_ids"]
        ids = list(ids)
        # Longer than the model was trained on: keep the end, where the response is.
        return ids[-self.max_length :]

    @torch.no_grad()
    def score(self, pairs: Sequence[tuple[str | list[dict[str, str]], str]]) -> list[float]:
        encoded = [self.encode(prompt, response) for prompt, response in pairs]
        # Similar lengths together: less padding per batch. Results go back in the order given.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        scores = [0.0] * len(encoded)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(len(encoded[i]) for i in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):  # right padding: the head reads the last non-pad token
                ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[row, : len(encoded[i])] = 1
            logits = self.model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device), use_cache=False
            ).logits
            for row, i in enumerate(chunk):
                scores[i] = float(logits[row, 0].float().item())
        return scores

    def close(self) -> None:
        del self.model
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
