"""CycleGAN (Zhu et al., 2017): unpaired translation A <-> B with two generators and two PatchGANs.

G_AB: A -> B and G_BA: B -> A are trained together by one optimizer (least-squares GAN + cycle L1 +
identity L1), D_A and D_B together by another, on fakes drawn from an image pool; manual optimization
with the learning rate constant and then decaying linearly to zero (stepped here, once per batch).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR

from datamodules.paired import PairedDataModule
from genlab.core.optim import build_optimizer
from genlab.families.cyclegan import FAMILY
from lightning_modules.base import GenLabModule
from lightning_modules.export_nets import ExportNet, Translate01, parity_images
from lightning_modules.translation_nets import (
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    TranslationEval,
    from_net,
    gan_loss,
    init_weights,
    linear_decay,
    panel,
    to_net,
)


class CycleGANModule(GenLabModule):
    family = FAMILY
    datamodule_class = PairedDataModule

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        self.automatic_optimization = False
        m = self.run_config.model
        ca, cb = int(data_info.get("channels_a", 3)), int(data_info.get("channels_b", 3))
        size = int(data_info.get("image_size", self.run_config.data.image_size))
        self.channels = {"A": ca, "B": cb}
        self.image_size = size
        self.g_ab = ResnetGenerator(ca, cb, m.gen_width, m.gen_blocks)
        self.g_ba = ResnetGenerator(cb, ca, m.gen_width, m.gen_blocks)
        self.d_a = PatchDiscriminator(ca, m.disc_width, m.disc_layers)
        self.d_b = PatchDiscriminator(cb, m.disc_width, m.disc_layers)
        for net in (self.g_ab, self.g_ba, self.d_a, self.d_b):
            init_weights(net)
        self.use_identity = m.lambda_identity > 0 and ca == cb  # G_AB(B) ~ B needs B to fit G_AB's input
        gen = torch.Generator().manual_seed(self.run_config.seed)
        self.pool_a, self.pool_b = ImagePool(m.pool_size, gen), ImagePool(m.pool_size, gen)
        n = m.n_panel
        # Fixed validation inputs for the sample panels; saved with the weights so a reload shows the same.
        self.register_buffer("fixed_a", torch.zeros(n, ca, size, size))
        self.register_buffer("fixed_b", torch.zeros(n, cb, size, size))
        self.evaluator = TranslationEval(
            ["AtoB", "BtoA"], bool(data_info.get("aligned_val", False)), m.eval_fid, size, m.fid_features
        )

    # -- inference ---------------------------------------------------------------------------------

    def generator(self, direction: str) -> torch.nn.Module:
        return self.g_ab if direction == "AtoB" else self.g_ba

    def directions(self) -> list[str]:
        return ["AtoB", "BtoA"]

    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """(B, C_in, H, W) in [0, 1] -> (B, C_out, H, W) in [0, 1]; H, W multiples of 4."""
        if direction not in self.directions():
            raise ValueError(f"direction must be one of {self.directions()}, got {direction!r}")
        return from_net(self.generator(direction)(to_net(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.translate(x, "AtoB")

    def reference_output(self) -> torch.Tensor:
        """A -> B translations of the fixed validation batch (eval mode): reload and export parity."""
        return self.translate(self.fixed_a, "AtoB")

    def export_nets(self) -> dict[str, ExportNet]:
        """Both generators, images in [0, 1] in and out, on the run's fixed validation images."""
        out = {}
        for direction, (src, dst), fixed in (("AtoB", "AB", self.fixed_a), ("BtoA", "BA", self.fixed_b)):
            meta = {
                "direction": direction,
                "inputs": {"image": {"range": [0.0, 1.0], "layout": "NCHW", "domain": src}},
                "outputs": {"image": {"range": [0.0, 1.0], "layout": "NCHW", "domain": dst}},
                "normalisation": "none needed: the exported net maps [0, 1] to the generator's [-1, 1] and back",
            }
            out[f"generator_{direction}"] = ExportNet(
                Translate01(self.generator(direction)).eval(),
                (parity_images(fixed, 4, self.run_config.seed),),
                ["image"],
                ["image_out"],
                {"image_out": "image"},
                meta,
            )
        return out

    # -- training ----------------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        m, o = self.run_config.model, self.run_config.optim
        betas = (o.beta1, o.beta2)
        opt_g = build_optimizer(itertools.chain(self.g_ab.parameters(), self.g_ba.parameters()), o, betas=betas)
        opt_d = build_optimizer(
            itertools.chain(self.d_a.parameters(), self.d_b.parameters()), o, lr=m.lr_d or o.lr, betas=betas
        )
        factor = linear_decay(self.planned_batches(), m.constant_lr_fraction)
        return [opt_g, opt_d], [LambdaLR(opt_g, factor), LambdaLR(opt_d, factor)]

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "fixed_batch"):
            fixed = dm.fixed_batch(self.fixed_a.shape[0])
            n = fixed["A"].shape[0]
            self.fixed_a[:n] = fixed["A"].to(self.fixed_a)
            self.fixed_b[:n] = fixed["B"].to(self.fixed_b)

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        """All generator terms for a batch in [-1, 1]; also returns the fakes the discriminators need."""
        m = self.run_config.model
        fake_b = self.g_ab(a)  # (B, C_B, H, W)
        fake_a = self.g_ba(b)  # (B, C_A, H, W)
        rec_a, rec_b = self.g_ba(fake_b), self.g_ab(fake_a)
        adv = gan_loss(self.d_b(fake_b), True) + gan_loss(self.d_a(fake_a), True)
        cycle = F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)
        idt = torch.zeros((), device=a.device)
        if self.use_identity:
            idt = F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a)
        total = adv + m.lambda_cycle * cycle + m.lambda_cycle * m.lambda_identity * idt
        return {"g_loss": total, "adv": adv, "cycle": cycle, "idt": idt, "fake_a": fake_a, "fake_b": fake_b}

    def discriminator_loss(
        self, a: torch.Tensor, b: torch.Tensor, fake_a: torch.Tensor, fake_b: torch.Tensor
    ) -> torch.Tensor:
        fa, fb = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
        loss_a = 0.5 * (gan_loss(self.d_a(a), True) + gan_loss(self.d_a(fa.detach()), False))
        loss_b = 0.5 * (gan_loss(self.d_b(b), True) + gan_loss(self.d_b(fb.detach()), False))
        return loss_a + loss_b

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        a, b = to_net(batch["A"]), to_net(batch["B"])
        opt_g, opt_d = self.optimizers()
        with self.toggled_optimizer(opt_g):
            out = self.generator_losses(a, b)
            self.manual_step(opt_g, out["g_loss"])
        with self.toggled_optimizer(opt_d):
            d_loss = self.discriminator_loss(a, b, out["fake_a"].detach(), out["fake_b"].detach())
            self.manual_step(opt_d, d_loss)
        for sched in self.lr_schedulers():
            sched.step()
        bs = a.shape[0]
        self.log_step(
            {
                "train/g_loss": out["g_loss"].detach(),
                "train/d_loss": d_loss.detach(),
                "train/g_adv": out["adv"].detach(),
                "train/cycle_l1": out["cycle"].detach() / 4.0,
                "train/identity_l1": out["idt"].detach() / 4.0,
                "train/lr": float(opt_g.param_groups[0]["lr"]),
            },
            bs,
        )

    # -- evaluation --------------------------------------------------------------------------------

    def cycle_l1(self, a01: torch.Tensor, b01: torch.Tensor) -> torch.Tensor:
        """Mean L1 (in [0, 1] units) of A -> B -> A and B -> A -> B reconstructions."""
        rec_a = self.translate(self.translate(a01, "AtoB"), "BtoA")
        rec_b = self.translate(self.translate(b01, "BtoA"), "AtoB")
        return 0.5 * ((rec_a - a01).abs().mean() + (rec_b - b01).abs().mean())

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        a, b = batch["A"], batch["B"]
        fake_b, fake_a = self.translate(a, "AtoB"), self.translate(b, "BtoA")
        rec_a, rec_b = self.translate(fake_b, "BtoA"), self.translate(fake_a, "AtoB")
        cyc = 0.5 * ((rec_a - a).abs().mean() + (rec_b - b).abs().mean())
        self.log("val/cycle_l1", cyc, on_epoch=True, batch_size=a.shape[0])
        self.evaluator.update("AtoB", fake_b, b)
        self.evaluator.update("BtoA", fake_a, a)

    def on_validation_epoch_end(self) -> None:
        for name, value in self.evaluator.compute_and_reset().items():
            self.log(name, value)

    def sample_images(self) -> dict[str, torch.Tensor]:
        a, b = self.fixed_a, self.fixed_b
        fake_b, fake_a = self.translate(a, "AtoB"), self.translate(b, "BtoA")
        return {
            "AtoB": panel(a, fake_b, self.translate(fake_b, "BtoA")),
            "BtoA": panel(b, fake_a, self.translate(fake_a, "AtoB")),
        }

    def sample_grid_rows(self) -> dict[str, int]:
        return {"AtoB": 3, "BtoA": 3}  # source, translation, cycle back
