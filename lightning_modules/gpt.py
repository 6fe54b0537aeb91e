"""GPT family: a GPT-2-shaped transformer trained from scratch (the native, nanoGPT-style network of
lightning_modules/gpt_native.py; exported as transformers' GPT2LMHeadModel), or a pretrained causal LM
fine-tuned fully or with LoRA (peft, on transformers' model).

Batches are (x, y) from datamodules.text: x (B, T) token ids, y (B, T) next-token targets with -100
where no loss is taken. Validation logs val/loss, val/perplexity and BLEU/chrF on held-out
prompt -> continuation pairs. Runs export a plain Hugging Face folder (exports/hf).
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from datamodules.text import TextDataModule
from datamodules.tokenizers import tokenizer_from_spec
from genlab.core.config import RunConfig
from genlab.core.errors import GenLabError
from genlab.core.optim import build_optimizer, build_scheduler
from genlab.families.gpt import FAMILY, GPTModelConfig, GPTRunConfig
from lightning_modules.attention_maps import (
    AttentionMap,
    causal_lm_attention,
    fused_attention_weights,
    position_table,
    token_strings,
)
from lightning_modules.base import GenLabModule
from lightning_modules.distill import kd_loss
from lightning_modules.dpo import answer_logps, dpo_loss
from lightning_modules.export_nets import CausalLMLogits, ExportNet
from lightning_modules.gpt_native import GPTShape, NativeGPT, is_hf_state, state_from_hf, to_hf_model
from lightning_modules.lora import LoraMixin
from lightning_modules.text_base import TextLMModule
from lightning_modules.text_sampling import default_sampling

LORA_DEFAULT_TARGETS = {
    "gpt2": ["c_attn", "c_proj"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gpt_neox": ["query_key_value"],
    "opt": ["q_proj", "v_proj"],
}


def build_scratch_model(cfg: GPTModelConfig, vocab_size: int, block_size: int, eos_id: int | None = None) -> NativeGPT:
    """The native GPT sized from the config (eos_id is kept for callers; the export sets it)."""
    return NativeGPT(scratch_shape(cfg, vocab_size, block_size))


def scratch_shape(cfg: GPTModelConfig, vocab_size: int, block_size: int) -> GPTShape:
    return GPTShape(vocab_size, block_size, cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.dropout, cfg.bias)


def lora_targets(model: Any, wanted: list[str]) -> list[str]:
    if wanted:
        return list(wanted)
    kind = getattr(model.config, "model_type", "")
    if kind in LORA_DEFAULT_TARGETS:
        return LORA_DEFAULT_TARGETS[kind]
    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    picked = [n for n in ("q_proj", "k_proj", "v_proj", "o_proj", "c_attn", "query_key_value") if n in names]
    if not picked:
        raise ValueError(
            f"model.lora_targets: cannot guess the attention layers of a {kind!r} model; name them (linear layers: {sorted(names)[:20]})"
        )
    return picked


class GPTModule(LoraMixin, TextLMModule):
    """Causal LM training with a token-level cross-entropy; the monitored metric is val/loss."""

    family = FAMILY
    datamodule_class = TextDataModule

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        cfg: GPTModelConfig = self.run_config.model
        self.native = cfg.source == "scratch"
        if self.native:
            self.model = build_scratch_model(
                cfg, int(data_info["vocab_size"]), self.block_size, data_info.get("eos_token_id")
            )
        else:
            from genlab.core.assets import load_pretrained_lm

            self.model = load_pretrained_lm(cfg.pretrained, dtype=torch.float32, attn_implementation="sdpa")
            if self.model.get_input_embeddings().weight.shape[0] < int(data_info["vocab_size"]):
                self.model.resize_token_embeddings(int(data_info["vocab_size"]))
            if cfg.gradient_checkpointing:
                self.model.gradient_checkpointing_enable()
                self.model.config.use_cache = False
            if cfg.finetune == "lora":
                self.use_lora(cfg, lora_targets(self.model, cfg.lora_targets), task_type="CAUSAL_LM")

    # -- context window ---------------------------------------------------------------------------------

    @property
    def context_window(self) -> int:
        """How many tokens the model can attend to (its position table, or the training block)."""
        if self.native:
            return self.model.shape.block_size
        base = self.base_model()
        n = getattr(base.config, "n_positions", None) or getattr(base.config, "max_position_embeddings", None)
        return int(n) if n else self.block_size

    def generation_defaults(self) -> dict[str, Any]:
        """Decoding defaults (lightning_modules/text_sampling.default_sampling): a pretrained base's own
        sampling generation_config (SmolLM2: its model card's), else the run's sample settings."""
        cfg = self.run_config.model
        gen = None if self.native else getattr(self.base_model(), "generation_config", None)
        if gen is None or not gen.do_sample:
            return {"temperature": cfg.sample_temperature, "top_k": cfg.sample_top_k, "repetition_penalty": 1.0}
        return {
            "temperature": float(gen.temperature if gen.temperature is not None else 1.0),
            "top_k": int(gen.top_k or 0),
            "top_p": float(gen.top_p if gen.top_p is not None else 1.0),
            "repetition_penalty": float(gen.repetition_penalty or 1.0),
        }

    # -- forward ----------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.native:
            return self.model(x)  # (B, T, V)
        return self.model(input_ids=x, use_cache=False).logits  # (B, T, V)

    # -- generation hooks ---------------------------------------------------------------------------

    @torch.no_grad()
    def next_logits(self, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        """Logits of the next token (1, V) given the new ids (1, t) and the cache from the last call."""
        if self.native:
            cache = cache if cache is not None else self.model.new_cache(ids.shape[0])
            return self.model(ids, cache)[:, -1, :].float(), cache
        # logits of the last position only: a long prompt's prefill skips (t - 1) x V output rows
        out = self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :].float(), out.past_key_values

    def preference_policy(self, config: Any, data_info: dict[str, Any], *, beta: float) -> GenLabModule:
        """PreferenceTunable: the DPO policy built from `config`, taught against this module as the frozen
        reference (load this module's weights into it to start where the parent ended)."""
        return DPOGPT(config, data_info, self, beta)

    def slot_cache(self, slots: int) -> Any:
        """A cache for `slots` sequences decoded together at their own positions (BatchDecoder), or None
        for a pretrained model (transformers' caches hold one position for the whole batch)."""
        return self.model.new_slot_cache(slots) if self.native else None

    @torch.no_grad()
    def slot_logits(self, cache: Any, ids: torch.Tensor, rows: list[int], starts: list[int]) -> torch.Tensor:
        """Logits of the next token (B, V) of B sequences in cache rows `rows`, new ids (B, T) from `starts`."""
        return self.model.forward_slots(ids, cache, rows, starts).float()

    # -- attention -----------------------------------------------------------------------------------

    @torch.no_grad()
    def attention_maps(self, text: str) -> list[AttentionMap]:
        """Causal self-attention per layer and head on the text (cut to the context window)."""
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])[: min(self.context_window, 256)]
        if not ids:
            raise GenLabError("Give a text with at least one token")
        x = torch.tensor([ids], device=self.device)
        weights = fused_attention_weights(self.model, x) if self.native else causal_lm_attention(self.base_model(), x)
        tokens = token_strings(self.tokenizer, ids)
        return [AttentionMap("self", tokens, tokens, weights, causal=True)]

    @torch.no_grad()
    def position_picture(self) -> tuple[str, torch.Tensor]:
        return position_table(self.model if self.native else self.base_model(), min(self.context_window, 256))

    # -- optimisation -------------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        """AdamW-style groups: weight decay on matrices only (not biases, norms), trainable params only."""
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        wd = self.run_config.optim.weight_decay
        groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
        opt = build_optimizer(groups, self.run_config.optim)
        sched = build_scheduler(opt, self.run_config.optim, self.total_training_steps(), self.family.monitor)
        return opt if sched is None else {"optimizer": opt, "lr_scheduler": sched}

    # -- checkpoints and export ---------------------------------------------------------------------

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Scratch checkpoints of the earlier transformers-based GPT-2 load into a native GPT of the same
        network (biases, tanh GELU), converted from the Conv1D layout; LoRA ones go through LoraMixin."""
        if self.native and is_hf_state(state_dict, "model."):
            self.model = NativeGPT(replace(self.model.shape, bias=True, gelu="tanh"))
            state_dict = state_from_hf(state_dict, "model.")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def plain_model(self) -> Any:
        """A plain transformers model with the trained weights (a native GPT mapped into GPT2LMHeadModel;
        otherwise LoraMixin's: LoRA merged into a copy)."""
        if self.native:
            return to_hf_model(self.model, self.data_info.get("eos_token_id"))
        return super().plain_model()

    @property
    def export_context(self) -> int:
        """The fixed context T of the exported LM: the training block, within the position table."""
        return min(self.block_size, self.context_window)

    def export_nets(self) -> dict[str, ExportNet]:
        """The causal LM over a fixed context, LoRA merged into a copy: ids (1, T) int32 -> logits (1, T, V).

        Parity inputs: the first sample prompt right-padded to T, and a fixed spread of token ids."""
        t = self.export_context
        vocab = int(self.data_info["vocab_size"])
        tok = self.tokenizer
        pad = tok.eos_token_id if isinstance(tok.eos_token_id, int) else 0
        prompt = (self.run_config.model.sample_prompts or ["\n"])[0]
        ids = list(tok.encode(prompt))[:t]
        rows = [ids + [pad] * (t - len(ids)), ((torch.arange(t) * 7 + 3) % vocab).tolist()]
        meta = {
            "context": t,
            "vocab_size": vocab,
            "inputs": {"ids": {"meaning": f"token ids, right-padded to {t}; read the logits at position len-1"}},
            "outputs": {"logits": {"meaning": "next-token logits at every position"}},
            "lora_merged": self.is_lora,
            "eos_token_id": tok.eos_token_id,
        }
        return {
            "lm": ExportNet(
                CausalLMLogits(self.plain_model()).eval(),
                (torch.tensor(rows, dtype=torch.int32),),
                ["ids"],
                ["logits"],
                {"logits": "logits"},
                meta,
            )
        }

    def export_hf(self, folder: str | Path) -> Path:
        """Save a Hugging Face folder: safetensors weights, tokenizer, generation config (+ LoRA adapter)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        cfg = self.run_config.model
        model = self.plain_model()
        tok = self.tokenizer
        gen = model.generation_config
        own = default_sampling(self)  # the same defaults as the CLI, the app and the REST API
        gen.do_sample = own.temperature > 0
        if gen.do_sample:
            gen.temperature, gen.top_k, gen.top_p = own.temperature, own.top_k or None, own.top_p
        gen.repetition_penalty = own.repetition_penalty
        gen.max_new_tokens = cfg.sample_new_tokens
        eos = [
            i
            for i in {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>") if self.is_chat else None}
            if isinstance(i, int) and i >= 0
        ]
        gen.eos_token_id = eos[0] if len(eos) == 1 else (eos or None)
        gen.pad_token_id = tok.pad_token_id
        model.save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)
        if self.is_lora:
            self.model.save_pretrained(folder.parent / "lora_adapter")
        meta = {
            "family": "gpt",
            "run_name": self.run_config.name,
            "format": self.data_info.get("format"),
            "tokenizer": self.data_info["tokenizer"].get("kind"),
            "block_size": self.block_size,
        }
        (folder / "genlab.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return folder

    def _run_folder(self) -> Path | None:
        trainer = getattr(self, "_trainer", None)
        root = Path(trainer.default_root_dir) if trainer is not None else None
        return root if root is not None and (root / "config.yaml").is_file() else None

    def on_fit_start(self) -> None:
        folder = self._run_folder()
        if folder is not None and self.trainer.is_global_zero:
            self.tokenizer.save_pretrained(folder / "tokenizer")

    def on_train_end(self) -> None:
        folder = self._run_folder()
        if folder is not None and self.trainer.is_global_zero:
            self.export_hf(folder / "exports" / "hf")

    # -- HuggingFaceLoadable: chat with a pretrained model that no run trained ----------------------

    @classmethod
    def from_pretrained_model(cls, name: str = "smollm2", *, system_prompt: str = "") -> GPTModule:
        """A GPTModule around an untouched pretrained model (chat with SmolLM2 without training a run)."""
        spec = {"kind": "pretrained", "name": name, "chat": True}
        tok = tokenizer_from_spec(spec)
        config = GPTRunConfig(
            name=f"pretrained {name}",
            model={"source": "pretrained", "pretrained": name, "finetune": "full"},
            data={"format": "chat", "block_size": 2048, "system_prompt": system_prompt},
        )
        info = {
            "name": name,
            "source": "pretrained",
            "format": "chat",
            "tokenizer": spec,
            "vocab_size": len(tok),
            "block_size": 2048,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
            "eval_pairs": [],
        }
        module = cls(config.model_dump(mode="json"), info)
        module._tokenizer = tok
        return module.eval()

    # -- ChatFinetunable: the feedback fine-tune continues the run's own Hugging Face export ----------

    @classmethod
    def feedback_finetune_config(cls, config: dict[str, Any], export: Path, chat_data: Path) -> dict[str, Any]:
        """Fully fine-tune the export (a pretrained start) on the chat jsonl with its own tokenizer; only a
        few held-out pairs are scored (the set is small)."""
        raw = copy.deepcopy(config)
        raw["model"].update({"source": "pretrained", "pretrained": str(export), "finetune": "full"})
        raw["data"].update(
            {"source": "file", "name": str(chat_data), "format": "chat", "tokenizer": "pretrained", "max_chars": None}
        )
        raw["data"]["eval_pairs"] = min(int(raw["data"].get("eval_pairs", 0)), 4)
        return raw

    # -- Distillable: a GPT with half the layers, taught by knowledge distillation -------------------

    def student_overrides(self) -> list[str]:
        """Half the teacher's layers. Only GPTs trained from scratch teach: a pretrained teacher's
        vocabulary needs its own student."""
        if self.run_config.model.source != "scratch":
            raise GenLabError(
                "distillation takes GPT runs trained from scratch; a pretrained teacher's vocabulary needs its own student"
            )
        return [f"model.n_layer={max(1, int(self.run_config.model.n_layer) // 2)}"]

    def distill_student(
        self, config: RunConfig, data_info: dict[str, Any], *, temperature: float, alpha: float
    ) -> DistilledGPT:
        self.student_overrides()  # raises for a teacher that cannot teach
        return DistilledGPT(config, data_info, self, temperature, alpha)


class DistilledGPT(GPTModule):
    """A GPT student: the token loss mixed with the teacher's softened next-token distribution. It inherits
    `family`, so it trains, saves and reloads as a plain GPT run; the teacher is held outside its state."""

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
