"""Request bodies of the OpenAI-compatible routes (/v1/...), in OpenAI's field names and bounds.

Fields a client may send that GenLab does not use (presence_penalty, logit_bias, user, ...) are accepted
and ignored, as OpenAI-compatible servers do: LangChain and the official clients send some by default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genlab.serve.schemas import MAX_BATCH, MAX_MESSAGES, MAX_NEW_TOKENS, MAX_PROMPT_CHARS

MAX_CHOICES = 8  # n: answers per request


class OpenAIBody(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(OpenAIBody):
    type: Literal["text"]
    text: str = Field(..., max_length=MAX_PROMPT_CHARS)


class StreamOptions(OpenAIBody):
    include_usage: bool = False


class TextSampling(OpenAIBody):
    model: str = Field(..., max_length=200, description="A served run id (GET /v1/models lists them)")
    max_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS, description="Tokens to generate at most")
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="0 is greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=MAX_CHOICES, description="How many answers")
    stream: bool = Field(False, description="Server-sent events ending in data: [DONE]")
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = Field(None, description="Up to 4 stop strings (not included)")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Same seed, same text")

    @field_validator("stop")
    @classmethod
    def _stops(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and len(v) > 4:
            raise ValueError("stop takes at most 4 strings")
        return v

    def stops(self) -> list[str]:
        items = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s[:64] for s in items if s]

    def sampling(self, default_tokens: int, choice: int) -> dict[str, Any]:
        """GenLab SamplingSettings fields for answer number `choice` (each answer its own seed)."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": 0,  # OpenAI has no top-k: the whole vocabulary, as top_p leaves it
            "max_new_tokens": self.max_tokens or default_tokens,
            "stop": self.stops(),
            "seed": None if self.seed is None else self.seed + choice,
        }


class ChatMessage(OpenAIBody):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ChatCompletionRequest(TextSampling):
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS, description="Newer name of max_tokens")


class CompletionRequest(TextSampling):
    prompt: str | list[str] = Field(..., description="Text to continue (a list: one answer set per prompt)")
    max_tokens: int | None = Field(16, ge=1, le=MAX_NEW_TOKENS, description="Tokens to generate at most")

    @field_validator("prompt")
    @classmethod
    def _prompts(cls, v: str | list[str]) -> str | list[str]:
        items = [v] if isinstance(v, str) else v
        if not items or len(items) > MAX_CHOICES:
            raise ValueError(f"give 1 to {MAX_CHOICES} prompts")
        if any(len(p) > MAX_PROMPT_CHARS for p in items):
            raise ValueError(f"a prompt is longer than {MAX_PROMPT_CHARS} characters")
        return v

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class ImageRequest(OpenAIBody):
    model: str = Field(..., max_length=200, description="A served image run id")
    prompt: str = Field("", max_length=4000, description="A class name for conditional models; else unused")
    n: int = Field(1, ge=1, le=MAX_BATCH)
    size: str | None = Field(None, max_length=32, description="Ignored: images have the model's own size")
    response_format: Literal["b64_json", "url"] | None = Field(None, description="url: a data: URL")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="GenLab extension: same seed, same images")
