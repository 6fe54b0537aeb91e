"""DPO works: a GPT (the tests' tiny config, or --run) fine-tuned with DPO on the built-in Shakespeare
preference set (real continuation vs the same words shuffled and shouted), measured on held-out pairs:
reward accuracy before (50% by construction) and after, and the preferred-answer rate of sampled answers
to held-out prompts, parent vs child, judged by a script (an answer is preferred when it is not shouted:
fewer capital than small letters).

    python -m benchmarks.bench_dpo [--pairs 64] [--held-out 32] [--steps 40] [--beta 0.5] [--lr 3e-3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from genlab.core.registry import FAMILIES
from genlab.runner.checkpoints import load_module
from genlab.runner.dpo import dpo_finetune
from genlab.runner.train import fit_module
from genlab.store.runs import RunStore
from genlab.use.generate import SamplingSettings, generate
from genlab.use.preferences import builtin_preferences, style_score


def not_shouted(text: str) -> bool:
    upper = sum(c.isupper() for c in text)
    lower = sum(c.islower() for c in text)
    return lower > upper


def preferred_rate(module, prompts: list[str], seed: int) -> tuple[float, float]:
    """(share of answers not shouted, mean style score) of sampled answers."""
    texts = [
        generate(module, p, SamplingSettings(temperature=0.8, top_k=0, max_new_tokens=16, seed=seed + i)).text
        for i, p in enumerate(prompts)
    ]
    return sum(map(not_shouted, texts)) / len(texts), sum(map(style_score, texts)) / len(texts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--held-out", type=int, default=32)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--beta", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=3e-3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["GENLAB_HOME"] = home
        store = RunStore(home)
        fam = FAMILIES["gpt"]
        run = store.create_run(fam.tiny_config(), status="running", monitor=fam.monitor)
        status, _ = fit_module(store, run.id)
        store.set_status(run.id, status)
        train = builtin_preferences(args.pairs, seed=0)
        held = builtin_preferences(args.held_out, seed=0, offset=args.pairs)
        start = time.perf_counter()
        result = dpo_finetune(store, run.id, train, val_pairs=held, steps=args.steps, beta=args.beta, lr=args.lr)
        took = time.perf_counter() - start
        prompts = [p.prompt for p in held]
        parent_rate = preferred_rate(load_module(store, run.id).eval(), prompts, 0)
        child_rate = preferred_rate(load_module(store, result["run_id"]).eval(), prompts, 0)
        store.close()
    b, a = result["before"], result["after"]
    print(f"load: {os.getloadavg()}; DPO {args.steps} steps on {result['train_pairs']} pairs in {took:.0f} s")
    print("| model | held-out reward accuracy | reward margin | preferred-answer rate | style score |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| parent | {b['reward_accuracy']:.0%} | {b['reward_margin']:.2f} | {parent_rate[0]:.0%} | {parent_rate[1]:.2f} |"
    )
    print(
        f"| DPO child | {a['reward_accuracy']:.0%} | {a['reward_margin']:.2f} | {child_rate[0]:.0%} | {child_rate[1]:.2f} |"
    )
    return 0 if a["reward_accuracy"] >= 0.8 else 1


if __name__ == "__main__":
    raise SystemExit(main())
