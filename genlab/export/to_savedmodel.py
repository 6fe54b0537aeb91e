"""TF SavedModel for TF Serving: the net lowered to StableHLO by litert-torch and wrapped in a
tf.function (XlaCallModule), saved with a serving_default signature.

The weights are inlined as constants of one StableHLO module, which a protobuf holds up to 2 GB (and
the text form roughly doubles them), so nets over 256 MB of weights are refused before any work starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from genlab.export.options import FORMAT_VARIANTS
from lightning_modules.export_nets import ExportNet

SUFFIX = ""  # a folder
VARIANTS = FORMAT_VARIANTS["savedmodel"]
MAX_WEIGHT_BYTES = 256 * 1024**2

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def refusal(net: ExportNet, variant: str) -> str | None:
    size = sum(p.numel() * p.element_size() for p in net.module.parameters())
    if size > MAX_WEIGHT_BYTES:
        return (
            f"{size / 1024**2:.0f} MB of weights: the SavedModel path inlines weights into one StableHLO module, "
            f"limited here to {MAX_WEIGHT_BYTES // 1024**2} MB; export ONNX or the Hugging Face folder instead"
        )
    return None


def convert(net: ExportNet, path: Path, variant: str, source: Any = None) -> Path:
    import litert_torch
    import tensorflow as tf
    import torch
    from litert_torch.backend import export as lowering
    from litert_torch.backend import tf_integration

    litert_torch.config.show_progress = False
    program = torch.export.export(net.module, net.example_inputs).run_decompositions()
    function = tf_integration.mlir_to_tf_function(lowering.exported_program_to_mlir(program))
    holder = tf.Module()
    holder.serve = function
    tf.saved_model.save(holder, str(path), signatures={"serving_default": function.get_concrete_function()})
    return path


class Runner:
    """The SavedModel's serving_default signature, inputs and outputs in the net's order."""

    def __init__(self, path: Path, n_threads: int | None = None) -> None:
        import tensorflow as tf

        self.tf = tf
        self.model = tf.saved_model.load(str(path))
        self.signature = self.model.signatures["serving_default"]
        _, spec = self.signature.structured_input_signature
        self.inputs = sorted(spec, key=lambda k: int(k.rsplit("_", 1)[-1]))
        self.dtypes = {k: spec[k].dtype.as_numpy_dtype for k in self.inputs}
        self.outputs = sorted(self.signature.structured_outputs, key=lambda k: int(k.rsplit("_", 1)[-1]))

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        feed = {
            k: self.tf.constant(np.asarray(a, dtype=self.dtypes[k])) for k, a in zip(self.inputs, inputs, strict=True)
        }
        out = self.signature(**feed)
        return [out[k].numpy() for k in self.outputs]


def load(path: Path, net: ExportNet | None = None, n_threads: int | None = None) -> Runner:
    return Runner(path, n_threads)
