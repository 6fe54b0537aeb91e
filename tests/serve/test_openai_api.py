"""The OpenAI-compatible routes driven by the official `openai` Python client, unmodified, pointed at a
real server (uvicorn on loopback, a free port) that requires GenLab's API keys: listing models, plain and
streamed chat, completions, images, a bad key, an unknown model, and output the safety gate withholds."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from PIL import Image

from tests.helpers import wait_for
from tests.serve.conftest import free_port


@pytest.fixture(scope="module")
def server(runs, serve_store) -> Iterator[dict[str, Any]]:
    from genlab.serve import create_app
    from genlab.store.api_keys import create_key, revoke_key

    key, secret = create_key(serve_store, "openai client")
    served = [runs[k] for k in ("chat", "flagged", "text", "cgan", "vae")]
    app = create_app(served, serve_store, require_keys=True, rate_per_minute=0, load_in_background=False)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for(lambda: srv.started, timeout=60, what="uvicorn to start")
    url = f"http://127.0.0.1:{port}"
    yield {"url": url, "secret": secret, "app": app}
    srv.should_exit = True
    thread.join(timeout=30)
    revoke_key(serve_store, key.id)


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server["url"] + "/v1", api_key=server["secret"], max_retries=0, timeout=120)


def chat_messages() -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "how are you?"},
    ]


def test_models_lists_the_served_runs_by_id(client, server, runs):
    listed = client.models.list()
    ids = [m.id for m in listed.data]
    assert ids == [runs[k] for k in ("chat", "flagged", "text", "cgan", "vae")]
    card = client.models.retrieve(runs["chat"])
    assert card.id == runs["chat"] and card.owned_by == "genlab"
    assert card.model_extra["genlab"]["chat"] is True


def test_chat_completion_is_the_native_chat_answer_with_usage(client, server, runs):
    reply = client.chat.completions.create(
        model=runs["chat"], messages=chat_messages(), max_tokens=16, seed=3, temperature=0.8
    )
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 16
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    native = httpx.post(
        f"{server['url']}/runs/{runs['chat']}/chat",
        json={"messages": chat_messages(), "max_new_tokens": 16, "seed": 3, "temperature": 0.8, "top_k": 0},
        headers={"Authorization": f"Bearer {server['secret']}"},
        timeout=120,
    ).json()
    assert choice.message.content == native["text"], "the same generator and gate answer both APIs"
    assert reply.usage.completion_tokens == native["n_tokens"]


def test_streamed_chat_sends_chunks_that_join_to_the_plain_answer_then_usage(client, runs):
    kwargs = {"model": runs["chat"], "messages": chat_messages(), "max_tokens": 16, "seed": 9}
    plain = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [plain.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens


def test_n_answers_with_a_seed_are_repeatable_and_stop_strings_are_cut(client, runs):
    kwargs = {"model": runs["chat"], "messages": chat_messages(), "max_tokens": 12, "seed": 4, "n": 3}
    first = client.chat.completions.create(**kwargs)
    again = client.chat.completions.create(**kwargs)
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    text = first.choices[0].message.content
    word = next((w for w in text.split() if len(w) > 1), None)
    if word:  # the stop string and everything after it are not returned
        cut = client.chat.completions.create(**kwargs | {"n": 1, "stop": [word]}).choices[0]
        assert word not in cut.message.content and cut.finish_reason == "stop"


def test_completions_plain_and_streamed_agree(client, runs):
    kwargs = {"model": runs["text"], "prompt": "ROMEO:", "max_tokens": 12, "seed": 5, "n": 2, "temperature": 0.9}
    plain = client.completions.create(**kwargs)
    assert plain.object == "text_completion" and len(plain.choices) == 2
    assert all(c.text and c.finish_reason in ("stop", "length") for c in plain.choices)
    assert plain.usage.completion_tokens > 0
    streamed: dict[int, str] = {}
    for chunk in client.completions.create(**kwargs, stream=True):
        for c in chunk.choices:
            streamed[c.index] = streamed.get(c.index, "") + c.text
    assert [streamed[i] for i in (0, 1)] == [c.text for c in plain.choices]


def test_images_come_back_as_base64_pngs_of_the_models_size_and_a_seed_repeats_them(client, runs):
    result = client.images.generate(model=runs["cgan"], prompt="3", n=2, response_format="b64_json")
    assert len(result.data) == 2
    images = [Image.open(io.BytesIO(base64.b64decode(d.b64_json))) for d in result.data]
    side = client.models.retrieve(runs["cgan"]).model_extra["genlab"]["image"]["size"]
    assert {im.format for im in images} == {"PNG"} and {im.size for im in images} == {(side, side)}
    seeded = [client.images.generate(model=runs["cgan"], prompt="7", extra_body={"seed": 1}) for _ in range(2)]
    assert seeded[0].data[0].b64_json == seeded[1].data[0].b64_json
    url = client.images.generate(model=runs["cgan"], prompt="7", response_format="url").data[0].url
    assert url.startswith("data:image/png;base64,")


def test_a_bad_key_an_unknown_model_and_a_wrong_kind_are_openai_errors(client, server, runs):
    bad = openai.OpenAI(base_url=server["url"] + "/v1", api_key="glk_not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.models.list()
    assert err.value.body["type"] == "invalid_request_error" and err.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="no-such-run", messages=[{"role": "user", "content": "hi"}])
    assert "no-such-run" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=runs["text"], messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model=runs["text"], prompt="a cat")
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=runs["chat"], messages=[{"role": "user", "content": "hi"}], n=99)
    assert err.value.body["param"] == "n"


def test_flagged_output_is_withheld_and_ends_with_content_filter(client, runs, serve_store, server):
    from genlab.use.generate import SamplingSettings, TextStream, encode_prompt

    served = server["app"].state.server.models[runs["flagged"]]
    settings = SamplingSettings(max_new_tokens=24, seed=5, temperature=0.0, top_k=0)
    raw = TextStream(served.module, encode_prompt(served.module, "hello"), settings).consume()
    assert raw.strip(), "the model writes something the gate must withhold"
    kwargs = {"model": runs["flagged"], "messages": [{"role": "user", "content": "hello"}], "max_tokens": 24}
    plain = client.chat.completions.create(**kwargs, seed=5, temperature=0.0)
    assert plain.choices[0].finish_reason == "content_filter"
    assert plain.choices[0].message.content.startswith("[withheld:")
    chunks = list(client.chat.completions.create(**kwargs, seed=5, temperature=0.0, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    completion = client.completions.create(model=runs["flagged"], prompt="hello", max_tokens=24, seed=5)
    assert completion.choices[0].finish_reason == "content_filter"
    words = [w for w in raw.split() if len(w) > 3]
    for text in (plain.choices[0].message.content, streamed, completion.choices[0].text):
        assert not any(w in text for w in words), "no withheld word leaves the server"
    paths = {e["path"] for e in serve_store.safety_events(runs["flagged"]) if e["action"] == "blocked"}
    assert {"api.openai.chat", "api.openai.completions"} <= paths
