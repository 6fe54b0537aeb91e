"""DCGAN (Radford et al. 2015) and the GAN training step the conditional GAN shares.

The nets: transposed convs with BatchNorm+ReLU and a Tanh output in G, strided convs with LeakyReLU in D,
N(0, 0.02) init. Every supported side (16, 28, 32, 64) is reached by doubling from a 4x4 (or 7x7 for
28 px) seed, so one builder covers all of them. Losses, DiffAugment and EMA are in gan_common.py.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.config import ConfigError
from genlab.core.optim import build_optimizer, build_scheduler
from genlab.families.dcgan import FAMILY
from lightning_modules.base import GenLabModule, Labels, slerp
from lightning_modules.export_nets import ExportNet, ImageOut, LabelledImageOut
from lightning_modules.gan_common import (
    EMA,
    d_loss_fn,
    diff_augment,
    g_loss_fn,
    gradient_penalty,
    make_shadow,
)

SUPPORTED_SIZES = (16, 28, 32, 64)


def check_image_size(size: int) -> None:
    if size not in SUPPORTED_SIZES:
        raise ConfigError(
            f"data.image_size: the GANs support {', '.join(map(str, SUPPORTED_SIZES))} px images, got {size}; "
            "set data.image_size to one of them"
        )


def _plan(size: int) -> tuple[int, int]:
    """(seed side, number of doublings) that reach `size`: 28 = 7*2*2, 64 = 4*2^4."""
    check_image_size(size)
    seed = 7 if size == 28 else 4
    return seed, int(round(math.log2(size // seed)))


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's weight init: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            weight = getattr(m, "weight_orig", m.weight)  # spectral norm keeps the raw weight here
            nn.init.normal_(weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (B, in_dim) -> image (B, C, S, S) in [-1, 1]."""

    def __init__(self, in_dim: int, channels: int, size: int, width: int, batchnorm: bool = True) -> None:
        super().__init__()
        seed, ups = _plan(size)
        widths = [width * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. 64 px: [8w, 4w, 2w, w]
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, widths[0], seed, 1, 0, bias=not batchnorm)]
        layers += [nn.BatchNorm2d(widths[0]) if batchnorm else nn.Identity(), nn.ReLU(True)]
        for i in range(ups - 1):
            layers += [
                nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 2, 1, bias=not batchnorm),
                nn.BatchNorm2d(widths[i + 1]) if batchnorm else nn.Identity(),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.in_dim = in_dim
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.in_dim, 1, 1))  # (B, C, S, S)


class MinibatchStd(nn.Module):
    """Appends one channel holding the mean std-dev of features across the batch (Karras et al. 2018)."""

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = min(self.group, b)
        while b % g:  # the largest group size <= self.group that divides the batch
            g -= 1
        y = x.float().view(g, -1, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/g,)
        y = y.view(-1, 1, 1, 1).repeat(g, 1, h, w).to(x.dtype)  # (B, 1, H, W)
        return torch.cat([x, y], dim=1)


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.GroupNorm(1, ch)
    return nn.Identity()


class Discriminator(nn.Module):
    """image (B, C, S, S) -> logit (B,), or features (B, F) when `feature_out` (for a projection head)."""

    def __init__(
        self,
        channels: int,
        size: int,
        width: int,
        norm: str = "batch",
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        leaky_slope: float = 0.2,
        feature_out: bool = False,
    ) -> None:
        super().__init__()
        seed, downs = _plan(size)
        sn = nn.utils.spectral_norm if spectral_norm else (lambda m: m)
        widths = [width * 2**i for i in range(downs)]  # e.g. 64 px: [w, 2w, 4w, 8w]
        layers: list[nn.Module] = [sn(nn.Conv2d(channels, widths[0], 4, 2, 1)), nn.LeakyReLU(leaky_slope, True)]
        for i in range(downs - 1):
            layers += [
                sn(nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1, bias=norm == "none")),
                _norm(norm, widths[i + 1]),
                nn.LeakyReLU(leaky_slope, True),
            ]
        if minibatch_std:
            layers.append(MinibatchStd())
        self.body = nn.Sequential(*layers)  # (B, widths[-1] (+1), seed, seed)
        last_in = widths[-1] + int(minibatch_std)
        self.feature_dim = widths[-1] * 2 if feature_out else 1
        self.head = sn(nn.Conv2d(last_in, self.feature_dim, seed, 1, 0))
        self.feature_out = feature_out
        self.leaky_slope = leaky_slope
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(self.body(x)).flatten(1)  # (B, F)
        if self.feature_out:
            return F.leaky_relu(h, self.leaky_slope)
        return h.squeeze(1)  # (B,)


# ---------------------------------------------------------------------------------------------------
# The shared LightningModule


def _label_tensor(labels: Labels) -> torch.Tensor | int | None:
    """A class index, a list of them (one per image) or None, as generate() takes them."""
    if labels is None or isinstance(labels, int):
        return labels
    return torch.as_tensor(list(labels), dtype=torch.long)


class GANModule(GenLabModule):
    """Manual-optimisation GAN step shared by DCGAN and cGAN; subclasses build G and D and condition them.

    Step order per batch (Lightning's GAN template): D on real vs detached fakes, then every n_critic-th
    batch a G step. `trainer.global_step` counts optimizer steps of both nets, as Lightning does for
    manual optimisation; what users see (progress, trainer.max_steps) counts batches (callbacks/steps.py).
    Capabilities: ImageSampler and LatentWalker.
    """

    conditional = False

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        self.automatic_optimization = False
        size = int(data_info.get("image_size", self.run_config.data.image_size))
        check_image_size(size)
        self.channels = int(data_info.get("channels", 1))
        self.image_size = size
        m = self.run_config.model
        self.loss_kind = m.loss
        if m.d_norm == "auto":
            self.d_norm = "none" if m.spectral_norm else ("layer" if m.loss == "wgan-gp" else "batch")
        else:
            self.d_norm = m.d_norm
        self.build_nets()
        self.g_ema: nn.Module | None = make_shadow(self.generator) if m.ema_decay > 0 else None
        self._ema = EMA(m.ema_decay)
        n = self.run_config.logging.n_samples
        g = torch.Generator().manual_seed(self.run_config.seed + 1)
        self.register_buffer("fixed_z", torch.randn(n, m.latent_dim, generator=g), persistent=True)
        self.register_buffer("interp_z", torch.randn(2 * 8, m.latent_dim, generator=g), persistent=True)
        self.g_steps = 0
        self.d_batches = 0
        self.last_g_loss: torch.Tensor | None = None
        self.sample_grid_rows = {"interpolation": 8}  # read by the samples callback

    # -- subclass hooks -----------------------------------------------------------------------------

    def build_nets(self) -> None:
        raise NotImplementedError

    def generate_from(self, net: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Images in [-1, 1] (B, C, S, S) from z (B, D) and labels y (B,) (ignored unconditionally)."""
        raise NotImplementedError

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------------

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: the EMA copy when it is on."""
        return self.g_ema if self.g_ema is not None else self.generator

    def _d_input(self, x: torch.Tensor) -> torch.Tensor:
        m = self.run_config.model
        x = diff_augment(x, m.diffaugment)
        if m.instance_noise > 0:
            sigma = m.instance_noise * max(0.0, 1.0 - self.g_steps / m.instance_noise_steps)
            if sigma > 0:
                x = x + sigma * torch.randn_like(x)
        return x

    def _labels(self, y: torch.Tensor) -> torch.Tensor | None:
        return None

    def _random_labels(self, n: int) -> torch.Tensor | None:
        return None

    def _step_schedulers(self, interval: str) -> None:
        scheds = self.lr_schedulers()
        if scheds is None:
            return
        if not isinstance(scheds, list):
            scheds = [scheds]
        for s in scheds:
            if self._sched_interval == interval:
                s.step()

    # -- Lightning hooks ------------------------------------------------------------------------------

    def on_fit_start(self) -> None:
        if self.run_config.trainer.channels_last:
            self.to(memory_format=torch.channels_last)

    def configure_optimizers(self) -> Any:
        o = self.run_config.optim
        betas = (o.beta1, o.beta2)
        opt_g = build_optimizer(self.generator.parameters(), o, lr=o.lr_g, betas=betas)
        opt_d = build_optimizer(self.discriminator.parameters(), o, lr=o.lr_d, betas=betas)
        total = self.total_training_steps()
        sg = build_scheduler(opt_g, o, total, self.family.monitor)
        sd = build_scheduler(opt_d, o, total, self.family.monitor)
        self._sched_interval = sg["interval"] if sg else "none"
        if sg is None:
            return [opt_g, opt_d]
        return [opt_g, opt_d], [sg, sd]

    def configure_callbacks(self) -> list[Any]:
        """The image-metrics callback rides with the module, so any Trainer that fits a GAN measures it."""
        cfg = getattr(self.run_config, "metrics", None)
        if cfg is None:
            return []
        from callbacks.image_metrics import ImageMetricsCallback

        return [ImageMetricsCallback(cfg)]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        y_cond = self._labels(y)
        if self.conditional:
            keep = y >= 0  # partially labelled sets: unlabelled images cannot condition anything
            if not bool(keep.all()):
                x, y_cond = x[keep], y_cond[keep]
            if x.shape[0] < 2:
                return None
        real = x * 2.0 - 1.0  # (B, C, S, S) in [-1, 1]
        if self.run_config.trainer.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        b = real.shape[0]
        m, o = self.run_config.model, self.run_config.optim
        opt_g, opt_d = self.optimizers()

        # ---- discriminator: real vs detached fakes. When G steps on this batch (n_critic = 1), the same
        # fakes, with their graph, feed the G step too (as the classic DCGAN loop does): one G forward less.
        logged: dict[str, torch.Tensor] = {}
        g_step = (self.d_batches + 1) % o.n_critic == 0
        reuse = g_step and o.n_critic == 1
        z = torch.randn(b, m.latent_dim, device=self.device, dtype=real.dtype)
        with torch.set_grad_enabled(reuse):
            fake = self.generate_from(self.generator, z, y_cond)
        with self.toggled_optimizer(opt_d):
            real_logits = self.discriminate(self._d_input(real), y_cond)
            fake_logits = self.discriminate(self._d_input(fake.detach()), y_cond)
            d_loss = d_loss_fn(m.loss, real_logits.float(), fake_logits.float(), m.label_smoothing)
            if m.loss == "wgan-gp" and m.gp_weight > 0:
                gp = gradient_penalty(lambda t: self.discriminate(t, y_cond), real, fake.detach())
                d_loss = d_loss + m.gp_weight * gp
                logged["train/gp"] = gp.detach()
            self.manual_step(opt_d, d_loss)
        self.d_batches += 1
        logged["train/d_loss"] = d_loss.detach()
        logged["train/d_real"] = real_logits.detach().float().mean()
        logged["train/d_fake"] = fake_logits.detach().float().mean()

        # ---- generator every n_critic batches
        if g_step:
            with self.toggled_optimizer(opt_g):
                if not reuse:
                    z = torch.randn(b, m.latent_dim, device=self.device, dtype=real.dtype)
                    fake = self.generate_from(self.generator, z, y_cond)
                g_loss = g_loss_fn(m.loss, self.discriminate(self._d_input(fake), y_cond).float())
                self.manual_step(opt_g, g_loss)
            self.g_steps += 1
            if self.g_ema is not None:
                self._ema.update(
                    self.g_ema,
                    self.generator,
                    average=self.g_steps > m.ema_start_step,
                    n=self.g_steps - m.ema_start_step,
                )
            self.last_g_loss = g_loss.detach()
            self._step_schedulers("step")
        if self.last_g_loss is not None:  # with n_critic > 1, the latest G step's loss
            logged["train/g_loss"] = self.last_g_loss
        self.log_step(logged, b)
        return None

    def on_train_epoch_end(self) -> None:
        self._step_schedulers("epoch")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Cheap per-batch scores: D's loss on held-out reals vs fresh fakes, and G's loss against it."""
        x, y = batch
        y_cond = self._labels(y)
        if self.conditional:
            keep = y >= 0
            x, y_cond = x[keep], y_cond[keep]
            if x.shape[0] == 0:
                return
        real = x * 2.0 - 1.0
        z = torch.randn(real.shape[0], self.run_config.model.latent_dim, device=self.device, dtype=real.dtype)
        fake = self.generate_from(self.sampler, z, y_cond)
        real_logits = self.discriminate(real, y_cond).float()
        fake_logits = self.discriminate(fake, y_cond).float()
        m = self.run_config.model
        self.log("val/d_loss", d_loss_fn(m.loss, real_logits, fake_logits), on_epoch=True, batch_size=real.shape[0])
        self.log("val/g_loss", g_loss_fn(m.loss, fake_logits), on_epoch=True, batch_size=real.shape[0])

    # -- checkpoint state that is not a tensor -----------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gan_counters"] = {"g_steps": int(self.g_steps), "d_batches": int(self.d_batches)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("gan_counters") or {}
        self.g_steps = int(counters.get("g_steps", 0))
        self.d_batches = int(counters.get("d_batches", 0))

    # -- generation ---------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self, n: int, labels: torch.Tensor | int | None = None, seed: int | None = None, z: torch.Tensor | None = None
    ) -> torch.Tensor:
        """n images in [0, 1] (n, C, S, S) from the sampling generator (EMA copy when on), in eval mode."""
        d = self.run_config.model.latent_dim
        if z is None:
            g = torch.Generator().manual_seed(seed) if seed is not None else None
            z = torch.randn(n, d, generator=g)
        z = z.to(self.device)
        y = None
        if self.conditional:
            if labels is None:
                y = torch.arange(n) % self.num_classes
            elif isinstance(labels, int):
                if not 0 <= labels < self.num_classes:
                    raise ValueError(f"class index {labels} is outside 0..{self.num_classes - 1}")
                y = torch.full((n,), labels, dtype=torch.long)
            else:
                y = labels.long().cpu()
            y = y.to(self.device)
        net = self.sampler
        was_training = net.training
        net.eval()
        try:
            out = self.generate_from(net, z, y)
        finally:
            net.train(was_training)
        return ((out.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    # -- capabilities ---------------------------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return int(self.run_config.model.latent_dim)

    def sample_images_n(self, n: int, *, seed: int = 0, labels: Labels = None) -> torch.Tensor:
        return self.generate(n, labels=_label_tensor(labels), seed=seed)

    def images_from_latents(self, z: torch.Tensor, labels: Labels = None) -> torch.Tensor:
        return self.generate(z.shape[0], labels=_label_tensor(labels), z=z)

    def class_names(self) -> list[str]:
        return []

    def _interpolation(self) -> torch.Tensor:
        """8 rows of 8 steps: each row walks (slerp) from one fixed z to another."""
        a, b = self.interp_z[:8], self.interp_z[8:]  # (8, D)
        t = torch.linspace(0, 1, 8, device=a.device)
        z = torch.stack([slerp(a, b, ti.expand(8, 1)) for ti in t], dim=1).reshape(64, -1)  # (8*8, D) row-major
        labels = None
        if self.conditional:
            labels = (torch.arange(8, device=a.device) % self.num_classes).repeat_interleave(8)
        return self.generate(64, labels=labels, z=z)

    def reference_output(self) -> torch.Tensor:
        """Images from the first 8 fixed latents (classes 0, 1, ... for the cGAN): reload/export parity."""
        z = self.fixed_z[:8]
        return self.generate(z.shape[0], z=z)

    def export_nets(self) -> dict[str, ExportNet]:
        """The generator (z [, label] -> image in [0, 1]) and, when the run kept one, its EMA copy."""
        nets = {"generator": self.generator}
        if self.g_ema is not None:
            nets["generator_ema"] = self.g_ema
        z = self.fixed_z[:8].detach().float().cpu()  # (8, D) the run's own fixed latents
        meta: dict[str, Any] = {
            "inputs": {"z": {"meaning": "latent code, standard normal N(0, 1)"}},
            "outputs": {"image": {"range": [0.0, 1.0], "layout": "NCHW", "channels": self.channels}},
            "normalisation": "none needed: the exported net maps the generator's [-1, 1] to [0, 1]",
        }
        if self.conditional:
            meta["inputs"]["label"] = {"meaning": "class index", "range": [0, len(self.class_names()) - 1]}
            meta["class_names"] = self.class_names()
        out = {}
        for name, net in nets.items():
            if self.conditional:
                labels = (torch.arange(z.shape[0]) % len(self.class_names())).to(torch.int32)  # (8,)
                out[name] = ExportNet(
                    LabelledImageOut(net).eval(), (z, labels), ["z", "label"], ["image"], {"image": "image"}, meta
                )
            else:
                out[name] = ExportNet(ImageOut(net).eval(), (z,), ["z"], ["image"], {"image": "image"}, meta)
        return out

    def sample_images(self) -> dict[str, torch.Tensor]:
        out = {"samples": self.generate(self.fixed_z.shape[0], z=self.fixed_z), "interpolation": self._interpolation()}
        return out


class DCGANModule(GANModule):
    """Unconditional DCGAN; samples come from fixed z (EMA generator when enabled)."""

    family = FAMILY
    conditional = False

    def build_nets(self) -> None:
        m = self.run_config.model
        self.generator = Generator(m.latent_dim, self.channels, self.image_size, m.g_width, m.g_batchnorm)
        self.discriminator = Discriminator(
            self.channels, self.image_size, m.d_width, self.d_norm, m.spectral_norm, m.minibatch_std, m.leaky_slope
        )

    def generate_from(self, net: torch.nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return net(z)  # (B, C, S, S) in [-1, 1]

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.discriminator(x)  # (B,)
