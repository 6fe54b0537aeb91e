"""Attention you can see: the engine's API over the AttentionViewer capability (lightning_modules/base.py),
shared by the Playground, `genlab attention` and the REST API.

`attention_report(module, text)` runs the model on a text and returns every kind of attention it has
(a BERT's self-attention; a T5's encoder, decoder and cross-attention) per layer and head, a head summary
(how much each head looks at the previous token, the first token and itself, and which of those it mostly
does), notes (a text cut to the model's context), and the model's position picture. `heatmap_png` draws
one layer and head as a token-by-token PNG; the UI draws the same numbers with plotly.

Attention weights are not generated text: tokens shown here are the user's own input and, for a seq2seq
model, its greedy output, which `attention_report` screens through the safety gate before returning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES, get_family
from genlab.runner.checkpoints import load_module
from genlab.safety.gate import Gate, policy_of
from genlab.store.runs import RunStore
from lightning_modules.attention_maps import AttentionMap

PATTERNS = ("previous", "first", "self")


@dataclass
class HeadSummary:
    kind: str
    layer: int
    head: int
    previous: float  # mean weight on the token just before the query
    first: float  # mean weight on the first token
    self_: float  # mean weight on the query's own position
    pattern: str  # the largest of the three when it is at least 0.4, else "mixed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "layer": self.layer,
            "head": self.head,
            "previous": self.previous,
            "first": self.first,
            "self": self.self_,
            "pattern": self.pattern,
        }


@dataclass
class AttentionReport:
    maps: list[AttentionMap]
    summary: list[HeadSummary]
    notes: list[str] = field(default_factory=list)
    position_label: str = ""
    positions: torch.Tensor | None = None

    def map(self, kind: str | None = None) -> AttentionMap:
        if kind is None:
            return self.maps[0]
        for m in self.maps:
            if m.kind == kind:
                return m
        raise GenLabError(f"no {kind!r} attention here; this model has: {', '.join(m.kind for m in self.maps)}")

    def positions_list(self) -> list[list[float]]:
        """The position picture as nested lists (the UI draws it without torch)."""
        return [] if self.positions is None else self.positions.tolist()

    def to_dict(self, kind: str | None = None, layer: int | None = None, head: int | None = None) -> dict[str, Any]:
        """JSON for the REST API: the summary, and the weights of one kind (all layers and heads, or one)."""
        m = self.map(kind)
        w = m.weights
        if layer is not None:
            w = w[check_index(layer, m.n_layers, "layer")]
            if head is not None:
                w = w[check_index(head, m.n_heads, "head")]
        return {
            "kinds": [x.kind for x in self.maps],
            "kind": m.kind,
            "query_tokens": m.query_tokens,
            "key_tokens": m.key_tokens,
            "layers": m.n_layers,
            "heads": m.n_heads,
            "weights": w.tolist(),
            "summary": [s.to_dict() for s in self.summary],
            "notes": self.notes,
            "position_label": self.position_label,
        }


def check_index(i: int, n: int, what: str) -> int:
    if not 0 <= i < n:
        raise GenLabError(f"--{what} {i} is out of range: this model has {n} {what}s (0..{n - 1})")
    return i


def head_summary(m: AttentionMap) -> list[HeadSummary]:
    """Per layer and head: the mean weight on the previous token, the first token and the query itself."""
    w = m.weights  # (L, H, Tq, Tk)
    tq, tk = w.shape[-2], w.shape[-1]
    q = torch.arange(tq)
    out = []
    for layer in range(w.shape[0]):
        for head in range(w.shape[1]):
            a = w[layer, head]
            prev_rows = q[(q >= 1) & (q - 1 < tk)]
            prev = float(a[prev_rows, prev_rows - 1].mean()) if len(prev_rows) else 0.0
            first = float(a[:, 0].mean())
            diag = q[q < tk]
            self_ = float(a[diag, diag].mean()) if m.kind != "cross" else 0.0
            scores = {"previous": prev, "first": first, "self": self_}
            best = max(scores, key=lambda k: scores[k])
            out.append(HeadSummary(m.kind, layer, head, prev, first, self_, best if scores[best] >= 0.4 else "mixed"))
    return out


def load_viewer(run_id: str, which: str | None = None, store: RunStore | None = None) -> Any:
    """The module of a run whose model shows its attention, or a GenLabError naming the families that do."""
    store = store or RunStore()
    run = store.get(run_id)
    if not get_family(run.family).can("AttentionViewer"):
        able = ", ".join(f.name for f in FAMILIES.values() if f.can("AttentionViewer"))
        raise GenLabError(f"Run {run_id} is a {run.family} run; attention maps need a {able} run")
    return load_module(store, run_id, which).eval()


def attention_report(module: Any, text: str) -> AttentionReport:
    if not text.strip():
        raise GenLabError("Give a text to look at (--text)")
    maps = module.attention_maps(text)
    notes = []
    limit = int(module.data_info.get("max_source_len") or module.context_window)
    n_keys = len(maps[0].key_tokens)
    if n_keys >= limit:
        notes.append(f"The text was cut to the model's context of {limit} tokens; the maps show the first {limit}.")
    if len(maps) > 1:  # a seq2seq model's own output is generated text: screen it like any other
        verdict = Gate(policy_of(module), path="attention").release_many({"output": "".join(maps[1].query_tokens[1:])})
        if verdict["output"].action == "blocked":
            hidden = maps[1].query_tokens[:1] + ["(withheld)"] * (len(maps[1].query_tokens) - 1)
            maps = [maps[0]] + [
                AttentionMap(m.kind, hidden, m.key_tokens if m.kind == "cross" else hidden, m.weights, m.causal)
                for m in maps[1:]
            ]
            notes.append("The model's output was withheld by the safety gate; its tokens are hidden.")
    summary = [s for m in maps for s in head_summary(m)]
    label, positions = module.position_picture()
    return AttentionReport(maps, summary, notes, label, positions)


# -- pictures -------------------------------------------------------------------------------------------


def _colour(v: float) -> tuple[int, int, int]:
    """White (0) to dark blue (1)."""
    v = max(0.0, min(1.0, v))
    return (int(255 - 222 * v), int(255 - 180 * v), int(255 - 75 * v))


def heatmap_png(m: AttentionMap, layer: int, head: int, out: str | Path, cell: int = 22) -> Path:
    """One layer and head as a token-by-token heat map (queries down, keys across) with token labels."""
    from PIL import Image, ImageDraw

    a = m.weights[check_index(layer, m.n_layers, "layer"), check_index(head, m.n_heads, "head")]
    tq, tk = a.shape
    label_w = 8 + 7 * max((len(t) for t in m.query_tokens), default=1)
    label_h = 8 + 7 * max((len(t) for t in m.key_tokens), default=1)
    img = Image.new("RGB", (label_w + tk * cell + 4, label_h + tq * cell + 24), "white")
    draw = ImageDraw.Draw(img)
    draw.text((4, 4), f"{m.kind} attention, layer {layer}, head {head}", fill="black")
    top = label_h + 20
    for j, tok in enumerate(m.key_tokens):  # keys written vertically, one character per row
        x = label_w + j * cell + cell // 3
        for k, ch in enumerate(tok[:18]):
            draw.text((x, 20 + 7 * k), ch, fill="black")
    for i, tok in enumerate(m.query_tokens):
        draw.text((4, top + i * cell + cell // 4), tok[:30], fill="black")
        for j in range(tk):
            x0, y0 = label_w + j * cell, top + i * cell
            draw.rectangle(
                [x0, y0, x0 + cell - 1, y0 + cell - 1], fill=_colour(float(a[i, j])), outline=(230, 230, 230)
            )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out
