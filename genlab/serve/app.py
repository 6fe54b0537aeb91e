"""The FastAPI app: one path per served run (/runs/{run_id}/...), keys and rate limit on every model
call, models loaded once in a background thread (/ready says when), errors as clear 4xx."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from genlab.core.errors import GenLabError
from genlab.serve.deps import DEFAULT_RATE_PER_MINUTE, ERRORS, ServerState, authorize, served
from genlab.serve.images import router as image_router
from genlab.serve.model_pool import ServedModel, check_servable
from genlab.serve.rate_limit import RateLimiter
from genlab.serve.schemas import FeedbackOut, FeedbackRequest, Problem
from genlab.serve.text import router as text_router
from genlab.serve.transformer_routes import router as transformer_router
from genlab.store.api_keys import has_active_keys
from genlab.store.runs import RunNotFound, RunStore
from genlab.use.feedback import add_feedback


def create_app(
    run_ids: list[str],
    store: RunStore | None = None,
    *,
    require_keys: bool | None = None,
    rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
    load_in_background: bool = True,
) -> FastAPI:
    """The app for these runs. require_keys defaults to "the store has an active key"."""
    store = store or RunStore()
    if not run_ids:
        raise GenLabError("Serve at least one run: --run RUN_ID")
    for run_id in dict.fromkeys(run_ids):
        check_servable(store, run_id)
    keys = has_active_keys(store) if require_keys is None else require_keys
    st = ServerState(store, list(dict.fromkeys(run_ids)), keys, RateLimiter(rate_per_minute))

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
        description="Trained GenLab runs behind HTTP: text (screened by the safety gate), images, translation, feedback.",
        lifespan=lifespan,
    )
    app.state.server = st

    @app.exception_handler(GenLabError)
    async def _user_error(request: Request, err: GenLabError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=400)

    @app.exception_handler(RunNotFound)
    async def _no_run(request: Request, err: RunNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=404)

    @app.get("/health", tags=["status"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["status"], responses={503: {"model": Problem}})
    def ready() -> JSONResponse:
        """Readiness: every model is loaded (503 while loading or when one failed)."""
        done = st.ready.is_set()
        ok = done and not st.failed
        body = {"ready": ok, "loaded": sorted(st.models), "failed": st.failed, "loading": not done}
        return JSONResponse(body, status_code=200 if ok else 503)

    api = APIRouter(dependencies=[Depends(authorize)], responses=ERRORS)

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
            model.run.id,
            prompt=body.prompt,
            output=body.output,
            rating=body.rating,
            correction=body.correction,
            system_prompt=body.system_prompt,
            source="api",
        )
        return FeedbackOut(id=fb.id, run_id=fb.run_id)

    app.include_router(api)
    app.include_router(text_router, dependencies=[Depends(authorize)])
    app.include_router(image_router, dependencies=[Depends(authorize)])
    app.include_router(transformer_router, dependencies=[Depends(authorize)])
    return app
