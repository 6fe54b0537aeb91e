"""Tokens/s of GenLab's GPT training against karpathy/nanoGPT's own train.py (`--reference DIR`, a
checkout you name; see benchmarks/nanogpt_reference.py), and against a plain nanoGPT-style PyTorch loop
on the same model, batch, sequence length, optimizer and data (the second line).

    python benchmarks/bench_gpt.py --reference ~/nanoGPT --threads 2   # vs nanoGPT, char Shakespeare
    python benchmarks/bench_gpt.py                      # CPU, small GPT on Shakespeare, vs a plain loop
    python benchmarks/bench_gpt.py --preset gpt2-124m --precision bf16-mixed --compile   # on a GPU

Both sides run `--steps` timed steps after `--warmup` untimed ones, alternating `--repeats` times (the
best of each is kept, which filters out noise from other processes on a shared machine). On a GPU it
also reports model-FLOPs utilisation. `ratio_cpu_time` compares process CPU time per step, which is
steadier than wall time when other jobs share the CPU. It (6N + 12 L T d FLOPs per token, PaLM appendix B).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

PRESETS = {
    "small": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128, "batch_size": 16, "vocab_size": 2048},
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 64, "batch_size": 16, "vocab_size": 512},
    "gpt2-124m": {
        "n_layer": 12,
        "n_head": 12,
        "n_embd": 768,
        "block_size": 1024,
        "batch_size": 16,
        "vocab_size": 50257,
    },
}
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def make_config(p: dict, args: argparse.Namespace):
    from genlab.families.gpt import GPTRunConfig

    return GPTRunConfig(
        seed=0,
        data={
            "name": "shakespeare",
            "tokenizer": "gpt2" if p["vocab_size"] > 40000 else "bpe",
            "vocab_size": min(p["vocab_size"], 65536),
            "block_size": p["block_size"],
            "batch_size": p["batch_size"],
            "eval_pairs": 0,
            "max_chars": args.max_chars,
        },
        model={"n_layer": p["n_layer"], "n_head": p["n_head"], "n_embd": p["n_embd"], "dropout": 0.0},
        optim={"optimizer": "adamw", "lr": 1e-3, "beta2": 0.95, "weight_decay": 0.1, "schedule": "constant"},
        trainer={
            "max_steps": args.warmup + args.steps,
            "gradient_clip_val": 1.0,
            "precision": args.precision,
            "compile": args.compile,
            "accelerator": args.accelerator,
        },
    )


def bench_genlab(config, dm, args) -> float:
    import lightning as L

    from genlab.runner.train import build_module

    class Timer(L.Callback):
        def __init__(self) -> None:
            self.t0 = 0.0
            self.t1 = 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            if trainer.global_step == args.warmup:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_train_end(self, trainer, pl_module) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.t1, self.c1 = time.perf_counter(), time.process_time()

    torch.manual_seed(0)
    module = build_module(config, dm.info())
    timer = Timer()
    precision = "32-true" if args.precision in ("32", "auto") else args.precision
    trainer = L.Trainer(
        max_steps=args.warmup + args.steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        gradient_clip_val=1.0,
        precision=precision,
        callbacks=[timer],
        accelerator=args.accelerator,
        devices=1,
    )
    model = torch.compile(module) if args.compile else module
    trainer.fit(model, datamodule=dm)
    return (timer.t1 - timer.t0) / args.steps, (timer.c1 - timer.c0) / args.steps


def bench_plain(config, dm, args) -> float:
    """nanoGPT's loop: model(x) -> cross-entropy -> backward -> clip -> AdamW step, same batches."""
    from lightning_modules.gpt import build_scratch_model

    torch.manual_seed(0)
    info = dm.info()
    device = "cuda" if args.accelerator != "cpu" and torch.cuda.is_available() else "cpu"
    model = build_scratch_model(config.model, info["vocab_size"], info["block_size"], info["eos_token_id"]).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95))
    fwd = torch.compile(model) if args.compile else model
    loader = iter(dm.train_dataloader())
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=args.precision == "bf16-mixed")
    t0 = 0.0
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if device == "cuda":
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
        try:
            x, y = next(loader)
        except StopIteration:
            loader = iter(dm.train_dataloader())
            x, y = next(loader)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast:
            logits = fwd(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / args.steps, (time.process_time() - c0) / args.steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=list(PRESETS), default="small")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--precision", default="32", choices=["32", "bf16-mixed"])
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--max-chars", type=int, default=600_000, help="corpus size (enough batches for the steps)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--json", help="also write the result here")
    ap.add_argument("--reference", type=Path, help="a karpathy/nanoGPT checkout: run its train.py side by side")
    ap.add_argument("--rounds", type=int, default=3, help="with --reference: alternating runs of each")
    ap.add_argument("--iters", type=int, default=200, help="with --reference: training steps per run")
    args = ap.parse_args()
    if args.reference:
        from benchmarks.nanogpt_reference import compare

        shape = {k: v for k, v in PRESETS[args.preset].items() if k != "vocab_size"}
        result = compare(
            args.reference.expanduser(),
            shape,
            iters=args.iters,
            rounds=args.rounds,
            threads=args.threads or 2,
            max_chars=args.max_chars,
        )
        print(json.dumps(result, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        return
    if args.threads:
        torch.set_num_threads(args.threads)

    from datamodules.text import TextDataModule

    p = PRESETS[args.preset]
    config = make_config(p, args)
    dm = TextDataModule(config)
    dm.setup("fit")
    tokens = p["batch_size"] * p["block_size"]
    plain, genlab = [], []
    for _ in range(args.repeats):
        plain.append(bench_plain(config, dm, args))
        genlab.append(bench_genlab(config, dm, args))
    t_plain, t_genlab = min(w for w, _ in plain), min(w for w, _ in genlab)
    c_plain, c_genlab = min(c for _, c in plain), min(c for _, c in genlab)
    result = {
        "preset": args.preset,
        "device": torch.cuda.get_device_name(0) if args.accelerator == "gpu" else "cpu",
        "threads": torch.get_num_threads(),
        "precision": args.precision,
        "compile": args.compile,
        "batch": p["batch_size"],
        "block": p["block_size"],
        "steps": args.steps,
        "plain_tokens_per_s": tokens / t_plain,
        "genlab_tokens_per_s": tokens / t_genlab,
        "ratio": t_plain / t_genlab,
        "ratio_cpu_time": c_plain / c_genlab,
        "plain_runs_wall_cpu_s_per_step": plain,
        "genlab_runs_wall_cpu_s_per_step": genlab,
    }
    if args.accelerator == "gpu":
        from lightning_modules.gpt import build_scratch_model

        n = sum(
            q.numel()
            for q in build_scratch_model(config.model, dm.info()["vocab_size"], p["block_size"], None).parameters()
        )
        flops_per_token = 6 * n + 12 * p["n_layer"] * p["block_size"] * p["n_embd"]
        name = torch.cuda.get_device_name(0)
        peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
        result["params"] = n
        result["mfu"] = (tokens / t_genlab) * flops_per_token / peak if peak else None
        result["mfu_plain"] = (tokens / t_plain) * flops_per_token / peak if peak else None
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
