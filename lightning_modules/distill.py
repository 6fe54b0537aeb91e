"""The knowledge-distillation loss a language-model student learns with (Hinton et al. 2015).

Distillation is a capability each family provides (Distillable in base.py): the family's module builds
its own student; shared pieces of how students learn live here and in gan_common.py (output matching)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from datamodules.tokenizers import IGNORE


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
