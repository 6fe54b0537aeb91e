"""The REST API in-process (FastAPI's TestClient) on real tiny runs of every kind: every endpoint, the
safety gate on every text endpoint, and a clear 4xx for every bad request."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.helpers import wait_for


@pytest.fixture(scope="module")
def client(runs, serve_store):
    from genlab.serve import create_app

    app = create_app(list(runs.values()), serve_store, require_keys=False, rate_per_minute=0, load_in_background=False)
    with TestClient(app) as c:
        yield c


def png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format="PNG")
    return buf.getvalue()


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_health_ready_and_model_info_say_what_each_run_can_do(client, runs):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] and sorted(ready["loaded"]) == sorted(runs.values())
    info = {i["run_id"]: i for i in client.get("/runs").json()}
    assert info[runs["chat"]]["chat"] is True and info[runs["text"]]["chat"] is False
    assert info[runs["cgan"]]["classes"] == [str(i) for i in range(10)]
    assert "Encoder" in info[runs["vae"]]["capabilities"] and info[runs["vae"]]["latent_dim"] > 0
    assert info[runs["pix2pix"]]["directions"] == ["AtoB"]
    assert client.get(f"/runs/{runs['vae']}").json() == info[runs["vae"]]
    schema = client.get("/openapi.json").json()
    assert "/runs/{run_id}/generate" in schema["paths"] and "/runs/{run_id}/translate" in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_generate_as_json_and_as_events_gives_the_same_screened_text_and_audits_it(client, runs, serve_store):
    body = {"prompt": "ROMEO:", "max_new_tokens": 24, "seed": 3, "temperature": 0.9}
    plain = client.post(f"/runs/{runs['text']}/generate", json=body).json()
    assert plain["action"] == "pass" and not plain["withheld"] and plain["n_tokens"] > 0 and plain["text"]
    streamed = client.post(f"/runs/{runs['text']}/generate", json=body | {"stream": True})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    evs = events(streamed.text)
    assert evs[-1][0] == "done" and evs[-1][1]["text"] == plain["text"]
    assert "".join(e["text"] for kind, e in evs if kind == "chunk") == plain["text"]
    audit = serve_store.safety_events(runs["text"])
    assert any(e["path"] == "api.generate" for e in audit)


def test_chat_answers_the_last_user_message_as_json_and_events(client, runs):
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "how are you?"},
        ],
        "max_new_tokens": 16,
        "seed": 1,
    }
    plain = client.post(f"/runs/{runs['chat']}/chat", json=body).json()
    assert plain["action"] == "pass" and plain["n_tokens"] > 0
    evs = events(client.post(f"/runs/{runs['chat']}/chat", json=body | {"stream": True}).text)
    assert evs[-1] == ("done", plain)


def test_a_screen_that_flags_everything_makes_every_text_endpoint_withhold(client, runs, serve_store):
    from genlab.use.generate import SamplingSettings, TextStream, encode_prompt

    served = client.app.state.server.models[runs["flagged"]]
    settings = {"max_new_tokens": 24, "seed": 5, "temperature": 0.0}
    raw = TextStream(served.module, encode_prompt(served.module, "hello"), SamplingSettings(**settings)).consume()
    assert raw.strip(), "the model writes something the gate must withhold"
    path = f"/runs/{runs['flagged']}"
    chat = {"messages": [{"role": "user", "content": "hello"}]}
    replies = []
    for route, body in (("generate", {"prompt": "hello"}), ("chat", chat)):
        for stream in (False, True):
            r = client.post(f"{path}/{route}", json=body | settings | {"stream": stream})
            assert r.status_code == 200
            result = events(r.text)[-1][1] if stream else r.json()
            assert result["withheld"] and result["action"] == "blocked", (route, stream, result)
            assert result["text"].startswith("[withheld:")
            replies.append(r.text)
    for text in replies:
        words = [w for w in raw.split() if len(w) > 3]
        assert not any(w in text for w in words), "no withheld word leaves the server"
    assert {e["action"] for e in serve_store.safety_events(runs["flagged"])} >= {"blocked"}


def test_sampling_returns_a_png_grid_or_one_base64_png_per_image_with_a_chosen_class(client, runs):
    path = f"/runs/{runs['cgan']}/sample"
    grid = client.post(path, json={"n": 4, "seed": 7, "label": 3})
    assert grid.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(grid.content)).size == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2)
    by_name = client.post(path, json={"n": 4, "seed": 7, "label": "3"})
    assert by_name.content == grid.content, "a class by name is the class by index"
    other = client.post(path, json={"n": 4, "seed": 7, "label": 5})
    assert other.content != grid.content
    batch = client.post(path, json={"n": 3, "seed": 7, "format": "base64"}).json()
    assert (batch["width"], batch["height"], len(batch["images"])) == (16, 16, 3)
    assert Image.open(io.BytesIO(base64.b64decode(batch["images"][0]))).size == (16, 16)
    one = client.post(f"/runs/{runs['vae']}/sample", json={"n": 1})
    assert Image.open(io.BytesIO(one.content)).size == (16, 16)


def test_vae_encode_then_decode_gives_the_models_reconstruction(client, runs):
    import numpy as np

    from genlab.use import sample

    module = client.app.state.server.models[runs["vae"]].module
    upload = png((16, 16), "L")
    code = client.post(f"/runs/{runs['vae']}/encode", files={"file": ("x.png", upload, "image/png")}).json()
    assert code["latent_dim"] == len(code["latent"]) == module.latent_dim
    out = client.post(f"/runs/{runs['vae']}/decode", json={"latents": [code["latent"]], "format": "base64"}).json()
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(out["images"][0]))), dtype=np.float32) / 255
    expected = sample.reconstruct(module, np.full((1, 1, 16, 16), 128 / 255, dtype=np.float32))[0, 0]
    assert np.abs(decoded - expected).max() <= 1 / 255 + 1e-6


def test_translation_returns_a_png_of_the_uploads_size(client, runs):
    r = client.post(f"/runs/{runs['pix2pix']}/translate", files={"file": ("a.png", png((40, 24)), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (40, 24)


def test_feedback_is_stored_with_prompt_output_run_and_time(client, runs, serve_store):
    from genlab.use.feedback import list_feedback

    body = {"prompt": "hi", "output": "zzz", "rating": "down", "correction": "Hello there."}
    r = client.post(f"/runs/{runs['chat']}/feedback", json=body)
    assert r.status_code == 201
    stored = [f for f in list_feedback(serve_store, runs["chat"]) if f.id == r.json()["id"]][0]
    assert (stored.prompt, stored.output, stored.rating, stored.correction, stored.source) == (
        "hi",
        "zzz",
        -1,
        "Hello there.",
        "api",
    )
    assert stored.time > 0


def huge_png() -> bytes:
    """A few kilobytes that would decode to 48 megapixels."""
    buf = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buf, format="PNG")
    return buf.getvalue()


BAD = [
    ("post", "/runs/nope/generate", {"json": {"prompt": "x"}}, 404, "not served here"),
    ("post", "{text}/generate", {"json": {"prompt": "x", "max_new_tokens": 5000}}, 422, "less than or equal to 512"),
    ("post", "{text}/generate", {"json": {"prompt": "x" * 9000}}, 422, "at most 8000"),
    ("post", "{text}/generate", {"json": {"prompt": "x", "top_p": 0}}, 422, "greater than 0"),
    ("post", "{text}/generate", {"json": {"prompt": "x", "colour": 1}}, 422, "Extra inputs"),
    ("post", "{text}/generate", {"json": {}}, 422, "Field required"),
    ("post", "{text}/chat", {"json": {"messages": [{"role": "user", "content": "x"}]}}, 400, "plain text"),
    ("post", "{chat}/chat", {"json": {"messages": []}}, 422, "at least 1"),
    ("post", "{chat}/chat", {"json": {"messages": [{"role": "assistant", "content": "x"}]}}, 400, "must be the user"),
    ("post", "{chat}/chat", {"json": {"messages": [{"role": "robot", "content": "x"}]}}, 422, "'system', 'user'"),
    ("post", "{vae}/generate", {"json": {"prompt": "x"}}, 400, "cannot generate text"),
    ("post", "{text}/sample", {"json": {}}, 400, "cannot draw images"),
    ("post", "{cgan}/sample", {"json": {"n": 65}}, 422, "less than or equal to 64"),
    ("post", "{cgan}/sample", {"json": {"n": 0}}, 422, "greater than or equal to 1"),
    ("post", "{cgan}/sample", {"json": {"label": 10}}, 400, "not one of this model's classes"),
    ("post", "{cgan}/sample", {"json": {"label": "cat"}}, 400, "not one of this model's classes"),
    ("post", "{vae}/sample", {"json": {"label": 1}}, 400, "not conditional"),
    ("post", "{cgan}/sample", {"json": {"format": "gif"}}, 422, "'png' or 'base64'"),
    ("post", "{vae}/decode", {"json": {"latents": [[0.0]]}}, 400, "latents must be"),
    ("post", "{vae}/decode", {"json": {"latents": [[], [0.0]]}}, 400, "latents must be"),
    ("post", "{vae}/decode", {"json": {"latents": [[0.0] * 4] * 65}}, 422, "at most 64"),
    ("post", "{cgan}/encode", {"files": {"file": ("x.png", png((16, 16)), "image/png")}}, 400, "cannot encode"),
    ("post", "{vae}/encode", {"files": {"file": ("x.txt", b"hello", "text/plain")}}, 400, "not an image"),
    (
        "post",
        "{pix2pix}/translate",
        {"files": {"file": ("x.png", b"\x89PNG garbage", "image/png")}},
        400,
        "not an image",
    ),
    ("post", "{pix2pix}/translate", {"files": {"file": ("x.png", png((2, 2)), "image/png")}}, 400, "at least 4"),
    (
        "post",
        "{pix2pix}/translate?direction=BtoA",
        {"files": {"file": ("x.png", png((8, 8)), "image/png")}},
        400,
        "AtoB",
    ),
    (
        "post",
        "{pix2pix}/translate?direction=up",
        {"files": {"file": ("x.png", png((8, 8)), "image/png")}},
        422,
        "pattern",
    ),
    ("post", "{pix2pix}/translate", {}, 422, "Field required"),
    ("post", "{text}/translate", {"files": {"file": ("x.png", png((8, 8)), "image/png")}}, 400, "cannot translate"),
    ("post", "{chat}/feedback", {"json": {"prompt": "x", "output": "y", "rating": "meh"}}, 422, "'up' or 'down'"),
    ("post", "{chat}/feedback", {"json": {"prompt": "", "output": "y", "rating": "up"}}, 422, "at least 1"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "fragment"), BAD, ids=[f"{b[1]}-{b[4]}" for b in BAD])
def test_every_bad_request_gets_a_clear_4xx(client, runs, method, path, kwargs, status, fragment):
    url = path.format(**{k: f"/runs/{v}" for k, v in runs.items()})
    r = getattr(client, method)(url, **kwargs)
    assert r.status_code == status, r.text
    assert fragment in r.text


def test_a_tiny_png_of_48_megapixels_is_refused_from_its_header(client, runs):
    data = huge_png()
    assert len(data) < 200_000
    r = client.post(f"/runs/{runs['pix2pix']}/translate", files={"file": ("big.png", data, "image/png")})
    assert r.status_code == 413 and "48.0 megapixels" in r.json()["detail"]
    r = client.post(f"/runs/{runs['vae']}/encode", files={"file": ("big.png", data, "image/png")})
    assert r.status_code == 413


def test_an_upload_over_the_byte_limit_is_refused(client, runs):
    from genlab.serve.schemas import MAX_UPLOAD_BYTES

    r = client.post(
        f"/runs/{runs['pix2pix']}/translate", files={"file": ("x.png", b"\0" * (MAX_UPLOAD_BYTES + 1), "image/png")}
    )
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_until_the_models_are_loaded_ready_and_model_calls_answer_503(runs, serve_store):
    from genlab.serve import create_app

    app = create_app([runs["vae"]], serve_store, require_keys=False)
    c = TestClient(app)  # no lifespan: the loading thread has not started yet
    ready = c.get("/ready")
    assert ready.status_code == 503 and ready.json()["loading"] is True
    assert c.get("/health").status_code == 200
    busy = c.post(f"/runs/{runs['vae']}/sample", json={})
    assert busy.status_code == 503 and busy.headers["retry-after"] == "2" and "still loading" in busy.json()["detail"]
    with TestClient(app) as live:
        wait_for(lambda: live.get("/ready").status_code == 200, timeout=120, what="models loaded")
        assert live.post(f"/runs/{runs['vae']}/sample", json={}).status_code == 200


def test_only_completed_runs_can_be_served(serve_store):
    from genlab.core.errors import GenLabError
    from genlab.core.registry import FAMILIES
    from genlab.serve import create_app

    queued = serve_store.create_run(FAMILIES["vae"].tiny_config())
    with pytest.raises(GenLabError, match="only completed runs"):
        create_app([queued.id], serve_store)
    with pytest.raises(GenLabError, match="at least one run"):
        create_app([], serve_store)
    serve_store.set_status(queued.id, "cancelled")
