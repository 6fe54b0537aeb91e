"""REST `/sample` on diffusion runs through the real server (`python -m genlab serve` in a subprocess): the
sampler, steps, guidance scale and class reach the sampler (the same seed gives `genlab sample`'s images),
and every bad value is a 422 with the CLI's words, never a 500."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.serve.conftest import Server, tiny
from tests.ui.conftest import train_in_process

# Two real tiny runs and a server process: about a minute on a quiet 2-core CPU, many under load.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def diffusion_server(serve_home, serve_store):
    runs = {
        "cond": train_in_process(serve_store, tiny("diffusion", model={"objective": "epsilon", "conditional": True})),
        "plain": train_in_process(serve_store, tiny("diffusion")),  # unconditional flow matching
    }
    assert all(r.status == "completed" for r in runs.values()), [r.error for r in runs.values()]
    server = Server(serve_home, [r.id for r in runs.values()], "--rate-limit", "0")
    try:
        server.wait_ready()
        yield server, {k: r.id for k, r in runs.items()}
    finally:
        server.stop()


def grey(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32) / 255.0


def test_sample_takes_the_diffusion_knobs_and_refuses_bad_ones_with_422(diffusion_server, serve_store):
    from genlab.use.sample import load_image_model, sample

    server, runs = diffusion_server
    url = f"{server.url}/runs/{runs['cond']}/sample"
    body = {"n": 1, "seed": 3, "label": 4, "sampler": "ddpm", "steps": 4, "guidance_scale": 2.5}
    first = httpx.post(url, json=body, timeout=120)
    assert first.status_code == 200 and first.headers["content-type"] == "image/png", first.text
    assert httpx.post(url, json=body, timeout=120).content == first.content, "the same seed, the same image"
    ours = sample(
        load_image_model(serve_store, runs["cond"]),
        1,
        seed=3,
        labels=4,
        options={"sampler": "ddpm", "steps": 4, "guidance_scale": 2.5},
    )[0, 0]
    np.testing.assert_allclose(grey(first.content), ours, atol=1 / 255 + 1e-6)  # PNG rounding
    for change in ({"sampler": "dpmsolver++"}, {"steps": 6}, {"guidance_scale": 0.0}, {"label": "7"}):
        other = httpx.post(url, json={**body, **change}, timeout=120)
        assert other.status_code == 200 and other.content != first.content, change

    bad = [
        (runs["cond"], {"steps": 0}, "steps must be between 1 and 50 (the run's noise levels), got 0"),
        (runs["cond"], {"steps": 10_000}, "steps must be between 1 and 50 (the run's noise levels), got 10000"),
        (runs["cond"], {"guidance_scale": -1}, "guidance scale must be 0 or more (1: plain conditional), got -1.0"),
        (runs["cond"], {"sampler": "euler"}, "sampler 'euler' does not solve this run's epsilon objective"),
        (runs["plain"], {"guidance_scale": 2}, "guidance needs a conditional run (model.conditional: true)"),
    ]
    for run_id, knobs, words in bad:
        r = httpx.post(f"{server.url}/runs/{run_id}/sample", json={"n": 1, **knobs}, timeout=120)
        assert r.status_code == 422 and words in r.json()["detail"], (knobs, r.status_code, r.text)
    unknown = httpx.post(url, json={"n": 1, "label": 12}, timeout=120)
    assert unknown.status_code == 400 and "class 12 is not one of this model's classes" in unknown.json()["detail"]
    assert httpx.post(url, json={"n": 1, "steps": "many"}, timeout=120).status_code == 422
