"""StyleGAN-lite: the StyleGAN2 generator and training (style mixing, lazy R1, w_avg for truncation, EMA)
on GANModule's sampling, checkpoint and export plumbing, with ProGAN's progressive growing as an option.

The growth state (resolution, fade-in alpha) is a function of the generator steps taken, kept in the
state dict, so a resumed run continues at the same resolution and a reloaded one draws at it. Logged every step: train/resolution
(what the Run page shows while growing) and train/alpha.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.config import ConfigError, RunConfig
from genlab.families.stylegan import FAMILY, check_growth, check_truncation
from lightning_modules.base import GenLabModule, Labels, slerp
from lightning_modules.export_nets import ExportNet, ImageOut
from lightning_modules.gan_common import GANModule, diff_augment
from lightning_modules.stylegan_nets import StyleDiscriminator, StyleGenerator, TruncatedGenerator, up2


def growth_state(g_steps: int, image_size: int, model: Any) -> tuple[int, float]:
    """(level, alpha) after g_steps generator steps: level 0 is 4 px; alpha < 1 while a level fades in.

    Progressive: stable_steps at start_size, then per doubling fade_steps of fade-in and stable_steps."""
    top = int(math.log2(image_size // 4))
    if not model.progressive:
        return top, 1.0
    level, t = int(math.log2(model.start_size // 4)), g_steps
    if t < model.stable_steps:
        return level, 1.0
    t -= model.stable_steps
    while level < top:
        level += 1
        if t < model.fade_steps:
            return level, t / model.fade_steps
        t -= model.fade_steps + model.stable_steps
        if t < 0:
            return level, 1.0
    return top, 1.0


class StyleGANModule(GANModule):
    """Unconditional StyleGAN-lite. Capabilities: ImageSampler, LatentWalker (z), StyleMixer, Truncatable,
    Exportable."""

    family = FAMILY

    def __init__(self, config: RunConfig | dict[str, Any], data_info: dict[str, Any]) -> None:
        # GANModule's own __init__ reads the DCGAN section (norms, losses); this family has its own section,
        # so it starts from GenLabModule and sets up the same state through GANModule.init_gan_state.
        GenLabModule.__init__(self, config, data_info)
        self.automatic_optimization = False
        self.image_size = int(data_info.get("image_size", self.run_config.data.image_size))
        self.channels = int(data_info.get("channels", 1))
        m = self.run_config.model
        try:
            check_growth(self.image_size, m)
        except ValueError as err:
            raise ConfigError(f"Invalid config:\n  {err}") from None
        self.loss_kind = "nonsat"
        self.init_gan_state()
        # The growth state's clock, in the state dict so any reload (Playground, export) draws at the
        # resolution training reached; g_steps itself rides in the checkpoint's counters only.
        self.register_buffer("grown_steps", torch.zeros((), dtype=torch.long), persistent=True)

    def build_nets(self) -> None:
        m = self.run_config.model
        self.generator = StyleGenerator(
            m.latent_dim,
            m.w_dim,
            m.mapping_layers,
            m.mapping_lr_mul,
            m.g_width,
            self.image_size,
            self.channels,
            m.noise,
        )
        self.discriminator = StyleDiscriminator(self.channels, self.image_size, m.d_width)

    # -- growth and styles ----------------------------------------------------------------------------

    def growth(self) -> tuple[int, float]:
        return growth_state(int(self.grown_steps), self.image_size, self.run_config.model)

    @property
    def resolution(self) -> int:
        """The side the generator draws at now (the image size once grown)."""
        return 4 * 2 ** self.growth()[0]

    @property
    def num_style_layers(self) -> int:
        """Layers that read a w at the current resolution (two per resolution): the style-mixing crossovers."""
        return 2 * (self.growth()[0] + 1)

    def _mixed_ws(self, z: torch.Tensor) -> torch.Tensor:
        """Training ws (B, num_ws, W): with probability style_mixing, a second z takes over from a random
        layer of the current resolution's, so no layer can rely on its neighbour sharing its style."""
        g = self.generator
        ws = g.ws(z)
        m = self.run_config.model
        if m.style_mixing > 0 and torch.rand(()) < m.style_mixing:
            cut = int(torch.randint(1, self.num_style_layers, ()))
            w2 = g.mapping(torch.randn_like(z)).unsqueeze(1)
            ws = torch.cat([ws[:, :cut], w2.expand(-1, ws.shape[1] - cut, -1)], dim=1)
        return ws

    def _real_at(self, real: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        """Reals at the level's resolution; while fading in, blended with their half-resolution copy."""
        factor = self.image_size // (4 * 2**level)
        x = F.avg_pool2d(real, factor) if factor > 1 else real
        if alpha < 1.0:
            x = alpha * x + (1.0 - alpha) * up2(F.avg_pool2d(x, 2))
        return x

    def _d_input(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.run_config.model.diffaugment)

    # -- training -------------------------------------------------------------------------------------

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, _ = batch
        m = self.run_config.model
        level, alpha = self.growth()
        real = self._real_at(x * 2.0 - 1.0, level, alpha)
        b = real.shape[0]
        opt_g, opt_d = self.optimizers()
        g = self.generator

        # ---- discriminator: softplus (non-saturating) loss; lazy R1 on reals every r1_every batches
        z = torch.randn(b, m.latent_dim, device=self.device, dtype=real.dtype)
        fake = g.synthesis(self._mixed_ws(z), level, alpha)
        r1_now = m.r1_gamma > 0 and self.d_batches % m.r1_every == 0
        logged: dict[str, Any] = {}
        with self.toggled_optimizer(opt_d):
            real_in = real.detach().requires_grad_(r1_now)
            real_logits = self.discriminator(self._d_input(real_in), level, alpha)
            fake_logits = self.discriminator(self._d_input(fake.detach()), level, alpha)
            d_loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
            if r1_now:
                (grad,) = torch.autograd.grad(real_logits.sum(), real_in, create_graph=True)
                r1 = grad.pow(2).flatten(1).sum(1).mean()
                d_loss = d_loss + (m.r1_gamma / 2) * r1 * m.r1_every
                logged["train/r1"] = r1.detach()
            self.manual_step(opt_d, d_loss)
        self.d_batches += 1

        # ---- generator every n_critic batches, on the same fakes (their graph kept)
        if self.d_batches % self.run_config.optim.n_critic == 0:
            with self.toggled_optimizer(opt_g):
                g_loss = F.softplus(-self.discriminator(self._d_input(fake), level, alpha)).mean()
                self.manual_step(opt_g, g_loss)
            self.g_steps += 1
            self.grown_steps += 1
            with torch.no_grad():  # the truncation centre follows the mapping's output
                g.mapping.w_avg.lerp_(g.mapping(z).mean(0), 1.0 - m.w_avg_beta)
            if self.g_ema is not None:
                self._ema.update(
                    self.g_ema, g, average=self.g_steps > m.ema_start_step, n=self.g_steps - m.ema_start_step
                )
            self.last_g_loss = g_loss.detach()
            self._step_schedulers("step")
        logged.update(
            {
                "train/d_loss": d_loss.detach(),
                "train/d_real": real_logits.detach().mean(),
                "train/d_fake": fake_logits.detach().mean(),
                "train/resolution": float(4 * 2**level),
                "train/alpha": float(alpha),
            }
        )
        if self.last_g_loss is not None:
            logged["train/g_loss"] = self.last_g_loss
        self.log_step(logged, b)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """D's softplus loss on held-out reals vs fresh (untruncated) fakes, and G's loss against it."""
        x, _ = batch
        level, alpha = self.growth()
        real = self._real_at(x * 2.0 - 1.0, level, alpha)
        z = torch.randn(real.shape[0], self.latent_dim, device=self.device, dtype=real.dtype)
        fake = self.sampler.synthesis(self.sampler.ws(z), level, alpha)
        real_logits = self.discriminator(real, level, alpha).float()
        fake_logits = self.discriminator(fake, level, alpha).float()
        d_loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        self.log("val/d_loss", d_loss, on_epoch=True, batch_size=real.shape[0])
        self.log("val/g_loss", F.softplus(-fake_logits).mean(), on_epoch=True, batch_size=real.shape[0])

    def generate_from(self, net: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        level, alpha = self.growth()
        return net(z, self.run_config.model.truncation_psi, level, alpha)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        level, alpha = self.growth()
        return self.discriminator(self._real_at(x, level, alpha), level, alpha)

    # -- StyleMixer -----------------------------------------------------------------------------------

    @torch.no_grad()
    def _draw(self, ws: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from ws (B, num_ws, W) with the sampling generator, in eval mode."""
        net = self.sampler
        was_training = net.training
        net.eval()
        try:
            level, alpha = self.growth()
            out = net.synthesise(ws.to(self.device), level, alpha)
        finally:
            net.train(was_training)
        return ((out.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    def _seed_ws(self, seeds: list[int], psi: float) -> torch.Tensor:
        z = torch.stack([torch.randn(self.latent_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
        return self.sampler.ws(z.to(self.device), check_truncation(psi))

    def truncated_samples(self, n: int, *, seed: int = 0, psi: float = 1.0) -> torch.Tensor:
        """n images (n, C, S, S) in [0, 1] from seeded z, w pulled toward w_avg by psi in [0, 1]."""
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed))
        return self._draw(self.sampler.ws(z.to(self.device), check_truncation(psi)))

    @property
    def default_truncation(self) -> float:
        """Truncatable: the run's own psi (model.truncation_psi)."""
        return float(self.run_config.model.truncation_psi)

    def sample_truncated(
        self, n: int, *, seed: int = 0, labels: Labels = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """Truncatable (the CLI's and REST's --truncation, the New samples slider): psi = truncation."""
        return self.truncated_samples(n, seed=seed, psi=truncation)

    def style_mix(
        self, coarse_seeds: list[int], fine_seeds: list[int], *, psi: float = 1.0, crossover: int | None = None
    ) -> torch.Tensor:
        """Row i, column j: layers before `crossover` (coarse: pose, shape) styled by coarse_seeds[i], the rest
        (fine: colour, detail) by fine_seeds[j]. (len(coarse) * len(fine), C, S, S) in [0, 1], row-major."""
        layers = self.num_style_layers
        cut = layers // 2 if crossover is None else int(crossover)
        if not 0 <= cut <= layers:
            raise ValueError(
                f"crossover must be between 0 and {layers} (the style layers at this resolution); got {cut}"
            )
        coarse, fine = self._seed_ws(coarse_seeds, psi), self._seed_ws(fine_seeds, psi)
        rows = [
            torch.cat([coarse[i : i + 1, :cut], fine[j : j + 1, cut:]], dim=1)
            for i in range(len(coarse))
            for j in range(len(fine))
        ]
        return self._draw(torch.cat(rows))

    def w_walk(self, seed_a: int, seed_b: int, steps: int = 8, *, psi: float = 1.0) -> torch.Tensor:
        """`steps` images on the straight line in W from seed_a's w to seed_b's (W is where StyleGAN's walks
        are smooth: the mapping has unwarped z's sphere)."""
        wa, wb = self._seed_ws([seed_a, seed_b], psi)
        t = torch.linspace(0.0, 1.0, max(2, steps), device=wa.device)[:, None, None]
        return self._draw(wa.unsqueeze(0) + t * (wb - wa).unsqueeze(0))  # (steps, num_ws, W)

    # -- samples, reference, export -------------------------------------------------------------------

    def _interpolation(self) -> torch.Tensor:
        """8 rows of 8 steps, each a slerp in z from one fixed latent to another."""
        a, b = self.interp_z[:8], self.interp_z[8:]
        t = torch.linspace(0, 1, 8, device=a.device)
        z = torch.stack([slerp(a, b, ti.expand(8, 1)) for ti in t], dim=1).reshape(64, -1)
        return self.generate(64, z=z)

    def sample_images(self) -> dict[str, torch.Tensor]:
        out = super().sample_images()
        out["style_mixing"] = self.style_mix([1, 2, 3, 4], [5, 6, 7, 8], psi=self.run_config.model.truncation_psi)
        return out

    def sample_grid_rows(self) -> dict[str, int]:
        return {"interpolation": 8, "style_mixing": 4}

    def export_nets(self) -> dict[str, ExportNet]:
        """Mapping + synthesis at the run's truncation psi and current resolution: z -> image in [0, 1]."""
        level, alpha = self.growth()
        psi = float(self.run_config.model.truncation_psi)
        nets = {"generator": self.generator}
        if self.g_ema is not None:
            nets["generator_ema"] = self.g_ema
        z = self.fixed_z[:8].detach().float().cpu()
        meta = {
            "inputs": {"z": {"meaning": "latent code, standard normal N(0, 1)"}},
            "outputs": {"image": {"range": [0.0, 1.0], "layout": "NCHW", "channels": self.channels}},
            "truncation_psi": psi,
            "resolution": 4 * 2**level,
            "normalisation": "none needed: the exported net maps the generator's [-1, 1] to [0, 1]",
        }
        return {
            name: ExportNet(
                ImageOut(TruncatedGenerator(net, psi, level, alpha)).eval(),
                (z,),
                ["z"],
                ["image"],
                {"image": "image"},
                meta,
            )
            for name, net in nets.items()
        }

    def images_from_latents(self, z: torch.Tensor, labels: Labels = None) -> torch.Tensor:
        return self.generate(z.shape[0], z=z)
