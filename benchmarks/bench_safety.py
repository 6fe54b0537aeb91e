"""What screening adds to a reply, and how well each screen does on our labelled set.

Latency: a reply of several sentences is streamed through the real gate (Gate.stream: sentence chunks,
each screened with everything before it in one batch), interleaved reply by reply across the screens so
a noisy host slows them alike. Screens:
- the alt-profanity-check fallback;
- Detoxify's own code on the tiny Detoxify-format BERT the tests build (1 layer, width 16);
- Detoxify's own code on a BERT-base-sized checkpoint (12 layers, width 768, 110 M parameters: the
  size of the official `original` model) with random weights: the official weights cannot be downloaded
  here, but the cost depends on the architecture, not on the weight values. Its vocabulary is tiny, so a
  word becomes one token; WordPiece makes ~1.3 tokens per word, so the real model is somewhat slower.

Quality: precision/recall/accuracy of each screen with its default thresholds on
benchmarks/data/safety_labelled.tsv (insult/threat/hate should be flagged; friendly/rough should pass).
Only the fallback's numbers are meaningful here: the Detoxify checkpoints built above have random
weights, and the official ones are not on this machine (install one and pass --official to score it).

    python benchmarks/bench_safety.py [--replies 30] [--official]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import torch  # noqa: E402

from genlab.core.config import SafetyConfig  # noqa: E402
from genlab.safety.gate import Gate  # noqa: E402
from genlab.safety.screeners import DetoxifyScreener, ProfanityScreener, find_checkpoint  # noqa: E402

LABELLED = ROOT / "benchmarks" / "data" / "safety_labelled.tsv"
SHOULD_FLAG = {"insult", "threat", "hate"}


def labelled() -> list[tuple[str, str]]:
    lines = [x for x in LABELLED.read_text(encoding="utf-8").splitlines() if x.strip() and not x.startswith("#")]
    return [(a, b.strip()) for a, b in (x.split("\t", 1) for x in lines)]


def detoxify_checkpoint(folder: Path, layers: int, width: int, heads: int) -> Path:
    """A Detoxify-format checkpoint (config + state_dict) of a BERT of the given size, named by its hash."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder.mkdir(parents=True)
    words = {w.lower().strip(".,!?'") for _, t in labelled() for w in t.split()}
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * width,
        num_labels=6,
    )
    config.save_pretrained(folder)
    model = BertForSequenceClassification(config)
    state = model.state_dict()
    # every score ~0.0003: nothing is flagged, so each reply streams all its chunks (the cost to measure)
    state["classifier.weight"].zero_()
    state["classifier.bias"].fill_(-8.0)
    args = {"model_type": str(folder), "model_name": "BertForSequenceClassification"}
    args |= {"tokenizer_name": "BertTokenizer", "num_classes": 6}
    classes = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
    tmp = folder / "ckpt.tmp"
    torch.save(
        {
            "config": {"arch": {"args": args}, "dataset": {"args": {"classes": classes}}},
            "state_dict": model.state_dict(),
        },
        tmp,
    )
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    return tmp.rename(folder / f"toxic_original-{digest[:8]}.ckpt")


def replies(n: int) -> list[list[str]]:
    """n replies of 5 friendly/rough sentences each, cut into 4-character pieces like a token stream."""
    passing = [t for label, t in labelled() if label in ("friendly", "rough")]
    out = []
    for i in range(n):
        text = " ".join(passing[(i + k) % len(passing)].capitalize() + "." for k in range(5))
        out.append([text[j : j + 4] for j in range(0, len(text), 4)])
    return out


class Pieces:
    def __init__(self, pieces: list[str]) -> None:
        self.pieces, self.n_tokens, self.stop_reason = pieces, len(pieces), "end_of_text"

    def __iter__(self):
        yield from self.pieces


def quality(screener) -> dict[str, float]:
    rows = labelled()
    gate = Gate(SafetyConfig(), screener=screener)
    flagged = [r.flagged for r in gate.check([t for _, t in rows])]
    tp = sum(f and label in SHOULD_FLAG for (label, _), f in zip(rows, flagged, strict=True))
    fp = sum(f and label not in SHOULD_FLAG for (label, _), f in zip(rows, flagged, strict=True))
    pos = sum(label in SHOULD_FLAG for label, _ in rows)
    per = {
        lab: sum(f for (label, _), f in zip(rows, flagged, strict=True) if label == lab)
        / sum(label == lab for label, _ in rows)
        for lab in ("insult", "threat", "hate", "rough", "friendly")
    }
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / pos,
        "accuracy": (tp + (len(rows) - pos - fp)) / len(rows),
        **{f"flagged {k}": v for k, v in per.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", type=int, default=30)
    parser.add_argument("--official", action="store_true", help="also score the installed official checkpoint")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ["GENLAB_HOME"] = str(tmp / "home")
    screens = {"fallback (alt-profanity-check)": ProfanityScreener("benchmark")}
    for i, (name, (layers, width, heads)) in enumerate(
        {
            "Detoxify code, tiny BERT (tests)": (1, 16, 2),
            "Detoxify code, BERT-base size (110 M)": (12, 768, 12),
        }.items()
    ):
        ckpt = detoxify_checkpoint(tmp / f"detoxify{i}", layers, width, heads)
        os.environ["GENLAB_DETOXIFY_HF_CONFIG"] = str(ckpt.parent)
        t = time.perf_counter()
        screens[name] = DetoxifyScreener(ckpt, "original")
        print(f"{name}: checkpoint {ckpt.stat().st_size / 1e6:.1f} MB, load {time.perf_counter() - t:.1f} s")
    os.environ.pop("GENLAB_DETOXIFY_HF_CONFIG")
    if args.official:
        os.environ.pop("GENLAB_HOME")
        official = find_checkpoint("original")
        if official is None:
            sys.exit("no official checkpoint installed (python -m genlab screen --install-checkpoint FILE)")
        screens["Detoxify original (official)"] = DetoxifyScreener(official, "original")

    gates = {name: Gate(SafetyConfig(), screener=s) for name, s in screens.items()}
    times: dict[str, list[float]] = {name: [] for name in gates}
    chunks: dict[str, int] = {}
    for i, reply in enumerate(replies(args.replies + 3)):
        for name, gate in gates.items():
            t = time.perf_counter()
            st = gate.stream(lambda r=reply: Pieces(r))
            n = sum(1 for _ in st)
            if i >= 3:  # warm-up replies are not timed
                times[name].append(time.perf_counter() - t)
                chunks[name] = n
    assert len(set(chunks.values())) == 1, f"every screen passed every chunk: {chunks}"
    n_chunks = next(iter(chunks.values()))
    print(f"\nadded latency per reply ({args.replies} replies of 5 sentences, {n_chunks} chunks, interleaved):")
    print("| screen | p50 ms | p95 ms |\n| --- | ---: | ---: |")
    for name, ts in times.items():
        ts = sorted(ts)
        p95 = ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))]
        print(f"| {name} | {statistics.median(ts) * 1e3:.1f} | {p95 * 1e3:.1f} |")

    print(f"\nlabelled set ({len(labelled())} sentences), default thresholds:")
    cols = None
    for name, screener in screens.items():
        if name.startswith("Detoxify code"):
            continue  # random weights: their verdicts mean nothing
        q = quality(screener)
        if cols is None:
            cols = list(q)
            print("| screen | " + " | ".join(cols) + " |\n| --- |" + " ---: |" * len(cols))
        print(f"| {name} | " + " | ".join(f"{q[c]:.2f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
