"""What W&B costs training: the vae_mnist preset with W&B off and offline, interleaved run by run.

Runs alternate off/offline (the order flips each round, ABBA), in one process on the same machine, so
a busy host slows both alike. Each run trains the preset as a user does (its logging, sample and
checkpoint cadence) through genlab.runner.train.fit with a real run store; with W&B offline, the forwarder
mirrors every metric, sample grid and the checkpoints into W&B's files under the run folder.

Throughput is training steps per second between the first and last logged training step (from the run
store's own timestamps); end-to-end is the whole fit, W&B start and finish included. On a shared, busy
machine wall times swing with other people's load, so the CPU seconds each run costs (this process, W&B's
wandb-core service and any other descendant, sampled every 0.25 s, read between the same two logged
steps) are measured too: training is CPU-bound on all cores, so CPU per step off/offline is the
throughput W&B leaves on an otherwise idle machine. Medians over rounds.

    python benchmarks/bench_wandb.py --rounds 2            # the full preset (1,050 steps per run)
    python benchmarks/bench_wandb.py --rounds 3 --steps 300
"""

from __future__ import annotations

import argparse
import bisect
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import yaml  # noqa: E402

from genlab.core.parsing import parse_config  # noqa: E402
from genlab.runner.train import fit  # noqa: E402
from genlab.store.runs import RunStore  # noqa: E402

PRESET = Path(__file__).resolve().parent.parent / "configs" / "vae_mnist.yaml"


def config(mode: str, steps: int | None):
    raw = yaml.safe_load(PRESET.read_text())
    raw["logging"]["wandb"] = mode
    if steps:
        raw["trainer"].update(max_steps=steps)
        raw["trainer"]["checkpoint_every_n_steps"] = min(steps, raw["trainer"]["checkpoint_every_n_steps"])
    return parse_config(raw)


def _descendants(pid: int) -> list[int]:
    """Live processes below pid (W&B's wandb-core service is one), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds() -> tuple[float, float]:
    """(CPU time of this process and its finished children, CPU time of its live descendants), user + system.

    The live descendants are W&B's wandb-core service (training itself spawns none: num_workers 0).
    """
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    tick = os.sysconf("SC_CLK_TCK")
    others = 0.0
    for pid in _descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            others += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            continue
    return own, others


class CpuSampler:
    """(wall time, CPU seconds) every 0.25 s, so the CPU spent between two logged steps can be read off."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.samples.append((time.time(), *cpu_seconds()))

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, t: float) -> tuple[float, float]:
        """(own, descendants) CPU seconds at wall time t, interpolated between samples."""
        times = [s[0] for s in self.samples]
        i = min(max(1, bisect.bisect_left(times, t)), len(times) - 1)
        (ta, *a), (tb, *b) = self.samples[i - 1], self.samples[i]
        w = (t - ta) / (tb - ta) if tb > ta else 0.0
        return a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w


def one_run(store: RunStore, mode: str, steps: int | None) -> tuple[float, float, int, float, float]:
    """(steps/s in steady state, end-to-end seconds, steps, CPU ms per step in steady state, of which W&B's
    wandb-core service)."""
    run = store.create_run(config(mode, steps), status="running")
    t0 = time.perf_counter()
    with CpuSampler() as sampler:
        status = fit(store, run.id)
    wall = time.perf_counter() - t0
    assert status == "completed", status
    got = store.get(run.id)
    if mode != "off":
        assert got.wandb.get("mode") == mode and not got.warning, (got.wandb, got.warning)
    rows = sorted((r["step"], r["time"]) for r in store.metrics(run.id, ["train/loss"]))
    (s0, t_first), (s1, t_last) = rows[0], rows[-1]
    (own0, svc0), (own1, svc1) = sampler.at(t_first), sampler.at(t_last)
    cpu_ms = (own1 + svc1 - own0 - svc0) / (s1 - s0) * 1000
    service_ms = (svc1 - svc0) / (s1 - s0) * 1000
    return (s1 - s0) / (t_last - t_first), wall, got.step, cpu_ms, service_ms


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
        results: dict[str, list[tuple[float, float, int, float, float]]] = {"off": [], "offline": []}
        for i in range(args.rounds):
            order = ("off", "offline") if i % 2 == 0 else ("offline", "off")
            for mode in order:
                results[mode].append(one_run(store, mode, args.steps))
                sps, wall, n, cpu, service = results[mode][-1]
                print(
                    f"round {i + 1} {mode:8s} {n} steps  {sps:6.2f} steps/s  end-to-end {wall:6.1f} s  "
                    f"CPU {cpu:6.1f} ms/step (wandb-core {service:5.1f})",
                    flush=True,
                )
        ratios = [on[0] / off[0] for on, off in zip(results["offline"], results["off"], strict=True)]
        walls = [on[1] / off[1] for on, off in zip(results["offline"], results["off"], strict=True)]
        cpus = [off[3] / on[3] for on, off in zip(results["offline"], results["off"], strict=True)]
        print(
            f"throughput offline/off: median {statistics.median(ratios):.3f} (rounds: {', '.join(f'{r:.3f}' for r in ratios)})"
        )
        print(
            f"end-to-end offline/off: median {statistics.median(walls):.3f} (rounds: {', '.join(f'{r:.3f}' for r in walls)})"
        )
        print(
            "CPU-bound throughput offline/off (CPU per step off/offline, W&B's service included): median "
            f"{statistics.median(cpus):.3f} (rounds: {', '.join(f'{r:.3f}' for r in cpus)})"
        )


if __name__ == "__main__":
    main()
