"""The FastAPI app: one path per served run (/runs/{run_id}/...), models loaded once in a background
thread (/ready says when), errors as clear 4xx that quote at most a short excerpt of the input.

Keys, the failed-key limit, the rate limit and the body limits are not per route: AuthFirst
(genlab/serve/guard.py) wraps the whole app, so every route, present or future, is behind them."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from genlab.core.errors import GenLabError
from genlab.serve.deps import DEFAULT_RATE_PER_MINUTE, ERRORS, ServerState, log, served
from genlab.serve.guard import AuthFirst, caller
from genlab.serve.images import router as image_router
from genlab.serve.model_pool import ServedModel, check_servable
from genlab.serve.openai_api import is_openai, openai_error, openai_validation_error
from genlab.serve.openai_api import router as openai_router
from genlab.serve.rate_limit import RateLimiter
from genlab.serve.replies import SafeJSONResponse, excerpt, validation_problems
from genlab.serve.schemas import FeedbackOut, FeedbackRequest, Problem
from genlab.serve.text import router as text_router
from genlab.serve.transformer_routes import router as transformer_router
from genlab.store.api_keys import has_active_keys
from genlab.store.runs import RunNotFound, RunStore
from genlab.use.batching import DEFAULT_MAX_BATCH
from genlab.use.feedback import add_feedback


def create_app(
    run_ids: list[str],
    store: RunStore | None = None,
    *,
    require_keys: bool | None = None,
    rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
    load_in_background: bool = True,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> FastAPI:
    """The app for these runs. require_keys defaults to "the store has an active key"; max_batch is how many
    requests one text model decodes together (0: one at a time)."""
    store = store or RunStore()
    if not run_ids:
        raise GenLabError("Serve at least one run: --run RUN_ID")
    for run_id in dict.fromkeys(run_ids):
        check_servable(store, run_id)
    keys = has_active_keys(store) if require_keys is None else require_keys
    st = ServerState(store, list(dict.fromkeys(run_ids)), keys, RateLimiter(rate_per_minute), max_batch=max_batch)

    if not load_in_background:
        st.load_all()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_in_background:
            threading.Thread(target=st.load_all, name="genlab-load", daemon=True).start()
        yield

    app = FastAPI(
        title="GenLab",
        version="1",
        description="Trained GenLab runs behind HTTP: text (screened by the safety gate), images, translation, "
        "feedback; OpenAI-compatible routes under /v1 (the model is a run id).",
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.server = st
    app.add_middleware(AuthFirst, state=st)

    @app.exception_handler(GenLabError)
    async def _user_error(request: Request, err: GenLabError) -> Any:
        if is_openai(request):
            return openai_error(400, excerpt(str(err)))
        return SafeJSONResponse({"detail": excerpt(str(err))}, status_code=400)

    @app.exception_handler(RunNotFound)
    async def _no_run(request: Request, err: RunNotFound) -> Any:
        if is_openai(request):
            return openai_error(404, excerpt(str(err)))
        return SafeJSONResponse({"detail": excerpt(str(err))}, status_code=404)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException) -> Any:
        detail = excerpt(err.detail) if isinstance(err.detail, str) else err.detail
        if is_openai(request):
            return openai_error(err.status_code, str(detail), dict(err.headers or {}) or None)
        return SafeJSONResponse({"detail": detail}, status_code=err.status_code, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> Any:
        if is_openai(request):
            return openai_validation_error(err)
        return SafeJSONResponse({"detail": validation_problems(err.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception) -> SafeJSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, excerpt(f"{type(err).__name__}: {err}"))
        return SafeJSONResponse({"detail": f"The server could not answer ({type(err).__name__})"}, status_code=500)

    @app.get("/health", tags=["status"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["status"], responses={503: {"model": Problem}})
    def ready(request: Request) -> SafeJSONResponse:
        """Readiness: every model is loaded (503 while loading or when one failed). Only a caller with a
        key (or any caller of a server without keys) learns which runs are served and why one failed."""
        done = st.ready.is_set()
        ok = done and not st.failed
        body: dict[str, Any] = {"ready": ok}
        if caller(request) != "anonymous":
            failed = {run: excerpt(text.splitlines()[0] if text else text, 200) for run, text in st.failed.items()}
            body |= {"loaded": sorted(st.models), "failed": failed, "loading": not done}
        return SafeJSONResponse(body, status_code=200 if ok else 503)

    api = APIRouter(responses=ERRORS)

    @api.get("/runs", tags=["models"])
    def runs() -> list[dict[str, Any]]:
        """The served runs and what each can do."""
        return [st.models[r].info() for r in st.run_ids if r in st.models]

    @api.get("/runs/{run_id}", tags=["models"])
    def info(model: ServedModel = Depends(served)) -> dict[str, Any]:
        """One model: family, kind, capabilities, shapes, classes, directions, context window."""
        return model.info()

    @api.post("/runs/{run_id}/feedback", tags=["feedback"], status_code=201)
    def feedback(body: FeedbackRequest, model: ServedModel = Depends(served)) -> FeedbackOut:
        """Rate an output (thumbs up/down, optionally the answer it should have given)."""
        fb = add_feedback(
            st.store,
            model.name,  # the run clients call: its ratings drive its retraining, whichever champion answered
            prompt=body.prompt,
            output=body.output,
            rating=body.rating,
            correction=body.correction,
            system_prompt=body.system_prompt,
            source="api",
        )
        return FeedbackOut(id=fb.id, run_id=fb.run_id)

    app.include_router(api)
    app.include_router(text_router)
    app.include_router(image_router)
    app.include_router(openai_router)
    app.include_router(transformer_router)
    return app
