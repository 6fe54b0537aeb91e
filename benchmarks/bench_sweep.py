"""Hyperband pruning vs no pruning: the same VAE sweep, same trial budget, space and sampler seed,
run twice: on the machine as it is, then with a CPU hog beside it (one busy process per core).

In each phase both sweeps run at the same time (one worker each, one trial at a time each). What is
compared does not depend on speed: the best val/loss each sweep reached and the trial-epochs it spent
(epochs trained summed over its trials, counted from the run store's val/loss points, one per epoch).
Goal: at least 40% fewer trial-epochs with Hyperband for a best within 2%. Pruning is decided at each
trial's own validation, so the two phases must give the same trial-epochs and the same pruned trials
(each phase starts from a fresh store and study database; the sweep names are fixed because Optuna's
Hyperband assigns trials to brackets by hashing the study name with the trial number).

    python benchmarks/bench_sweep.py --trials 20 --epochs 9 --seed 0
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
    pruned = {t.number: t.user_attrs.get("pruned_at") for t in study.trials if t.state.name == "PRUNED"}
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
        "pruned_at": pruned,  # trial number -> the validation that pruned it
    }


def hog(n: int) -> list[subprocess.Popen]:
    """n processes that keep one core busy each, until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def run_phase(phase: str, args: argparse.Namespace, root: Path) -> dict:
    """Both sweeps side by side in a fresh GENLAB_HOME (its own store and study database)."""
    home = root / phase
    home.mkdir(parents=True)
    os.environ["GENLAB_HOME"] = str(home)
    os.environ["GENLAB_MAX_JOBS"] = "2"  # one trial of each sweep at a time
    store = RunStore(home)
    names = {}
    for pruner in ("hyperband", "none"):
        settings = sweeps.make_settings(
            base_config(args.epochs),
            n_trials=args.trials,
            name=f"bench-{pruner}",
            space=SPACE,
            sampler="tpe",
            pruner=pruner,
            seed=args.seed,
        )
        sweeps.create(settings)
        names[pruner] = settings.name
    hogs = hog(os.cpu_count() or 1) if phase == "loaded" else []
    load = [os.getloadavg()[0]]
    t0 = time.monotonic()
    try:
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
            if int(time.monotonic() - t0) % 60 == 0:
                load.append(os.getloadavg()[0])
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    load.append(os.getloadavg()[0])
    results = {pruner: measure(store, name) | {"wall_s": wall[pruner]} for pruner, name in names.items()}
    return {"phase": phase, "hogs": len(hogs), "load_1min": [min(load), max(load)], "results": results}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--phases", default="idle,loaded", help="which phases to run (idle: as the machine is; loaded: with a CPU hog)"
    )
    ap.add_argument("--home", help="folder for the phases' GENLAB_HOMEs (default: a fresh temporary folder)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    root = Path(args.home or tempfile.mkdtemp(prefix="bench_sweep_"))
    phases = [run_phase(phase, args, root) for phase in args.phases.split(",")]
    print("| phase (1-min load) | sweep | trials (complete/pruned) | best val/loss | trial-epochs | wall (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for ph in phases:
        lo, hi = ph["load_1min"]
        hogs = f" + {ph['hogs']} hogs" if ph["hogs"] else ""
        label = f"{ph['phase']}{hogs} ({lo:.1f}-{hi:.1f})"
        for r in ph["results"].values():
            best = f"{r['best_value']:.2f}" if r["best_value"] is not None else "-"
            print(
                f"| {label} | {r['pruner']} | {r['trials']} ({r['complete']}/{r['pruned']}) | {best} "
                f"| {r['trial_epochs']} | {r['wall_s']:.0f} |"
            )
    ok = True
    for ph in phases:
        hb, none = ph["results"]["hyperband"], ph["results"]["none"]
        if not (hb["trial_epochs"] and none["trial_epochs"] and hb["best_value"] and none["best_value"]):
            print(f"error: a sweep produced no results; see the worker logs in {root / ph['phase']}", file=sys.stderr)
            return 1
        saved = 1 - hb["trial_epochs"] / none["trial_epochs"]
        gap = (hb["best_value"] - none["best_value"]) / abs(none["best_value"])
        met = saved >= 0.40 and gap <= 0.02
        ok = ok and met
        ph |= {"saved": saved, "gap": gap}
        print(
            f"\n{ph['phase']}: Hyperband spent {saved:.0%} fewer trial-epochs; its best is {gap:+.2%} from no pruning's; "
            f"goal (>= 40% fewer, best within 2%): {'met' if met else 'NOT met'}"
        )
    if len(phases) > 1:
        for pruner in ("hyperband", "none"):
            runs = [ph["results"][pruner] for ph in phases]
            same = all(
                (r["trial_epochs"], r["pruned_at"]) == (runs[0]["trial_epochs"], runs[0]["pruned_at"]) for r in runs
            )
            ok = ok and same
            print(
                f"{pruner}: trial-epochs {' / '.join(str(r['trial_epochs']) for r in runs)} across phases, pruned trials "
                f"{'the same' if same else 'DIFFERENT'}: {runs[0]['pruned_at']}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "phases": phases}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
