"""What a person who started a run gets back when an input is wrong: one sentence naming the problem."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from datasets import Dataset

from mlcore import sft
from mlcore.common import choose_precision, load_data_files, split_dataset, trl_args
from mlcore.config import TrainConfig
from mlcore.inputs import TrainingInputError, resolve_base_model
from tests.mlcore.rows import preference_rows, sft_rows, write_jsonl

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


def test_base_model_paths_and_offline_hub_ids_are_checked(tmp_path: Path, tiny_model: Path) -> None:
    assert resolve_base_model(str(tiny_model)) == str(tiny_model)
    with pytest.raises(
        TrainingInputError, match=r"base model '/nowhere/model' is not a directory on this worker$"
    ):
        resolve_base_model("/nowhere/model")
    with pytest.raises(
        TrainingInputError,
        match="base model 'acme/llama-9b' is not a directory on this worker and the hub is offline",
    ):
        resolve_base_model("acme/llama-9b")
    with pytest.raises(TrainingInputError, match=re.escape("has no config.json")):
        resolve_base_model(str(tmp_path))


def test_data_files_load_from_jsonl_and_parquet_with_extra_columns(tmp_path: Path) -> None:
    rows = preference_rows(6)
    jsonl = write_jsonl(tmp_path / "train.jsonl", rows)
    parquet = tmp_path / "eval.parquet"
    Dataset.from_list(rows[:3]).to_parquet(str(parquet))

    data = load_data_files(str(jsonl), str(parquet))

    assert data["train"].num_rows == 6 and data["eval"].num_rows == 3
    assert data["train"]["margin"] == [1.0, None, 1.0, None, 1.0, None]
    assert data["eval"]["score_chosen"] == [None, 6.0, 6.0]


def test_unreadable_or_missing_data_files_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "a", "chosen": "b"\nnot json at all\n')
    with pytest.raises(TrainingInputError, match=re.escape(f"could not read train file '{broken}'")):
        load_data_files(str(broken))
    with pytest.raises(
        TrainingInputError, match=re.escape("eval file '/nope.jsonl' does not exist on this worker")
    ):
        load_data_files(str(write_jsonl(tmp_path / "ok.jsonl", sft_rows(2))), "/nope.jsonl")
    with pytest.raises(TrainingInputError, match=re.escape("must end in .jsonl, .json or .parquet")):
        load_data_files(str(shutil.copy(broken, tmp_path / "data.csv")))


def test_rows_without_the_method_columns_are_refused() -> None:
    with pytest.raises(
        TrainingInputError,
        match=r"the train data has columns \(messages\) but dpo needs \(chosen, rejected\)",
    ):
        split_dataset("dpo", {"train": Dataset.from_list(sft_rows(2))})
    with pytest.raises(TrainingInputError, match="the eval data has columns"):
        split_dataset(
            "sft", {"train": Dataset.from_list(sft_rows(2)), "test": Dataset.from_list(preference_rows(2))}
        )


def test_conversational_rows_need_a_chat_template(tiny_model: Path, tmp_path: Path) -> None:
    plain = Path(shutil.copytree(tiny_model, tmp_path / "no-template"))
    (plain / "chat_template.jinja").unlink()
    tokenizer_config = json.loads((plain / "tokenizer_config.json").read_text())
    tokenizer_config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    config = TrainConfig(method="sft", base_model=str(plain), train_file="t", output_dir=str(tmp_path / "o"))

    with pytest.raises(TrainingInputError, match=r"the data is conversational .* has no chat template"):
        sft.run(config, {"train": Dataset.from_list(sft_rows(4))}, [])


def test_rows_all_longer_than_max_length_are_reported_not_trained_on(
    tiny_model: Path, tmp_path: Path
) -> None:
    from mlcore import reward

    config = TrainConfig(
        method="reward",
        base_model=str(tiny_model),
        train_file="t",
        output_dir=str(tmp_path / "o"),
        max_length=8,
    )
    with pytest.raises(TrainingInputError, match="every row is longer than max_length=8"):
        reward.run(config, {"train": Dataset.from_list(preference_rows(4))}, [])


def test_unknown_trl_arguments_are_an_input_error(tmp_path: Path) -> None:
    from trl import DPOConfig

    config = TrainConfig(
        method="dpo", base_model="m", train_file="t", output_dir=str(tmp_path), trl_args={"betta": 0.2}
    )
    with pytest.raises(TrainingInputError, match="DPOConfig rejected the arguments"):
        trl_args(DPOConfig, config, "fp32")


def test_trl_arguments_fit_a_cpu_worker(tmp_path: Path) -> None:
    from trl import KTOConfig

    config = TrainConfig(
        method="kto", base_model="m", train_file="t", output_dir=str(tmp_path), warmup_ratio=0.1, beta=0.3
    )
    args = trl_args(KTOConfig, config, choose_precision("auto"), beta=config.beta)
    assert (args.beta, args.learning_rate, args.per_device_train_batch_size) == (0.3, 1e-6, 8)
    assert args.report_to == [] and args.save_strategy == "no"
    assert args.get_warmup_steps(100) == 10
    if not torch.cuda.is_available():
        assert args.use_cpu and not args.bf16 and not args.fp16 and not args.gradient_checkpointing


def test_precision_auto_follows_the_hardware() -> None:
    if torch.cuda.is_available():
        expected = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        assert choose_precision("auto") == expected
    else:
        assert choose_precision("auto") == "fp32"
        with pytest.raises(TrainingInputError, match="precision fp16 needs a CUDA GPU"):
            choose_precision("fp16")
    assert choose_precision("fp32") == "fp32"
