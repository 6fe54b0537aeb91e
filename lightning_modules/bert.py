"""Encoder family: a BERT-style encoder through transformers' own classes. `task=mlm` pre-trains
BertForMaskedLM (15% of the tokens masked: 80% [MASK], 10% a random token, 10% kept); `task=classify`
fine-tunes a sequence classifier on (text, label) rows. From scratch (a BertConfig sized by the run) or
from a pretrained folder (the offline MiniLM, a hub id, an MLM run's exports/hf).

Batches are (ids (B, T), attention mask (B, T), label (B,)) from datamodules/labelled_text.py.
Validation logs val/loss and, for mlm, val/masked_accuracy and val/perplexity beside the baseline of
always answering the commonest masked word (val/frequent_word_accuracy); for classify,
val/accuracy and val/macro_f1 beside the majority-class baseline's (val/majority_accuracy,
val/majority_macro_f1), so every run says whether it beats always guessing the commonest label.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from datamodules.labelled_text import LabelledTextDataModule, encoder_tokenizer
from datamodules.table_text import resolve_model_folder
from genlab.core.errors import GenLabError
from genlab.families.bert import FAMILY
from lightning_modules.attention_maps import AttentionMap, eager_attention, stack_layers, token_strings
from lightning_modules.base import GenLabModule
from lightning_modules.export_nets import ExportNet
from lightning_modules.lora import LoraMixin


class EncoderLogits(nn.Module):
    """A transformers encoder over a fixed length: ids (1, T) int32, mask (1, T) int32 -> logits
    ((1, C) for a classifier, (1, T, V) for a masked LM)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids.long(), attention_mask=mask.long()).logits.float()


def macro_f1(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean F1 over the classes present in the targets or the predictions (scikit-learn's macro)."""
    scores = []
    for c in torch.unique(torch.cat([pred, target])).tolist():
        tp = int(((pred == c) & (target == c)).sum())
        fp = int(((pred == c) & (target != c)).sum())
        fn = int(((pred != c) & (target == c)).sum())
        scores.append(2 * tp / max(1, 2 * tp + fp + fn))
    return sum(scores) / max(1, len(scores))


class EncoderModule(LoraMixin, GenLabModule):
    family = FAMILY
    datamodule_class = LabelledTextDataModule

    def __init__(self, config: Any, data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        from transformers import (
            AutoModelForMaskedLM,
            AutoModelForSequenceClassification,
            BertConfig,
            BertForMaskedLM,
            BertForSequenceClassification,
        )

        cfg = self.run_config.model
        self.task = cfg.task
        self.labels = list(data_info.get("label_names") or [])
        self.max_length = int(data_info["max_length"])
        vocab = int(data_info["vocab_size"])
        heads = {
            "num_labels": max(2, len(self.labels)),
            "id2label": dict(enumerate(self.labels)),
            "label2id": {n: i for i, n in enumerate(self.labels)},
        }
        classify = self.task == "classify"
        if cfg.source == "scratch":
            bert = BertConfig(
                vocab_size=vocab,
                hidden_size=cfg.hidden,
                num_hidden_layers=cfg.n_layer,
                num_attention_heads=cfg.n_head,
                intermediate_size=cfg.intermediate,
                hidden_dropout_prob=cfg.dropout,
                attention_probs_dropout_prob=cfg.dropout,
                max_position_embeddings=max(64, self.max_length),
                pad_token_id=int(data_info["pad_token_id"]),
                **(heads if classify else {}),
            )
            self.model = (BertForSequenceClassification if classify else BertForMaskedLM)(bert)
        else:
            folder = resolve_model_folder(cfg.pretrained)
            if classify:
                self.model = AutoModelForSequenceClassification.from_pretrained(
                    folder, ignore_mismatched_sizes=True, **heads
                )
            else:
                self.model = AutoModelForMaskedLM.from_pretrained(folder)
            if self.model.get_input_embeddings().weight.shape[0] < vocab:
                self.model.resize_token_embeddings(vocab)
            if cfg.finetune == "lora":  # a new classifier head trains in full (and is saved with the adapters)
                self.use_lora(cfg, ["query", "value"], modules_to_save=["classifier"] if classify else None)
        self._tokenizer: Any = None
        self._val: dict[str, Any] = {}

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = encoder_tokenizer(self.data_info["tokenizer"])
        return self._tokenizer

    # -- training ---------------------------------------------------------------------------------------

    def mask_tokens(
        self, ids: torch.Tensor, attn: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """BERT's masking: (masked ids, labels with -100 on the tokens that take no loss)."""
        tok = self.tokenizer
        special = torch.tensor(sorted(set(tok.all_special_ids)), device=ids.device)
        can = (attn == 1) & ~torch.isin(ids, special)
        draw = torch.rand(ids.shape, generator=generator, device="cpu").to(ids.device)
        chosen = can & (draw < self.run_config.model.mask_prob)
        first = can.float().argmax(1)  # every row with a maskable token masks at least one
        rows = can.any(1)
        chosen[rows, first[rows]] |= ~chosen[rows].any(1)
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        masked = ids.clone()
        kind = torch.rand(ids.shape, generator=generator, device="cpu").to(ids.device)
        masked[chosen & (kind < 0.8)] = int(tok.mask_token_id)
        rand = chosen & (kind >= 0.8) & (kind < 0.9)
        vocab = int(self.data_info["vocab_size"])
        masked[rand] = torch.randint(vocab, ids.shape, generator=generator, device="cpu").to(ids.device)[rand]
        return masked, labels

    def forward(self, ids: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids, attention_mask=attn).logits

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        ids, attn, y = batch
        if self.task == "mlm":
            masked, labels = self.mask_tokens(ids, attn)
            loss = self.model(input_ids=masked, attention_mask=attn, labels=labels).loss
        else:
            loss = self.model(input_ids=ids, attention_mask=attn, labels=y).loss
        self.log_step({"train/loss": loss}, ids.shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val = {"loss": 0.0, "n": 0, "correct": 0, "pred": [], "target": [], "words": torch.zeros(0)}

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        ids, attn, y = batch
        v = self._val
        if self.task == "mlm":
            g = torch.Generator().manual_seed(self.run_config.seed * 1000 + batch_idx)  # the same masks every time
            masked, labels = self.mask_tokens(ids, attn, g)
            logits = self(masked, attn)
            keep = labels != -100
            loss = nn.functional.cross_entropy(logits[keep].float(), labels[keep], reduction="sum")
            v["correct"] += int((logits[keep].argmax(-1) == labels[keep]).sum())
            words = torch.bincount(labels[keep].cpu(), minlength=logits.shape[-1]).float()
            v["words"] = words if v["words"].numel() == 0 else v["words"] + words
            count = int(keep.sum())
        else:
            logits = self(ids, attn)
            loss = nn.functional.cross_entropy(logits.float(), y, reduction="sum")
            v["pred"].append(logits.argmax(-1).cpu())
            v["target"].append(y.cpu())
            count = len(y)
        v["loss"] += float(loss)
        v["n"] += count
        self.log(
            "val/loss", loss / max(1, count), on_epoch=True, on_step=False, prog_bar=True, batch_size=max(1, count)
        )

    def on_validation_epoch_end(self) -> None:
        v = self._val
        if not v.get("n"):
            return
        if self.task == "mlm":
            self.log("val/masked_accuracy", v["correct"] / v["n"])
            # baseline: always answering the commonest masked word of these held-out texts (a constant guess
            # cannot do better on them)
            self.log("val/frequent_word_accuracy", float(v["words"].max()) / v["n"] if v["words"].numel() else 0.0)
            self.log("val/perplexity", math.exp(min(v["loss"] / v["n"], 50.0)))
            return
        pred, target = torch.cat(v["pred"]), torch.cat(v["target"])
        majority = torch.full_like(target, int(self.data_info.get("majority_label", 0)))
        self.log("val/accuracy", float((pred == target).float().mean()))
        self.log("val/macro_f1", macro_f1(pred, target))
        self.log("val/majority_accuracy", float((majority == target).float().mean()))
        self.log("val/majority_macro_f1", macro_f1(majority, target))

    # -- capabilities -------------------------------------------------------------------------------------

    def _encode(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.tokenizer(text, truncation=True, max_length=self.context_window, return_tensors="pt")
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    @property
    def context_window(self) -> int:
        """Tokens the encoder reads at most (its position table)."""
        return int(getattr(self.base_model().config, "max_position_embeddings", self.max_length))

    @property
    def mask_token(self) -> str:
        return str(self.tokenizer.mask_token) if self.task == "mlm" else ""

    @torch.no_grad()
    def fill_mask(self, text: str, top_k: int = 5) -> list[dict[str, Any]]:
        if self.task != "mlm":
            raise GenLabError("This encoder was fine-tuned to classify; fill-mask needs an encoder run with task mlm")
        tok = self.tokenizer
        text = text.replace("[MASK]", tok.mask_token)
        ids, attn = self._encode(text)
        where = (ids[0] == tok.mask_token_id).nonzero()
        if not len(where):
            raise GenLabError(
                f"Put {tok.mask_token} where a word is missing, e.g. 'my lord, the {tok.mask_token} is here'"
            )
        pos = int(where[0])
        probs = torch.softmax(self(ids, attn)[0, pos].float(), -1)  # over the whole vocabulary, as pipelines do
        ranked = probs.clone()
        ranked[torch.tensor(tok.all_special_ids, device=probs.device)] = -1.0  # never offer [CLS], [PAD] ...
        top = torch.topk(ranked, min(top_k, probs.numel()))
        out = []
        for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            word = tok.decode([i]).strip()
            filled = ids[0].clone()
            filled[pos] = i
            out.append({"token": word, "score": p, "sequence": tok.decode(filled, skip_special_tokens=True)})
        return out

    def label_names(self) -> list[str]:
        return list(self.labels) if self.task == "classify" else []

    @torch.no_grad()
    def classify(self, text: str) -> dict[str, float]:
        if self.task != "classify":
            raise GenLabError("This encoder was pre-trained with masked words; classification needs a classify run")
        probs = torch.softmax(self(*self._encode(text))[0].float(), -1)
        return {name: float(p) for name, p in zip(self.labels, probs.tolist(), strict=False)}

    @torch.no_grad()
    def attention_maps(self, text: str) -> list[AttentionMap]:
        ids, attn = self._encode(text.replace("[MASK]", str(self.tokenizer.mask_token)))
        model = self.base_model()
        with eager_attention(model):
            out = model(input_ids=ids, attention_mask=attn, output_attentions=True)
        tokens = token_strings(self.tokenizer, ids[0].tolist())
        return [AttentionMap("self", tokens, tokens, stack_layers(out.attentions))]

    @torch.no_grad()
    def position_picture(self) -> tuple[str, torch.Tensor]:
        table = self.base_model().base_model.embeddings.position_embeddings.weight[: self.max_length]
        return "learned position embeddings: position (rows) x dimension (columns)", table.detach().float().cpu()

    # -- samples, parity, export ----------------------------------------------------------------------

    def sample_texts(self) -> dict[str, str]:
        out = {}
        for i, text in enumerate(self.run_config.model.sample_texts):
            if self.task == "mlm":
                if "[MASK]" not in text and str(self.tokenizer.mask_token) not in text:
                    continue
                fills = self.fill_mask(text, top_k=3)
                out[f"fill_{i}"] = f"{text}\n" + "\n".join(f"{f['token']} ({f['score']:.2f})" for f in fills)
            else:
                plain = text.replace("[MASK]", "").strip()
                best = max(self.classify(plain).items(), key=lambda kv: kv[1])
                out[f"class_{i}"] = f"{plain}\n-> {best[0]} ({best[1]:.2f})"
        return out

    def _fixed_ids(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Two fixed rows of max_length tokens: the first sample text, and a spread of vocabulary ids."""
        t, tok = self.max_length, self.tokenizer
        text = (self.run_config.model.sample_texts or ["hello"])[0].replace("[MASK]", str(tok.mask_token))
        first = tok(text, truncation=True, max_length=t, padding="max_length")
        vocab = int(self.data_info["vocab_size"])
        spread = [int(tok.cls_token_id)] + [(i * 7 + 11) % vocab for i in range(t - 2)] + [int(tok.sep_token_id)]
        ids = torch.tensor([first["input_ids"], spread], dtype=torch.int32)
        mask = torch.tensor([first["attention_mask"], [1] * t], dtype=torch.int32)
        return ids, mask

    @torch.no_grad()
    def reference_output(self) -> torch.Tensor:
        ids, mask = self._fixed_ids()
        return self(ids.long().to(self.device), mask.long().to(self.device))

    def export_nets(self) -> dict[str, ExportNet]:
        ids, mask = self._fixed_ids()
        name = "classifier" if self.task == "classify" else "mlm"
        meta = {
            "task": self.task,
            "max_length": self.max_length,
            "labels": self.labels,
            "inputs": {
                "ids": {"meaning": f"token ids from the run's tokenizer, padded to {self.max_length}"},
                "mask": {"meaning": "1 for real tokens, 0 for padding"},
            },
            "outputs": {
                "logits": {"meaning": "class logits" if self.task == "classify" else "token logits per position"}
            },
        }
        return {
            name: ExportNet(
                EncoderLogits(self.plain_model()).eval(),
                (ids, mask),
                ["ids", "mask"],
                ["logits"],
                {"logits": "logits"},
                meta,
            )
        }

    def export_hf(self, folder: str | Path) -> Path:
        """A Hugging Face folder that transformers' fill-mask / text-classification pipelines load."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.plain_model().save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        meta = {"family": "bert", "task": self.task, "run_name": self.run_config.name, "labels": self.labels}
        (folder / "genlab.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return folder

    def on_train_end(self) -> None:
        trainer = getattr(self, "_trainer", None)
        root = Path(trainer.default_root_dir) if trainer is not None else None
        if root is not None and (root / "config.yaml").is_file() and trainer.is_global_zero:
            self.export_hf(root / "exports" / "hf")
