"""The Hugging Face folder (safetensors, tokenizer, generation config; LoRA merged) as one more export
format, checked like the others: transformers loads the folder and its logits are compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genlab.core.registry import names_that_can
from genlab.export.options import FORMAT_VARIANTS
from lightning_modules.export_nets import CausalLMLogits, ExportNet

SUFFIX = ""  # a folder
VARIANTS = FORMAT_VARIANTS["hf"]


def refusal(net: ExportNet, variant: str) -> str | None:
    if not isinstance(net.module, CausalLMLogits):
        return f"only a causal language model ({names_that_can('HuggingFaceExportable')}) has a Hugging Face folder"
    return None


def convert(net: ExportNet, path: Path, variant: str, source: Any = None) -> Path:
    """`source` is the run's module (HuggingFaceExportable): it writes the folder itself."""
    return Path(source.export_hf(path))


class Runner:
    """transformers' AutoModelForCausalLM on the folder: ids -> logits."""

    def __init__(self, path: Path, n_threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        self.torch = torch
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        ids = self.torch.from_numpy(np.asarray(inputs[0], dtype=np.int64))
        with self.torch.no_grad():
            return [self.model(input_ids=ids, use_cache=False).logits.float().numpy()]


def load(path: Path, net: ExportNet | None = None, n_threads: int | None = None) -> Runner:
    return Runner(path, n_threads)
