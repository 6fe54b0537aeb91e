"""The export formats and their variants, torch-free: what the CLI's choices and the Export page list."""

from __future__ import annotations

# format -> variants (fp32 first); the converters in to_<format>.py offer exactly these
FORMAT_VARIANTS: dict[str, tuple[str, ...]] = {
    "tflite": ("fp32", "fp16", "int8", "dynamic"),
    "onnx": ("fp32", "dynamic"),
    "savedmodel": ("fp32",),
    "hf": ("fp32",),
}
QUANTIZE = ("fp16", "int8", "dynamic")
FORMAT_TITLES = {
    "tflite": "TFLite (LiteRT, phones)",
    "onnx": "ONNX (onnxruntime)",
    "savedmodel": "TF SavedModel (TF Serving)",
    "hf": "Hugging Face folder",
}
VARIANT_TITLES = {
    "fp32": "fp32 (exact)",
    "fp16": "fp16 weights",
    "int8": "int8 weight-only",
    "dynamic": "dynamic-range int8",
}
