"""The diffusion family: objectives, samplers chosen at sampling time, guidance, bad inputs, and the
diffusers folder that diffusers' own pipelines sample identically (a client no GenLab code runs in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from genlab.core.config import ConfigError
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.families.diffusion import FAMILY
from lightning_modules.diffusion import DiffusionModule

DIGITS = {"name": "digits", "channels": 1, "image_size": 16, "num_classes": 10, "class_names": list("0123456789")}


def module(**model: Any) -> DiffusionModule:
    raw = FAMILY.tiny_config().model_dump(mode="json")
    raw["model"].update(model)
    torch.manual_seed(0)
    return DiffusionModule(FAMILY.config_cls.model_validate(raw), DIGITS).eval()


@pytest.mark.parametrize("objective", ["epsilon", "v_prediction", "flow_matching"])
def test_each_objective_lowers_its_loss_on_a_fixed_batch(objective: str) -> None:
    m = module(objective=objective).train()
    x = torch.rand(8, 1, 16, 16).round() * 2 - 1  # (8, 1, 16, 16) binary images in [-1, 1]
    y = torch.arange(8)
    opt = torch.optim.Adam(m.unet.parameters(), lr=3e-3)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731 - the same noise and levels each time
    first = m.loss(m.unet, x, y, g()).item()
    for _ in range(15):
        opt.zero_grad()
        m.loss(m.unet, x, y, None).backward()
        opt.step()
    assert m.loss(m.unet, x, y, g()).item() < first


def test_samplers_are_chosen_at_sampling_time_and_seeds_repeat() -> None:
    m = module(objective="epsilon")
    ddim = m.sample(3, seed=5, sampler="ddim", steps=4)
    assert ddim.shape == (3, 1, 16, 16) and 0 <= ddim.min() and ddim.max() <= 1
    torch.testing.assert_close(m.sample(3, seed=5, sampler="ddim", steps=4), ddim)
    assert not torch.equal(m.sample(3, seed=6, sampler="ddim", steps=4), ddim)
    for sampler in ("ddpm", "dpmsolver++"):
        assert m.sample(2, seed=5, sampler=sampler, steps=4).shape == (2, 1, 16, 16)
    flow = module(objective="flow_matching")
    assert flow.samplers() == ["euler"] and flow.default_sampler() == "euler"
    with pytest.raises(GenLabError, match="does not solve"):
        flow.sample(1, sampler="ddim")


def test_denoising_strip_runs_from_noise_to_the_sample() -> None:
    m = module(objective="flow_matching")
    at, frames = m.denoising_strip(seed=3, steps=6, frames=4)
    assert at == [0, 2, 4, 6] and frames.shape == (4, 1, 16, 16)
    torch.testing.assert_close(frames[-1:], m.sample(1, seed=3, steps=6))


def test_latent_walk_is_the_starting_noise() -> None:
    m = module(objective="flow_matching")
    assert m.latent_dim == 16 * 16
    z = torch.randn(2, m.latent_dim, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(m.images_from_latents(z), m.denoise(z.view(2, 1, 16, 16))[0])


def test_guidance_mixes_the_class_and_no_class_predictions() -> None:
    m = module(conditional=True)
    assert m.class_names() == list("0123456789")
    plain = m.sample(2, seed=1, labels=3, guidance_scale=1.0)
    guided = m.sample(2, seed=1, labels=3, guidance_scale=4.0)
    assert not torch.equal(plain, guided)
    # guidance 0 is the unconditional ("no class") model: the same whatever the class asked for
    torch.testing.assert_close(
        m.sample(2, seed=1, labels=3, guidance_scale=0.0), m.sample(2, seed=1, labels=7, guidance_scale=0.0)
    )


@pytest.mark.parametrize(
    ("conditional", "kwargs", "message"),
    [
        (False, {"steps": 0}, "steps must be between 1 and 50"),
        (False, {"steps": 10_000}, "steps must be between 1 and 50"),
        (True, {"guidance_scale": -1.0}, "guidance scale must be 0 or more"),
        (True, {"labels": 10}, "class 10 is not one this run was trained on"),
        (False, {"guidance_scale": 3.0}, "guidance needs a conditional run"),
        (False, {"labels": 1}, "not conditional"),
    ],
)
def test_bad_sampling_inputs_get_a_clear_message(conditional: bool, kwargs: dict, message: str) -> None:
    with pytest.raises(GenLabError, match=message):
        module(conditional=conditional).sample(1, **kwargs)


def test_an_image_size_the_unet_cannot_halve_is_refused() -> None:
    with pytest.raises(ConfigError, match="28 px cannot divide"):
        parse_config({"family": "diffusion", "data": {"image_size": 28}, "model": {"width_mults": [1, 2, 2, 2]}})
    with pytest.raises(ConfigError, match="does not solve"):
        parse_config({"family": "diffusion", "model": {"objective": "flow_matching", "sampler": "ddim"}})


def test_conditional_run_needs_labels() -> None:
    config = FAMILY.tiny_config()
    config.model = config.model.model_copy(update={"conditional": True})
    with pytest.raises(GenLabError, match="needs class labels"):
        DiffusionModule(config, {**DIGITS, "num_classes": 0, "class_names": []})


@pytest.mark.parametrize(("objective", "sampler"), [("epsilon", "ddim"), ("v_prediction", "ddpm")])
def test_diffusers_pipelines_sample_the_exported_folder_identically(
    objective: str, sampler: str, tmp_path: Path
) -> None:
    from diffusers import DDIMPipeline, DDPMPipeline

    m = module(objective=objective)
    folder = m.export_diffusers(tmp_path / "pipe")
    pipe_cls = DDIMPipeline if sampler == "ddim" else DDPMPipeline
    pipe = pipe_cls.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    theirs = pipe(
        batch_size=2, generator=torch.Generator().manual_seed(11), num_inference_steps=5, output_type="np"
    ).images  # (2, H, W, C) in [0, 1]
    ours = m.sample(2, seed=11, sampler=sampler, steps=5).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_engine_sample_passes_the_knobs_and_explains_bad_ones() -> None:
    from genlab.use.sample import sample, sampling_settings

    m = module(conditional=True)
    assert sampling_settings(m)["sampler"]["choices"] == ["euler"]
    images = sample(m, 2, seed=4, labels=5, options={"steps": 2, "guidance_scale": 3.0})
    np.testing.assert_allclose(images, m.sample(2, seed=4, labels=5, steps=2, guidance_scale=3.0).numpy())
    with pytest.raises(GenLabError, match="steps must be between"):
        sample(m, 1, options={"steps": 10_000})
    with pytest.raises(GenLabError, match="guidance needs a conditional run"):
        sample(module(), 1, options={"guidance_scale": 2.0})


def test_engine_strip_and_slerp_take_the_sampling_knobs() -> None:
    """What the Playground's diffusion view calls: the strip ends on sample()'s image, the path between two
    seeds starts and ends on those seeds' images, and bad knobs get `genlab sample`'s words."""
    from genlab.use.sample import check_sampling, denoising_strip, interpolate, sample

    m = module(objective="epsilon", conditional=True)
    options = {"sampler": "ddim", "steps": 2, "guidance_scale": 2.0}
    assert check_sampling(m, options) == ("ddim", 2, 2.0)
    at, strip = denoising_strip(m, seed=3, label=2, options=options, frames=3)
    assert at == [0, 1, 2] and strip.shape == (3, 1, 16, 16)
    np.testing.assert_allclose(strip[-1], sample(m, 1, seed=3, labels=2, options=options)[0], atol=1e-6)
    path = interpolate(m, 1, 2, [0.0, 1.0], labels=2, options=options)
    ends = [torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    for image, noise in zip(path, ends, strict=True):
        np.testing.assert_allclose(image, m.denoise(noise, labels=2, **options)[0][0].numpy(), atol=1e-5)
    with pytest.raises(GenLabError, match="steps must be between 1 and 50"):
        denoising_strip(m, options={"steps": 0})
    with pytest.raises(GenLabError, match="guidance needs a conditional run"):
        check_sampling(module(), {"guidance_scale": 1.0})
    with pytest.raises(GenLabError, match="class 12 is not one of this model's classes"):
        denoising_strip(m, label=12, options=options)
