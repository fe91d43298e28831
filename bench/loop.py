"""Closing the loop: do better labels and a smarter queue order give a better reward model?

A synthetic pairwise world whose true preference is learnable from the text: responses are ten words from a
vocabulary of 120 made-up words, a hidden third of them "good", and the response with more good words is
the better one (pairs never tie). The gap in good words varies, so some pairs are easy and some close.
Per seed (a new hidden set, new pairs, a new annotator draw):

A. Label quality. The cast of bench/label_quality.py (careful, average, two left-biased annotators and a
   spammer) annotates a pool of tasks through the real app (queue, API, gold mixing, overlap 3). Preflab's
   export service writes two preference snapshots: naive majority and the quality-aware aggregate. A tiny
   reward model (mlcore/tiny.py's Llama, trained by mlcore/reward.py) is trained on
   each with the same seeds, hyper-parameters and number of steps, and scored (mlcore/score.py)
   on held-out pairs with known truth. For scale, the same model is also trained on the true labels of
   every pool task, and on the majority labels of only the tasks the quality-aware export kept.
B. Active learning. The same pool, unlabelled. A random seed set is bought; then each round a reward model
   is trained on the labels bought so far, scores the rest of the pool, and the next batch is bought in the
   order of Preflab's own rule (app/loop/priority.py `ranked`): "margin" (least sure first) in one arm,
   "random" in the other. Buying a task reveals its row in the quality-aware export: the cast's answers,
   aggregated by Preflab (the annotators' weights come from their work on the whole pool, the same for
   both arms); a task that export dropped costs budget and gives no row. Same budget, model, steps and
   seeds in both arms; the truth is used only to score.

Every reward-model figure is the mean over a few model seeds (see RewardModels). The effects are about a
point of accuracy against a spread of 2 to 3 points between seeds, hence 16 seeds by default (standard error
about 0.6). Seeds run in parallel processes, one CPU thread each, so a machine with a core per seed takes
about as long as one seed (1.5 to 2 minutes); on 2 cores 16 seeds take about 16 minutes. Everything is
offline and CPU-only. --quick (2 seeds, a smaller pool, about a minute) checks that it runs; its figures
are too few to conclude anything.

    .venv/bin/python bench/loop.py [--quick] [--seeds 16] [--json out.json]

The queue draws gold turns and display orders from the OS, so figures move a little between runs of one
seed; the spread across seeds is printed beside every mean.
"""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS_IN_RESPONSE = 10
GOOD_SHARE = 1 / 3
# How many more good words the better response has: 1 (close) to 5 (obvious), in these proportions.
GAP_WEIGHTS = (0.30, 0.20, 0.20, 0.15, 0.15)
ARMS_A = ("truth", "majority", "majority_same_tasks", "quality")
ARMS_SHORT = ("truth", "maj", "maj=rows", "qual")
RULES_B = ("margin", "random")


@dataclass(frozen=True)
class Params:
    pool: int = 600  # tasks the cast annotates (part A) and the unlabelled pool (part B)
    gold: int = 40
    overlap: int = 3
    test: int = 1000  # held-out pairs
    batch_size: int = 16
    learning_rate: float = 5e-4  # far above real-model rates: a fresh tiny model must move in ~100 steps
    epochs: float = 2.0  # steps = epochs x tasks / batch; part A counts the whole pool for every arm
    al_seed: int = 50  # tasks bought at random before the first round
    al_batch: int = 50  # tasks bought per round
    al_rounds: int = 4
    model_seeds: int = 2  # reward models per figure (see RewardModels)


QUICK = Params(pool=300, gold=30, test=300, al_seed=40, al_batch=40, al_rounds=3)


# --- the synthetic world --------------------------------------------------------------------------------


def vocabulary(size: int = 120) -> list[str]:
    """Made-up two-syllable words (the same list every run), so nothing but this bench gives them meaning."""
    rng = random.Random(0)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: list[str] = []
    while len(words) < size:
        word = rng.choice(syllables) + rng.choice(syllables)
        if word not in words:
            words.append(word)
    return words


def good_words(seed: int, words: list[str]) -> frozenset[str]:
    return frozenset(random.Random(f"good-{seed}").sample(words, round(len(words) * GOOD_SHARE)))


def count_good(text: str, good: frozenset[str]) -> int:
    return sum(word in good for word in text.split())


def better_of(a: str, b: str, good: frozenset[str]) -> str:
    """The truth: "a" or "b", whichever has more good words (the world never makes an exact tie)."""
    diff = count_good(a, good) - count_good(b, good)
    if diff == 0:
        raise ValueError("a tied pair has no truth")
    return "a" if diff > 0 else "b"


@dataclass(frozen=True)
class Pair:
    index: int
    prompt: str
    a: str
    b: str
    better: str  # "a" or "b"
    gap: int  # good words between them: 1 is a close call

    @property
    def external_id(self) -> str:
        return f"t{self.index}"

    def text(self, side: str) -> str:
        return self.a if side == "a" else self.b

    def truth_row(self) -> dict[str, str]:
        """The pair as a preference row labelled by the truth."""
        worse = "b" if self.better == "a" else "a"
        return {"prompt": self.prompt, "chosen": self.text(self.better), "rejected": self.text(worse)}

    def row(self, *, gold: bool = False) -> dict[str, Any]:
        """The task as Preflab imports it."""
        row: dict[str, Any] = {
            "external_id": self.external_id,
            "prompt": self.prompt,
            "responses": [{"id": "a", "text": self.a}, {"id": "b", "text": self.b}],
        }
        if gold:
            row["gold"] = {"choice": self.better}
        return row


def make_pair(rng: random.Random, index: int, good: frozenset[str], words: list[str]) -> Pair:
    goods, others = sorted(good), [w for w in words if w not in good]
    gap = rng.choices(range(1, len(GAP_WEIGHTS) + 1), GAP_WEIGHTS)[0]
    low = rng.randint(0, WORDS_IN_RESPONSE - gap)

    def response(n_good: int) -> str:
        chosen = [rng.choice(goods) for _ in range(n_good)]
        chosen += [rng.choice(others) for _ in range(WORDS_IN_RESPONSE - n_good)]
        rng.shuffle(chosen)
        return " " + " ".join(chosen)  # the prompt and the response are concatenated as text

    high_text, low_text = response(low + gap), response(low)
    a, b = (high_text, low_text) if rng.random() < 0.5 else (low_text, high_text)
    pair = Pair(index, f"Task {index}: which answer is better?", a, b, better_of(a, b, good), gap)
    assert count_good(pair.text(pair.better), good) == low + gap
    return pair


def build_base_model(path: Path, words: list[str]) -> Path:
    """tiny.py's 2-layer Llama, with a tokenizer trained (as tiny.py trains its own) on this world's words
    and prompts, so that every word is one token; embeddings resized to match, special-token ids unchanged."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    from mlcore.tiny import CHAT_TEMPLATE, SPECIAL_TOKENS, build_tiny_model

    build_tiny_model(path)
    rng = random.Random(0)
    corpus = [" ".join(rng.sample(words, WORDS_IN_RESPONSE)) for _ in range(3000)]
    corpus += [f"Task {i}: which answer is better?" for i in range(200)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    bpe = trainers.BpeTrainer(
        vocab_size=2000,  # more than the corpus has merges for: it stops when every word is whole
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=bpe)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>", chat_template=CHAT_TEMPLATE,
                                        model_max_length=4096)  # fmt: skip
    split = [w for w in words if len(tokenizer.tokenize(" " + w)) != 1]
    assert not split, f"words the tokenizer splits: {split}"
    model = LlamaForCausalLM.from_pretrained(path)
    ids = (model.config.bos_token_id, model.config.eos_token_id, model.config.pad_token_id)
    assert ids == (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)
    model.resize_token_embeddings(len(tokenizer))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# --- one seed, in its own process -----------------------------------------------------------------------


class RewardModels:
    """Tiny reward models trained on preference rows, one set of hyper-parameters for all. A figure is the
    mean held-out accuracy of `params.model_seeds` models trained on the same rows with different seeds
    (initialisation and data order): one run of a model this small moves about 2 points with its seed alone.
    The seeds depend on the world's seed only, so every arm gets the same ones."""

    def __init__(self, base: Path, workdir: Path, params: Params, seed: int, test: list[Pair]) -> None:
        self.base, self.workdir, self.params, self.seed, self.test = base, workdir, params, seed, test
        self.runs = 0

    def fit(self, rows: list[dict[str, Any]], *, steps: int) -> tuple[list[float], Path]:
        """Held-out accuracy of each model seed's model, and the first seed's model."""
        seeds = [self.seed * 1000 + k for k in range(self.params.model_seeds)]
        models = [self.train(rows, steps=steps, seed=s) for s in seeds]
        return [self.accuracy(m) for m in models], models[0]

    def steps_for(self, tasks: int) -> int:
        return max(1, math.ceil(self.params.epochs * tasks / self.params.batch_size))

    def train(self, rows: list[dict[str, Any]], *, steps: int, seed: int) -> Path:
        from datasets import Dataset

        from mlcore import reward
        from mlcore.config import TrainConfig

        self.runs += 1
        out = self.workdir / f"rm-{self.runs}"
        config = TrainConfig(
            method="reward",
            base_model=str(self.base),
            train_file="(in memory)",
            output_dir=str(out),
            max_steps=steps,
            per_device_train_batch_size=self.params.batch_size,
            learning_rate=self.params.learning_rate,
            seed=seed,
            logging_steps=steps,
        )
        keep = ("prompt", "chosen", "rejected")
        reward.run(config, {"train": Dataset.from_list([{k: r[k] for k in keep} for r in rows])})
        return out

    @staticmethod
    def scores(model: Path, pairs: list[Pair]) -> list[tuple[float, float]]:
        """(reward of a, reward of b) per pair."""
        from mlcore.score import RewardScorer

        scorer = RewardScorer(model, chat=False, batch_size=64, device="cpu")
        flat = scorer.score([(p.prompt, p.a) for p in pairs] + [(p.prompt, p.b) for p in pairs])
        scorer.close()
        return list(zip(flat[: len(pairs)], flat[len(pairs) :], strict=True))

    def accuracy(self, model: Path) -> float:
        """Share of held-out pairs where the truth's better response gets the higher reward."""
        right = sum(
            (ra > rb) if p.better == "a" else (rb > ra)
            for p, (ra, rb) in zip(self.test, self.scores(model, self.test), strict=True)
        )
        return right / len(self.test)


def quiet() -> None:
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


def run_seed(seed: int, params: Params, base: str) -> dict[str, Any]:
    """Everything for one seed, in a fresh process with its own data directory and database."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"preflab-loop-{seed}-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["HF_DATASETS_CACHE"] = str(tmp / "hf-datasets")
        from bench.label_quality import configure, export_preferences, simulate

        configure(tmp)
        import torch

        torch.set_num_threads(1)  # one process per seed; tiny matrices gain nothing from more threads
        quiet()
        from app.cli import run_migrations

        run_migrations()
        words = vocabulary()
        good = good_words(seed, words)
        rng = random.Random(seed)
        pool = [make_pair(rng, i, good, words) for i in range(params.pool)]
        gold = [make_pair(rng, params.pool + i, good, words) for i in range(params.gold)]
        test = [make_pair(rng, 100_000 + i, good, words) for i in range(params.test)]
        rows = [p.row() for p in pool] + [p.row(gold=True) for p in gold]
        sim = simulate(rows, {p.external_id: p.better for p in pool + gold}, rng=rng, overlap=params.overlap)
        seconds = {"annotation": time.perf_counter() - started}

        exports: dict[str, list[dict[str, Any]]] = {}
        labels: dict[str, Any] = {}
        for mode in ("majority", "quality"):
            manifest, exports[mode] = export_preferences(sim, mode, tmp / f"export-{mode}")
            labels[mode] = {"rows": len(exports[mode]), "accuracy": label_accuracy(exports[mode], pool),
                            "dropped": manifest["dropped"]}  # fmt: skip
        kept = {r["prompt"] for r in exports["quality"]}
        arms = {
            "truth": [p.truth_row() for p in pool],
            "majority": exports["majority"],
            "majority_same_tasks": [r for r in exports["majority"] if r["prompt"] in kept],
            "quality": exports["quality"],
        }
        labels["majority_same_tasks"] = label_accuracy(arms["majority_same_tasks"], pool)
        models = RewardModels(Path(base), tmp, params, seed, test)
        steps = models.steps_for(params.pool)  # the same for every arm, whatever its row count
        runs_a = {arm: models.fit(data, steps=steps)[0] for arm, data in arms.items()}
        seconds["part_a"] = time.perf_counter() - started - sum(seconds.values())

        part_b = active_learning(models, pool, exports["quality"], seed)
        seconds["part_b"] = time.perf_counter() - started - sum(seconds.values())
    return {
        "seed": seed,
        "good_words": sorted(good),
        "labels": labels,
        "part_a": {
            "steps": steps,
            "accuracy": {a: statistics.fmean(v) for a, v in runs_a.items()},
            "runs": runs_a,
        },
        "part_b": part_b,
        "seconds": {phase: round(value, 1) for phase, value in seconds.items()},
    }


def label_accuracy(rows: list[dict[str, Any]], pool: list[Pair]) -> float:
    """Share of preference rows whose chosen response is the truth's better one."""
    by_prompt = {p.prompt: p for p in pool}
    right = sum(r["chosen"] == by_prompt[r["prompt"]].text(by_prompt[r["prompt"]].better) for r in rows)
    return right / len(rows) if rows else 0.0


def active_learning(
    models: RewardModels, pool: list[Pair], quality_rows: list[dict[str, Any]], seed: int
) -> dict[str, Any]:
    """Both orders from the same random seed set; the first seed's model of each round scores the rest."""
    from app.loop.priority import Scored, ranked

    params = models.params
    label_of = {r["prompt"]: r for r in quality_rows}  # a task's row, revealed only once it is bought
    first = [p.index for p in random.Random(f"seed-set-{seed}").sample(pool, params.al_seed)]
    budgets = [params.al_seed + k * params.al_batch for k in range(params.al_rounds + 1)]
    out: dict[str, Any] = {"budget": budgets}
    for rule in RULES_B:
        bought = list(first)
        curve, runs, rows_used = [], [], []
        for k, budget in enumerate(budgets):
            rows = [label_of[pool[i].prompt] for i in bought if pool[i].prompt in label_of]
            accuracies, model = models.fit(rows, steps=models.steps_for(budget))
            curve.append(statistics.fmean(accuracies))
            runs.append(accuracies)
            rows_used.append(len(rows))
            if k == params.al_rounds:
                break
            have = set(bought)
            rest = [p for p in pool if p.index not in have]
            if rule == "margin":
                rewards = models.scores(model, rest)
                items = [
                    Scored(p.index, {"a": ra, "b": rb}) for p, (ra, rb) in zip(rest, rewards, strict=True)
                ]
            else:
                items = [Scored(p.index, {}) for p in rest]  # a seeded shuffle needs no scores
            bought += ranked(rule, items, seed=seed * 100 + k)[: params.al_batch]
        close = sum(pool[i].gap == 1 for i in bought) / len(bought)
        out[rule] = {"accuracy": curve, "runs": runs, "rows": rows_used, "close_share": close}
    return out


# --- report ---------------------------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float]:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {
        "mean": statistics.fmean(values),
        "sd": sd,
        "se": sd / math.sqrt(len(values)),
        "min": min(values),
        "max": max(values),
    }


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def mean_sd(values: list[float], *, signed: bool = False) -> str:
    """Points (x100): mean ± sample standard deviation over seeds."""
    s = spread([100 * v for v in values])
    return f"{s['mean']:+.1f} ± {s['sd']:.1f}" if signed else f"{s['mean']:.1f} ± {s['sd']:.1f}"


def line(cells: list[Any], width: int = 11) -> str:
    return "  ".join(f"{c:>{width}}" for c in cells)


def ahead(diffs: list[float]) -> str:
    return f"ahead in {sum(d > 0 for d in diffs)}/{len(diffs)} seeds, behind in {sum(d < 0 for d in diffs)}"


def report(results: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    seeds = ", ".join(str(r["seed"]) for r in results)
    for text in (
        f"world: responses of {WORDS_IN_RESPONSE} words out of {len(vocabulary())} made-up ones, a hidden"
        f" third of them good; more good words wins (gap 1..5; 1 word in {GAP_WEIGHTS[0]:.0%} of pairs)",
        f"pool {params.pool} tasks + {params.gold} gold, overlap {params.overlap}, the cast of "
        f"bench/label_quality.py; {params.test} held-out pairs; seeds {seeds}",
        f"reward model: tiny Llama (2 layers, width 64) from scratch; batch {params.batch_size}, lr "
        f"{params.learning_rate:g}, steps = {params.epochs:g} x tasks / batch",
        f"every RM figure: the mean of {params.model_seeds} models trained on the same rows (model seeds"
        " shared by all arms)",
    ):
        print(text)

    steps = results[0]["part_a"]["steps"]
    print(f"\nA. label quality -> reward model: accuracy in %, every model {steps} steps")
    print(
        line(["seed", "maj rows", "maj labels", "qual rows", "qual labels", *(f"RM {a}" for a in ARMS_SHORT)])
    )
    for r in results:
        lab, acc = r["labels"], r["part_a"]["accuracy"]
        majority, quality = lab["majority"], lab["quality"]
        print(line([r["seed"], majority["rows"], pct(majority["accuracy"]), quality["rows"],
                    pct(quality["accuracy"]), *(pct(acc[a]) for a in ARMS_A)]))  # fmt: skip
    col = {a: [r["part_a"]["accuracy"][a] for r in results] for a in ARMS_A}
    lab_m = [r["labels"]["majority"]["accuracy"] for r in results]
    lab_q = [r["labels"]["quality"]["accuracy"] for r in results]
    print(line(["mean ± sd", "", mean_sd(lab_m), "", mean_sd(lab_q), *(mean_sd(col[a]) for a in ARMS_A)]))
    for note in (
        "maj/qual labels: share of exported rows whose chosen response is the truth's.",
        "RM: held-out pairwise accuracy of a reward model trained on the true labels of every pool task",
        "(truth), on the majority export (maj), on the majority labels of only the tasks the quality export",
        "kept (maj=rows), on the quality-aware export (qual).",
    ):
        print(f"  {note}")
    for r in results:
        dropped = r["labels"]["quality"]["dropped"] or "none"
        same = pct(r["labels"]["majority_same_tasks"])
        print(
            f"  seed {r['seed']}: the quality export dropped {dropped}; majority labels of those kept: {same}"
        )

    budgets = results[0]["part_b"]["budget"]
    print(f"\nB. active learning: {params.al_seed} tasks bought at random, then {params.al_rounds} rounds of "
          f"{params.al_batch} in each order;\n   held-out RM accuracy in % by tasks bought")  # fmt: skip
    print(line(["seed", "order", *budgets, "rows", "close"], 9))
    for r in results:
        for rule in RULES_B:
            arm = r["part_b"][rule]
            print(line([r["seed"], rule, *(pct(a) for a in arm["accuracy"]), arm["rows"][-1],
                        f"{arm['close_share']:.0%}"], 9))  # fmt: skip
    curves = {rule: [[r["part_b"][rule]["accuracy"][k] for r in results] for k in range(len(budgets))]
              for rule in RULES_B}  # fmt: skip
    for rule in RULES_B:
        print(line(["mean ± sd", rule, *(mean_sd(v) for v in curves[rule])], 9))
    diffs_b = [[m - r for m, r in zip(curves["margin"][k], curves["random"][k], strict=True)]
               for k in range(len(budgets))]  # fmt: skip
    print(line(["", "m - r", *(mean_sd(d, signed=True) for d in diffs_b)], 9))
    for note in (
        "labels: a bought task's row in the quality-aware export; rows: rows the bought tasks gave (a task",
        "that export dropped gives none); close: share of the bought tasks whose responses differ by one",
        "good word (from the truth, for this report only).",
    ):
        print(f"  {note}")

    d_labels = [q - m for q, m in zip(lab_q, lab_m, strict=True)]
    d_quality = [q - m for q, m in zip(col["quality"], col["majority"], strict=True)]
    d_same = [q - m for q, m in zip(col["quality"], col["majority_same_tasks"], strict=True)]
    d_final = diffs_b[-1]
    d_rounds = [statistics.fmean(d[i] for d in diffs_b[1:]) for i in range(len(results))]
    print("\nsummary: points of accuracy, mean ± sd over seeds (se: standard error of the mean)")
    for label, diffs in (
        ("quality-aware minus majority, label accuracy", d_labels),
        ("quality-aware minus majority, held-out RM accuracy", d_quality),
        ("the same, against majority on the same tasks", d_same),
        (f"margin minus random, RM accuracy at {budgets[-1]} tasks", d_final),
        (f"margin minus random, mean over rounds 1..{len(budgets) - 1}", d_rounds),
    ):
        se = spread(diffs)["se"] * 100
        print(f"  {label:<52} {mean_sd(diffs, signed=True):>11}  (se {se:.1f}; {ahead(diffs)})")
    return {
        "quality_minus_majority_labels": spread(d_labels),
        "quality_minus_majority_rm": spread(d_quality),
        "quality_minus_majority_same_tasks_rm": spread(d_same),
        "margin_minus_random_final": spread(d_final),
        "margin_minus_random_mean_over_rounds": spread(d_rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller pool, 2 seeds: about a minute")
    parser.add_argument("--seeds", type=int, default=None, help="how many seeds (default 16, quick 2)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default: one per seed, up to CPUs)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    args = parser.parse_args()
    params = QUICK if args.quick else Params()
    seeds = list(range(args.first_seed, args.first_seed + (args.seeds or (2 if args.quick else 16))))
    workers = args.workers or max(1, min(len(seeds), os.cpu_count() or 1))
    started = time.perf_counter()
    quiet()
    with tempfile.TemporaryDirectory(prefix="preflab-loop-base-") as base:
        build_base_model(Path(base), vocabulary())
        results = []
        # A fresh process per seed: Preflab caches its settings and database engine per process.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=spawn, max_tasks_per_child=1) as pool:
            jobs = [pool.submit(run_seed, seed, params, base) for seed in seeds]
            for job in as_completed(jobs):
                results.append(job.result())
                took = ", ".join(f"{phase} {t:.0f} s" for phase, t in results[-1]["seconds"].items())
                print(f"seed {results[-1]['seed']} done: {took}", file=sys.stderr)
    results.sort(key=lambda r: r["seed"])
    summary = report(results, params)
    elapsed = time.perf_counter() - started
    print(f"\n{len(seeds)} seeds in {elapsed:.0f} s on {workers} processes")
    if args.json:
        args.json.write_text(json.dumps({"params": asdict(params), "seeds": results, "summary": summary,
                                         "seconds": round(elapsed, 1)}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
