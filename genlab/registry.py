"""The closed registry of model families.

The UI lists FAMILIES; the CLI validates `family:` against it. Modules are imported by explicit code
below, never from a dotted path found in a user's YAML. Configs are torch-free so `runs list` and the
UI start fast; the LightningModule and data module are imported only when a run is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from genlab.config import ConfigError, RunConfig
from genlab.families.cgan import CGANRunConfig
from genlab.families.cyclegan import CycleGANRunConfig
from genlab.families.dcgan import DCGANRunConfig
from genlab.families.gpt import GPTRunConfig
from genlab.families.pix2pix import Pix2PixRunConfig
from genlab.families.rnn import RNNRunConfig
from genlab.families.vae import VAERunConfig

if TYPE_CHECKING:
    import lightning as L


@dataclass(frozen=True)
class Family:
    """What GenLab needs to know to train, monitor and show one model family."""

    name: str
    title: str
    summary: str
    kind: Literal["image", "paired", "text"]
    config_cls: type[RunConfig]
    monitor: str  # the metric checkpointing, early stopping and sweeps read
    mode: Literal["min", "max"]
    module_loader: Callable[[], type[L.LightningModule]]
    datamodule_loader: Callable[[], Callable[[RunConfig], L.LightningDataModule]]
    # A seconds-long config (tiny nets, few images, few steps) for tests, the UI's quick try and e2e.
    tiny_overrides: dict[str, Any] = field(default_factory=dict)
    # The checkpoint the Playground and the CLI use unless told otherwise. Text runs use the last one:
    # it is what the Hugging Face export holds, and a chat fine-tune on a small set keeps learning its
    # answers after held-out perplexity (the monitor) has bottomed out.
    serve_checkpoint: Literal["best", "last"] = "best"
    # The default search space of a sweep (knobs that keep the objective comparable: the VAE's beta
    # reweights its val/loss, so it is not in the VAE's space): `--set` path -> {low, high, log?, step?} or {choices: [...]};
    # genlab/sweep_space.py validates it against config_cls, so a renamed field fails the family contract.
    sweep_space: dict[str, Any] = field(default_factory=dict)

    def module_class(self) -> type[L.LightningModule]:
        return self.module_loader()

    def build_datamodule(self, config: RunConfig) -> L.LightningDataModule:
        return self.datamodule_loader()(config)

    def default_config(self, **overrides: Any) -> RunConfig:
        return self.config_cls(family=self.name, **overrides)

    def tiny_config(self) -> RunConfig:
        """The family's default config shrunk by tiny_overrides (section -> {field: value})."""
        raw = self.config_cls(family=self.name).model_dump(mode="json")
        for section, values in self.tiny_overrides.items():
            if isinstance(values, dict):
                raw[section].update(values)
            else:
                raw[section] = values
        return self.config_cls.model_validate(raw)


_TINY_TEXT_DATA = {
    "name": "shakespeare",
    "max_chars": 20_000,
    "block_size": 32,
    "batch_size": 8,
    "vocab_size": 300,
    "eval_pairs": 2,
    "eval_prompt_tokens": 8,
    "eval_new_tokens": 8,
}
_TINY_TEXT_TRAINER = {
    "max_epochs": 1,
    "max_steps": 4,
    "limit_train_batches": 4,
    "limit_val_batches": 2,
    "log_every_n_steps": 1,
}


def _lazy(module: str, attr: str) -> Callable[[], Any]:
    """A loader for a class in one of our own modules, named here in code (never from a user's YAML);
    importing on first use keeps torch out of the CLI's and the UI's start-up."""

    def load() -> Any:
        return getattr(importlib.import_module(module), attr)

    return load


# The same seconds-long setting for both image GANs (tests, docs, quick tries).
_TINY_GAN: dict[str, Any] = {
    "data": {"name": "digits", "image_size": 16, "batch_size": 16, "max_items": 96},
    "model": {"latent_dim": 8, "g_width": 8, "d_width": 8},
    "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
    "logging": {"sample_every_n_steps": 4, "n_samples": 16},
    "metrics": {"features": "pixels", "fid_samples": 64, "class_metrics": False},
}


def _log_range(low: float, high: float) -> dict[str, Any]:
    return {"low": low, "high": high, "log": True}


_GAN_SPACE: dict[str, Any] = {
    "optim.lr_g": _log_range(5e-5, 1e-3),
    "optim.lr_d": _log_range(5e-5, 1e-3),
    "optim.beta1": {"choices": [0.0, 0.5]},
}
_TEXT_SPACE: dict[str, Any] = {
    "optim.lr": _log_range(1e-4, 1e-2),
    "optim.weight_decay": {"low": 0.0, "high": 0.2},
    "model.dropout": {"low": 0.0, "high": 0.3},
}

FAMILIES: dict[str, Family] = {
    "vae": Family(
        name="vae",
        title="VAE",
        summary="Variational autoencoder: learns a smooth latent space; samples, reconstructions and interpolations.",
        kind="image",
        config_cls=VAERunConfig,
        monitor="val/loss",
        mode="min",
        module_loader=_lazy("lightning_modules.vae", "VAEModule"),
        datamodule_loader=_lazy("datamodules.images", "ImageDataModule"),
        tiny_overrides={
            "data": {"name": "digits", "image_size": 16, "batch_size": 16, "max_items": 96},
            "model": {"latent_dim": 4, "base_width": 8},
            "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
            "logging": {"sample_every_n_steps": 2, "n_samples": 8},
        },
        sweep_space={
            "optim.lr": _log_range(1e-4, 1e-2),
            "model.latent_dim": {"choices": [8, 16, 32]},
            "model.base_width": {"choices": [16, 32, 64]},
        },
    ),
    # GANs monitor FID (logged at every validation by callbacks/image_metrics.py; a validation between
    # measurements repeats the last value, so "best" stays the measured best).
    "dcgan": Family(
        name="dcgan",
        title="DCGAN",
        summary="Deep convolutional GAN: sharp samples from noise; FID/KID/precision/recall measured as it trains.",
        kind="image",
        config_cls=DCGANRunConfig,
        monitor="val/fid",
        mode="min",
        module_loader=_lazy("lightning_modules.dcgan", "DCGANModule"),
        datamodule_loader=_lazy("datamodules.images", "ImageDataModule"),
        tiny_overrides=_TINY_GAN,
        sweep_space=_GAN_SPACE,
    ),
    "cgan": Family(
        name="cgan",
        title="Conditional GAN",
        summary="Class-conditional DCGAN: choose the class to generate; needs a labelled data set.",
        kind="image",
        config_cls=CGANRunConfig,
        monitor="val/fid",
        mode="min",
        module_loader=_lazy("lightning_modules.cgan", "CGANModule"),
        datamodule_loader=_lazy("datamodules.images", "ImageDataModule"),
        tiny_overrides=_TINY_GAN,
        sweep_space=_GAN_SPACE,
    ),
    # Image-to-image translation (two domains A and B; datamodules/paired.py).
    "cyclegan": Family(
        name="cyclegan",
        title="CycleGAN",
        summary="Unpaired image-to-image translation A <-> B (two ResNet generators, PatchGANs, cycle loss).",
        kind="paired",
        config_cls=CycleGANRunConfig,
        monitor="val/cycle_l1",
        mode="min",
        module_loader=_lazy("lightning_modules.cyclegan", "CycleGANModule"),
        datamodule_loader=_lazy("datamodules.paired", "PairedDataModule"),
        tiny_overrides={
            "data": {"name": "edges2emoji", "image_size": 16, "batch_size": 4, "max_items": 32, "min_images": 8},
            "model": {"gen_width": 8, "gen_blocks": 2, "disc_width": 8, "disc_layers": 2, "pool_size": 8, "n_panel": 4},
            "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
            "logging": {"sample_every_n_steps": 2, "n_samples": 8},
        },
        sweep_space={
            "optim.lr": _log_range(5e-5, 1e-3),
            "model.lambda_cycle": _log_range(2.0, 20.0),
            "model.lambda_identity": {"low": 0.0, "high": 1.0},
        },
    ),
    "pix2pix": Family(
        name="pix2pix",
        title="pix2pix",
        summary="Paired image-to-image translation A -> B (U-Net generator, conditional PatchGAN, L1 x 100).",
        kind="paired",
        config_cls=Pix2PixRunConfig,
        monitor="val/l1",
        mode="min",
        module_loader=_lazy("lightning_modules.pix2pix", "Pix2PixModule"),
        datamodule_loader=_lazy("datamodules.paired", "PairedDataModule"),
        tiny_overrides={
            "data": {"name": "edges2emoji", "image_size": 16, "batch_size": 4, "max_items": 32, "min_images": 8},
            "model": {"gen_width": 8, "unet_depth": 4, "disc_width": 8, "disc_layers": 2, "n_panel": 4},
            "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2, "log_every_n_steps": 1},
            "logging": {"sample_every_n_steps": 2, "n_samples": 8},
        },
        sweep_space={
            "optim.lr": _log_range(5e-5, 1e-3),
            "model.lambda_l1": _log_range(10.0, 200.0),
            "model.dropout": {"low": 0.0, "high": 0.5},
        },
    ),
    "gpt": Family(
        name="gpt",
        title="GPT (text)",
        summary="A GPT-2-shaped transformer trained from scratch on your text, or a pretrained LM (offline SmolLM2) fine-tuned fully or with LoRA; chatbots from dialogue data.",
        kind="text",
        config_cls=GPTRunConfig,
        monitor="val/loss",
        mode="min",
        serve_checkpoint="last",
        module_loader=_lazy("lightning_modules.gpt", "GPTModule"),
        datamodule_loader=_lazy("datamodules.text", "TextDataModule"),
        tiny_overrides={
            "data": dict(_TINY_TEXT_DATA, tokenizer="bpe"),
            "model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "sample_prompts": ["ROMEO:"], "sample_new_tokens": 8},
            "trainer": _TINY_TEXT_TRAINER,
            "logging": {"sample_every_n_steps": 2},
        },
        sweep_space=_TEXT_SPACE,
    ),
    "rnn": Family(
        name="rnn",
        title="Char-RNN (LSTM/GRU)",
        summary="The classic character-level LSTM/GRU language model: the baseline that shows what attention buys.",
        kind="text",
        config_cls=RNNRunConfig,
        monitor="val/loss",
        mode="min",
        serve_checkpoint="last",
        module_loader=_lazy("lightning_modules.rnn", "RNNModule"),
        datamodule_loader=_lazy("datamodules.text", "TextDataModule"),
        tiny_overrides={
            "data": dict(_TINY_TEXT_DATA, tokenizer="char"),
            "model": {
                "n_layer": 1,
                "hidden": 32,
                "embed_dim": 16,
                "sample_prompts": ["ROMEO:"],
                "sample_new_tokens": 8,
            },
            "trainer": _TINY_TEXT_TRAINER,
            "logging": {"sample_every_n_steps": 2},
        },
        sweep_space=_TEXT_SPACE,
    ),
}


def get_family(name: str) -> Family:
    """The family called `name`, or a ConfigError listing the valid names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"Invalid config:\n  family: unknown family {name!r}; choose one of: {', '.join(FAMILIES)}"
        ) from None
