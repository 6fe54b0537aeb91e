"""schemathesis generates requests from the OpenAPI schema (bounded: a few examples per operation) and
sends each to a run that fits the operation and to an unknown run: none may answer 5xx. The OpenAI routes
name their model in the body (or /v1/models/{model_id}): each generated request is also sent with the
model set to a served run of the kind the route serves, so the fuzzing reaches decoding, not only 404s."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

ROUTE_KIND = {
    "generate": "text",
    "chat": "chat",
    "sample": "cgan",
    "decode": "vae",
    "encode": "vae",
    "translate": "pix2pix",
    "feedback": "chat",
}
SHORT = ("max_tokens", "max_completion_tokens", "n")
OPENAI_KIND = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "text",
    "/v1/images/generations": "cgan",
    "/v1/models/{model_id}": "chat",
}


@pytest.fixture(scope="module")
def api_schema(runs, serve_store):
    from genlab.serve import create_app

    app = create_app(list(runs.values()), serve_store, require_keys=False, rate_per_minute=0, load_in_background=False)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_the_schema_allows_makes_the_server_fail(case, runs):
    targets: list[tuple[str, str] | None] = [None]  # None: the request as generated (an unknown run)
    if "run_id" in (case.path_parameters or {}):
        route = case.path.rstrip("/").rsplit("/", 1)[-1]
        targets.append(("run_id", runs[ROUTE_KIND.get(route, "vae")]))
    kind = OPENAI_KIND.get(case.path)
    if kind is not None and "model_id" in (case.path_parameters or {}):
        targets.append(("model_id", runs[kind]))
    elif kind is not None and isinstance(case.body, dict):
        targets.append(("model", runs[kind]))
    for target in targets:
        if target is not None:
            where, run_id = target
            if where == "model":  # a real model decodes: keep each request short (the schema's bounds are
                # checked by the unknown-model call, which is validated before any model is looked up)
                short = {k: min(v, 4) for k, v in case.body.items() if k in SHORT and isinstance(v, int)}
                case.body = {**case.body, **short, "model": run_id}
            else:
                case.path_parameters[where] = run_id
        response = case.call(timeout=300)
        assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text)
