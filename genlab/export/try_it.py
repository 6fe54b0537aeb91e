"""Try an export: one sample from the exported file (through its own runtime: the LiteRT interpreter for
TFLite) beside the same sample from PyTorch, on the same seeded input. Text is screened like every
generated text GenLab shows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.core.errors import GenLabError
from genlab.export import decode
from genlab.export.engine import load_runner
from genlab.export.metadata import read_metadata
from genlab.runner.checkpoints import load_module
from genlab.safety.gate import policy_of, screen, withheld_notice
from genlab.store.runs import RunStore
from lightning_modules.export_nets import CausalLMLogits, ExportNet, RecurrentStep
from lightning_modules.text_sampling import SamplingSettings, encode_prompt, generate_ids


def _inputs(net: ExportNet, seed: int) -> tuple[torch.Tensor, ...]:
    """Fresh seeded latents for float vectors (z); the net's own fixed inputs for images and labels."""
    fixed = net.parity_input(seed % net.n_parity)
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(t.shape, generator=g) if t.is_floating_point() and t.ndim == 2 else t for t in fixed)


def _screened(module: Any, text: str) -> str:
    """The text, or the gate's notice when the run's safety policy flags it."""
    verdict = screen(text, policy_of(module))
    return withheld_notice(verdict) if verdict.flagged else text


def try_export(store: RunStore, run_id: str, artifact_name: str, seed: int = 0, prompt: str | None = None) -> dict:
    """{"kind": "image", "eager": (N, H, W, C) floats in [0, 1], "export": ...} or {"kind": "text", ...}."""
    arts = store.artifacts(run_id, kind="export", name=artifact_name)
    if not arts:
        raise GenLabError(f"run {run_id} has no export {artifact_name!r}; export it first")
    art = arts[-1]
    meta = read_metadata(store.run_folder(run_id) / art["meta"]["metadata"])
    module = load_module(store, run_id)
    net = module.export_nets()[meta["net"]]
    run = load_runner(meta["format"], Path(art["path"]))
    if isinstance(net.module, (CausalLMLogits, RecurrentStep)):
        return _try_text(module, net, run, meta, seed, prompt)
    inputs = _inputs(net, seed)
    t0 = time.perf_counter()
    with torch.no_grad():
        eager = net.module(*inputs)
    t1 = time.perf_counter()
    exported = run([t.numpy() for t in inputs])[0]
    t2 = time.perf_counter()
    eager_np = (eager[0] if isinstance(eager, tuple) else eager).numpy()
    return {
        "kind": "image",
        "eager": np.clip(eager_np, 0, 1).transpose(0, 2, 3, 1),
        "export": np.clip(exported, 0, 1).transpose(0, 2, 3, 1),
        "max_abs_diff": float(np.max(np.abs(eager_np - exported))),
        "eager_ms": (t1 - t0) * 1e3,
        "export_ms": (t2 - t1) * 1e3,
    }


def _try_text(module: Any, net: ExportNet, run: Any, meta: dict, seed: int, prompt: str | None) -> dict:
    chat = bool(module.is_chat)
    if isinstance(net.module, CausalLMLogits):
        adapter: Any = decode.ExportedLM(run, int(net.metadata["context"]), module.tokenizer, 0, chat)
        room = int(net.metadata["context"])
    else:
        adapter = decode.ExportedStep(run, [(1, *t.shape[1:]) for t in net.parity_inputs[1:]], module.tokenizer, chat)
        room = 1 << 30
    text = prompt if prompt is not None else (module.run_config.model.sample_prompts or ["\n"])[0]
    ids = encode_prompt(module, text)
    n_new = min(48, room - len(ids) - 1)
    if n_new < 1:
        raise GenLabError(f"the prompt fills the exported {room}-token context; shorten it")
    settings = SamplingSettings(temperature=0.8, top_k=40, max_new_tokens=n_new, seed=seed)
    t0 = time.perf_counter()
    eager_ids = generate_ids(module, ids, settings)
    t1 = time.perf_counter()
    export_ids = generate_ids(adapter, ids, settings)
    t2 = time.perf_counter()
    decode_text = module.tokenizer.decode
    return {
        "kind": "text",
        "prompt": text,
        "eager": _screened(module, decode_text(eager_ids, skip_special_tokens=True)),
        "export": _screened(module, decode_text(export_ids, skip_special_tokens=True)),
        "same_tokens": eager_ids == export_ids,
        "eager_ms": (t1 - t0) * 1e3,
        "export_ms": (t2 - t1) * 1e3,
    }
