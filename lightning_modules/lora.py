"""LoRA fine-tuning for the transformer families (gpt, t5, bert), in one place so they wrap, save, reload
and merge adapters the same way. What differs stays with each family: which layers get adapters, peft's
task type, and (bert) a new classifier head that trains in full through peft's modules_to_save."""

from __future__ import annotations

import copy
from typing import Any


class LoraMixin:
    """Put before GenLabModule in the bases (it overrides on_save_checkpoint and load_state_dict).

    `self.model` is a transformers model; use_lora wraps it in peft adapters. The frozen base is never
    saved: checkpoints keep only the keys that train, and loading one fills the rest from the pretrained
    weights the module was just built with."""

    model: Any
    is_lora = False

    def use_lora(self, cfg: Any, targets: list[str], **options: Any) -> None:
        """Wrap self.model in LoRA adapters on the `targets` layers; cfg gives lora_r, lora_alpha and
        lora_dropout, `options` go to peft's LoraConfig (task_type, modules_to_save)."""
        from peft import LoraConfig, get_peft_model

        lcfg = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=targets,
            **options,
        )
        self.model = get_peft_model(self.model, lcfg)
        self.is_lora = True
        self.strict_loading = False  # checkpoints lack the frozen base (see load_state_dict)

    def base_model(self) -> Any:
        """The transformers model under the LoRA wrapper (the model itself when fully trained)."""
        return self.model.get_base_model() if self.is_lora else self.model

    def plain_model(self) -> Any:
        """A plain transformers model: LoRA adapters merged into a copy, or the model itself."""
        return copy.deepcopy(self.model).merge_and_unload() if self.is_lora else self.model

    def merge_lora(self) -> None:
        """Fold LoRA adapters into the base weights in place (same outputs, plain model afterwards)."""
        if self.is_lora:
            self.model = self.model.merge_and_unload()
            self.is_lora = False

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only what trains: the adapters and any module peft trains in full (modules_to_save)."""
        if self.is_lora:
            state = checkpoint.get("state_dict", {})
            checkpoint["state_dict"] = {k: v for k, v in state.items() if "lora_" in k or "modules_to_save" in k}

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """A LoRA checkpoint holds only what trained: the frozen rest is this module's own pretrained weights."""
        if self.is_lora:
            full = self.state_dict()
            full.update(state_dict)
            state_dict = full
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
