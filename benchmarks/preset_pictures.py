"""The pictures on Home's preset cards: train each preset as it is, keep what it made (its newest sample grid
as a small PNG, or a few lines of its newest text samples), and record the end-to-end time with the date and
the load it was measured at.

    nice -n 10 python benchmarks/preset_pictures.py vae_mnist vae_emoji     # preset stems from configs/

Writes docs/presets/<preset>.png (image presets) or docs/presets/<preset>.txt (text presets) and updates
the preset's `cpu`, `cpu_s` and `measured` in docs/presets/cards.yaml (its plain sentence is kept), so Home's
cards and README's preset table (copied from the printed lines) say the same. Runs in a throwaway
GENLAB_HOME. One preset at a time: the time is the preset's whole run, queue and start-up included.
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

import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "presets"
CARDS = OUT / "cards.yaml"
MAX_SIDE = 256  # px: small files, enough for a card
TEXT_LINES = 6  # lines of generated text a card shows
TEXT_CHARS = 400


def human(seconds: float) -> str:
    s = round(seconds)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"


def text_excerpt(paths: list[str]) -> str:
    """The first lines of the newest text samples (prompt and continuation), cut to a card's size."""
    lines: list[str] = []
    for path in paths:
        lines += [ln.rstrip() for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    return "\n".join(lines[:TEXT_LINES])[:TEXT_CHARS].rstrip() + "\n"


def record(stem: str, seconds: float, load: float, day: dt.date) -> None:
    """Write the measured time into the card (keeping its plain sentence)."""
    cards = yaml.safe_load(CARDS.read_text(encoding="utf-8")) if CARDS.is_file() else {}
    header = "".join(ln for ln in CARDS.read_text(encoding="utf-8").splitlines(True) if ln.startswith("#"))
    card = cards.setdefault(stem, {})
    card["cpu"] = human(seconds)
    card["cpu_s"] = round(seconds)
    card["measured"] = f"{day:%d %b %Y}, load average {load:.1f}"
    CARDS.write_text(header + yaml.safe_dump(cards, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


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
        load = max(load, os.getloadavg()[0])
        grids = store.artifacts(run.id, kind="samples")
        texts = store.artifacts(run.id, kind="text")
        if run.status != "completed" or not (grids or texts):
            print(f"{stem}: {run.status} after {took:.0f} s, nothing kept ({run.error or 'no samples'})")
            continue
        if grids:
            with Image.open(grids[-1]["path"]) as im:
                im.thumbnail((MAX_SIDE, MAX_SIDE))
                im.save(OUT / f"{stem}.png", optimize=True)
        else:
            last = max(t["step"] or 0 for t in texts)
            (OUT / f"{stem}.txt").write_text(
                text_excerpt([t["path"] for t in texts if (t["step"] or 0) == last]), encoding="utf-8"
            )
        day = dt.date.today()
        record(stem, took, load, day)
        print(f"{stem}: {human(took)} end to end on {day}, load average up to {load:.1f}", flush=True)
    shutil.rmtree(os.environ["GENLAB_HOME"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
