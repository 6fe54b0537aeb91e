"""pix2pix (Isola et al., 2017): paired translation with a U-Net generator and a conditional PatchGAN.

D sees the input and an output side by side (channels concatenated) and judges each 70x70 patch;
G minimises the adversarial loss plus lambda_l1 (100) x L1 to the target. Manual optimization, one
optimizer each, learning rate constant then linearly decaying to zero.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR

from datamodules.paired import PairedDataModule
from genlab.core.optim import build_optimizer
from genlab.families.pix2pix import FAMILY
from lightning_modules.base import GenLabModule
from lightning_modules.export_nets import ExportNet, Translate01, parity_images
from lightning_modules.translation_nets import (
    PatchDiscriminator,
    TranslationEval,
    UNetGenerator,
    from_net,
    gan_loss,
    init_weights,
    linear_decay,
    panel,
    to_net,
)


class Pix2PixModule(GenLabModule):
    family = FAMILY
    datamodule_class = PairedDataModule

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        self.automatic_optimization = False
        m = self.run_config.model
        self.direction = m.direction
        self.src, self.dst = ("A", "B") if m.direction == "AtoB" else ("B", "A")
        c_in = int(data_info.get(f"channels_{self.src.lower()}", 3))
        c_out = int(data_info.get(f"channels_{self.dst.lower()}", 3))
        size = int(data_info.get("image_size", self.run_config.data.image_size))
        self.image_size = size
        self.generator_net = UNetGenerator(c_in, c_out, m.gen_width, m.unet_depth, m.norm, m.dropout)
        self.discriminator = PatchDiscriminator(c_in + c_out, m.disc_width, m.disc_layers, m.norm)
        init_weights(self.generator_net)
        init_weights(self.discriminator)
        n = m.n_panel
        self.register_buffer("fixed_in", torch.zeros(n, c_in, size, size))
        self.register_buffer("fixed_target", torch.zeros(n, c_out, size, size))
        self.evaluator = TranslationEval([""], True, m.eval_fid, size, m.fid_features)

    # -- inference ---------------------------------------------------------------------------------

    def directions(self) -> list[str]:
        return [self.direction]

    def translate(self, x: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        """(B, C_in, H, W) in [0, 1] -> (B, C_out, H, W) in [0, 1]; H, W multiples of 2**unet_depth."""
        if direction is not None and direction != self.direction:
            raise ValueError(f"this pix2pix model translates {self.direction} only, not {direction}")
        return from_net(self.generator_net(to_net(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.translate(x)

    def reference_output(self) -> torch.Tensor:
        """Translations of the fixed validation inputs (eval mode): reload and export parity."""
        return self.translate(self.fixed_in)

    def export_nets(self) -> dict[str, ExportNet]:
        """The U-Net generator, images in [0, 1] in and out, on the run's fixed validation inputs."""
        meta = {
            "direction": self.direction,
            "inputs": {"image": {"range": [0.0, 1.0], "layout": "NCHW", "domain": self.src}},
            "outputs": {"image": {"range": [0.0, 1.0], "layout": "NCHW", "domain": self.dst}},
            "normalisation": "none needed: the exported net maps [0, 1] to the generator's [-1, 1] and back",
        }
        return {
            "generator": ExportNet(
                Translate01(self.generator_net).eval(),
                (parity_images(self.fixed_in, 4, self.run_config.seed),),
                ["image"],
                ["image_out"],
                {"image_out": "image"},
                meta,
            )
        }

    # -- training ----------------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        m, o = self.run_config.model, self.run_config.optim
        betas = (o.beta1, o.beta2)
        opt_g = build_optimizer(self.generator_net.parameters(), o, betas=betas)
        opt_d = build_optimizer(self.discriminator.parameters(), o, lr=m.lr_d or o.lr, betas=betas)
        factor = linear_decay(self.planned_batches(), m.constant_lr_fraction)
        return [opt_g, opt_d], [LambdaLR(opt_g, factor), LambdaLR(opt_d, factor)]

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "fixed_batch"):
            fixed = dm.fixed_batch(self.fixed_in.shape[0])
            n = fixed[self.src].shape[0]
            self.fixed_in[:n] = fixed[self.src].to(self.fixed_in)
            self.fixed_target[:n] = fixed[self.dst].to(self.fixed_target)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        m = self.run_config.model
        x, y = to_net(batch[self.src]), to_net(batch[self.dst])  # (B, C_in, H, W), (B, C_out, H, W)
        opt_g, opt_d = self.optimizers()
        with self.toggled_optimizer(opt_g):
            fake = self.generator_net(x)
            adv = gan_loss(self.discriminator(torch.cat([x, fake], 1)), True, m.gan_mode)
            l1 = F.l1_loss(fake, y)
            g_loss = adv + m.lambda_l1 * l1
            self.manual_step(opt_g, g_loss)
        with self.toggled_optimizer(opt_d):
            real_logits = self.discriminator(torch.cat([x, y], 1))
            fake_logits = self.discriminator(torch.cat([x, fake.detach()], 1))
            d_loss = 0.5 * (gan_loss(real_logits, True, m.gan_mode) + gan_loss(fake_logits, False, m.gan_mode))
            self.manual_step(opt_d, d_loss)
        for sched in self.lr_schedulers():
            sched.step()
        self.log_step(
            {
                "train/g_loss": g_loss.detach(),
                "train/d_loss": d_loss.detach(),
                "train/g_adv": adv.detach(),
                "train/l1": l1.detach() / 2.0,
                "train/lr": float(opt_g.param_groups[0]["lr"]),
            },
            x.shape[0],
        )

    # -- evaluation --------------------------------------------------------------------------------

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        fake = self.translate(batch[self.src])
        self.evaluator.update("", fake, batch[self.dst])

    def on_validation_epoch_end(self) -> None:
        for name, value in self.evaluator.compute_and_reset().items():
            self.log(name, value)

    def sample_images(self) -> dict[str, torch.Tensor]:
        return {self.direction: panel(self.fixed_in, self.translate(self.fixed_in), self.fixed_target)}

    def sample_grid_rows(self) -> dict[str, int]:
        return {self.direction: 3}  # input, translation, target
