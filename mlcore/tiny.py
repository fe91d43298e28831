"""A tiny, randomly initialised Llama and its tokenizer, built locally in seconds.

Tests, the demo seed and the benches need a base model that TRL accepts without a hub download; this one
has every piece the trainers touch (special tokens, a chat template with generation markers) and nothing else.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

# Assistant turns are wrapped in {% generation %} so SFT's `assistant_only_loss` can mask everything else.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    # tool schemas (TRL passes a row's `tools` column) and an assistant's tool calls, as agent models see them
    "{% if tools %}{{ '<|tools|>\n' + (tools | tojson) + '\n' }}{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' }}"
    "{% generation %}{{ message['content'] }}"
    "{% for call in message['tool_calls'] or [] %}"
    "{{ '<tool_call>' + call['function']['name'] + ' ' + call['function']['arguments'] + '</tool_call>' }}"
    "{% endfor %}{{ eos_token }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]

_SUBJECTS = [
    "the cat",
    "a robot",
    "my friend",
    "the teacher",
    "our team",
    "the model",
    "a farmer",
    "the city",
]
_VERBS = ["likes", "builds", "reads", "answers", "paints", "finds", "explains", "carries", "writes", "plans"]
_OBJECTS = ["a story", "the answer", "green apples", "a small boat", "the question", "clear code", "a map"]
_TAILS = [
    "today.",
    "every morning.",
    "with care.",
    "very quickly.",
    "in the rain.",
    "for everyone.",
    "again!",
]
_QUESTIONS = ["What is", "Why does", "How can", "Where is", "Who wrote", "Can you explain"]


def synthetic_sentences(count: int = 400, *, seed: int = 0) -> list[str]:
    """Plain English-looking text, so the BPE merges resemble those of a real tokenizer."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(count):
        if rng.random() < 0.3:
            sentences.append(
                f"{rng.choice(_QUESTIONS)} {rng.choice(_OBJECTS)}? {rng.choice(_SUBJECTS).capitalize()}"
            )
        else:
            sentences.append(
                f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
                f"{rng.choice(_TAILS)} {rng.randint(0, 99)}"
            )
    return sentences


def _bpe(seed: int, vocab_size: int, special_tokens: list[str]) -> Any:
    """A byte-level BPE tokenizer trained on the synthetic sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    bpe_trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodes, so no text is unknown
        show_progress=False,
    )
    tok.train_from_iterator(synthetic_sentences(seed=seed), trainer=bpe_trainer)
    return tok


def build_tiny_model(path: str | Path, *, seed: int = 0, vocab_size: int = 384) -> Path:
    """Writes a tokenizer and a 2-layer Llama (random weights) into `path`, loadable with Auto* classes."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_bpe(seed, vocab_size, SPECIAL_TOKENS),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=4096,
    )
    tokenizer.save_pretrained(out)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,  # RoPE: no table, so long rows cost nothing here
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    return out


# A vision-language chat template: content as TRL's typed parts (a string still works), one `<image>` token
# per image part, which the processor widens to the image's patch tokens.
VLM_CHAT_TEMPLATE = (
    "{% macro render(content) %}{% if content is string %}{{ content }}"
    "{% else %}{% for part in content or [] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{% endmacro %}"
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ render(message['content']) }}{{ eos_token }}{% endgeneration %}"
    "{% else %}{{ render(message['content']) }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
IMAGE_TOKEN = "<image>"


def build_tiny_vlm(path: str | Path, *, seed: int = 0, vocab_size: int = 384) -> Path:
    """Writes a tiny LLaVA (a 1-layer CLIP vision tower on 16 x 16 pixels, 8-pixel patches, and a 2-layer
    Llama; random weights) and its processor into `path`: loadable with AutoProcessor and
    AutoModelForImageTextToText, as TRL's trainers take vision-language models. Four tokens per image."""
    import torch
    from transformers import (
        CLIPImageProcessorPil,  # the Pillow image processor, which transformers picks without torchvision
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_bpe(seed, vocab_size, [*SPECIAL_TOKENS, IMAGE_TOKEN]),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=4096,
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )
    patch, side = 8, 16
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(
            size={"shortest_edge": side}, crop_size={"height": side, "width": side}
        ),
        tokenizer=tokenizer,
        patch_size=patch,
        vision_feature_select_strategy="default",  # drops the CLS token: (16 / 8)^2 = 4 tokens per image
        num_additional_image_tokens=1,
        chat_template=VLM_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)

    image_token = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    assert isinstance(image_token, int)
    torch.manual_seed(seed)
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=side,
        patch_size=patch,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=image_token,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    return out
