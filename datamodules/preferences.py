"""Preference pairs for DPO (lightning_modules/dpo.py): the same prompt with a chosen and a rejected
answer, already tokenized by the engine (the prompt in the model's chat template when it chats).

Each side becomes prompt + answer, cut from the left to the context window (the answer is kept), padded
to the batch's longest; the mask marks the positions whose next token belongs to the answer.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from genlab.core.errors import DataError


def _side(prompt: list[int], answer: list[int], window: int) -> tuple[list[int], list[int]]:
    ids = (prompt + answer)[-window:]
    n_answer = min(len(answer), len(ids) - 1)  # at least one prompt token predicts the answer's first
    mask = [0] * (len(ids) - n_answer - 1) + [1] * n_answer + [0]  # position t predicts ids[t + 1]
    return ids, mask


def collate(rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(max(len(r["chosen"]), len(r["rejected"])) for r in rows)

    def pad(key: str, value: int) -> torch.Tensor:
        return torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows], dtype=torch.long)

    return {
        "chosen": pad("chosen", pad_id),
        "rejected": pad("rejected", pad_id),
        "chosen_mask": pad("chosen_mask", 0),
        "rejected_mask": pad("rejected_mask", 0),
    }


class PreferenceDataModule(L.LightningDataModule):
    """pairs: [{"prompt": ids, "chosen": ids, "rejected": ids}]; a seeded share held out for validation."""

    def __init__(
        self,
        pairs: list[dict[str, list[int]]],
        window: int,
        pad_id: int,
        batch_size: int = 8,
        val_pairs: list[dict[str, list[int]]] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not pairs:
            raise DataError("DPO needs preference pairs to train on, got none")
        rows = [self._row(p, window) for p in pairs]
        if val_pairs is None:
            order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
            n_val = max(1, len(rows) // 10)
            self.val = [rows[i] for i in order[:n_val]]
            self.train = [rows[i] for i in order[n_val:]]
        else:
            self.train, self.val = rows, [self._row(p, window) for p in val_pairs]
        self.pad_id, self.batch_size, self.seed = pad_id, batch_size, seed

    @staticmethod
    def _row(pair: dict[str, list[int]], window: int) -> dict[str, list[int]]:
        chosen, chosen_mask = _side(pair["prompt"], pair["chosen"], window)
        rejected, rejected_mask = _side(pair["prompt"], pair["rejected"], window)
        return {"chosen": chosen, "chosen_mask": chosen_mask, "rejected": rejected, "rejected_mask": rejected_mask}

    def _loader(self, rows: list[dict[str, list[int]]], shuffle: bool) -> DataLoader:
        return DataLoader(
            rows,  # type: ignore[arg-type]
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
            collate_fn=lambda b: collate(b, self.pad_id),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val, shuffle=False)
