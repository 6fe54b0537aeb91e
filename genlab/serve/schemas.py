"""Request and response bodies of the REST API: every field bounded, so a bad request is a clear 422
before any model is touched. Request bodies derive from Body: unknown keys, non-finite numbers (NaN,
Infinity, 1e309) and text that cannot be encoded as UTF-8 (a lone surrogate such as "\\ud800") are refused."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_NEW_TOKENS = 512
MAX_PROMPT_CHARS = 8000
MAX_MESSAGES = 64
MAX_BATCH = 64  # images per request
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_JSON_BYTES = 4 * 1024 * 1024  # 64 messages of 8000 characters, each escaped as \\uXXXX, still fit


def _unencodable(value: Any, depth: int = 0) -> bool:
    """True when a string anywhere in a parsed JSON value cannot be written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if depth > 32:
        return False
    if isinstance(value, dict):
        return any(_unencodable(k, depth + 1) or _unencodable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_unencodable(v, depth + 1) for v in value)
    return False


class Screened(BaseModel):
    """The base of every request body (OpenAI-shaped ones included): no NaN or infinity in a number, no
    text that cannot be encoded."""

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        if _unencodable(data):
            raise ValueError("text must be valid Unicode: it holds a lone surrogate (such as \\ud800)")
        return data


class Body(Screened):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Sampling(Body):
    max_new_tokens: int = Field(64, ge=1, le=MAX_NEW_TOKENS, description="Tokens to generate at most")
    # None: the model's own default, the same as the CLI's and the app's (SmolLM2: temperature 0.2, top-p 0.9)
    temperature: float | None = Field(None, ge=0.0, le=5.0, description="0 is greedy (default: the model's own)")
    top_k: int | None = Field(None, ge=0, le=100_000, description="Keep the k likeliest tokens (0: off)")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling mass (default: the model's)")
    repetition_penalty: float | None = Field(None, ge=0.5, le=5.0, description="1 turns it off")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Same seed, same text")
    stop: list[str] = Field(default_factory=list, max_length=8, description="Stop strings (not included)")
    stream: bool = Field(False, description="Server-sent events: screened chunks as they are released")

    def settings(self) -> dict[str, Any]:
        stop = [s[:64] for s in self.stop]
        return self.model_dump(exclude={"stream", "prompt", "messages", "system_prompt"}) | {"stop": stop}


class GenerateRequest(Sampling):
    prompt: str = Field(..., max_length=MAX_PROMPT_CHARS, description="Text to continue (or a chat message)")
    system_prompt: str = Field("", max_length=4000, description="Chat models only: the system prompt")


class Message(Body):
    role: Literal["system", "user", "assistant"]
    content: str = Field(..., max_length=MAX_PROMPT_CHARS)


class ChatRequest(Sampling):
    messages: list[Message] = Field(
        ..., min_length=1, max_length=MAX_MESSAGES, description="The conversation; the last one is the user's"
    )


class GenerationOut(BaseModel):
    text: str = Field(description="What the safety gate released (a notice where it withheld text)")
    withheld: bool
    action: str = Field(description="pass, blocked, masked or annotated")
    n_tokens: int
    stop_reason: str
    attempts: int
    safety: dict[str, Any] | None


class SampleRequest(Body):
    n: int = Field(1, ge=1, le=MAX_BATCH, description="Images to draw")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    label: int | str | None = Field(None, description="Conditional models: the class (index or name)")
    format: Literal["png", "base64"] = Field("png", description="png: one grid image; base64: each image as PNG")
    sampler: str | None = Field(
        None, description="Models with samplers: which one, e.g. ddim or euler (default: the run's)"
    )
    steps: int | None = Field(None, description="Models with samplers: sampling steps (default: the run's)")
    guidance_scale: float | None = Field(
        None, description="Conditional models with samplers: classifier-free guidance scale"
    )
    truncation: float | None = Field(
        None, description="Models with the truncation trick: 0 to 1 (1: none; default: the run's)"
    )


class DecodeRequest(Body):
    latents: list[list[float]] = Field(..., min_length=1, max_length=MAX_BATCH, description="Latent codes")
    label: int | str | None = None
    format: Literal["png", "base64"] = "png"


class ImagesOut(BaseModel):
    images: list[str] = Field(description="base64-encoded PNG files")
    width: int
    height: int


class EncodeOut(BaseModel):
    latent: list[float]
    latent_dim: int


class FeedbackRequest(Body):
    prompt: str = Field(..., min_length=1, max_length=20_000)
    output: str = Field(..., max_length=20_000, description="The output being rated, as it was shown")
    rating: Literal["up", "down"]
    correction: str | None = Field(None, max_length=20_000, description="The answer it should have given")
    system_prompt: str = Field("", max_length=4000)


class FeedbackOut(BaseModel):
    id: int
    run_id: str


class Problem(BaseModel):
    detail: str
