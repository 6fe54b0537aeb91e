"""Chat formatting with loss masking: conversations rendered with the tokenizer's chat template (ChatML
when it has none), and which tokens the model learns (the assistant's replies only).
"""

from __future__ import annotations

from typing import Any

from genlab.core.errors import DataError

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
DEFAULT_SYSTEM = "You are a helpful assistant."
# ChatML, the format SmolLM2 uses; given to tokenizers that come without a chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + DEFAULT_SYSTEM + "<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# -------------------------------------------------------------------------------------------------
# Chat formatting with loss masking


def with_system(messages: list[dict[str, str]], system_prompt: str) -> list[dict[str, str]]:
    if system_prompt and (not messages or messages[0]["role"] != "system"):
        return [{"role": "system", "content": system_prompt}] + list(messages)
    return list(messages)


def render_chat(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def encode_chat(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[bool]]:
    """Token ids of a whole conversation and, per token, whether the loss is taken on it.

    The rendered text is cut into segments at each assistant turn: what the template writes up to and
    including the assistant header is prompt (no loss); the assistant's content and its end marker are
    the response (loss). Segments are tokenized separately, exactly as generation tokenizes a prompt.
    """
    ids: list[int] = []
    mask: list[bool] = []
    done = ""
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt_text = render_chat(tokenizer, messages[:i], add_generation_prompt=True)
        full_text = render_chat(tokenizer, messages[: i + 1], add_generation_prompt=False)
        if not (prompt_text.startswith(done) and full_text.startswith(prompt_text)):
            raise DataError(
                "The chat template does not render conversations incrementally; cannot mask the loss to responses"
            )
        for text, learn in ((prompt_text[len(done) :], False), (full_text[len(prompt_text) :], True)):
            if text:
                piece = tokenizer(text, add_special_tokens=False)["input_ids"]
                ids += piece
                mask += [learn] * len(piece)
        done = full_text
    return ids, mask
