"""What W&B costs training: the vae_mnist preset with W&B off and offline, interleaved run by run.

Runs alternate off/offline (the order flips each round, ABBA), in one process on the same machine, so
a busy host slows both alike. Each run trains the preset as a user does (its logging, sample and
checkpoint cadence) through genlab.train.fit with a real run store; with W&B offline, the forwarder
mirrors every metric, sample grid and the checkpoints into W&B's files under the run folder.

Throughput is training steps per second between the first and last logged training step (from the run
store's own timestamps); end-to-end is the whole fit, W&B start and finish included. The median ratio
offline/off over rounds is the cost.

    python benchmarks/bench_wandb.py --rounds 2            # the full preset (1,050 steps per run)
    python benchmarks/bench_wandb.py --rounds 3 --steps 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from genlab.config import parse_config  # noqa: E402
from genlab.runs import RunStore  # noqa: E402
from genlab.train import fit  # noqa: E402

PRESET = Path(__file__).resolve().parent.parent / "configs" / "vae_mnist.yaml"


def config(mode: str, steps: int | None):
    raw = yaml.safe_load(PRESET.read_text())
    raw["logging"]["wandb"] = mode
    if steps:
        raw["trainer"].update(max_steps=steps)
        raw["trainer"]["checkpoint_every_n_steps"] = min(steps, raw["trainer"]["checkpoint_every_n_steps"])
    return parse_config(raw)


def one_run(store: RunStore, mode: str, steps: int | None) -> tuple[float, float, int]:
    """(steps/s in steady state, end-to-end seconds, steps) of one run of the preset."""
    run = store.create_run(config(mode, steps), status="running")
    t0 = time.perf_counter()
    status = fit(store, run.id)
    wall = time.perf_counter() - t0
    assert status == "completed", status
    got = store.get(run.id)
    if mode != "off":
        assert got.wandb.get("mode") == mode and not got.warning, (got.wandb, got.warning)
    rows = sorted((r["step"], r["time"]) for r in store.metrics(run.id, ["train/loss"]))
    (s0, t_first), (s1, t_last) = rows[0], rows[-1]
    return (s1 - s0) / (t_last - t_first), wall, got.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="cut each run to this many steps (default: preset)")
    args = parser.parse_args()
    os.environ.pop("WANDB_API_KEY", None)  # offline files only: no upload in a benchmark
    with tempfile.TemporaryDirectory() as home:
        os.environ["GENLAB_HOME"] = home
        store = RunStore(home)
        one_run(store, "off", 30)  # warm-up: data decode and first-import costs, not timed
        results: dict[str, list[tuple[float, float, int]]] = {"off": [], "offline": []}
        for i in range(args.rounds):
            order = ("off", "offline") if i % 2 == 0 else ("offline", "off")
            for mode in order:
                results[mode].append(one_run(store, mode, args.steps))
                sps, wall, n = results[mode][-1]
                print(f"round {i + 1} {mode:8s} {n} steps  {sps:6.2f} steps/s  end-to-end {wall:6.1f} s", flush=True)
        ratios = [on[0] / off[0] for on, off in zip(results["offline"], results["off"], strict=True)]
        walls = [on[1] / off[1] for on, off in zip(results["offline"], results["off"], strict=True)]
        print(
            f"throughput offline/off: median {statistics.median(ratios):.3f} (rounds: {', '.join(f'{r:.3f}' for r in ratios)})"
        )
        print(
            f"end-to-end offline/off: median {statistics.median(walls):.3f} (rounds: {', '.join(f'{r:.3f}' for r in walls)})"
        )


if __name__ == "__main__":
    main()
