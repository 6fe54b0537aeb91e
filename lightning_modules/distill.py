"""Students that learn from a trained teacher: a smaller GPT with a knowledge-distillation loss, and a
smaller GAN generator by output matching. The teacher is held outside the module's state (never saved in
a student checkpoint), so a student reloads as a plain module of its family."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from datamodules.tokenizers import IGNORE
from lightning_modules.cgan import CGANModule
from lightning_modules.dcgan import DCGANModule, GANModule
from lightning_modules.gpt import GPTModule


def kd_loss(
    student: torch.Tensor, teacher: torch.Tensor, targets: torch.Tensor, temperature: float, alpha: float
) -> torch.Tensor:
    """alpha * CE(student, targets) + (1 - alpha) * T^2 * KL(teacher_T || student_T) (Hinton et al. 2015),
    over the positions that carry a target. Logits (B, T, V), targets (B, T)."""
    keep = targets != IGNORE  # (B, T)
    s, t = student[keep].float(), teacher[keep].float()  # (N, V)
    ce = F.cross_entropy(s, targets[keep])
    kl = F.kl_div(
        F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1), reduction="batchmean", log_target=True
    )
    return alpha * ce + (1 - alpha) * temperature**2 * kl


class DistilledGPT(GPTModule):
    """A GPT student: the token loss mixed with the teacher's softened next-token distribution."""

    def __init__(
        self, config: Any, data_info: dict[str, Any], teacher: GPTModule, temperature: float = 2.0, alpha: float = 0.5
    ) -> None:
        super().__init__(config, data_info)
        self.__dict__["_teacher"] = teacher.eval().requires_grad_(False)  # not a submodule: not in state_dict
        self.temperature, self.alpha = temperature, alpha

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        with torch.no_grad():
            teacher = self._teacher(x)  # (B, T, V)
        loss = kd_loss(self(x), teacher, y, self.temperature, self.alpha)
        self.log_step({"train/loss": loss}, x.shape[0])
        return loss


class _OutputMatching:
    """Train only the generator to reproduce the teacher's images for the same z (and labels): L1 in
    [-1, 1]; the discriminator and its optimizer stay idle. Validation (FID) measures the student."""

    _teacher: GANModule

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
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


class DistilledDCGAN(_OutputMatching, DCGANModule):
    def __init__(self, config: Any, data_info: dict[str, Any], teacher: GANModule) -> None:
        super().__init__(config, data_info)
        self.__dict__["_teacher"] = teacher.eval().requires_grad_(False)


class DistilledCGAN(_OutputMatching, CGANModule):
    def __init__(self, config: Any, data_info: dict[str, Any], teacher: GANModule) -> None:
        super().__init__(config, data_info)
        self.__dict__["_teacher"] = teacher.eval().requires_grad_(False)
