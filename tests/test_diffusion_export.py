"""The diffusion denoiser leaves GenLab with proof, through the project's export code (export_run): ONNX and
TFLite within 1e-4 of PyTorch on fixed inputs, and the run's own sampling loop over the exported file draws
the eager sampler's image for the same seed (guidance included); quantised files report what they cost in
PSNR of the sampled images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from genlab.core.registry import FAMILIES
from genlab.export.denoise import ExportedDenoiser
from genlab.export.engine import export_run, load_runner
from genlab.export.metadata import read_metadata
from genlab.store.runs import RunStore
from tests.helpers import train_tiny

# A real tiny run, export conversions (torch.onnx dynamo, litert-torch) and sampling loops: minutes on 2 cores.
pytestmark = pytest.mark.slow

KNOBS = {"seed": 7, "labels": [1, 2], "sampler": "ddim", "steps": 4, "guidance_scale": 2.0}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Iterator[tuple[RunStore, str, object]]:
    """A tiny class-conditional noise-prediction run, trained for real."""
    home = tmp_path_factory.mktemp("diffusion_export_home")
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    family = FAMILIES["diffusion"]
    raw = family.tiny_config().model_dump(mode="json")
    raw["model"].update(objective="epsilon", conditional=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        run_id, module = train_tiny(store, family, family.config_cls.model_validate(raw))
        yield store, run_id, module.eval()
        store.close()


def psnr(ref: np.ndarray, got: np.ndarray) -> float:
    """dB of images in [0, 1]."""
    return float(10 * np.log10(1.0 / max(np.mean((ref - got) ** 2), 1e-12)))


def exported_images(module, record: dict, fmt: str) -> np.ndarray:
    meta = read_metadata(Path(record["metadata"]))
    assert meta["details"]["objective"] == "epsilon" and meta["details"]["scheduler"]["num_train_timesteps"] == 50
    net = ExportedDenoiser(load_runner(fmt, Path(record["path"])), conditional=True, null_label=module.null_label)
    return module.sample(2, net_fn=net, **KNOBS).numpy()


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_the_exported_denoiser_samples_the_eager_image(fmt: str, trained: tuple[RunStore, str, object]) -> None:
    store, run_id, module = trained
    (record,) = export_run(store, run_id, fmt, latency_reps=1)
    assert record["net"] == "denoiser" and record["passed"] and record["max_abs_diff"] <= 1e-4
    eager = module.sample(2, **KNOBS).numpy()  # (2, 1, 16, 16) in [0, 1]
    ours = exported_images(module, record, fmt)
    np.testing.assert_allclose(ours, eager, atol=1e-4)
    assert not np.allclose(ours, module.sample(2, **{**KNOBS, "seed": 8}).numpy(), atol=1e-2), "seeds differ"


@pytest.mark.parametrize(("fmt", "quantize"), [("tflite", "fp16"), ("tflite", "int8"), ("onnx", "dynamic")])
def test_quantised_denoisers_report_their_psnr(fmt: str, quantize: str, trained: tuple[RunStore, str, object]) -> None:
    store, run_id, module = trained
    (record,) = export_run(store, run_id, fmt, quantize, latency_reps=1)
    assert record["passed"] and np.isfinite(record["max_abs_diff"])
    eager = module.sample(2, **KNOBS).numpy()
    db = psnr(eager, exported_images(module, record, fmt))
    print(f"{fmt} {quantize}: prediction max abs diff {record['max_abs_diff']:.2e}, sampled images PSNR {db:.1f} dB")
    assert db > 25, f"{fmt} {quantize} sampled images drift from the eager ones: {db:.1f} dB"
