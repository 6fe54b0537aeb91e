"""schemathesis generates requests from the OpenAPI schema (bounded: a few examples per operation) and
sends each to a run that fits the operation and to an unknown run: none may answer 5xx."""

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


@pytest.fixture(scope="module")
def api_schema(runs, serve_store):
    from genlab.serve import create_app

    app = create_app(list(runs.values()), serve_store, require_keys=False, rate_per_minute=0, load_in_background=False)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_the_schema_allows_makes_the_server_fail(case, runs):
    targets = [None]
    if "run_id" in (case.path_parameters or {}):
        route = case.path.rstrip("/").rsplit("/", 1)[-1]
        targets.append(runs[ROUTE_KIND.get(route, "vae")])
    for run_id in targets:
        if run_id is not None:
            case.path_parameters["run_id"] = run_id
        response = case.call()
        assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text)
