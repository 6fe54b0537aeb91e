"""Training speed of GenLab's t5 and bert families against the loop a user would write with transformers
(`Seq2SeqTrainer` / `Trainer`) on the same model config, data, batch, optimizer and schedule; and the t5
family's generation (its next_logits decode loop, what the gated API streams) against transformers'
`generate` on the same model and greedy settings.

    python -m benchmarks.bench_transformers --steps 120 --warmup 10 --rounds 5

GenLab's side is its real training path with the preset's own settings: genlab.runner.train.build_trainer
with a run store and a run (store logger, progress, samples on the preset's schedule, NaN guard, checkpoint
at each epoch end), the family's data module and its DataLoader, which cuts each batch to its longest row.
transformers' side is `Trainer` in the two ways its tutorials write it, on the same examples:
- `padded`: every example tokenized to the preset's full length (`padding="max_length"`), its default collator;
- `dynamic`: unpadded examples and `DataCollatorForSeq2Seq` / `DataCollatorWithPadding`, which pad each
  batch to its longest row.
Each side is timed by wall clock from the start of batch `--warmup` to the end of training, so data loading,
logging and every per-step cost count; start-up (model build, tokenizer, first batches) counts for neither.
Rounds alternate sides in one process after one untimed round of each (the process's first Lightning fit and
first Trainer pay one-time costs); every round's ratio is printed and the median kept, by wall time and by
this process's CPU time (the work done, whatever else the machine runs). The unit is examples (pairs or
texts) per second: with batches cut to their longest row the tokens a step computes differ by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
PRESETS = {"t5": "configs/t5_emoji_category.yaml", "bert": "configs/bert_kjv_or_shakespeare.yaml"}


def load_config(family: str, steps: int) -> Any:
    import yaml

    from genlab.core.parsing import parse_config

    raw = yaml.safe_load((ROOT / PRESETS[family]).read_text())
    raw["trainer"].update({"max_steps": steps, "limit_val_batches": 0, "max_epochs": 1000, "log_every_n_steps": 20})
    return parse_config(raw)  # samples on the preset's schedule (0 would mean every epoch, not none)


class WallClock:
    """Wall and process-CPU seconds from the start of batch `warmup` to the end of training. CPU time
    (all of this process's threads) counts the work done, not the waits for a core that other processes
    cause on a shared machine; wall time is what a user waits."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.seen = warmup, 0
        self.t0 = self.t1 = self.c0 = self.c1 = 0.0

    def batch_start(self) -> None:
        if self.seen == self.warmup:
            self.t0, self.c0 = time.perf_counter(), time.process_time()
        self.seen += 1

    def end(self) -> None:
        self.t1, self.c1 = time.perf_counter(), time.process_time()

    def per_step(self) -> tuple[float, float]:
        n = max(1, self.seen - self.warmup)
        return (self.t1 - self.t0) / n, (self.c1 - self.c0) / n


def genlab_round(config: Any, warmup: int, home: Path) -> tuple[float, float]:
    """(wall, CPU) seconds per batch of GenLab's own trainer (build_trainer with a store run) on the family's module."""
    import lightning as L

    from genlab.runner.train import build_trainer, prepare
    from genlab.store.runs import RunStore

    clock = WallClock(warmup)

    class Clock(L.Callback):
        def on_train_batch_start(self, *a: Any) -> None:
            clock.batch_start()

        def on_train_end(self, *a: Any) -> None:
            clock.end()

    store = RunStore(home)
    run = store.create_run(config, status="running")
    torch.manual_seed(0)
    family, dm, module = prepare(config)
    trainer = build_trainer(config, family, store, run.id, extra_callbacks=[Clock()])
    trainer.fit(module, datamodule=dm)
    return clock.per_step()


def reference_rows(dm: Any, seq2seq: bool, padding: str) -> list[dict[str, Any]]:
    """The data module's examples as Trainer rows: padded to full length, or unpadded for a collator."""
    a, m, y = dm.train_t
    if padding == "padded":
        return [{"input_ids": a[i], "attention_mask": m[i], "labels": y[i]} for i in range(len(a))]
    rows = []
    for i in range(len(a)):
        n = int(m[i].sum())
        label = y[i][y[i] != -100].tolist() if seq2seq else int(y[i])
        rows.append({"input_ids": a[i][:n].tolist(), "attention_mask": m[i][:n].tolist(), "labels": label})
    return rows


def transformers_round(config: Any, warmup: int, tmp: Path, padding: str) -> tuple[float, float]:
    """(wall, CPU) seconds per batch of transformers' Trainer / Seq2SeqTrainer on the same model config and
    examples, `padding` "padded" (full-length rows) or "dynamic" (its collator pads each batch)."""
    from transformers import (
        DataCollatorForSeq2Seq,
        DataCollatorWithPadding,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from genlab.runner.train import prepare

    torch.manual_seed(0)
    _, dm, module = prepare(config)
    model = module.model  # the same transformers model class and config, freshly initialised
    seq2seq = config.family == "t5"
    rows = reference_rows(dm, seq2seq, padding)
    collator = None
    if padding == "dynamic":
        collator = (
            DataCollatorForSeq2Seq(dm.tokenizer, model=model) if seq2seq else DataCollatorWithPadding(dm.tokenizer)
        )
    clock = WallClock(warmup)

    class Clock(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            clock.batch_start()

        def on_train_end(self, *a: Any, **k: Any) -> None:
            clock.end()

    args_cls, trainer_cls = (Seq2SeqTrainingArguments, Seq2SeqTrainer) if seq2seq else (TrainingArguments, Trainer)
    args = args_cls(
        output_dir=str(tmp),
        per_device_train_batch_size=config.data.batch_size,
        max_steps=config.trainer.max_steps,
        learning_rate=config.optim.lr,
        weight_decay=config.optim.weight_decay,
        warmup_steps=config.optim.warmup_steps,
        max_grad_norm=1.0,
        lr_scheduler_type="cosine",
        report_to=[],
        save_strategy="no",
        logging_steps=config.trainer.log_every_n_steps,
        dataloader_num_workers=0,
        use_cpu=True,
        disable_tqdm=True,
        seed=config.seed,
    )
    trainer_cls(model=model, args=args, train_dataset=rows, data_collator=collator, callbacks=[Clock()]).train()
    return clock.per_step()


def generation(config: Any, n: int, rounds: int) -> list[dict[str, float]]:
    """Greedy tokens/s: GenLab's decode loop (next_logits + KV cache) vs transformers' generate, same model
    and sources, alternating sides; each round's two rates."""
    from genlab.runner.train import prepare
    from lightning_modules.text_sampling import SamplingSettings, stream_ids

    torch.manual_seed(0)
    _, dm, module = prepare(config)
    module = module.eval()
    sources = [p["source"] for p in dm.eval_pairs[:n]]
    settings = SamplingSettings(temperature=0.0, max_new_tokens=16)
    out: list[dict[str, float]] = []
    with torch.no_grad():
        for _ in range(rounds):
            row: dict[str, float] = {}
            for side in ("genlab", "transformers"):
                tokens, t0, c0 = 0, time.perf_counter(), time.process_time()
                for s in sources:
                    ids = module.source_ids(s)
                    if side == "genlab":
                        tokens += len(list(stream_ids(module, ids, settings)))
                    else:
                        g = module.model.generate(input_ids=torch.tensor([ids]), max_new_tokens=16, do_sample=False)
                        tokens += g.shape[1] - 1  # less the decoder start token
                row[side] = tokens / (time.perf_counter() - t0)
                row[side + "_per_cpu_s"] = tokens / (time.process_time() - c0)
            out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=40, help="timed batches per round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm-rounds", type=int, default=1, help="untimed rounds of each side first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--families", nargs="+", default=["t5", "bert"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    results: dict[str, Any] = {}
    sides = ("padded", "dynamic")
    with tempfile.TemporaryDirectory() as home:
        for family in args.families:
            config = load_config(family, args.warmup + args.steps)
            per_step = config.data.batch_size  # examples a step
            rounds = []
            for r in range(-args.warm_rounds, args.rounds):
                g = genlab_round(config, args.warmup, Path(home))
                ref = {}
                for padding in sides:
                    with tempfile.TemporaryDirectory() as tmp:
                        ref[padding] = transformers_round(config, args.warmup, Path(tmp), padding)
                row: dict[str, float] = {"genlab_examples_per_s": per_step / g[0]}
                for padding, t in ref.items():
                    row |= {
                        f"{padding}_examples_per_s": per_step / t[0],
                        f"ratio_{padding}": t[0] / g[0],
                        f"cpu_ratio_{padding}": t[1] / g[1],
                    }
                print(family, "round", r, "(untimed warm-up)" if r < 0 else "", json.dumps(row), flush=True)
                if r >= 0:
                    rounds.append(row)
            results[family] = {"rounds": rounds} | {
                f"median_{k}_{padding}": statistics.median(x[f"{k}_{padding}"] for x in rounds)
                for padding in sides
                for k in ("ratio", "cpu_ratio")
            }
            if family == "t5":
                gen = generation(config, 40, args.rounds)
                for row in gen:
                    row["ratio"] = row["genlab"] / row["transformers"]
                    row["cpu_ratio"] = row["genlab_per_cpu_s"] / row["transformers_per_cpu_s"]
                    print("t5 generation", json.dumps(row), flush=True)
                results["t5_generation"] = {
                    "rounds": gen,
                    "median_ratio": statistics.median(x["ratio"] for x in gen),
                    "median_cpu_ratio": statistics.median(x["cpu_ratio"] for x in gen),
                }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
