"""Direct Preference Optimization (Rafailov et al. 2023) of a trained GPT: the policy starts as the parent
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

from typing import Any

import torch
import torch.nn.functional as F

from lightning_modules.gpt import GPTModule


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


class DPOGPT(GPTModule):
    """The policy: a GPT run's network and config, trained on preference pairs against a frozen reference.
    Logs train/ and val/ dpo_loss, reward_accuracy and reward_margin; val/loss (the family's monitored
    metric) is the validation DPO loss, so the best checkpoint is the one that separates pairs best."""

    def __init__(self, config: Any, data_info: dict[str, Any], reference: GPTModule, beta: float = 0.1) -> None:
        super().__init__(config, data_info)
        self.__dict__["_reference"] = reference.eval().requires_grad_(False)  # not a submodule: not saved
        self.beta = float(beta)

    def _pair(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ids = torch.cat([batch["chosen"], batch["rejected"]])  # (2B, T)
        mask = torch.cat([batch["chosen_mask"], batch["rejected_mask"]]).float()
        n = batch["chosen"].shape[0]
        policy = answer_logps(self(ids), ids, mask)
        with torch.no_grad():
            ref = answer_logps(self._reference(ids), ids, mask)
        return dpo_loss(policy[:n], policy[n:], ref[:n], ref[n:], self.beta)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, stats = self._pair(batch)
        n = batch["chosen"].shape[0]
        self.log_step({"train/dpo_loss": loss} | {f"train/{k}": v for k, v in stats.items()}, n)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss, stats = self._pair(batch)
        n = batch["chosen"].shape[0]
        values = {"val/loss": loss, "val/dpo_loss": loss} | {f"val/{k}": v for k, v in stats.items()}
        self.log_dict(values, on_step=False, on_epoch=True, batch_size=n, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        pass  # no BLEU/samples from the language-model validation: the pairs are the measure here

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self._reference.to(self.device)
