"""DCGAN and conditional GAN: nets, losses, stabilisers, a tiny real fit through the run store, reload."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from genlab.core.config import ConfigError
from genlab.core.errors import DataError
from genlab.core.parsing import load_config, parse_config
from genlab.core.registry import FAMILIES
from genlab.runner.build import module_class
from genlab.store.runs import RunStore
from lightning_modules.gan_common import (
    EMA,
    Discriminator,
    Generator,
    MinibatchStd,
    d_loss_fn,
    diff_augment,
    g_loss_fn,
    gradient_penalty,
    make_shadow,
)

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ["dcgan_mnist", "cgan_mnist", "dcgan_emoji", "dcgan_animals"]


@pytest.mark.parametrize("size", [16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes_for_every_supported_size(size: int, channels: int) -> None:
    g = Generator(8, channels, size, width=4)
    d = Discriminator(channels, size, width=4, norm="batch", spectral_norm=True, minibatch_std=True)
    x = g(torch.randn(4, 8))
    assert x.shape == (4, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1  # Tanh output
    assert d(x).shape == (4,)


def test_unsupported_resolution_is_a_clear_error() -> None:
    cfg = FAMILIES["dcgan"].tiny_config()
    with pytest.raises(ConfigError, match="16, 28, 32, 64"):
        module_class(FAMILIES["dcgan"])(cfg.model_dump(mode="json"), {"channels": 1, "image_size": 48})


def test_cgan_on_a_label_less_data_set_is_a_clear_error() -> None:
    cfg = FAMILIES["cgan"].tiny_config()
    with pytest.raises(DataError, match="needs class labels.*dcgan"):
        module_class(FAMILIES["cgan"])(
            cfg.model_dump(mode="json"), {"channels": 3, "image_size": 16, "num_classes": 0, "name": "emoji"}
        )


def test_wgan_gp_with_batch_norm_in_d_is_rejected_with_the_fix() -> None:
    raw = FAMILIES["dcgan"].default_config().model_dump(mode="json")
    raw["model"].update(loss="wgan-gp", d_norm="batch")
    with pytest.raises(ConfigError, match="d_norm.*auto, layer or none"):
        parse_config(raw)


def test_losses_on_known_logits() -> None:
    big = torch.full((4,), 20.0)
    # a perfect D: nonsat loss ~0, hinge 0; its generator loss is large
    assert d_loss_fn("nonsat", big, -big) < 1e-6
    assert d_loss_fn("hinge", big, -big) == 0
    assert g_loss_fn("nonsat", -big) > 10
    # label smoothing: even a perfect D pays for overconfidence on reals
    assert d_loss_fn("nonsat", big, -big, smoothing=0.1) > 1.0
    # WGAN: critic loss is fake - real (+ tiny drift)
    assert abs(d_loss_fn("wgan-gp", torch.ones(4), torch.zeros(4)).item() - (-1 + 1e-3)) < 1e-6
    assert g_loss_fn("hinge", torch.ones(4)) == -1


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_positive_otherwise() -> None:
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    w = torch.zeros(1, 1, 4, 4)
    w[0, 0, 0, 0] = 1.0  # ||grad|| = 1 everywhere
    assert gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake).item() < 1e-10
    assert gradient_penalty(lambda x: 3 * (x * w).flatten(1).sum(1), real, fake).item() == pytest.approx(4.0)


def test_diffaugment_keeps_shape_and_gradients_and_off_is_identity() -> None:
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    y = diff_augment(x, "color,translation,cutout")
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert diff_augment(x, "off") is x
    cut = diff_augment(torch.ones(4, 1, 16, 16), "cutout")
    assert (cut == 0).any() and (cut == 1).any()  # a hole, the rest untouched


def test_ema_tracks_the_generator() -> None:
    g = Generator(4, 1, 16, width=4)
    shadow = make_shadow(g)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    before = [p.clone() for p in shadow.parameters()]
    EMA(0.5).update(shadow, g)
    for s, b, p in zip(shadow.parameters(), before, g.parameters(), strict=True):
        assert torch.allclose(s, (b + p) / 2)
    EMA(0.5).update(shadow, g, average=False)  # before ema_start_step: a plain copy
    assert all(torch.equal(s, p) for s, p in zip(shadow.parameters(), g.parameters(), strict=True))


def test_minibatch_std_adds_one_channel_that_sees_batch_variety() -> None:
    layer = MinibatchStd()
    same = layer(torch.ones(4, 2, 3, 3))
    varied = layer(torch.randn(4, 2, 3, 3))
    assert same.shape == (4, 3, 3, 3)
    assert same[:, -1].abs().max() < 1e-3 < varied[:, -1].abs().min()


@pytest.mark.parametrize("name", PRESETS)
def test_presets_validate_and_round_trip_through_yaml(name: str) -> None:
    cfg = load_config(ROOT / "configs" / f"{name}.yaml")
    assert parse_config(yaml.safe_load(cfg.to_yaml())) == cfg


def _tiny(family: str, **model: object):
    cfg = FAMILIES[family].tiny_config()
    raw = cfg.model_dump(mode="json")
    raw["model"].update(model)
    return parse_config(raw)


@pytest.mark.parametrize(
    "family,model",
    [
        ("dcgan", {}),
        (
            "dcgan",
            {
                "loss": "wgan-gp",
                "spectral_norm": True,
                "minibatch_std": True,
                "ema_decay": 0.9,
                "diffaugment": "color,translation,cutout",
                "instance_noise": 0.1,
            },
        ),
        ("cgan", {"loss": "hinge", "d_conditioning": "projection", "ema_decay": 0.9}),
        ("cgan", {"d_conditioning": "concat", "label_smoothing": 0.1}),
    ],
)
def test_tiny_fit_through_the_run_store_logs_fid_saves_samples_and_reloads_identically(
    store: RunStore, family: str, model: dict
) -> None:
    from genlab.runner.checkpoints import load_module
    from genlab.runner.train import fit

    cfg = _tiny(family, **model)
    run = store.create_run(cfg, status="running")
    assert fit(store, run.id) == "completed"
    keys = store.metric_keys(run.id)
    for key in (
        "train/d_loss",
        "train/g_loss",
        "val/fid",
        "val/kid",
        "val/precision",
        "val/recall",
        "val/fid_samples",
    ):
        assert key in keys, key
    assert store.metric_series(run.id, "val/fid_samples")[-1][1] == 64
    names = {a["name"] for a in store.artifacts(run.id, "samples")}
    assert {"samples", "interpolation"} <= names
    if family == "cgan":
        assert "per_class" in names
    m1 = load_module(store, run.id, "last")
    m2 = load_module(store, run.id, "last")
    z = torch.randn(4, cfg.model.latent_dim, generator=torch.Generator().manual_seed(0))
    a = m1.generate(4, z=z, labels=torch.tensor([0, 1, 2, 3]) if family == "cgan" else None)
    b = m2.generate(4, z=z, labels=torch.tensor([0, 1, 2, 3]) if family == "cgan" else None)
    assert a.shape == (4, 1, 16, 16) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b)


def test_cgan_generates_the_requested_class_and_rejects_an_unknown_one() -> None:
    cfg = FAMILIES["cgan"].tiny_config()
    module = module_class(FAMILIES["cgan"])(
        cfg.model_dump(mode="json"), {"channels": 1, "image_size": 16, "num_classes": 10}
    )
    assert module.generate(3, labels=7, seed=1).shape == (3, 1, 16, 16)
    with pytest.raises(ValueError, match="outside 0..9"):
        module.generate(2, labels=12)
    grids = module.sample_images()
    assert grids["per_class"].shape[0] == 100 and module.sample_grid_rows()["per_class"] == 10
