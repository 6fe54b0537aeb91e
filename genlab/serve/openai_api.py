"""OpenAI-compatible routes beside GenLab's own (/v1/models, /v1/chat/completions, /v1/completions,
/v1/images/generations), so the clients people already have (the official openai libraries, LangChain,
LlamaIndex, chat front-ends) can use served runs: `base_url=http://HOST:PORT/v1`, model = a run id.

The same keys, rate limit and safety gate as the native routes: every text goes through the run's Gate
(audited), a withheld chunk never leaves the process, and a filtered answer ends with finish_reason
"content_filter". Errors under /v1 use OpenAI's error object ({"error": {"message", "type", "code"}}).
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from genlab.safety.gate import Gate, ScreenedStream, policy_of
from genlab.serve.deps import log, served, state_of
from genlab.serve.images import _label, _reply
from genlab.serve.model_pool import ServedModel
from genlab.serve.openai_schemas import ChatCompletionRequest, CompletionRequest, ImageRequest, TextSampling
from genlab.serve.replies import excerpt
from genlab.use import sample as sampling
from genlab.use.generate import ChatSession, SamplingSettings, stream, trained_system_prompt

PREFIX = "/v1"
DEFAULT_CHAT_TOKENS = 128
ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "model_not_ready"),
}
OPENAI_ERROR = {
    "description": "OpenAI's error object",
    "content": {"application/json": {"example": {"error": {"message": "...", "type": "invalid_request_error"}}}},
}
ERRORS: dict[int | str, dict[str, Any]] = {code: OPENAI_ERROR for code in (400, 401, 404, 429, 503)}
SSE = {200: {"content": {"text/event-stream": {}}, "description": "JSON, or data: events ending in [DONE]"}}

router = APIRouter(prefix=PREFIX, tags=["openai"], responses=ERRORS)


# -- errors -------------------------------------------------------------------------------------------


def is_openai(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def openai_error(status: int, message: str, headers: dict[str, str] | None = None, param: str | None = None) -> Any:
    kind, code = ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def openai_validation_error(err: RequestValidationError) -> Any:
    """An invalid body under /v1 in OpenAI's shape: a 400 naming the first bad field, as OpenAI answers."""
    first = err.errors()[0] if err.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    return openai_error(400, f"{where or 'body'}: {excerpt(str(first.get('msg', 'invalid request')))}", param=where)


# -- shared -------------------------------------------------------------------------------------------


def _text_model(request: Request, name: str) -> ServedModel:
    model = served(name, request)
    if not model.can("TextGenerator"):
        raise HTTPException(400, f"Model {name} is a {model.run.family} run, which does not generate text")
    return model


def _gate(request: Request, model: ServedModel, path: str) -> Gate:
    return Gate(policy_of(model.module), store=state_of(request).store, run_id=model.run.id, path=path)


def finish_reason(st: ScreenedStream) -> str:
    """OpenAI's finish_reason: content_filter when the gate withheld text, length at the token limit."""
    if st.withheld or st.stop_reason == "flagged":
        return "content_filter"
    return "length" if st.stop_reason == "max_new_tokens" else "stop"


def _usage(streams: list[ScreenedStream]) -> dict[str, int]:
    prompt = sum(st.prompt_tokens for st in streams)
    done = sum(st.n_tokens for st in streams)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _safety(st: ScreenedStream) -> dict[str, Any]:
    """GenLab's extension on each choice: what the gate did (clients that do not know it ignore it)."""
    return {"action": st.action, "attempts": st.attempts, "safety": st.safety.to_dict() if st.safety else None}


def _events(model: ServedModel, work: Callable[[Callable[[dict[str, Any]], None], Callable[[], bool]], None]) -> Any:
    """Server-sent `data:` events from `work(emit, gone)`, run in one thread (holding the model's lock when
    it decodes alone), ending in `data: [DONE]`. When the client goes away, `gone()` turns true and the
    work stops at its next chunk, which ends the decoding."""
    q: queue.Queue[dict[str, Any] | None] = queue.Queue()
    left = threading.Event()

    def produce() -> None:
        try:
            with model.decoding():
                work(q.put, left.is_set)
        except Exception as err:  # the stream already answered 200: report in-band, in OpenAI's shape
            log.exception("generation failed for run %s", model.run.id)
            q.put({"error": {"message": f"generation failed: {type(err).__name__}", "type": "server_error"}})
        finally:
            q.put(None)

    threading.Thread(target=produce, name="genlab-openai-sse", daemon=True).start()

    async def events() -> AsyncIterator[str]:
        try:
            while (item := await anyio.to_thread.run_sync(q.get)) is not None:
                yield f"data: {json.dumps(item, ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"
        finally:
            left.set()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _consume(st: ScreenedStream, gone: Callable[[], bool], emit: Callable[[str], None]) -> None:
    """Hand each released chunk to `emit`; stop (closing the generation) when the client left."""
    it = iter(st)
    try:
        for chunk in it:
            emit(chunk)
            if gone():
                break
    finally:
        it.close()


# -- models -------------------------------------------------------------------------------------------


def _model_card(model: ServedModel) -> dict[str, Any]:
    return {
        "id": model.name,
        "object": "model",
        "created": int(model.run.created_at or 0),
        "owned_by": "genlab",
        "genlab": model.info(),
    }


@router.get("/models")
def list_models(request: Request) -> dict[str, Any]:
    """The served runs (their ids are the model names), with what each can do."""
    st = state_of(request)
    return {"object": "list", "data": [_model_card(st.models[r]) for r in st.run_ids if r in st.models]}


@router.get("/models/{model_id}")
def get_model(model_id: str, request: Request) -> dict[str, Any]:
    return _model_card(served(model_id, request))


# -- chat ---------------------------------------------------------------------------------------------


def _chat_sessions(body: ChatCompletionRequest, request: Request, model: ServedModel) -> tuple[list[Any], str]:
    if not model.module.is_chat:
        raise HTTPException(400, f"Model {model.run.id} was trained on plain text, not chats; use /v1/completions")
    system = [m.text() for m in body.messages if m.role in ("system", "developer")]
    turns = [{"role": m.role, "content": m.text()} for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1]["role"] != "user":
        raise HTTPException(400, "The last message must be the user's (role 'user')")
    if body.max_completion_tokens is not None:
        body.max_tokens = body.max_completion_tokens
    sessions = []
    for i in range(body.n):
        session = ChatSession(
            model.module,
            system[0] if system else trained_system_prompt(model.module),
            SamplingSettings(**body.sampling(DEFAULT_CHAT_TOKENS, i)),
            gate=_gate(request, model, "api.openai.chat"),
            source=model.source,
        )
        session.history = turns[:-1]
        sessions.append(session)
    return sessions, turns[-1]["content"]


@router.post("/chat/completions", responses=SSE)
def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
    """A chat answer (n answers), screened by the run's safety gate; `stream` sends chat.completion.chunk
    events as the gate releases text."""
    model = _text_model(request, body.model)
    sessions, user = _chat_sessions(body, request, model)
    with model.lock:  # prompt encoding (the tokenizer is not shared across threads); errors are a 400 here
        streams = [s.stream(user) for s in sessions]
    rid, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
    head = {"id": rid, "created": created, "model": model.run.id, "system_fingerprint": None}
    if body.stream:
        return _events(model, lambda emit, gone: _chat_chunks(head, streams, body, emit, gone))
    with model.decoding():
        for st in streams:
            st.consume()
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": st.text},
            "finish_reason": finish_reason(st),
            "logprobs": None,
            "genlab": _safety(st),
        }
        for i, st in enumerate(streams)
    ]
    return head | {"object": "chat.completion", "choices": choices, "usage": _usage(streams)}


def _chat_chunks(
    head: dict[str, Any],
    streams: list[ScreenedStream],
    body: TextSampling,
    emit: Callable[[dict[str, Any]], None],
    gone: Callable[[], bool],
) -> None:
    def chunk(i: int, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": i, "delta": delta, "finish_reason": finish, "logprobs": None} | extra
        return head | {"object": "chat.completion.chunk", "choices": [choice]}

    for i, st in enumerate(streams):
        emit(chunk(i, {"role": "assistant", "content": ""}))
        _consume(st, gone, lambda text, i=i: emit(chunk(i, {"content": text})))
        if gone():
            return
        emit(chunk(i, {}, finish_reason(st), genlab=_safety(st)))
    if body.stream_options is not None and body.stream_options.include_usage:
        emit(head | {"object": "chat.completion.chunk", "choices": [], "usage": _usage(streams)})


# -- completions --------------------------------------------------------------------------------------


@router.post("/completions", responses=SSE)
def completions(body: CompletionRequest, request: Request) -> Any:
    """Continue each prompt as plain text (n answers each), screened by the run's safety gate."""
    model = _text_model(request, body.model)
    gate = _gate(request, model, "api.openai.completions")
    with model.lock:
        streams = [
            stream(
                model.module,
                prompt,
                SamplingSettings(**body.sampling(16, i)),
                chat=False,
                gate=gate,
                source=model.source,
            )
            for prompt in body.prompts()
            for i in range(body.n)
        ]
    rid, created = f"cmpl-{secrets.token_hex(12)}", int(time.time())
    head = {"id": rid, "object": "text_completion", "created": created, "model": model.run.id}
    if body.stream:
        return _events(model, lambda emit, gone: _completion_chunks(head, streams, body, emit, gone))
    with model.decoding():
        for st in streams:
            st.consume()
    choices = [
        {"index": i, "text": st.text, "finish_reason": finish_reason(st), "logprobs": None, "genlab": _safety(st)}
        for i, st in enumerate(streams)
    ]
    return head | {"choices": choices, "usage": _usage(streams)}


def _completion_chunks(
    head: dict[str, Any],
    streams: list[ScreenedStream],
    body: TextSampling,
    emit: Callable[[dict[str, Any]], None],
    gone: Callable[[], bool],
) -> None:
    def chunk(i: int, text: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return head | {"choices": [{"index": i, "text": text, "finish_reason": finish, "logprobs": None} | extra]}

    for i, st in enumerate(streams):
        _consume(st, gone, lambda text, i=i: emit(chunk(i, text)))
        if gone():
            return
        emit(chunk(i, "", finish_reason(st), genlab=_safety(st)))
    if body.stream_options is not None and body.stream_options.include_usage:
        emit(head | {"choices": [], "usage": _usage(streams)})


# -- images -------------------------------------------------------------------------------------------


@router.post("/images/generations")
def image_generations(body: ImageRequest, request: Request) -> dict[str, Any]:
    """n images as base64 PNGs (response_format url: data: URLs). A conditional model draws the class the
    prompt names (else random classes); `seed` (a GenLab extension) makes the images repeatable."""
    model = served(body.model, request)
    if not model.can("ImageSampler"):
        raise HTTPException(400, f"Model {body.model} is a {model.run.family} run, which does not draw images")
    names = sampling.class_names(model.module)
    wanted = body.prompt.strip()
    label = _label(model, wanted) if names and wanted in names else None
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    with model.lock:
        images = sampling.sample(model.module, body.n, seed=seed, labels=label)
    pngs = _reply(images, "base64").images
    if body.response_format == "url":
        data = [{"url": f"data:image/png;base64,{p}", "revised_prompt": None} for p in pngs]
    else:
        data = [{"b64_json": p, "revised_prompt": None} for p in pngs]
    return {"created": int(time.time()), "data": data}
