"""What the image GANs share: the adversarial losses, DiffAugment, the generator's EMA, the DCGAN nets
(Radford et al. 2015) and GANModule, the manual-optimisation GAN step a family builds on (it builds G and D
and says how they are conditioned), with its distillation by output matching. No family is named here.

The nets: transposed convs with BatchNorm+ReLU and a Tanh output in G, strided convs with LeakyReLU in D,
N(0, 0.02) init. Every supported side (16, 28, 32, 64) is reached by doubling from a 4x4 (or 7x7 for
28 px) seed, so one builder covers all of them.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from datamodules.images import ImageDataModule
from genlab.core.config import ConfigError, RunConfig
from genlab.core.errors import GenLabError
from genlab.core.optim import build_optimizer, build_scheduler
from lightning_modules.base import GenLabModule, Labels, slerp
from lightning_modules.export_nets import ExportNet, ImageOut, LabelledImageOut

# ---------------------------------------------------------------------------------------------------
# Losses (logits in, scalar out)


def d_loss_fn(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    if kind == "nonsat":
        real_t = torch.full_like(real_logits, 1.0 - smoothing)
        return F.binary_cross_entropy_with_logits(real_logits, real_t) + F.binary_cross_entropy_with_logits(
            fake_logits, torch.zeros_like(fake_logits)
        )
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    if kind == "wgan-gp":
        # the small drift term keeps the critic's output near 0 (Karras et al.)
        return fake_logits.mean() - real_logits.mean() + 1e-3 * (real_logits**2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def g_loss_fn(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind == "nonsat":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return -fake_logits.mean()  # hinge and WGAN share the generator loss


def gradient_penalty(critic: Any, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al.): (||grad_x D(x_hat)|| - 1)^2 on random interpolates of real and fake."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


# ---------------------------------------------------------------------------------------------------
# DiffAugment (Zhao et al. 2020): the same differentiable augmentation for real and fake inputs of D


def _color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # brightness
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = (gy.unsqueeze(0) + dy).clamp(-1, h)  # (B, H, W); -1 and h index the zero padding
    gx = (gx.unsqueeze(0) + dx).clamp(-1, w)
    padded = F.pad(x, (1, 1, 1, 1))  # (B, C, H+2, W+2)
    flat = padded.flatten(2)  # (B, C, (H+2)(W+2))
    index = ((gy + 1) * (w + 2) + (gx + 1)).flatten(1)  # (B, H*W)
    out = flat.gather(2, index.unsqueeze(1).expand(-1, x.shape[1], -1))
    return out.view_as(x)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    inside = ((gy.unsqueeze(0) - cy).abs() < ch // 2 + 1) & ((gx.unsqueeze(0) - cx).abs() < cw // 2 + 1)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_AUGMENTS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply the comma-separated policy ("color,translation,cutout"); "off" returns x unchanged."""
    if not policy or policy == "off":
        return x
    for name in policy.split(","):
        x = _AUGMENTS[name.strip()](x)
    return x


# ---------------------------------------------------------------------------------------------------
# EMA of the generator


class EMA:
    """Keeps `shadow` = exponential moving average of `model`'s parameters (buffers copied as they are).

    The decay warms up as min(decay, (1 + n) / (10 + n)) over the n averaged steps, so a short run is not
    stuck near its early weights (a 0.999 average would otherwise lag ~1,000 steps behind).
    """

    def __init__(self, decay: float) -> None:
        self.decay = decay

    @torch.no_grad()
    def update(self, shadow: nn.Module, model: nn.Module, average: bool = True, n: int | None = None) -> None:
        decay = self.decay if average else 0.0
        if average and n is not None:
            decay = min(decay, (1.0 + n) / (10.0 + n))
        for s, p in zip(shadow.parameters(), model.parameters(), strict=True):
            s.lerp_(p.detach(), 1.0 - decay)
        for s, b in zip(shadow.buffers(), model.buffers(), strict=True):
            s.copy_(b)


def make_shadow(model: nn.Module) -> nn.Module:
    shadow = copy.deepcopy(model)
    shadow.requires_grad_(False)
    shadow.eval()
    return shadow


# ---------------------------------------------------------------------------------------------------
# The DCGAN nets


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


def normal_init(module: nn.Module) -> None:
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
        normal_init(self)

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
        normal_init(self)

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


class GANCounters:
    """A GAN module's step counters (g_steps, d_batches) are plain ints, not tensors: they ride in the
    checkpoint beside the weights, so a resumed run keeps its n_critic rhythm and schedules."""

    g_steps: int
    d_batches: int

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gan_counters"] = {"g_steps": int(self.g_steps), "d_batches": int(self.d_batches)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("gan_counters") or {}
        self.g_steps = int(counters.get("g_steps", 0))
        self.d_batches = int(counters.get("d_batches", 0))


class GANModule(GANCounters, GenLabModule):
    """The manual-optimisation GAN step the image GAN families share; a family sets `family`, builds G and D
    (build_nets) and says how they see labels (generate_from, discriminate, _labels, `conditional`).

    Step order per batch (Lightning's GAN template): D on real vs detached fakes, then every n_critic-th
    batch a G step. `trainer.global_step` counts optimizer steps of both nets, as Lightning does for
    manual optimisation; what users see (progress, trainer.max_steps) counts batches (callbacks/steps.py).
    Capabilities: ImageSampler, LatentWalker, Exportable and Distillable (a half-width generator learns
    the teacher's images for the same latents). Its config is genlab/families/gan_common.py's sections.
    """

    datamodule_class = ImageDataModule

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        self.automatic_optimization = False
        size = int(data_info.get("image_size", self.run_config.data.image_size))
        check_image_size(size)
        self.channels = int(data_info.get("channels", 1))
        self.image_size = size
        m = self.run_config.model
        self.loss_kind = m.loss
        d_norm = getattr(m, "d_norm", "auto")  # a family whose nets fix their own norms has no d_norm
        if d_norm == "auto":
            self.d_norm = "none" if m.spectral_norm else ("layer" if m.loss == "wgan-gp" else "batch")
        else:
            self.d_norm = d_norm
        self.init_gan_state()

    def init_gan_state(self) -> None:
        """G and D, the EMA generator, the fixed latents of the sample grids and the step counters: what every
        method below uses (a family whose own __init__ replaces this one's calls it too)."""
        m = self.run_config.model
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
        self.__dict__["_teacher"] = None  # a distillation teacher: held outside the state, never saved

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
        if getattr(m, "instance_noise", 0.0) > 0:
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

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        if self._teacher is not None:
            return self._match_teacher(batch)
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
            d_loss = d_loss_fn(m.loss, real_logits.float(), fake_logits.float(), getattr(m, "label_smoothing", 0.0))
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

    def sample_grid_rows(self) -> dict[str, int]:
        return {"interpolation": 8}  # 8 steps a row

    def served_parameters(self) -> int:
        return sum(p.numel() for p in self.generator.parameters())  # what is served: the generator

    # -- Distillable: a smaller generator that reproduces the teacher's images -----------------------

    def student_overrides(self) -> list[str]:
        """Half the teacher's generator width."""
        return [f"model.g_width={max(4, int(self.run_config.model.g_width) // 2)}"]

    def distill_student(
        self, config: RunConfig, data_info: dict[str, Any], *, temperature: float, alpha: float
    ) -> GANModule:
        """A module of this family that trains only its generator to reproduce this teacher's images for the
        same z (and labels): L1 in [-1, 1]. `temperature` and `alpha` (soft targets) do not apply to images."""
        if self._teacher is not None:
            raise GenLabError("this run is being distilled itself; distil its finished run instead")
        student = type(self)(config, data_info)
        student.__dict__["_teacher"] = self.eval().requires_grad_(False)  # not a submodule: not in state_dict
        return student

    def _match_teacher(self, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        """The student's step: the discriminator and its optimizer stay idle; validation (FID) measures it."""
        x = batch[0]
        n, d = x.shape[0], self.run_config.model.latent_dim
        z = torch.randn(n, d, device=x.device)
        y = torch.randint(0, len(self.class_names()), (n,), device=x.device) if self.conditional else None
        with torch.no_grad():
            target = self._teacher.generate_from(self._teacher.sampler, z, y)  # (B, C, S, S)
        opt_g, _ = self.optimizers()
        loss = F.l1_loss(self.generate_from(self.generator, z, y), target)
        self.manual_step(opt_g, loss)
        if self.g_ema is not None:
            self._ema.update(self.g_ema, self.generator, average=False)
        self.log_step({"train/g_loss": loss.detach(), "train/distill_l1": loss.detach()}, n)
