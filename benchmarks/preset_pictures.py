"""The pictures on Home's preset cards: train each preset as it is, keep what it made (its newest sample grid
as a small PNG, or a few lines of its newest text samples), and record the end-to-end time with the date and
the load it was measured at.

    nice -n 10 python benchmarks/preset_pictures.py vae_mnist vae_emoji     # preset stems from configs/
    python benchmarks/preset_pictures.py --from-benchmarks                  # no training, see below

Writes docs/presets/<preset>.png (image presets) or docs/presets/<preset>.txt (text presets) and updates
the preset's `cpu`, `cpu_s` and `measured` in docs/presets/cards.yaml (its plain sentence is kept), so Home's
cards and README's preset table (copied from the printed lines) say the same. Runs in a throwaway
GENLAB_HOME (or, with `--keep HOME`, in HOME, kept with every grid and metric of the runs). One preset at a
time: the time is the preset's whole run, queue and start-up included.

`--from-benchmarks` makes the card pictures of the presets whose full run docs/BENCHMARKS.md already shows
(the grids under docs/images and the text quoted there, made by those runs, whose times are the cards') without
training again: on a machine shared by many sessions a full pass over every preset takes hours.
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


# preset -> the grid docs/BENCHMARKS.md shows from that preset's full run (what the preset makes)
BENCHMARK_PICTURES = {
    "vae_mnist": "vae_mnist_prior.png",
    "vae_emoji": "vae_emoji_prior.png",
    "dcgan_mnist": "dcgan_mnist_samples.png",
    "cgan_mnist": "cgan_mnist_per_class.png",
    "dcgan_animals": "dcgan_animals_samples.png",
    "dcgan_emoji": "dcgan_emoji_samples.png",
    "pix2pix_edges2emoji": "pix2pix_edges2emoji_AtoB.png",
    "pix2pix_emoji": "pix2pix_emoji_AtoB.png",
    "cyclegan_emoji": "cyclegan_emoji_AtoB.png",
}

# text preset -> the sentence in docs/BENCHMARKS.md that introduces that preset's recorded output (the next
# fenced block holds it)
BENCHMARK_TEXTS = {
    "gpt_shakespeare": "Samples of `gpt_shakespeare` stored by the run",
    "rnn_shakespeare": "The LSTM baseline after",
    "gpt_smollm2_finetune": "SmolLM2 after 120 LoRA steps on the King James Bible",
    "gpt_smollm2_chat": "The chat preset, chatted with through the CLI after the run",
}


def recorded_text(marker: str) -> str:
    """The first lines of the fenced block after `marker` in docs/BENCHMARKS.md (a command line dropped)."""
    text = (ROOT / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    block = text[text.index(marker) :].split("```", 2)[1]
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith(("$", "--", "[safety"))]
    return fit([ln.rstrip().removesuffix("\\").rstrip() for ln in lines])


def fit(lines: list[str]) -> str:
    """Whole lines, at most TEXT_LINES of them and TEXT_CHARS in all (at least one; a chat's question with its answer)."""
    kept: list[str] = []
    for line in lines[:TEXT_LINES]:
        if kept and sum(len(k) + 1 for k in kept) + len(line) > TEXT_CHARS:
            break
        kept.append(line)
    while len(kept) > 1 and kept[-1].startswith("User:"):  # a chat card never ends on a question without its answer
        kept.pop()
    return "\n".join(kept) + "\n"


def thumbnail(source: Path, stem: str) -> None:
    with Image.open(source) as im:
        im.thumbnail((MAX_SIDE, MAX_SIDE))
        im.save(OUT / f"{stem}.png", optimize=True)


def newest_paths(artifacts: list[dict]) -> list[str]:
    """The paths of the artifacts saved at the newest step (a step may save several grids or text files)."""
    last = max(a["step"] or 0 for a in artifacts)
    return [a["path"] for a in artifacts if (a["step"] or 0) == last]


def card_grid(grids: list[dict]) -> str:
    """The newest step's per-class grid (a conditional model: row k is class k), else its plain sample grid (a
    family may also save style-mixing or interpolation grids), else whatever it saved last."""
    newest = newest_paths(grids)
    for prefix in ("per_class_step", "samples"):
        found = [p for p in newest if Path(p).name.startswith(prefix)]
        if found:
            return found[-1]
    return newest[-1]


def human(seconds: float) -> str:
    s = round(seconds)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"


def text_excerpt(paths: list[str]) -> str:
    """The first lines of the newest text samples (prompt and continuation), cut to a card's size."""
    lines: list[str] = []
    for path in paths:
        lines += [ln.rstrip() for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    return fit(lines)


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
    parser.add_argument("presets", nargs="*", help="preset stems, e.g. vae_mnist")
    parser.add_argument("--from-benchmarks", action="store_true", help="card pictures from BENCHMARKS' full runs")
    parser.add_argument("--keep", metavar="HOME", help="train in this GENLAB_HOME and keep it (every grid, metric)")
    args = parser.parse_args()
    if args.from_benchmarks:
        OUT.mkdir(parents=True, exist_ok=True)
        for stem, name in BENCHMARK_PICTURES.items():
            thumbnail(ROOT / "docs" / "images" / name, stem)
            print(f"{stem}: docs/presets/{stem}.png from docs/images/{name}")
        for stem, marker in BENCHMARK_TEXTS.items():
            (OUT / f"{stem}.txt").write_text(recorded_text(marker), encoding="utf-8")
            print(f"{stem}: docs/presets/{stem}.txt from docs/BENCHMARKS.md ({marker!r})")
        return 0
    os.environ["GENLAB_HOME"] = args.keep or tempfile.mkdtemp(prefix="genlab_pictures_")
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
            thumbnail(Path(card_grid(grids)), stem)
        else:
            (OUT / f"{stem}.txt").write_text(text_excerpt(newest_paths(texts)), encoding="utf-8")
        day = dt.date.today()
        record(stem, took, load, day)
        print(f"{stem}: {human(took)} end to end on {day}, load average up to {load:.1f}", flush=True)
        final = {k: v for k, v in store.last_metrics([run.id])[run.id].items() if k.startswith("val/")}
        print(f"{stem}: final " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(final.items())), flush=True)
    if not args.keep:
        shutil.rmtree(os.environ["GENLAB_HOME"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
