"""The pictures on Home's preset cards: train each preset as it is, keep its newest sample grid (a small PNG)
as docs/presets/<preset>.png, and print the end-to-end time with the load it was measured at.

    python benchmarks/preset_pictures.py vae_mnist vae_emoji      # one or more preset stems from configs/

Runs in a throwaway GENLAB_HOME. The times it prints go into docs/presets/cards.yaml and README's preset
table (with the date and the load average), so the cards and the README say the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "presets"
MAX_SIDE = 256  # px: small files, enough for a card


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="+", help="preset stems, e.g. vae_mnist")
    args = parser.parse_args()
    os.environ["GENLAB_HOME"] = tempfile.mkdtemp(prefix="genlab_pictures_")
    from genlab.core.parsing import load_config
    from genlab.runner import jobs
    from genlab.store.runs import RunStore

    store = RunStore()
    OUT.mkdir(parents=True, exist_ok=True)
    for stem in args.presets:
        load = os.getloadavg()[0]
        t0 = time.monotonic()
        run = jobs.start(load_config(ROOT / "configs" / f"{stem}.yaml"), store)
        run = jobs.wait(run.id, store)
        took = time.monotonic() - t0
        grids = store.artifacts(run.id, kind="samples")
        if run.status != "completed" or not grids:
            print(f"{stem}: {run.status} after {took:.0f} s, no picture ({run.error or 'no samples'})")
            continue
        with Image.open(grids[-1]["path"]) as im:
            im.thumbnail((MAX_SIDE, MAX_SIDE))
            im.save(OUT / f"{stem}.png", optimize=True)
        print(f"{stem}: {took:.0f} s end to end on {dt.date.today()}, load average {load:.1f} at the start")
    shutil.rmtree(os.environ["GENLAB_HOME"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
