"""Diffusion and flow matching on diffusers' UNet2DModel and schedulers, trained by Lightning.

Objectives: noise prediction (DDPM), v-prediction, flow matching (rectified flow: x_s = (1 - s) x0 + s noise,
the net predicts noise - x0). Samplers are diffusers' schedulers, chosen per call: DDPM, DDIM and DPM-Solver++
for the first two objectives, Euler for flow matching. Conditional runs learn a "no class" label too (label
dropout), so sampling can mix the two predictions: classifier-free guidance. Samples come from an EMA copy.

Images are in [-1, 1] inside, [0, 1] outside (as diffusers' pipelines return them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    FlowMatchEulerDiscreteScheduler,
    UNet2DModel,
)
from torch import nn

from datamodules.images import ImageDataModule
from genlab.core.errors import DataError, GenLabError
from genlab.families.diffusion import FAMILY, MAX_SAMPLING_STEPS, SAMPLERS_FOR
from lightning_modules.base import GenLabModule, Labels, slerp
from lightning_modules.export_nets import ExportNet

# One prediction of the net: (x_t (B, C, H, W), timestep (scalar tensor), labels (B,) or None) -> (B, C, H, W).
DenoiseFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def build_unet(model: Any, channels: int, image_size: int, num_classes: int) -> UNet2DModel:
    """The diffusers UNet of a config: one level per width multiple, attention at the lowest level;
    conditional runs get num_classes + 1 label embeddings (the last one means "no class")."""
    widths = tuple(model.base_width * m for m in model.width_mults)
    n = len(widths)
    low_down = "AttnDownBlock2D" if model.attention else "DownBlock2D"
    low_up = "AttnUpBlock2D" if model.attention else "UpBlock2D"
    return UNet2DModel(
        sample_size=image_size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=widths,
        down_block_types=("DownBlock2D",) * (n - 1) + (low_down,),
        up_block_types=(low_up,) + ("UpBlock2D",) * (n - 1),
        layers_per_block=model.layers_per_block,
        norm_num_groups=8,
        attention_head_dim=8,
        num_class_embeds=num_classes + 1 if model.conditional else None,
    )


def training_scheduler(model: Any) -> DDPMScheduler | FlowMatchEulerDiscreteScheduler:
    """The scheduler whose config every sampler is built from (and that the diffusers folder carries)."""
    if model.objective == "flow_matching":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=model.train_timesteps, shift=1.0)
    return DDPMScheduler(
        num_train_timesteps=model.train_timesteps,
        beta_schedule="squaredcos_cap_v2" if model.noise_schedule == "cosine" else "linear",
        prediction_type=model.objective,
    )


def make_sampler(name: str, base: Any) -> Any:
    """A fresh scheduler (they keep a step index) of the chosen kind from the training scheduler's config."""
    if name == "ddpm":
        return DDPMScheduler.from_config(base.config)
    if name == "ddim":
        return DDIMScheduler.from_config(base.config)
    if name == "dpmsolver++":
        return DPMSolverMultistepScheduler.from_config(base.config, algorithm_type="dpmsolver++")
    return FlowMatchEulerDiscreteScheduler.from_config(base.config)


@torch.no_grad()
def run_sampler(
    denoise: DenoiseFn,
    scheduler: Any,
    noise: torch.Tensor,
    steps: int,
    *,
    labels: torch.Tensor | None = None,
    guidance_scale: float = 1.0,
    null_label: int = 0,
    generator: torch.Generator | None = None,
    keep: Sequence[int] = (),
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The sampling loop (as diffusers' DDPM/DDIM pipelines run it), over any denoise function: the eager
    UNet or an exported one. Returns the final x (in [-1, 1]) and x after each step listed in `keep`
    (0 = the noise itself). Guidance > 1 (or < 1) mixes the class and "no class" predictions."""
    scheduler.set_timesteps(steps)
    x = noise * getattr(scheduler, "init_noise_sigma", 1.0)  # flow matching starts from plain noise
    scale = getattr(scheduler, "scale_model_input", None)
    kept = [x.clone()] if 0 in keep else []
    for i, t in enumerate(scheduler.timesteps):
        xin = scale(x, t) if scale is not None else x
        if labels is None or guidance_scale == 1.0:
            out = denoise(xin, t, labels)
        elif guidance_scale == 0.0:
            out = denoise(xin, t, torch.full_like(labels, null_label))
        else:
            both = denoise(torch.cat([xin, xin]), t, torch.cat([labels, torch.full_like(labels, null_label)]))
            cond, uncond = both.chunk(2)
            out = uncond + guidance_scale * (cond - uncond)
        x = scheduler.step(out, t, x, generator=generator).prev_sample
        if i + 1 in keep:
            kept.append(x.clone())
    return x, kept


class Denoiser(nn.Module):
    """The exported net: (x_t (B, C, H, W) in noise units, timestep (B,) float[, label (B,) int]) -> the
    UNet's prediction (B, C, H, W): noise, v or velocity, as the run's objective says."""

    def __init__(self, unet: UNet2DModel, conditional: bool) -> None:
        super().__init__()
        self.unet, self.conditional = unet, conditional

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        labels = label.long() if self.conditional and label is not None else None
        return self.unet(x, timestep, class_labels=labels).sample


class DiffusionModule(GenLabModule):
    """Capabilities: ImageSampler (any sampler, steps, guidance), LatentWalker (the latent is the starting
    noise, C*H*W numbers, sampled deterministically), Exportable (the denoiser), and the diffusers folder."""

    family = FAMILY
    datamodule_class = ImageDataModule

    def __init__(self, config: Any, data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        m = self.run_config.model
        self.channels, self.image_size = int(data_info["channels"]), int(data_info["image_size"])
        self.num_classes = int(data_info.get("num_classes") or 0) if m.conditional else 0
        if m.conditional and self.num_classes < 2:
            raise DataError(
                f"A conditional diffusion run needs class labels, and {data_info.get('name', 'this data set')!r} has "
                f"{'none' if self.num_classes == 0 else 'only one class'}. Use a labelled set (mnist, animals, digits) "
                "or a folder with one sub-folder per class; or set model.conditional: false"
            )
        self.conditional = m.conditional
        self.unet = build_unet(m, self.channels, self.image_size, self.num_classes)
        self.ema = copy.deepcopy(self.unet).requires_grad_(False) if m.ema_decay > 0 else None
        self.scheduler = training_scheduler(m)
        g = torch.Generator().manual_seed(self.run_config.seed)
        n = self.run_config.logging.n_samples
        self.register_buffer(
            "fixed_noise", torch.randn(n, self.channels, self.image_size, self.image_size, generator=g)
        )
        self.register_buffer(
            "interp_noise", torch.randn(16, self.channels, self.image_size, self.image_size, generator=g)
        )

    # -- the objective ------------------------------------------------------------------------------

    @property
    def null_label(self) -> int:
        return self.num_classes  # the extra embedding conditional runs learn for "no class"

    def _cond_labels(
        self, y: torch.Tensor, drop: float, generator: torch.Generator | None = None
    ) -> torch.Tensor | None:
        if not self.conditional:
            return None
        y = torch.where(y >= 0, y, torch.full_like(y, self.null_label))  # unlabelled images teach "no class"
        if drop > 0:
            dropped = torch.rand(y.shape, generator=generator).to(y.device) < drop
            y = torch.where(dropped, torch.full_like(y, self.null_label), y)
        return y.long()

    def loss(
        self, net: UNet2DModel, x0: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """MSE of the objective's target at random noise levels; x0 (B, C, H, W) in [-1, 1]."""
        m, b = self.run_config.model, x0.shape[0]
        noise = torch.randn(x0.shape, generator=generator).to(x0)
        labels = self._cond_labels(y, m.label_dropout, generator)
        if m.objective == "flow_matching":
            s = torch.rand(b, generator=generator).to(x0)  # (B,) position on the line data -> noise
            xt = (1 - s.view(b, 1, 1, 1)) * x0 + s.view(b, 1, 1, 1) * noise
            target, timesteps = noise - x0, s * m.train_timesteps
        else:
            timesteps = torch.randint(0, m.train_timesteps, (b,), generator=generator).to(x0.device)
            xt = self.scheduler.add_noise(x0, noise, timesteps)
            target = noise if m.objective == "epsilon" else self.scheduler.get_velocity(x0, noise, timesteps)
        if self.run_config.trainer.channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        pred = net(xt, timesteps, class_labels=labels).sample
        return F.mse_loss(pred.float(), target.float())

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = self.loss(self.unet, x * 2 - 1, y, None)
        self.log_step({"train/loss": loss}, x.shape[0])
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """The same noise and levels at every validation (seeded by batch), so the curve is comparable."""
        x, y = batch
        g = torch.Generator().manual_seed(self.run_config.seed + batch_idx)
        loss = self.loss(self.sampling_net, x * 2 - 1, y, g)
        self.log("val/loss", loss, on_step=False, on_epoch=True, batch_size=x.shape[0], prog_bar=True)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """EMA update, warmed up ((1 + n) / (10 + n)) so short runs sample from recent weights."""
        if self.ema is None:
            return
        n = self.global_step
        decay = min(self.run_config.model.ema_decay, (1 + n) / (10 + n))
        with torch.no_grad():
            ema, live = list(self.ema.parameters()), list(self.unet.parameters())
            torch._foreach_lerp_(ema, live, 1.0 - decay)

    # -- sampling -----------------------------------------------------------------------------------

    @property
    def sampling_net(self) -> UNet2DModel:
        return self.ema if self.ema is not None else self.unet

    def samplers(self) -> list[str]:
        """The samplers that solve this run's objective."""
        return list(SAMPLERS_FOR[self.run_config.model.objective])

    def sampling_settings(self) -> dict[str, Any]:
        """The knobs of `sample` with their defaults and choices (the engine, CLI and Playground read them)."""
        m = self.run_config.model
        settings: dict[str, Any] = {
            "sampler": {"default": self.default_sampler(), "choices": self.samplers()},
            "steps": {"default": m.sampling_steps, "min": 1, "max": min(MAX_SAMPLING_STEPS, m.train_timesteps)},
        }
        if self.conditional:
            settings["guidance_scale"] = {"default": m.guidance_scale, "min": 0.0, "max": 20.0}
        return settings

    def default_sampler(self) -> str:
        chosen = self.run_config.model.sampler
        return (
            chosen if chosen != "auto" else ("euler" if self.run_config.model.objective == "flow_matching" else "ddim")
        )

    def _labels(self, labels: Labels, n: int) -> torch.Tensor | None:
        if not self.conditional:
            if labels is not None:
                raise GenLabError("This diffusion run is not conditional: it cannot draw a chosen class")
            return None
        if labels is None:
            return torch.arange(n) % self.num_classes
        y = torch.full((n,), labels) if isinstance(labels, int) else torch.as_tensor(list(labels), dtype=torch.long)
        if y.numel() == 1 and n > 1:
            y = y.expand(n)
        if y.numel() != n:
            raise GenLabError(f"give one class for all {n} images or one per image, not {y.numel()}")
        bad = y[(y < 0) | (y >= self.num_classes)]
        if bad.numel():
            raise GenLabError(
                f"class {int(bad[0])} is not one this run was trained on: 0..{self.num_classes - 1} ({', '.join(self.class_names())})"
            )
        return y.long()

    def check_sampling(
        self, sampler: str | None, steps: int | None, guidance_scale: float | None
    ) -> tuple[str, int, float]:
        """The sampler, steps and guidance of one call (config defaults for None), or a GenLabError that says why not."""
        m = self.run_config.model
        sampler = sampler or self.default_sampler()
        if sampler == "auto":
            sampler = self.default_sampler()
        if sampler not in self.samplers():
            raise GenLabError(
                f"sampler {sampler!r} does not solve this run's {m.objective} objective; choose one of {', '.join(self.samplers())}"
            )
        steps = m.sampling_steps if steps is None else int(steps)
        if not 1 <= steps <= min(MAX_SAMPLING_STEPS, m.train_timesteps):
            raise GenLabError(
                f"steps must be between 1 and {min(MAX_SAMPLING_STEPS, m.train_timesteps)} (the run's noise levels), got {steps}"
            )
        if guidance_scale is not None and not self.conditional:
            raise GenLabError("guidance needs a conditional run (model.conditional: true); this run is unconditional")
        guidance = m.guidance_scale if guidance_scale is None else float(guidance_scale)
        if guidance < 0 or guidance != guidance:
            raise GenLabError(f"guidance scale must be 0 or more (1: plain conditional), got {guidance}")
        return sampler, steps, guidance

    def denoise_fn(self, net: nn.Module | None = None) -> DenoiseFn:
        unet = net or self.sampling_net

        def denoise(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
            return unet(x, t.to(x.device), class_labels=y).sample

        return denoise

    @torch.no_grad()
    def denoise(
        self,
        noise: torch.Tensor,
        *,
        labels: Labels = None,
        sampler: str | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        generator: torch.Generator | None = None,
        keep: Sequence[int] = (),
        net_fn: DenoiseFn | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images in [0, 1] from starting noise (N, C, H, W), and the images after the steps in `keep`.
        net_fn replaces the UNet's prediction (an exported denoiser: genlab.export.denoise); the loop is the same."""
        name, n_steps, guidance = self.check_sampling(sampler, steps, guidance_scale)
        y = self._labels(labels, noise.shape[0])
        net = self.sampling_net
        was_training = net.training
        net.eval()
        try:
            x, kept = run_sampler(
                net_fn or self.denoise_fn(net),
                make_sampler(name, self.scheduler),
                noise.to(self.device),
                n_steps,
                labels=None if y is None else y.to(self.device),
                guidance_scale=guidance,
                null_label=self.null_label,
                generator=generator if generator is not None else torch.Generator().manual_seed(0),
                keep=keep,
            )
        finally:
            net.train(was_training)
        to_image = lambda t: (t.float() / 2 + 0.5).clamp(0, 1)  # noqa: E731
        return to_image(x), [to_image(k) for k in kept]

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        labels: Labels = None,
        sampler: str | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        net_fn: DenoiseFn | None = None,
    ) -> torch.Tensor:
        """n images (N, C, H, W) in [0, 1] with every knob of this family; the same seed gives the same images,
        and the same as diffusers' DDPMPipeline / DDIMPipeline over the exported folder: the start noise and
        then the DDPM step noise come from one generator, as the pipelines draw them. net_fn: sample with
        another copy of the net (an exported ONNX/TFLite denoiser) through this same loop."""
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, self.channels, self.image_size, self.image_size, generator=g)
        return self.denoise(
            noise,
            labels=labels,
            sampler=sampler,
            steps=steps,
            guidance_scale=guidance_scale,
            generator=g,
            net_fn=net_fn,
        )[0]

    def denoising_strip(
        self,
        *,
        seed: int = 0,
        label: int | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        frames: int = 8,
    ) -> tuple[list[int], torch.Tensor]:
        """One image from noise to sample: (the steps shown, images (frames, C, H, W) in [0, 1])."""
        _, n_steps, _ = self.check_sampling(sampler, steps, guidance_scale)
        frames = max(2, min(frames, n_steps + 1))
        at = sorted({round(i * n_steps / (frames - 1)) for i in range(frames)})
        g = torch.Generator().manual_seed(seed)
        _, kept = self.denoise(
            torch.randn(1, self.channels, self.image_size, self.image_size, generator=g),
            labels=None if label is None else [label],
            sampler=sampler,
            steps=n_steps,
            guidance_scale=guidance_scale,
            generator=g,
            keep=at,
        )
        return at, torch.cat(kept)

    # -- capabilities -------------------------------------------------------------------------------

    def sample_images_n(self, n: int, *, seed: int = 0, labels: Labels = None) -> torch.Tensor:
        return self.sample(n, seed=seed, labels=labels)

    def class_names(self) -> list[str]:
        if not self.conditional:
            return []
        names = list(self.data_info.get("class_names") or [])
        return names if len(names) == self.num_classes else [str(i) for i in range(self.num_classes)]

    @property
    def latent_dim(self) -> int:
        """The latent of a diffusion model is its starting noise, flattened."""
        return self.channels * self.image_size * self.image_size

    def images_from_latents(self, z: torch.Tensor, labels: Labels = None) -> torch.Tensor:
        """Starting noise (N, C*H*W) -> images, with the default (deterministic unless DDPM) sampler."""
        noise = z.reshape(-1, self.channels, self.image_size, self.image_size)
        return self.denoise(noise, labels=labels)[0]

    @torch.no_grad()
    def reference_output(self) -> torch.Tensor:
        """The net's prediction on fixed noisy inputs (eval mode): what reload and export compare."""
        x, t, y = self._parity_inputs()
        net = self.sampling_net
        was_training = net.training
        net.eval()
        try:
            return Denoiser(net, self.conditional)(x.to(self.device), t.to(self.device), y.to(self.device))
        finally:
            net.train(was_training)

    def _parity_inputs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.fixed_noise[:4].detach().float().cpu()  # (4, C, H, W)
        t = torch.linspace(0.9, 0.1, x.shape[0]) * self.run_config.model.train_timesteps  # (4,)
        y = (torch.arange(x.shape[0]) % max(1, self.num_classes)).long()  # (4,)
        return x, t, y

    def export_nets(self) -> dict[str, ExportNet]:
        """The denoiser (EMA weights when kept): one step of the sampling loop, which runs outside the net."""
        x, t, y = self._parity_inputs()
        m = self.run_config.model
        meta: dict[str, Any] = {
            "inputs": {
                "x": {"meaning": "noisy image in noise units (start: standard normal noise)", "layout": "NCHW"},
                "timestep": {"meaning": f"noise level in 0..{m.train_timesteps} as the scheduler gives it"},
            },
            "outputs": {
                "prediction": {
                    "meaning": {"epsilon": "the noise", "v_prediction": "v", "flow_matching": "noise - image"}[
                        m.objective
                    ]
                }
            },
            "objective": m.objective,
            "scheduler": dict(self.scheduler.config),
            "image_range": "x at the end of sampling is in [-1, 1]: image = x / 2 + 0.5",
        }
        net = Denoiser(copy.deepcopy(self.sampling_net).float().cpu(), self.conditional).eval()
        if self.conditional:
            meta["inputs"]["label"] = {
                "meaning": "class index; the last index means no class",
                "range": [0, self.num_classes],
            }
            meta["class_names"] = self.class_names()
            return {
                "denoiser": ExportNet(
                    net, (x, t, y), ["x", "timestep", "label"], ["prediction"], {"prediction": "tensor"}, meta
                )
            }
        return {"denoiser": ExportNet(net, (x, t), ["x", "timestep"], ["prediction"], {"prediction": "tensor"}, meta)}

    def export_diffusers(self, folder: str | Path) -> Path:
        """A diffusers folder: unet/ (the EMA weights) and scheduler/; unconditional noise and v-prediction
        runs also get model_index.json, so DDPMPipeline / DDIMPipeline.from_pretrained(folder) sample them."""
        from diffusers import DDPMPipeline

        folder = Path(folder)
        unet = copy.deepcopy(self.sampling_net).float().cpu().eval()
        if self.conditional or self.run_config.model.objective == "flow_matching":
            unet.save_pretrained(folder / "unet")
            self.scheduler.save_pretrained(folder / "scheduler")
        else:
            DDPMPipeline(unet=unet, scheduler=DDPMScheduler.from_config(self.scheduler.config)).save_pretrained(folder)
        return folder

    # -- grids over training ------------------------------------------------------------------------

    def sample_grid_rows(self) -> dict[str, int]:
        """k rows of k walk steps; conditional samples put one class per column."""
        rows = {"interpolation": min(8, self.run_config.logging.n_samples)}
        return {**rows, "samples": self.num_classes} if self.conditional else rows

    def sample_images(self) -> dict[str, torch.Tensor]:
        """Fixed noise -> samples (image i of class i % K when conditional); a k x k walk in noise space."""
        n = self.fixed_noise.shape[0]
        out = {
            "samples": self.denoise(
                self.fixed_noise, labels=None if not self.conditional else (torch.arange(n) % self.num_classes).tolist()
            )[0]
        }
        k = min(8, n)  # k rows of k steps, each row a slerp between two fixed noises
        a, b = self.interp_noise[:k].flatten(1), self.interp_noise[8 : 8 + k].flatten(1)
        t = torch.linspace(0, 1, k, device=a.device)
        z = torch.stack([slerp(a, b, ti.expand(k, 1)) for ti in t], dim=1).reshape(k * k, -1)
        labels = (torch.arange(k) % self.num_classes).repeat_interleave(k).tolist() if self.conditional else None
        out["interpolation"] = self.images_from_latents(z, labels)
        return out
