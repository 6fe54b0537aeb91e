"""Pages on really trained runs: Start launches a worker, the Playground generates with real checkpoints.

These train tiny models for real (tens of seconds each on a shared 2-core CPU), hence `slow`.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.ui.conftest import open_tab, train_in_process
from tests.ui.test_pages import sample_grids

pytestmark = pytest.mark.slow


def texts(at, kind: str) -> str:
    return "\n".join(str(e.value) for e in getattr(at, kind))


def test_start_on_the_train_page_runs_a_background_worker_to_completion(app, store):
    from genlab.core.registry import FAMILIES
    from genlab.runner import jobs

    at = app("train")
    tiny = FAMILIES["vae"].tiny_overrides
    for section, values in tiny.items():
        for field, value in values.items():
            widget = next(
                w
                for kind in ("number_input", "selectbox", "text_input")
                for w in at.get(kind)
                if w.key and w.key.split("@")[0] == f"train.form.vae.{section}.{field}"
            )
            widget.set_value(value)
    at.run()
    assert not at.error, texts(at, "error")
    at.button(key="train.start").click().run()
    runs = store.list_runs()
    assert len(runs) == 1 and runs[0].status in ("queued", "running")
    assert [t.value for t in at.title] == [runs[0].name], "Start opens the run page"
    run = jobs.wait(runs[0].id, store, timeout=240)
    assert run.status == "completed", run.error
    assert run.pid != __import__("os").getpid(), "training ran in a worker process, not in the app"


def test_run_page_and_playground_on_a_trained_vae(app, trained_run):
    at = app("run", id=trained_run.id)
    assert sample_grids(at), "sample grids of the real run"
    open_tab(at, "Files")
    assert any(c.key and c.key.startswith("run.dl.") for c in at.get("download_button")), "checkpoint download"

    at = app("playground", run=trained_run.id)
    assert not at.error, texts(at, "error")
    assert at.get("image"), "new samples"
    seed_before = at.number_input(key="play.seed").value
    at.button(key="play.reseed").click().run()
    assert at.number_input(key="play.seed").value != seed_before
    at.slider(key="play.t").set_value(0.8).run()
    assert not at.exception and not at.error

    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((40, 30)) * 255).astype(np.uint8)).save(buf, format="PNG")
    at.get("file_uploader")[0].upload("digit.png", buf.getvalue(), "image/png").run()
    assert "the model's reconstruction" in texts(at, "caption") or any(
        "reconstruction" in (i.proto.imgs[0].caption if i.proto.imgs else "") for i in at.get("image")
    )
    at.get("file_uploader")[0].upload("broken.png", b"not a png", "image/png").run()
    assert "is not a readable image" in texts(at, "error")


def test_playground_generates_text_with_a_trained_text_model(app, store):
    from genlab.core.registry import FAMILIES

    family = "rnn" if "rnn" in FAMILIES else "gpt"
    run = train_in_process(store, FAMILIES[family].tiny_config().model_copy(update={"name": "tiny-text"}))
    assert run.status == "completed", run.error
    at = app("playground", run=run.id)
    assert not at.error, texts(at, "error")
    if at.segmented_control(key="text.mode").value != "Continue text":
        at.segmented_control(key="text.mode").set_value("Continue text").run()
    at.number_input(key="text.max_new").set_value(12)
    at.number_input(key="text.seed").set_value(3)
    at.text_area(key="text.prompt").set_value("ROMEO:")
    at.button(key="text.generate").click().run()
    assert not at.error, texts(at, "error")
    assert "screened by" in texts(at, "caption")


def test_preflight_estimate_measures_steps_in_a_child_process(app):
    from genlab.core.registry import FAMILIES

    at = app("train")
    for section, values in FAMILIES["vae"].tiny_overrides.items():
        for field, value in values.items():
            widget = next(
                w
                for kind in ("number_input", "selectbox", "text_input")
                for w in at.get(kind)
                if w.key and w.key.split("@")[0] == f"train.form.vae.{section}.{field}"
            )
            widget.set_value(value)
    at.run()
    at.button(key="train.estimate").click().run()
    assert not at.error, texts(at, "error")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Parameters"].replace(",", "").isdigit()
    assert shown["Time per epoch"] != "–"


def test_playground_translates_an_uploaded_image_with_a_trained_pix2pix(app, store):
    from genlab.core.registry import FAMILIES

    run = train_in_process(store, FAMILIES["pix2pix"].tiny_config().model_copy(update={"name": "tiny-p2p"}))
    assert run.status == "completed", run.error
    at = app("playground", run=run.id)
    assert not at.error, texts(at, "error")
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(1).random((30, 50, 3)) * 255).astype(np.uint8)).save(buf, format="PNG")
    at.get("file_uploader")[0].upload("edges.png", buf.getvalue(), "image/png").run()
    assert not at.error, texts(at, "error")
    assert len(at.get("image")) >= 2, "input and translation side by side"
    at.get("file_uploader")[0].upload("broken.png", b"garbage", "image/png").run()
    assert "cannot be translated" in texts(at, "error")


def test_playground_chats_with_a_model_trained_on_conversations(app, store):
    from genlab.core.registry import FAMILIES

    config = FAMILIES["gpt"].tiny_config()
    config.data = config.data.model_copy(update={"name": "genlab_chat", "max_chars": None})
    run = train_in_process(store, config.model_copy(update={"name": "tiny-chat"}))
    assert run.status == "completed", run.error
    at = app("playground", run=run.id)
    assert not at.error, texts(at, "error")
    assert at.segmented_control(key="text.mode").value == "Chat"
    at.number_input(key="text.max_new").set_value(8)
    at.chat_input(key="text.chat_input").set_value("What is a VAE?").run()
    assert not at.error, texts(at, "error")
    assert len(at.chat_message) == 2 and "screened by" in texts(at, "caption")
    at.chat_input(key="text.chat_input").set_value("And a GAN?").run()
    assert len(at.chat_message) == 4, "the conversation is kept across reruns"
    at.button(key="text.reset").click().run()
    assert len(at.chat_message) == 0


def test_cancel_really_stops_the_worker_and_resume_finishes_the_run(app, store):
    from genlab.core.registry import FAMILIES
    from genlab.runner import jobs
    from tests.helpers import wait_for

    config = FAMILIES["vae"].tiny_config().model_copy(update={"name": "long"})
    config.trainer = config.trainer.model_copy(update={"max_epochs": 50, "limit_train_batches": 4})
    run = jobs.start(config, store)
    wait_for(lambda: store.get(run.id).step >= 2, timeout=240, what="the worker's first steps")
    at = app("run", id=run.id)
    at.button(key="run.cancel").click().run()
    assert not at.error, texts(at, "error")
    stopped = jobs.wait(run.id, store, timeout=120)
    assert stopped.status == "cancelled"
    assert stopped.step < 200, "stopped long before its 50 epochs"
    at = app("run", id=run.id)
    at.button(key="run.resume").click().run()
    assert not at.error, texts(at, "error")
    assert store.get(run.id).status in ("queued", "running")
    wait_for(lambda: store.get(run.id).step > stopped.step, timeout=240, what="the resumed worker's steps")
    jobs.cancel(run.id, store)
    assert jobs.wait(run.id, store, timeout=120).status == "cancelled"
