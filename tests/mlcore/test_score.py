"""Scoring with a trained reward model: rows shaped as the trainer saw them, and batching changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from mlcore import reward
from mlcore.config import TrainConfig
from mlcore.score import RewardScorer
from tests.mlcore.rows import separable_preference_rows

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


@pytest.fixture(scope="module")
def reward_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rm")
    config = TrainConfig(
        method="reward",
        base_model=str(tiny_model),
        train_file="unused",
        output_dir=str(out),
        max_steps=24,
        per_device_train_batch_size=4,
        learning_rate=5e-4,
    )
    reward.run(config, {"train": Dataset.from_list(separable_preference_rows(48))})
    return out


def test_scores_rank_held_out_pairs_the_way_the_model_learned(reward_model: Path) -> None:
    scorer = RewardScorer(reward_model, chat=False)
    rows = separable_preference_rows(6, start=500)  # prompts it never saw
    scores = scorer.score([(r["prompt"], r[side]) for r in rows for side in ("chosen", "rejected")])
    chosen, rejected = scores[0::2], scores[1::2]
    assert all(c > r + 0.5 for c, r in zip(chosen, rejected, strict=True))


def test_batching_and_order_do_not_change_a_score(reward_model: Path) -> None:
    pairs = [(f"Prompt {i} {'word ' * i}", f"Answer {'x' * (i % 5)} {i}") for i in range(11)]
    one_by_one = RewardScorer(reward_model, chat=False, batch_size=1).score(pairs)
    batched = RewardScorer(reward_model, chat=False, batch_size=8).score(pairs)
    assert batched == pytest.approx(one_by_one, abs=1e-4)  # padding never reaches the head
    assert len(set(round(s, 4) for s in one_by_one)) > 1


def test_rows_are_tokenized_as_the_reward_trainer_tokenizes_them(reward_model: Path) -> None:
    plain = RewardScorer(reward_model, chat=False)
    tok = plain.tokenizer
    assert plain.encode("Q?", " A.") == tok(text="Q? A." + tok.eos_token)["input_ids"]  # TRL adds EOS to text
    chat = RewardScorer(reward_model, chat=True)
    messages = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]
    expected = tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
    assert chat.encode([{"role": "user", "content": "Q?"}], "A.") == list(expected)
    assert chat.encode("Q?", "A.") == list(expected)  # a plain prompt is one user turn
    with pytest.raises(ValueError, match="plain-text"):
        plain.encode([{"role": "user", "content": "Q?"}], "A.")


def test_long_rows_keep_their_end(reward_model: Path) -> None:
    scorer = RewardScorer(reward_model, chat=False, max_length=16)
    ids = scorer.encode("word " * 200, "the response at the end")
    assert len(ids) == 16
    assert ids[-1] == scorer.tokenizer.eos_token_id
