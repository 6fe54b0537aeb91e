"""ONNX through torch.onnx's dynamo exporter (or its TorchScript exporter for a net that asks, see
ExportNet.onnx_dynamo), run by onnxruntime; dynamic int8 by onnxruntime's quantizer."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from genlab.export.options import FORMAT_VARIANTS
from lightning_modules.export_nets import ExportNet

SUFFIX = ".onnx"
VARIANTS = FORMAT_VARIANTS["onnx"]
LEGACY_OPSET = 17


def refusal(net: ExportNet, variant: str) -> str | None:
    size = sum(p.numel() * p.element_size() for p in net.module.parameters())
    if size > 1.9e9:
        return f"{size / 1e9:.1f} GB of weights exceed the 2 GB single-file ONNX limit"
    return None


def convert(net: ExportNet, path: Path, variant: str, source: Any = None) -> Path:
    import torch

    plain = path if variant == "fp32" else path.with_name(path.stem + ".fp32.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if net.onnx_dynamo:
            program = torch.onnx.export(
                net.module,
                net.example_inputs,
                dynamo=True,
                input_names=net.input_names,
                output_names=net.output_names,
                verbose=False,
                external_data=False,
            )
            program.save(str(plain))
        else:  # the TorchScript exporter (traces the module) for graphs dynamo cannot decompose
            torch.onnx.export(
                net.module,
                net.example_inputs,
                str(plain),
                dynamo=False,
                opset_version=LEGACY_OPSET,
                input_names=net.input_names,
                output_names=net.output_names,
            )
    if variant == "fp32":
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        quantize_dynamic(str(plain), str(path), weight_type=QuantType.QInt8)
    finally:
        plain.unlink(missing_ok=True)
    return path


class Runner:
    """An onnxruntime CPU session with inputs and outputs in the net's order."""

    def __init__(self, path: Path, n_threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if n_threads:
            opts.intra_op_num_threads = n_threads
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dtypes = {
            i.name: np.int32 if "int32" in i.type else np.int64 if "int64" in i.type else np.float32
            for i in self.session.get_inputs()
        }

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        feed = {k: np.asarray(a, dtype=self.dtypes[k]) for k, a in zip(self.inputs, inputs, strict=True)}
        return [np.asarray(o) for o in self.session.run(None, feed)]


def load(path: Path, net: ExportNet | None = None, n_threads: int | None = None) -> Runner:
    return Runner(path, n_threads)
