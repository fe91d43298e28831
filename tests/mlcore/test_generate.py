"""Generation with a trained policy (mlcore/generate.py) on the tiny Llama: batches, seeds, the
chat template, greedy decoding and a LoRA adapter directory, as a pre-label job on a GPU worker uses them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from mlcore.generate import PolicyLoadError, is_adapter, load_policy

CHAT = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is the cat reading?"},
]
PROMPTS: list[Any] = [CHAT, "Explain a small boat.", [{"role": "user", "content": "Who wrote the answer?"}]]


@pytest.fixture(scope="module")
def adapter_dir(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the tiny model, saved as training saves one: adapter weights and the tokenizer."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    model = get_peft_model(
        base, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    out = tmp_path_factory.mktemp("tiny-adapter")
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(out)
    return out


def test_batched_generation_gives_n_non_empty_texts_per_prompt(tiny_model: Path) -> None:
    with load_policy(tiny_model, batch_size=2) as policy:  # 3 prompts: two batches, the first padded
        assert policy.tokenizer.padding_side == "left" and str(policy.device) == "cpu"
        answers = policy.generate(PROMPTS, n=2, temperature=0.8, max_new_tokens=12, seed=7)
    assert len(answers) == 3
    for prompt, answer in zip(PROMPTS, answers, strict=True):
        assert len(answer.texts) == 2 and all(t and t == t.strip() for t in answer.texts)
        assert answer.texts[0] != answer.texts[1]  # sampled: two candidates, not one twice
        assert answer.tokens_in == len(policy.encode(prompt)) > 0
        assert all(1 <= t <= 12 for t in answer.tokens_out)


def test_seeded_generation_repeats_and_another_seed_differs(tiny_model: Path) -> None:
    with load_policy(tiny_model, batch_size=2) as policy:
        first = policy.generate(PROMPTS, n=2, temperature=1.0, max_new_tokens=10, seed=3)
        again = policy.generate(PROMPTS, n=2, temperature=1.0, max_new_tokens=10, seed=3)
        other = policy.generate(PROMPTS, n=2, temperature=1.0, max_new_tokens=10, seed=4)
    assert [a.texts for a in first] == [a.texts for a in again]
    assert [a.tokens_out for a in first] == [a.tokens_out for a in again]
    assert [a.texts for a in first] != [a.texts for a in other]


def test_message_prompts_go_through_the_chat_template_with_the_generation_prompt(tiny_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    with load_policy(tiny_model) as policy:
        text, templated = policy.render(CHAT)
        assert (
            templated
            and text == "<s><|system|>\nAnswer briefly.\n<|user|>\nWhat is the cat reading?\n<|assistant|>\n"
        )
        expected = tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
        assert policy.encode(CHAT) == tokenizer(expected, add_special_tokens=False)["input_ids"]
        assert policy.encode(CHAT).count(tokenizer.bos_token_id) == 1  # the template's, not a second one
        # plain text is one user message when there is a template…
        assert policy.render("Hi there") == ("<s><|user|>\nHi there\n<|assistant|>\n", True)
        # …and goes in as it is when there is none
        policy.tokenizer.chat_template = None
        assert policy.render("Hi there") == ("Hi there", False)
        assert policy.encode("Hi there") == tokenizer("Hi there")["input_ids"]  # with the tokenizer's own
        assert policy.render(CHAT) == ("Answer briefly.\n\nWhat is the cat reading?", False)
        assert policy.generate(["Hi there"], n=1, temperature=1.0, max_new_tokens=6, seed=1)[0].texts[0]


def test_greedy_decoding_gives_one_answer_n_times(tiny_model: Path) -> None:
    with load_policy(tiny_model) as policy:
        (answer,) = policy.generate([CHAT], n=3, temperature=0, max_new_tokens=6, seed=0)
        (alone,) = policy.generate([CHAT], n=1, temperature=0, max_new_tokens=6, seed=99)
    assert len(answer.texts) == 3 and len(set(answer.texts)) == 1
    assert answer.texts[0] == alone.texts[0] and answer.tokens_out[0] == alone.tokens_out[0] == 6


def test_an_adapter_directory_loads_merged_into_its_base(tiny_model: Path, adapter_dir: Path) -> None:
    assert is_adapter(adapter_dir) and not is_adapter(tiny_model)
    for weights in (None, "adapter"):  # found from the directory, or as the Model row says
        with load_policy(adapter_dir, weights=weights) as policy:
            assert type(policy.model).__name__ == "LlamaForCausalLM"  # merged: no peft wrapper left
            (answer,) = policy.generate([CHAT], n=2, temperature=0.9, max_new_tokens=8, seed=5)
            assert len(answer.texts) == 2 and all(answer.texts)


def test_close_gives_the_weights_back_and_a_missing_directory_is_named(
    tiny_model: Path, tmp_path: Path
) -> None:
    policy = load_policy(tiny_model)
    policy.close()
    assert policy.model is None
    with pytest.raises(PolicyLoadError, match="files are missing"):
        load_policy(tmp_path / "gone")
    with pytest.raises(PolicyLoadError, match="could not load the model"):
        load_policy(tmp_path)  # a directory, but no model in it
