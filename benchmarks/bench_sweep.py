"""Hyperband pruning vs no pruning: the same VAE sweep, same trial budget, space and sampler seed.

Both sweeps run at the same time (one worker each, one trial at a time each), so a busy machine slows
both alike; what is compared does not depend on speed anyway: the best val/loss each sweep reached and
the trial-epochs it spent (epochs trained summed over its trials, counted from the run store's val/loss
points, one per epoch). Goal: at least 40% fewer trial-epochs with Hyperband for a best within 2%.

    python benchmarks/bench_sweep.py --trials 16 --epochs 9 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from genlab.core.registry import FAMILIES  # noqa: E402
from genlab.store.runs import RunStore  # noqa: E402
from genlab.sweeps import study as sweeps  # noqa: E402

SPACE = {  # beta stays out: it reweights val/loss, so trials with different betas are not comparable
    "optim.lr": {"low": 1e-4, "high": 3e-2, "log": True},
    "model.latent_dim": {"choices": [4, 8, 16]},
    "model.base_width": {"choices": [8, 16]},
}


def base_config(epochs: int):
    """sklearn's 1,797 digits at 16 px (no download), validation every epoch."""
    cfg = FAMILIES["vae"].default_config().model_dump(mode="json")
    cfg["data"].update(name="digits", image_size=16, batch_size=64)
    cfg["trainer"].update(max_epochs=epochs, log_every_n_steps=10)
    cfg["logging"].update(sample_every_n_steps=0, n_samples=16)
    return FAMILIES["vae"].config_cls.model_validate(cfg)


def measure(store: RunStore, name: str) -> dict:
    study, settings = sweeps.load(name)
    p = sweeps.progress(study, settings)
    epochs = 0
    for t in study.trials:
        run_id = t.user_attrs.get("run_id")
        if run_id:
            epochs += len(store.metric_series(run_id, "val/loss"))
    best = sweeps.best_trials(study, settings, 1)
    return {
        "sweep": name,
        "pruner": settings.pruner,
        "trials": len(study.trials),
        "complete": p.complete,
        "pruned": p.pruned,
        "failed": p.failed - p.retried,
        "best_value": best[0].values[0] if best else None,
        "best_params": best[0].params if best else None,
        "trial_epochs": epochs,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--home", help="GENLAB_HOME to use (default: a fresh temporary folder)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="bench_sweep_"))
    os.environ["GENLAB_HOME"] = str(home)
    os.environ["GENLAB_MAX_JOBS"] = "2"  # one trial of each sweep at a time
    store = RunStore(home)
    names = {}
    for pruner in ("hyperband", "none"):
        settings = sweeps.make_settings(
            base_config(args.epochs),
            n_trials=args.trials,
            name=f"bench-{pruner}-{int(time.time())}",
            space=SPACE,
            sampler="tpe",
            pruner=pruner,
            seed=args.seed,
        )
        sweeps.create(settings)
        names[pruner] = settings.name
    t0 = time.monotonic()
    workers = {
        pruner: subprocess.Popen(
            [sys.executable, "-m", "genlab", "sweep", "worker", "--study", name, "--parallel", "1"],
            cwd=ROOT,
            stdout=open(home / f"{name}.log", "wb"),  # noqa: SIM115 - the child owns it
            stderr=subprocess.STDOUT,
        )
        for pruner, name in names.items()
    }
    wall = {}
    while len(wall) < len(workers):
        for pruner, proc in workers.items():
            if pruner not in wall and proc.poll() is not None:
                wall[pruner] = time.monotonic() - t0
        time.sleep(1.0)
    results = {pruner: measure(store, name) | {"wall_s": wall[pruner]} for pruner, name in names.items()}
    hb, none = results["hyperband"], results["none"]
    if not (hb["trial_epochs"] and none["trial_epochs"] and hb["best_value"] and none["best_value"]):
        print(f"error: a sweep produced no results; see the worker logs in {home}", file=sys.stderr)
        return 1
    saved = 1 - hb["trial_epochs"] / none["trial_epochs"]
    gap = (hb["best_value"] - none["best_value"]) / abs(none["best_value"])
    print("| sweep | trials (complete/pruned) | best val/loss | trial-epochs | wall (s) |")
    print("| --- | --- | --- | --- | --- |")
    for r in (hb, none):
        print(
            f"| {r['pruner']} | {r['trials']} ({r['complete']}/{r['pruned']}) | {r['best_value']:.2f} "
            f"| {r['trial_epochs']} | {r['wall_s']:.0f} |"
        )
    print(f"\nHyperband spent {saved:.0%} fewer trial-epochs; its best is {gap:+.2%} from no pruning's.")
    ok = saved >= 0.40 and gap <= 0.02
    print(f"goal (>= 40% fewer trial-epochs, best within 2%): {'met' if ok else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"args": vars(args), "results": results, "saved": saved, "gap": gap}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
