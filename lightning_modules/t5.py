"""Seq2seq family: a T5-style encoder-decoder through transformers' own T5ForConditionalGeneration, built
from a T5Config sized by the run (from scratch) or loaded with from_pretrained (a hub id or a local
folder), fully fine-tuned or with LoRA adapters (peft).

Batches are (source ids (B, S), source mask (B, S), target ids (B, T) with -100 on padding) from
datamodules/text_pairs.py. Validation logs val/loss and, on held-out pairs generated greedily, val/bleu,
val/chrf and val/exact_match beside two baselines: copying the source (val/copy_*) and always answering
the commonest training target (val/frequent_*).

Generation goes through the text families' engine API (genlab/use/generate.py and its safety gate) via
TextGenerator.next_logits: the prompt is the source, the first call encodes it and returns the logits
of the first target token; later calls feed one target token with the decoder's KV cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from datamodules.table_text import resolve_model_folder
from datamodules.text_pairs import TextPairsDataModule, pair_tokenizer
from genlab.families.t5 import FAMILY
from genlab.metrics.text import bleu_chrf
from lightning_modules.attention_maps import AttentionMap, eager_attention, stack_layers, token_strings
from lightning_modules.base import GenLabModule
from lightning_modules.export_nets import ExportNet
from lightning_modules.lora import LoraMixin


class EncoderNet(nn.Module):
    """The T5 encoder: source ids (1, S) int32, mask (1, S) int32 -> hidden states (1, S, D)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.encoder = model.get_encoder()

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=ids.long(), attention_mask=mask.long()).last_hidden_state


class DecoderNet(nn.Module):
    """The T5 decoder over a fixed target length: decoder ids (1, T) int32, encoder states (1, S, D),
    source mask (1, S) int32 -> next-token logits at every position (1, T, V)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.model(
            encoder_outputs=(states,), attention_mask=mask.long(), decoder_input_ids=ids.long(), use_cache=False
        )
        return out.logits.float()


def exact_match(hyps: list[str], refs: list[str]) -> float:
    return 100.0 * sum(h.strip() == r.strip() for h, r in zip(hyps, refs, strict=True)) / max(1, len(refs))


class Seq2SeqModule(LoraMixin, GenLabModule):
    family = FAMILY
    datamodule_class = TextPairsDataModule

    def __init__(self, config: Any, data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        from transformers import AutoModelForSeq2SeqLM, T5Config, T5ForConditionalGeneration

        cfg = self.run_config.model
        vocab = int(data_info["vocab_size"])
        pad, eos = int(data_info["pad_token_id"]), int(data_info["eos_token_id"])
        if cfg.source == "scratch":
            t5 = T5Config(
                vocab_size=vocab,
                d_model=cfg.d_model,
                d_kv=cfg.d_model // cfg.n_head,
                d_ff=cfg.d_ff,
                num_layers=cfg.n_layer,
                num_decoder_layers=cfg.n_layer,
                num_heads=cfg.n_head,
                dropout_rate=cfg.dropout,
                pad_token_id=pad,
                eos_token_id=eos,
                decoder_start_token_id=pad,
            )
            self.model = T5ForConditionalGeneration(t5)
        else:
            self.model = AutoModelForSeq2SeqLM.from_pretrained(resolve_model_folder(cfg.pretrained))
            if self.model.get_input_embeddings().weight.shape[0] < vocab:
                self.model.resize_token_embeddings(vocab)
            if cfg.finetune == "lora":
                self.use_lora(cfg, ["q", "v"], task_type="SEQ_2_SEQ_LM")
        self._tokenizer: Any = None
        self._val_sum, self._val_count = 0.0, 0

    # -- TextGenerator ----------------------------------------------------------------------------------

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = pair_tokenizer(self.data_info["tokenizer"])
        return self._tokenizer

    @property
    def context_window(self) -> int:
        return 1 << 30  # the decoder's own output has no window; the source is cut to max_source_len

    @property
    def is_chat(self) -> bool:
        return False

    def source_ids(self, text: str) -> list[int]:
        """The source as the model reads it: ending with </s>, cut to max_source_len."""
        ids = list(self.tokenizer(text)["input_ids"])
        eos = int(self.tokenizer.eos_token_id)
        if not ids or ids[-1] != eos:
            ids.append(eos)
        limit = int(self.data_info["max_source_len"])
        return ids if len(ids) <= limit else ids[: limit - 1] + [eos]

    @torch.no_grad()
    def next_logits(self, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        """First call: ids are the source (1, S); encode it and start the decoder. Later calls: ids are the
        last target token (1, 1). The cache holds (encoder states, source mask, decoder KV cache)."""
        model = self.base_model()
        if cache is None:
            src = ids[0].tolist()
            eos = int(self.tokenizer.eos_token_id)
            if not src or src[-1] != eos:
                src = src + [eos]
            limit = int(self.data_info["max_source_len"])
            src = src if len(src) <= limit else src[: limit - 1] + [eos]
            src_t = torch.tensor([src], device=self.device)
            mask = torch.ones_like(src_t)
            states = model.get_encoder()(input_ids=src_t, attention_mask=mask).last_hidden_state
            step = torch.tensor([[int(model.config.decoder_start_token_id)]], device=self.device)
            past = None
        else:
            states, mask, past = cache
            step = ids[:, -1:]
        out = model(
            encoder_outputs=(states,), attention_mask=mask, decoder_input_ids=step, past_key_values=past, use_cache=True
        )
        return out.logits[:, -1, :].float(), (states, mask, out.past_key_values)

    # -- training ---------------------------------------------------------------------------------------

    def forward(self, src: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) of the targets."""
        return self.model(input_ids=src, attention_mask=mask, labels=labels).logits

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        src, mask, labels = batch
        loss = self.model(input_ids=src, attention_mask=mask, labels=labels).loss
        self.log_step({"train/loss": loss}, src.shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_sum, self._val_count = 0.0, 0

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        src, mask, labels = batch
        logits = self(src, mask, labels)
        keep = labels != -100
        total = nn.functional.cross_entropy(logits[keep].float(), labels[keep], reduction="sum")
        count = int(keep.sum())
        self._val_sum += float(total)
        self._val_count += count
        self.log(
            "val/loss", total / max(1, count), on_epoch=True, on_step=False, prog_bar=True, batch_size=max(1, count)
        )

    @torch.no_grad()
    def translate_batch(self, sources: list[str], max_new_tokens: int) -> list[str]:
        """Greedy outputs for many sources at once (metrics and samples; people get the gated API)."""
        if not sources:
            return []
        tok = self.tokenizer
        rows = [self.source_ids(s) for s in sources]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), int(tok.pad_token_id), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
        was_training = self.training
        self.eval()
        try:
            out = self.base_model().generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
            )
        finally:
            self.train(was_training)
        return [t.strip() for t in tok.batch_decode(out, skip_special_tokens=True)]

    def on_validation_epoch_end(self) -> None:
        if getattr(self.trainer, "sanity_checking", False):
            return
        pairs = self.data_info.get("eval_pairs") or []
        if not pairs:
            return
        refs = [p["reference"] for p in pairs]
        hyps = self.translate_batch([p["source"] for p in pairs], int(self.data_info["max_target_len"]) + 2)
        copy_hyps = [p["source"] for p in pairs]
        frequent = [str(self.data_info.get("frequent_target", ""))] * len(pairs)
        for prefix, h in (("", hyps), ("copy_", copy_hyps), ("frequent_", frequent)):
            scores = bleu_chrf(h, refs)
            self.log(f"val/{prefix}bleu", scores["bleu"])
            self.log(f"val/{prefix}chrf", scores["chrf"])
            self.log(f"val/{prefix}exact_match", exact_match(h, refs))

    def sample_texts(self) -> dict[str, str]:
        cfg = self.run_config.model
        outs = self.translate_batch(list(cfg.sample_sources), cfg.sample_new_tokens)
        return {f"sample_{i}": f"{s} -> {o}" for i, (s, o) in enumerate(zip(cfg.sample_sources, outs, strict=True))}

    # -- attention --------------------------------------------------------------------------------------

    @torch.no_grad()
    def attention_maps(self, text: str) -> list[AttentionMap]:
        """Encoder self-attention over the source, decoder self-attention and cross-attention over the
        model's own greedy output (up to max_target_len tokens)."""
        model, tok = self.base_model(), self.tokenizer
        src = self.source_ids(text)
        out_ids = self.translate_ids(src, int(self.data_info["max_target_len"]))
        dec = [int(model.config.decoder_start_token_id)] + out_ids
        src_t = torch.tensor([src], device=self.device)
        with eager_attention(model):
            out = model(
                input_ids=src_t,
                attention_mask=torch.ones_like(src_t),
                decoder_input_ids=torch.tensor([dec], device=self.device),
                output_attentions=True,
                use_cache=False,
            )
        s_tok, d_tok = token_strings(tok, src), token_strings(tok, dec)
        return [
            AttentionMap("encoder", s_tok, s_tok, stack_layers(out.encoder_attentions)),
            AttentionMap("decoder", d_tok, d_tok, stack_layers(out.decoder_attentions), causal=True),
            AttentionMap("cross", d_tok, s_tok, stack_layers(out.cross_attentions)),
        ]

    def translate_ids(self, src: list[int], max_new_tokens: int) -> list[int]:
        src_t = torch.tensor([src], device=self.device)
        out = self.base_model().generate(
            input_ids=src_t, attention_mask=torch.ones_like(src_t), max_new_tokens=max_new_tokens, do_sample=False
        )
        return [i for i in out[0, 1:].tolist() if i != int(self.tokenizer.pad_token_id)]

    @torch.no_grad()
    def position_picture(self) -> tuple[str, torch.Tensor]:
        """T5 has no position table: each head adds a learned bias by relative distance (bucketed)."""
        attn = self.base_model().get_encoder().block[0].layer[0].SelfAttention
        n = int(self.data_info["max_source_len"])
        bias = attn.compute_bias(n, n, device=self.device)[0, :, n - 1, :]  # (H, n): last query to every key
        return f"relative position bias: head (rows) x key distance {-(n - 1)}..0 (columns)", bias.float().cpu()

    # -- parity, checkpoints, export --------------------------------------------------------------------

    def _fixed_inputs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Two fixed sources padded to max_source_len with their masks, and fixed decoder ids (2, T)."""
        s, t = int(self.data_info["max_source_len"]), int(self.data_info["max_target_len"])
        vocab, pad = int(self.data_info["vocab_size"]), int(self.tokenizer.pad_token_id)
        first = self.source_ids((self.run_config.model.sample_sources or ["hello"])[0])
        spread = [(i * 7 + 5) % vocab for i in range(s - 1)] + [int(self.tokenizer.eos_token_id)]
        ids = torch.full((2, s), pad, dtype=torch.int32)
        mask = torch.zeros((2, s), dtype=torch.int32)
        for i, row in enumerate((first, spread)):
            ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row, dtype=torch.int32), 1
        start = int(self.base_model().config.decoder_start_token_id)
        dec = torch.tensor([[start] + [(i * 5 + 3) % vocab for i in range(t - 1)]] * 2, dtype=torch.int32)
        return ids, mask, dec

    @torch.no_grad()
    def reference_output(self) -> torch.Tensor:
        ids, mask, dec = (x.long().to(self.device) for x in self._fixed_inputs())
        return self.base_model()(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits

    def export_nets(self) -> dict[str, ExportNet]:
        ids, mask, dec = self._fixed_inputs()
        model = self.plain_model().eval()
        enc = EncoderNet(model).eval()
        with torch.no_grad():
            states = enc(ids, mask)
        base = {
            "max_source_len": ids.shape[1],
            "max_target_len": dec.shape[1],
            "vocab_size": int(self.data_info["vocab_size"]),
        }
        return {
            "encoder": ExportNet(
                enc,
                (ids, mask),
                ["ids", "mask"],
                ["states"],
                {"states": "tensor"},
                base | {"outputs": {"states": {"meaning": "encoder hidden states, fed to the decoder"}}},
                onnx_dynamo=False,
            ),
            "decoder": ExportNet(
                DecoderNet(model).eval(),
                (dec, states, mask),
                ["ids", "states", "mask"],
                ["logits"],
                {"logits": "logits"},
                base
                | {
                    "decoder_start_token_id": int(model.config.decoder_start_token_id),
                    "outputs": {"logits": {"meaning": "next-token logits at every decoder position"}},
                },
                onnx_dynamo=False,
            ),
        }

    def export_hf(self, folder: str | Path) -> Path:
        """A Hugging Face folder (weights, tokenizer, generation config) that transformers' own
        AutoModelForSeq2SeqLM + generate load."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        model = self.plain_model()
        gen = model.generation_config
        gen.max_new_tokens = int(self.data_info["max_target_len"]) + 2
        gen.decoder_start_token_id = int(model.config.decoder_start_token_id)
        gen.eos_token_id, gen.pad_token_id = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        meta = {
            "family": "t5",
            "run_name": self.run_config.name,
            "max_source_len": self.data_info["max_source_len"],
        }
        (folder / "genlab.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return folder

    def on_train_end(self) -> None:
        trainer = getattr(self, "_trainer", None)
        root = Path(trainer.default_root_dir) if trainer is not None else None
        if root is not None and (root / "config.yaml").is_file() and trainer.is_global_zero:
            self.export_hf(root / "exports" / "hf")
