"""The family contract on the models' side: GenLabModule, the base of every family's LightningModule (every
hook the engine reads from a module is declared there once, with its default and why), and what a trained
model can do: the capability protocols.

The engine asks "can this model sample?" through these protocols, never "is this a dcgan?"; each
family's spec lists the capabilities its module implements (names from genlab/families/spec.py's
Capability, the one list) and the family contract test checks them with isinstance.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import lightning as L
import torch
import torch.nn.functional as F

from callbacks.image_metrics import ImageMetricsCallback
from callbacks.steps import planned_batches
from genlab.core.config import RunConfig
from genlab.core.optim import build_optimizer, build_scheduler
from genlab.core.parsing import parse_config
from genlab.families.spec import CAPABILITIES, Family
from genlab.metrics.config import ImageMetricsConfig
from lightning_modules.attention_maps import AttentionMap
from lightning_modules.export_nets import ExportNet

Labels = Sequence[int] | int | None


@runtime_checkable
class ImageSampler(Protocol):
    """Draws new images: (N, C, H, W) floats in [0, 1]; `labels` picks classes of conditional models."""

    def sample_images_n(self, n: int, *, seed: int = 0, labels: Labels = None) -> torch.Tensor: ...

    def class_names(self) -> list[str]:
        """The classes `labels` indexes ([] when the model is not conditional)."""
        ...


@runtime_checkable
class LatentWalker(Protocol):
    """Decodes chosen latent vectors z (N, latent_dim), so the engine can walk between two of them."""

    @property
    def latent_dim(self) -> int: ...

    def images_from_latents(self, z: torch.Tensor, labels: Labels = None) -> torch.Tensor: ...


@runtime_checkable
class Truncatable(Protocol):
    """Draws images with the truncation trick: `truncation` in [0, 1] trades variety (1: none, the full
    variety) for fidelity (towards 0: the average image); `default_truncation` is the run's own setting."""

    @property
    def default_truncation(self) -> float: ...

    def sample_truncated(
        self, n: int, *, seed: int = 0, labels: Labels = None, truncation: float = 1.0
    ) -> torch.Tensor: ...


@runtime_checkable
class Reconstructor(Protocol):
    """Encodes and decodes images (N, C, H, W) in [0, 1] at the model's size."""

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Encoder(Protocol):
    """Maps images (N, C, H, W) in [0, 1] at the model's size to latent codes (N, latent_dim): the
    inverse of LatentWalker.images_from_latents (a VAE's posterior means)."""

    def encode_images(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Translator(Protocol):
    """Maps images of one domain to another: (N, C_in, H, W) in [0, 1] -> (N, C_out, H, W) in [0, 1]."""

    def directions(self) -> list[str]: ...

    def translate(self, x: torch.Tensor, direction: str) -> torch.Tensor: ...


@runtime_checkable
class MultiDomainTranslator(Protocol):
    """Translates an image into any of the run's named domains (one conditioned generator, StarGAN-style):
    (N, C, H, W) in [0, 1] -> the same shape in [0, 1]; an unknown domain raises a GenLabError naming them."""

    def domains(self) -> list[str]: ...

    def translate_to(self, x: torch.Tensor, domain: str) -> torch.Tensor: ...

    def evaluate_translations(
        self, batches: Any, fid_features: str = "inception", max_batches: int | None = None
    ) -> dict[str, float]:
        """FID/KID per target domain, the domain classifier's accuracy on the translations, cycle L1."""
        ...


@runtime_checkable
class TextGenerator(Protocol):
    """Continues token ids: next_logits(ids (1, t), cache) -> (logits (1, V), cache) within context_window."""

    @property
    def tokenizer(self) -> Any: ...

    @property
    def context_window(self) -> int: ...

    @property
    def is_chat(self) -> bool: ...

    def next_logits(self, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]: ...


@runtime_checkable
class BatchDecoder(Protocol):
    """A text model that decodes many sequences in one forward pass, each at its own position: what a
    server's dynamic batching needs (requests join and leave between steps). `slot_cache` may return None
    when a particular model cannot (then requests decode one at a time); the cache it returns has
    `move(src, dst)`, copying one row into another (the decoder keeps the rows in use one block, so a step
    can read them as a slice)."""

    def slot_cache(self, slots: int) -> Any: ...

    def slot_logits(self, cache: Any, ids: torch.Tensor, rows: list[int], starts: list[int]) -> torch.Tensor: ...


@runtime_checkable
class PreferenceTunable(Protocol):
    """Learns from preference pairs by DPO (genlab/runner/dpo.py, the retraining loop): the family builds the
    policy that starts as this finished run and is taught against it as the frozen reference; the policy's
    checkpoint reloads as a plain module of the family."""

    def preference_policy(self, config: Any, data_info: dict[str, Any], *, beta: float) -> GenLabModule: ...


@runtime_checkable
class DenoisingSampler(Protocol):
    """Samples by denoising with knobs chosen per call (sampler, steps, guidance of conditional runs), and
    shows how: the denoising strip (one image from noise to sample) and any starting noise as images."""

    def sampling_settings(self) -> dict[str, Any]:
        """{knob: {"default", "choices" or "min"/"max"}} for sampler, steps and (conditional) guidance_scale."""
        ...

    def check_sampling(
        self, sampler: str | None, steps: int | None, guidance_scale: float | None
    ) -> tuple[str, int, float]: ...

    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        labels: Labels = None,
        sampler: str | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
    ) -> torch.Tensor: ...

    def denoise(self, noise: torch.Tensor, **knobs: Any) -> tuple[torch.Tensor, list[torch.Tensor]]: ...

    def denoising_strip(self, **knobs: Any) -> tuple[list[int], torch.Tensor]: ...


@runtime_checkable
class Exportable(Protocol):
    """Names the networks that leave GenLab (TFLite, ONNX, SavedModel): each a plain nn.Module with fixed
    example inputs, input/output names and metadata (lightning_modules/export_nets.py); the LightningModule
    itself is never exported."""

    def export_nets(self) -> dict[str, ExportNet]: ...


@runtime_checkable
class HuggingFaceExportable(Protocol):
    """A language model that saves itself as a Hugging Face folder (weights, tokenizer, generation config):
    `genlab export-hf`, the `hf` export format and the feedback fine-tune's starting point."""

    def export_hf(self, folder: str | Path) -> Path: ...


@runtime_checkable
class HuggingFaceLoadable(Protocol):
    """A text family whose module can wrap an untouched pretrained Hugging Face model, with no run behind
    it (`genlab chat --model smollm2`): the class method builds it in eval mode. The engine takes the first
    registered family that is both this and a TextGenerator."""

    @classmethod
    def from_pretrained_model(cls, name: str, *, system_prompt: str = "") -> GenLabModule: ...


@runtime_checkable
class ChatFinetunable(HuggingFaceExportable, Protocol):
    """A chat model that a feedback fine-tune continues (genlab/use/feedback.py): from its own Hugging Face
    export, on a chat jsonl of the answers users preferred. The class method rewrites the parent's config
    dump (a dict) for that; the engine then sets the name, steps, warm-up and tags."""

    @classmethod
    def feedback_finetune_config(cls, config: dict[str, Any], export: Path, chat_data: Path) -> dict[str, Any]: ...


@runtime_checkable
class Distillable(Protocol):
    """Teaches a smaller student of its own family (genlab/compress/distill.py): the family decides the
    default student's size and how it learns (a GPT by knowledge distillation with `temperature` and
    `alpha`, a GAN generator by matching the teacher's images for the same latents). The teacher is held
    outside the student's state, so the student's checkpoint reloads as a plain module of the family."""

    def student_overrides(self) -> list[str]:
        """`model.key=value` overrides of the teacher's config that make the default student (about half)."""
        ...

    def distill_student(
        self, config: RunConfig, data_info: dict[str, Any], *, temperature: float, alpha: float
    ) -> GenLabModule:
        """The student, built from `config` (the teacher's config with the student's overrides), that learns
        from this teacher when fitted; raises GenLabError when this teacher cannot teach (say why)."""
        ...


@runtime_checkable
class MaskFiller(Protocol):
    """Fills the mask token of a text with the top-k words and their probabilities. `mask_token` is ""
    when this run cannot (an encoder fine-tuned to classify has no language-model head)."""

    @property
    def mask_token(self) -> str: ...

    def fill_mask(self, text: str, top_k: int = 5) -> list[dict[str, Any]]:
        """[{"token": word, "score": probability, "sequence": the filled text}] for the first mask."""
        ...


@runtime_checkable
class TextClassifier(Protocol):
    """Scores a text against the classes it was trained on; `label_names()` is [] when it cannot."""

    def label_names(self) -> list[str]: ...

    def classify(self, text: str) -> dict[str, float]:
        """{label: probability} for every class."""
        ...


@runtime_checkable
class AttentionViewer(Protocol):
    """Shows what a transformer attends to: its attention weights on a text, per kind, layer and head,
    and its position picture (a learned position table or fixed encoding, (positions, dims); for T5's
    relative buckets, (heads, distances) of bias)."""

    def attention_maps(self, text: str) -> list[AttentionMap]: ...

    def position_picture(self) -> tuple[str, torch.Tensor]:
        """(what the rows and columns mean, the 2-D tensor)."""
        ...


@runtime_checkable
class StyleMixer(Protocol):
    """A style-based generator (StyleGAN): truncation toward the mean w, style mixing between seeds at a
    layer crossover, and walks in W. psi is in [0, 1]; images (N, C, S, S) in [0, 1]."""

    @property
    def num_style_layers(self) -> int: ...

    def truncated_samples(self, n: int, *, seed: int = 0, psi: float = 1.0) -> torch.Tensor: ...

    def style_mix(
        self, coarse_seeds: list[int], fine_seeds: list[int], *, psi: float = 1.0, crossover: int | None = None
    ) -> torch.Tensor: ...

    def w_walk(self, seed_a: int, seed_b: int, steps: int = 8, *, psi: float = 1.0) -> torch.Tensor: ...


def _protocols() -> dict[str, type]:
    """Capability name -> its Protocol, for every name of genlab/families/spec.py's Capability list."""
    missing = [name for name in CAPABILITIES if not isinstance(globals().get(name), type)]
    if missing:
        raise ImportError(f"capabilities without a Protocol in lightning_modules/base.py: {', '.join(missing)}")
    return {name: globals()[name] for name in CAPABILITIES}


PROTOCOLS: dict[str, type] = _protocols()


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latent batches a, b (B, D) at fractions t (B, 1) — stays on the shell."""
    an, bn = F.normalize(a, dim=1), F.normalize(b, dim=1)
    omega = torch.acos((an * bn).sum(1, keepdim=True).clamp(-1 + 1e-6, 1 - 1e-6))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


_FAMILY_MODULES: dict[str, type[GenLabModule]] = {}


def family_module(name: str) -> type[GenLabModule] | None:
    """The class that declared `family = FAMILY` for the family `name` (None until its file is imported)."""
    return _FAMILY_MODULES.get(name)


class GenLabModule(L.LightningModule):
    """Base class of family modules: a family's module is the subclass that sets `family` to its spec.

    `config` is the parsed RunConfig (a checkpoint hands its dict dump, parsed here) and `data_info` a dict
    of primitives from the data module (channels, image_size, num_classes, ...). Both go into the
    checkpoint's hyper_parameters as primitives, so a checkpoint loads with torch.load(weights_only=True)
    and rebuilds the same module.

    Everything the engine reads from a module is declared below, with its default: a family overrides what
    it needs (docs/ARCHITECTURE.md, "Adding a family", lists it all).
    """

    family: ClassVar[Family]
    """Required: the family's spec (genlab/families/<name>.py FAMILY). The class that sets it in its own body
    is the family's module (genlab/runner/build.py finds it); subclasses that inherit it (a distillation
    student) train as the same family."""

    datamodule_class: ClassVar[type[L.LightningDataModule]]
    """Required: the data module that feeds the family, built as `datamodule_class(config)`; after its
    setup, its `info()` is the `data_info` this module is built with."""

    conditional: ClassVar[bool] = False
    """Class-conditional sampling: `labels` picks classes (ImageSampler, LatentWalker) and the image
    metrics score class accuracy (callbacks/image_metrics.py)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "family" not in cls.__dict__:
            return
        if not hasattr(cls, "datamodule_class"):
            raise TypeError(
                f"{cls.__qualname__} sets `family` but no `datamodule_class` (the data module it trains on)"
            )
        name = cls.family.name
        known = _FAMILY_MODULES.get(name)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(
                f"two modules declare the family {name!r}: {known.__module__}.{known.__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        _FAMILY_MODULES[name] = cls

    def __init__(self, config: RunConfig | dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__()
        run_config = config if isinstance(config, RunConfig) else parse_config(config)
        self.save_hyperparameters({"config": run_config.model_dump(mode="json"), "data_info": dict(data_info)})
        self.run_config: RunConfig = run_config
        self.data_info = dict(data_info)
        self.latest_step_metrics: dict[str, torch.Tensor | float] = {}

    # -- per-step training metrics ------------------------------------------------------------------

    def log_step(self, values: dict[str, torch.Tensor | float], batch_size: int | None = None) -> None:
        """Log training scalars of this step (on_step only) to every logger and the run store.

        Lightning writes step values to loggers only every `log_every_n_steps` (and on the step a stop is
        requested), yet each self.log call costs ~0.3 ms of bookkeeping on every step; so the values are
        handed to Lightning only on the steps it writes. The latest values stay in latest_step_metrics
        on every step (the NaN guard reads them).
        """
        self.latest_step_metrics = values
        trainer = self._trainer
        if trainer is None or trainer._logger_connector.should_update_logs:
            self.log_dict(values, on_step=True, on_epoch=False, batch_size=batch_size)

    # -- hooks the samples callback calls (callbacks/samples.py) --------------------------------------

    def sample_images(self) -> dict[str, torch.Tensor]:
        """Named image batches (N, C, H, W) in [0, 1] to save as grids; fixed inputs across steps."""
        return {}

    def sample_grid_rows(self) -> dict[str, int]:
        """Images per row of the named sample grids (say a walk's steps); a grid not named is near square."""
        return {}

    def sample_texts(self) -> dict[str, str]:
        """Named text samples to store (text families); each passes the safety gate before it is written."""
        return {}

    def reference_output(self) -> torch.Tensor:
        """A deterministic output from fixed inputs (eval mode): what reload and export parity compare."""
        raise NotImplementedError(f"{type(self).__name__} must implement reference_output()")

    # -- what rides with the module and what it serves ----------------------------------------------

    def configure_callbacks(self) -> list[L.Callback]:
        """Callbacks that ride with the module, so any Trainer that fits it gets them. Default: the image
        metrics (FID, KID, precision/recall: callbacks/image_metrics.py) when the run config has a
        `metrics: ImageMetricsConfig` section; sweeps then compare trials on its per-epoch KID."""
        cfg = getattr(self.run_config, "metrics", None)
        return [ImageMetricsCallback(cfg)] if isinstance(cfg, ImageMetricsConfig) else []

    def images_for_metrics(self, n: int, labels: list[int] | None, generator: torch.Generator) -> torch.Tensor:
        """n images (N, C, H, W) in [0, 1] for the image metrics, drawn with `generator` so every measurement
        sees the same noise (`labels`: classes, when conditional). Default: a LatentWalker's seeded latents."""
        if not isinstance(self, LatentWalker):
            raise NotImplementedError(f"{type(self).__name__} measures image metrics: implement images_for_metrics()")
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.images_from_latents(z, labels)

    def served_parameters(self) -> int:
        """Parameters of what a user is served (a GAN serves its generator): what distillation shrinks."""
        return sum(p.numel() for p in self.parameters())

    # -- optimisation -------------------------------------------------------------------------------

    def planned_batches(self) -> int:
        """Training batches the whole run will see (trainer.max_steps counts batches in every family)."""
        try:
            planned = planned_batches(self.trainer, self.run_config.trainer.max_steps)
        except RuntimeError:  # not attached to a Trainer
            planned = None
        return planned or max(1, self.run_config.trainer.max_steps)

    def total_training_steps(self) -> int:
        """Scheduler steps of the whole run: batches, or optimizer steps under gradient accumulation."""
        if not self.automatic_optimization:
            return self.planned_batches()
        return max(1, self.planned_batches() // self.run_config.trainer.accumulate_grad_batches)

    def configure_optimizers(self) -> Any:
        opt = build_optimizer(self.parameters(), self.run_config.optim)
        sched = build_scheduler(opt, self.run_config.optim, self.total_training_steps(), self.family.monitor)
        return opt if sched is None else {"optimizer": opt, "lr_scheduler": sched}

    def manual_step(self, optimizer: Any, loss: torch.Tensor) -> None:
        """One step of a manually optimised net (GANs): zero, backward, clip by the config, step."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        clip = self.run_config.trainer.gradient_clip_val
        if clip > 0:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")
        optimizer.step()
