"""Text routes: generate and chat, as JSON or server-sent events. Every reply goes through the run's
safety gate (audited in the run store); withheld text never leaves the process."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from genlab.safety.gate import Gate, ScreenedStream, policy_of
from genlab.serve.deps import ERRORS, log, needs, served, state_of
from genlab.serve.model_pool import ServedModel
from genlab.serve.schemas import ChatRequest, GenerateRequest, GenerationOut
from genlab.use.generate import ChatSession, sampling_for, stream, trained_system_prompt

router = APIRouter(tags=["text"], responses=ERRORS)
SSE_DOC = {200: {"content": {"text/event-stream": {}}, "description": "JSON, or events when stream is true"}}


def _gate(request: Request, model: ServedModel, path: str) -> Gate:
    return Gate(policy_of(model.module), store=state_of(request).store, run_id=model.run.id, path=path)


def _out(st: ScreenedStream) -> GenerationOut:
    return GenerationOut(
        text=st.text,
        withheld=st.withheld,
        action=st.action,
        n_tokens=st.n_tokens,
        stop_reason=st.stop_reason,
        attempts=st.attempts,
        safety=st.safety.to_dict() if st.safety else None,
    )


def _events(model: ServedModel, st: ScreenedStream) -> StreamingResponse:
    """Released chunks as `event: chunk` and the summary as `event: done`; generation runs in one thread
    (holding the model's lock when it decodes alone; torch's no-grad mode is per thread)."""
    q: queue.Queue[tuple[str, Any] | None] = queue.Queue()

    def produce() -> None:
        try:
            with model.decoding():
                for chunk in st:
                    q.put(("chunk", {"text": chunk}))
            q.put(("done", _out(st).model_dump()))
        except Exception as err:  # the stream already answered 200: report in-band
            log.exception("generation failed for run %s", model.run.id)
            q.put(("error", {"detail": f"generation failed: {type(err).__name__}"}))
        finally:
            q.put(None)

    threading.Thread(target=produce, name="genlab-sse", daemon=True).start()

    async def events() -> AsyncIterator[str]:
        while (item := await anyio.to_thread.run_sync(q.get)) is not None:
            kind, payload = item
            yield f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _answer(model: ServedModel, make: Callable[[], ScreenedStream], streaming: bool) -> Any:
    with model.lock:  # the tokenizer too: a fast tokenizer used from two threads at once can fail
        st = make()  # prompt encoding errors are a 400 before anything streams
    if streaming:
        return _events(model, st)
    with model.decoding():
        st.consume()
    return _out(st)


@router.post("/runs/{run_id}/generate", response_model=GenerationOut, responses=SSE_DOC)
def generate_text(body: GenerateRequest, request: Request, model: ServedModel = Depends(served)) -> Any:
    """Continue a prompt (a chat model answers it), screened by the run's safety gate."""
    needs(model, "TextGenerator", "generate text")
    settings = sampling_for(model.module, **body.settings())
    gate = _gate(request, model, "api.generate")
    return _answer(
        model,
        lambda: stream(
            model.module, body.prompt, settings, system_prompt=body.system_prompt, gate=gate, source=model.source
        ),
        body.stream,
    )


@router.post("/runs/{run_id}/chat", response_model=GenerationOut, responses=SSE_DOC)
def chat(body: ChatRequest, request: Request, model: ServedModel = Depends(served)) -> Any:
    """Answer the last user message of a conversation (a flagged reply is regenerated, then refused)."""
    needs(model, "TextGenerator", "chat")
    if not model.module.is_chat:
        raise HTTPException(400, f"Run {model.run.id} was trained on plain text, not chats; use /generate")
    system = [m.content for m in body.messages if m.role == "system"]
    turns = [{"role": m.role, "content": m.content} for m in body.messages if m.role != "system"]
    if not turns or turns[-1]["role"] != "user":
        raise HTTPException(400, "The last message must be the user's (role 'user')")
    session = ChatSession(
        model.module,
        system[0] if system else trained_system_prompt(model.module),
        sampling_for(model.module, **body.settings()),
        gate=_gate(request, model, "api.chat"),
        source=model.source,
    )
    session.history = turns[:-1]
    return _answer(model, lambda: session.stream(turns[-1]["content"]), body.stream)
