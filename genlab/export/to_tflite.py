"""TFLite through litert-torch, run by ai-edge-litert's interpreter; quantised variants by ai-edge-quantizer.

Variants: fp32 (as converted), fp16 (weights cast to float16), int8 (weight-only int8, float compute:
the best quality per byte) and dynamic (int8 weights, activations quantised on the fly: int8 compute).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from genlab.export.options import FORMAT_VARIANTS
from lightning_modules.export_nets import ExportNet

SUFFIX = ".tflite"
VARIANTS = FORMAT_VARIANTS["tflite"]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def refusal(net: ExportNet, variant: str) -> str | None:
    """Why this net cannot become this TFLite variant, or None. (2 GB is the flatbuffer limit.)"""
    size = sum(p.numel() * p.element_size() for p in net.module.parameters())
    if size > 1.9e9:
        return f"{size / 1e9:.1f} GB of weights exceed the 2 GB TFLite flatbuffer limit"
    return None


def _quantize(content: bytes, variant: str) -> bytes:
    from ai_edge_quantizer import quantizer, recipe
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName

    if variant == "fp16":
        q = quantizer.Quantizer(content)
        q.add_weight_only_config(
            regex=".*",
            operation_name=TFLOperationName.ALL_SUPPORTED,
            num_bits=16,
            algorithm_key=AlgorithmName.FLOAT_CASTING,
        )
    elif variant == "int8":
        q = quantizer.Quantizer(content, recipe.weight_only_wi8_afp32())
    else:
        q = quantizer.Quantizer(content, recipe.dynamic_wi8_afp32())
    return bytes(q.quantize(enable_progress_report=False).quantized_model)


def convert(net: ExportNet, path: Path, variant: str, source: Any = None) -> Path:
    """Convert `net` (batch-1 example inputs) to a .tflite file at `path`."""
    import litert_torch

    litert_torch.config.show_progress = False
    content = litert_torch.convert(net.module, net.example_inputs).model_content()
    if variant != "fp32":
        content = _quantize(bytes(content), variant)
    path.write_bytes(content)
    return path


class Runner:
    """Runs a .tflite file through the LiteRT interpreter with inputs and outputs in the net's order."""

    def __init__(self, path: Path, n_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=n_threads)
        self.runner = self.interpreter.get_signature_runner()
        details = self.runner.get_input_details()
        # litert-torch names signature inputs args_0, args_1, ... in the traced order
        self.inputs = sorted(details, key=lambda k: int(k.rsplit("_", 1)[-1]) if k[-1].isdigit() else 0)
        self.dtypes = {k: details[k]["dtype"] for k in self.inputs}
        outs = self.runner.get_output_details()
        self.outputs = sorted(outs, key=lambda k: int(k.rsplit("_", 1)[-1]) if k[-1].isdigit() else 0)

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        feed = {k: np.asarray(a, dtype=self.dtypes[k]) for k, a in zip(self.inputs, inputs, strict=True)}
        result = self.runner(**feed)
        return [np.asarray(result[k]) for k in self.outputs]


def load(path: Path, net: ExportNet | None = None, n_threads: int | None = None) -> Runner:
    return Runner(path, n_threads)
