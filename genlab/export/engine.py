"""Export a finished run: every net its family names, in one format and variant, each checked for
parity, described by a metadata file and recorded as an `export` artifact of the run."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from genlab.core.errors import GenLabError
from genlab.core.registry import get_family
from genlab.export import decode, parity, to_hf, to_onnx, to_savedmodel, to_tflite
from genlab.export.metadata import SCHEMA_VERSION, json_safe, write_metadata
from genlab.export.options import QUANTIZE
from genlab.runner.checkpoints import load_module
from genlab.safety.gate import policy_of, screen, withheld_notice
from genlab.store.runs import RunStore
from lightning_modules.base import Exportable, HuggingFaceExportable, TextGenerator
from lightning_modules.export_nets import CausalLMLogits, ExportNet, RecurrentStep, rewrite_conv_transpose
from lightning_modules.text_sampling import SamplingSettings, encode_prompt, generate_ids

FORMATS: dict[str, ModuleType] = {"tflite": to_tflite, "onnx": to_onnx, "savedmodel": to_savedmodel, "hf": to_hf}
Progress = Callable[[str], None]


class ExportError(GenLabError):
    """A request that cannot be exported (unknown format, unfinished run, unsupported variant)."""


def variant_of(fmt: str, quantize: str | None) -> str:
    """Check the format and quantisation names (no torch work) and give the variant name."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    variant = quantize or "fp32"
    if quantize is not None and quantize not in QUANTIZE:
        raise ExportError(f"unknown quantisation {quantize!r}; choose one of: {', '.join(QUANTIZE)}")
    if variant not in FORMATS[fmt].VARIANTS:
        offered = ", ".join(v for v in FORMATS[fmt].VARIANTS if v != "fp32") or "none"
        raise ExportError(f"{fmt} exports do not offer --quantize {quantize}; {fmt} offers: {offered}")
    return variant


def check_request(store: RunStore, run_id: str, fmt: str, quantize: str | None = None) -> str:
    """Everything that can be refused before loading a model: names, the family's capabilities (from its
    spec), and the run being finished."""
    variant = variant_of(fmt, quantize)
    run = store.get(run_id)
    family = get_family(run.family)
    if not family.can("Exportable"):
        raise ExportError(f"{family.title} runs name no exportable networks")
    if fmt == "hf" and not family.can("HuggingFaceExportable"):
        raise ExportError(
            f"a Hugging Face folder holds language models only; export {family.title} runs as tflite or onnx"
        )
    if run.status != "completed":
        raise ExportError(
            f"run {run_id} is {run.status}; only a completed run can be exported (its final weights are known)"
        )
    return variant


def exportable_nets(module: Any) -> dict[str, ExportNet]:
    if not isinstance(module, Exportable):
        raise ExportError(f"the {type(module).__name__} model names no exportable networks")
    return module.export_nets()


def refusals(module: Any, nets: dict[str, ExportNet], fmt: str, variant: str) -> dict[str, str]:
    """Why each net cannot be exported this way (nets that can are absent): said before any work."""
    out = {}
    for name, net in nets.items():
        reason = FORMATS[fmt].refusal(net, variant)
        if reason is None and fmt == "hf" and not isinstance(module, HuggingFaceExportable):
            reason = "this model cannot save a Hugging Face folder"  # the spec promised what the module lacks
        if reason:
            out[name] = reason
    return out


def export_folder(store: RunStore, run_id: str, fmt: str, variant: str) -> Path:
    if fmt == "hf":
        return store.run_folder(run_id) / "exports"  # exports/hf, where training already writes it
    folder = store.run_folder(run_id) / "exports" / f"{fmt}-{variant}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def target_path(folder: Path, fmt: str, net_name: str) -> Path:
    return folder / ("hf" if fmt == "hf" else net_name + FORMATS[fmt].SUFFIX)


def prepared_for_conversion(net: ExportNet) -> tuple[ExportNet, dict[str, Any]]:
    """A copy of the net with converter traps rewritten, and proof the rewrite changes no number."""
    module = copy.deepcopy(net.module).eval()
    count = rewrite_conv_transpose(module)
    info: dict[str, Any] = {"conv_transpose_rewritten": count}
    if count:
        with torch.no_grad():
            diffs = [
                (a - b).abs().max().item()
                for i in range(net.n_parity)
                for a, b in zip(
                    _as_tuple(net.module(*net.parity_input(i))), _as_tuple(module(*net.parity_input(i))), strict=True
                )
            ]
        info["rewrite_max_abs_diff"] = max(diffs)
    return dataclasses.replace(net, module=module), info


def _as_tuple(x: Any) -> tuple[torch.Tensor, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def load_runner(fmt: str, path: Path, n_threads: int | None = None) -> Callable[[list[Any]], list[Any]]:
    return FORMATS[fmt].load(path, n_threads=n_threads)


def verify(net: ExportNet, fmt: str, path: Path, variant: str) -> dict[str, Any]:
    """Parity of an exported file against the eager net (the check every export passes through)."""
    return parity.compare(net, load_runner(fmt, path, torch.get_num_threads()), variant)


def decode_check(module: Any, net: ExportNet, run: Callable[[list[Any]], list[Any]]) -> dict[str, Any] | None:
    """Greedy text from the exported LM through the run's own decode loop, against the PyTorch model."""
    if isinstance(net.module, CausalLMLogits):
        context = int(net.metadata["context"])
        adapter: Any = decode.ExportedLM(
            run, context, module.tokenizer, int(net.parity_inputs[0][0, -1]), module.is_chat
        )
    elif isinstance(net.module, RecurrentStep):
        context = 1 << 30
        shapes = [(1, *t.shape[1:]) for t in net.parity_inputs[1:]]
        adapter = decode.ExportedStep(run, shapes, module.tokenizer, module.is_chat)
    else:
        return None
    prompt = (module.run_config.model.sample_prompts or ["\n"])[0]
    prompt_ids = encode_prompt(module, prompt)
    n_new = min(32, int(module.run_config.model.sample_new_tokens), context - len(prompt_ids) - 1)
    if n_new < 1:
        return {"prompt": prompt, "skipped": f"the prompt fills the {context}-token context"}
    settings = SamplingSettings(temperature=0.0, max_new_tokens=n_new)
    expected = generate_ids(module, prompt_ids, settings)
    got = generate_ids(adapter, prompt_ids, settings)
    texts = [module.tokenizer.decode(ids, skip_special_tokens=True) for ids in (expected, got)]
    policy = policy_of(module)
    shown = [withheld_notice(v) if (v := screen(t, policy)).flagged else t for t in texts]  # the one gate
    return {
        "prompt": prompt,
        "new_tokens": n_new,
        "eager_text": shown[0],
        "export_text": shown[1],
        "match": expected == got,
    }


def _io(names: list[str], tensors: tuple[torch.Tensor, ...], described: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": n, "shape": [1, *t.shape[1:]], "dtype": str(t.dtype).removeprefix("torch."), **described.get(n, {})}
        for n, t in zip(names, tensors, strict=True)
    ]


def _versions(fmt: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = {
        "tflite": ("litert-torch", "ai-edge-litert", "ai-edge-quantizer"),
        "onnx": ("onnx", "onnxscript", "onnxruntime"),
        "savedmodel": ("litert-torch", "tensorflow-cpu"),
        "hf": ("transformers",),
    }[fmt]
    out = {"torch": torch.__version__}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            continue
    return out


def export_run(
    store: RunStore,
    run_id: str,
    fmt: str = "tflite",
    quantize: str | None = None,
    *,
    nets: list[str] | None = None,
    latency_reps: int = 20,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Export the run's nets; one record per net: path, metadata, parity figures, passed.

    Refusals (unknown names, unfinished run, a net the format cannot hold) raise ExportError before
    any conversion. An fp32 export whose outputs differ by more than 1e-4 is kept, marked failed."""
    say = progress or (lambda _msg: None)
    variant = check_request(store, run_id, fmt, quantize)
    run = store.get(run_id)
    say(f"loading {run_id}")
    module = load_module(store, run_id)
    all_nets = exportable_nets(module)
    if nets:
        unknown = [n for n in nets if n not in all_nets]
        if unknown:
            raise ExportError(f"{run.family} runs have no net {', '.join(unknown)}; they export: {', '.join(all_nets)}")
        all_nets = {n: all_nets[n] for n in nets}
    refused = refusals(module, all_nets, fmt, variant)
    if len(refused) == len(all_nets):
        raise ExportError(
            f"{fmt} ({variant}) cannot hold this {run.family} run: "
            + "; ".join(f"{n}: {why}" for n, why in refused.items())
        )
    folder = export_folder(store, run_id, fmt, variant)
    tokenizer_dir = None
    if isinstance(module, TextGenerator) and fmt != "hf":
        tokenizer_dir = folder / "tokenizer"
        module.tokenizer.save_pretrained(tokenizer_dir)
    records = []
    for name, net in all_nets.items():
        if name in refused:
            say(f"{name}: skipped ({refused[name]})")
            continue
        say(f"{name}: converting to {fmt} {variant}")
        converted, rewrite = prepared_for_conversion(net)
        path = target_path(folder, fmt, name)
        t0 = time.perf_counter()
        FORMATS[fmt].convert(converted, path, variant, module)
        seconds = time.perf_counter() - t0
        say(f"{name}: checking parity")
        run_export = load_runner(fmt, path, torch.get_num_threads())
        figures = parity.compare(net, run_export, variant)
        figures.update(parity.latency(net, load_runner(fmt, path, 1), latency_reps))
        figures["size_bytes"] = parity.size_on_disk(path)
        figures["convert_s"] = seconds
        decoded = decode_check(module, net, run_export)
        if decoded is not None:
            figures["decode"] = decoded
            if variant == "fp32" and decoded.get("match") is False:
                figures["passed"] = False
        with torch.no_grad():
            outputs = _as_tuple(net.module(*net.example_inputs))
        meta = {
            "schema": SCHEMA_VERSION,
            "run_id": run_id,
            "run_name": run.name,
            "family": run.family,
            "net": name,
            "format": fmt,
            "variant": variant,
            "file": path.name,
            "inputs": _io(net.input_names, net.example_inputs, net.metadata.get("inputs", {})),
            "outputs": _io(net.output_names, outputs, net.metadata.get("outputs", {})),
            "details": {k: v for k, v in net.metadata.items() if k not in ("inputs", "outputs")},
            "tokenizer": None
            if tokenizer_dir is None and fmt != "hf"
            else {
                "kind": module.data_info["tokenizer"].get("kind"),
                "files": "hf" if fmt == "hf" else tokenizer_dir.name,
            },
            "config": run.config,
            "rewrite": rewrite,
            "parity": figures,
            "versions": _versions(fmt),
            "created_at": time.time(),
        }
        meta = json_safe(meta)
        meta_path = write_metadata(path, meta)
        status = "passed" if figures["passed"] else "FAILED"
        say(f"{name}: {status} (max abs diff {figures['max_abs_diff']:.2e})")
        store.add_artifact(
            run_id,
            "export",
            path,
            name=f"{name}.{fmt}.{variant}",
            replace=True,  # exporting again rewrites the same file: one row per file
            meta=json_safe(
                {
                    "net": name,
                    "format": fmt,
                    "variant": variant,
                    "metadata": str(meta_path.relative_to(store.run_folder(run_id))),
                    **figures,
                }
            ),
        )
        records.append({"net": name, "path": str(path), "metadata": str(meta_path), **meta["parity"]})
    return records
