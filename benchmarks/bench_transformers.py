"""Training tokens/s of GenLab's seq2seq and encoder families against the loop a user would write with
transformers (`Seq2SeqTrainer` / `Trainer`) on the same model config, data, batch and optimizer, and the
seq2seq family's generation (its next_logits decode loop, what the gated API streams) against
transformers' `generate` on the same model and greedy settings.

    python benchmarks/bench_transformers.py --steps 30 --repeats 2

Rounds alternate GenLab and transformers (`--repeats` each); the best round of each side is kept, which
filters out noise from other processes on a shared machine. Tokens are padded tokens per batch
(source + target for seq2seq, text for the encoder): the same on both sides.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
PRESETS = {"seq2seq": "configs/seq2seq_emoji_category.yaml", "encoder": "configs/encoder_kjv_or_shakespeare.yaml"}


def load_config(family: str, steps: int) -> Any:
    import yaml

    from genlab.core.parsing import parse_config

    raw = yaml.safe_load((ROOT / PRESETS[family]).read_text())
    raw["trainer"].update({"max_steps": steps, "limit_val_batches": 0, "max_epochs": 1000})
    raw["model"]["dropout"] = 0.1
    raw.setdefault("logging", {})["sample_every_n_steps"] = 0
    return parse_config(raw)


class StepTimer:
    """Wall time of each training batch after `warmup` batches."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.times, self._t = warmup, [], 0.0

    def start(self) -> None:
        self._t = time.perf_counter()

    def stop(self) -> None:
        self.times.append(time.perf_counter() - self._t)

    def per_step(self) -> float:
        timed = self.times[self.warmup :]
        return sum(timed) / max(1, len(timed))


def genlab_round(config: Any, warmup: int) -> float:
    """Seconds per batch of the family's LightningModule under a Lightning Trainer (GenLab's loop)."""
    import lightning as L

    from genlab.core.registry import get_family

    fam = get_family(config.family)
    dm = fam.build_datamodule(config)
    dm.setup()
    torch.manual_seed(0)
    module = fam.module_class()(config, dm.info())
    timer = StepTimer(warmup)

    class Cb(L.Callback):
        def on_train_batch_start(self, *a: Any) -> None:
            timer.start()

        def on_train_batch_end(self, *a: Any) -> None:
            timer.stop()

    trainer = L.Trainer(
        max_steps=config.trainer.max_steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        callbacks=[Cb()],
        accelerator="cpu",
    )
    trainer.fit(module, datamodule=dm)
    return timer.per_step()


def transformers_round(config: Any, warmup: int, tmp: Path) -> float:
    """Seconds per batch of transformers' Trainer / Seq2SeqTrainer on the same model config and tensors."""
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer, TrainerCallback, TrainingArguments

    from genlab.core.registry import get_family

    fam = get_family(config.family)
    dm = fam.build_datamodule(config)
    dm.setup()
    torch.manual_seed(0)
    model = fam.module_class()(config, dm.info()).model  # the same transformers model, freshly initialised
    a, m, y = dm.train_t
    if config.family == "seq2seq":
        rows = [{"input_ids": a[i], "attention_mask": m[i], "labels": y[i]} for i in range(len(a))]
    else:
        rows = [{"input_ids": a[i], "attention_mask": m[i], "labels": y[i]} for i in range(len(a))]
    timer = StepTimer(warmup)

    class Cb(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            timer.start()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            timer.stop()

    args_cls, trainer_cls = (
        (Seq2SeqTrainingArguments, Seq2SeqTrainer) if config.family == "seq2seq" else (TrainingArguments, Trainer)
    )
    args = args_cls(
        output_dir=str(tmp),
        per_device_train_batch_size=config.data.batch_size,
        max_steps=config.trainer.max_steps,
        learning_rate=config.optim.lr,
        weight_decay=config.optim.weight_decay,
        max_grad_norm=1.0,
        lr_scheduler_type="cosine",
        report_to=[],
        save_strategy="no",
        logging_steps=10_000,
        dataloader_num_workers=0,
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer_cls(model=model, args=args, train_dataset=rows, callbacks=[Cb()]).train()
    return timer.per_step()


def generation(config: Any, n: int) -> dict[str, float]:
    """Greedy tokens/s: GenLab's decode loop (next_logits + KV cache) vs transformers' generate, same model."""
    from genlab.core.registry import get_family
    from lightning_modules.text_sampling import SamplingSettings, stream_ids

    fam = get_family(config.family)
    dm = fam.build_datamodule(config)
    dm.setup()
    torch.manual_seed(0)
    module = fam.module_class()(config, dm.info()).eval()
    sources = [p["source"] for p in dm.eval_pairs[:n]]
    settings = SamplingSettings(temperature=0.0, max_new_tokens=16)
    out: dict[str, float] = {}
    with torch.no_grad():
        for side in ("genlab", "transformers", "genlab", "transformers"):
            tokens, t0 = 0, time.perf_counter()
            for s in sources:
                ids = module.source_ids(s)
                if side == "genlab":
                    tokens += len(list(stream_ids(module, ids, settings))) + 1
                else:
                    g = module.model.generate(input_ids=torch.tensor([ids]), max_new_tokens=16, do_sample=False)
                    tokens += g.shape[1] - 1
            rate = tokens / (time.perf_counter() - t0)
            out[side] = max(out.get(side, 0.0), rate)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--families", nargs="+", default=["seq2seq", "encoder"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import tempfile

    results: dict[str, Any] = {}
    for family in args.families:
        config = load_config(family, args.warmup + args.steps)
        tokens = config.data.batch_size * (
            config.data.max_source_len + config.data.max_target_len if family == "seq2seq" else config.data.max_length
        )
        best = {"genlab": float("inf"), "transformers": float("inf")}
        for _ in range(args.repeats):
            best["genlab"] = min(best["genlab"], genlab_round(config, args.warmup))
            with tempfile.TemporaryDirectory() as tmp:
                best["transformers"] = min(best["transformers"], transformers_round(config, args.warmup, Path(tmp)))
        results[family] = {
            "genlab_tokens_per_s": tokens / best["genlab"],
            "transformers_tokens_per_s": tokens / best["transformers"],
            "ratio": best["transformers"] / best["genlab"],
        }
        if family == "seq2seq":
            gen = generation(config, 40)
            results["seq2seq_generation"] = {
                "genlab_tokens_per_s": gen["genlab"],
                "transformers_generate_tokens_per_s": gen["transformers"],
                "ratio": gen["genlab"] / gen["transformers"],
            }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
