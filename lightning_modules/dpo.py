"""Direct Preference Optimization (Rafailov et al. 2023), the family-free part: the loss and the answers'
log-probabilities. A family offers DPO through the PreferenceTunable capability (its policy module, e.g.
the GPT family's DPOGPT in lightning_modules/gpt.py). The policy starts as the parent
and learns to raise the likelihood of the preferred answer over the rejected one relative to a frozen
reference copy of the parent, with no reward model and no sampling.

The DPO loss lives in this Lightning module rather than TRL's DPOTrainer: GenLab's GPT trained from
scratch is a native network (not a transformers model, which TRL needs), and a Lightning module keeps
the child on GenLab's own trainer, callbacks, run store, checkpoints and cancel button like every run.
The reference is held outside the module's state, so the child's checkpoint reloads as a plain GPT run.

Batches (datamodules/preferences.py): chosen / rejected ids (B, T) with a mask (B, T) of the answer's
target positions (1 where the token at t + 1 is part of the answer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def answer_logps(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of log p(answer tokens) per row: logits (B, T, V) predict ids shifted by one; mask (B, T)."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
    picked = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return (picked * mask[:, :-1]).sum(-1)  # (B,)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """-log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))) and the implicit rewards' accuracy and margin
    (a tie, as at the start when policy == reference, counts half)."""
    chosen = beta * (policy_chosen - ref_chosen)  # (B,)
    rejected = beta * (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(chosen - rejected).mean()
    wins = (chosen > rejected).float() + 0.5 * (chosen == rejected).float()
    stats = {
        "reward_accuracy": wins.mean(),
        "reward_margin": (chosen - rejected).mean(),
        "reward_chosen": chosen.mean(),
        "reward_rejected": rejected.mean(),
    }
    return loss, stats
