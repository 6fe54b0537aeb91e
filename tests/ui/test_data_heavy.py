"""Data page paths that import the text / two-domain data modules (torch and tokenizers load: seconds)."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.ui.test_pages import png_bytes, texts

pytestmark = pytest.mark.slow


def test_text_corpora_show_an_excerpt_and_chat_sets_show_conversations(app):
    at = app("data")
    at.segmented_control(key="data.section").set_value("Text corpora").run()
    at.toggle(key="data.text_preview").set_value(True).run()
    assert "M characters" in texts(at, "caption")
    assert "ROMEO" in texts(at, "text") or len(texts(at, "text")) > 500
    at.selectbox(key="data.text_set").set_value("genlab_chat").run()
    assert "conversations" in texts(at, "caption")


def test_a_text_upload_is_checked_and_stored_for_the_text_families(app, home):
    at = app("data")
    at.segmented_control(key="data.section").set_value("Upload").run()
    at.radio(key="data.upload_kind").set_value("Text file").run()
    at.get("file_uploader")[0].upload("poems.txt", ("Roses are red.\n" * 200).encode(), "text/plain").run()
    at.button(key="data.store").click().run()
    assert not at.error, texts(at, "error")
    assert (home / "uploads" / "poems.txt").is_file()
    at = app("train")
    at.selectbox(key="train.family").set_value("gpt").run()
    at.selectbox(key="train.form.gpt.data.source").set_value("upload").run()
    name = next(w for w in at.selectbox if w.key and w.key.startswith("train.form.gpt.data.name"))
    assert "poems.txt" in name.options


def test_a_two_domain_zip_gets_the_paired_validation_report(app):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(10):
            z.writestr(f"A/{i}.png", png_bytes(i))
            z.writestr(f"B/{i}.png", png_bytes(100 + i, mode="L"))
    at = app("data")
    at.segmented_control(key="data.section").set_value("Upload").run()
    at.radio(key="data.upload_kind").set_value("Two domains (.zip with A/ and B/)").run()
    at.get("file_uploader")[0].upload("sketches.zip", buf.getvalue(), "application/zip").run()
    at.button(key="data.store").click().run()
    assert not at.error, texts(at, "error")
    assert "Pairs: 10" in texts(at, "info")
