"""Done-when of the safety issue: with a screen that flags everything (every threshold 0), no character
a model generated reaches any output: the CLI (streaming, --no-stream, --json, chat), the Playground
(generate and chat through AppTest), the Run page, training samples, files and the run store.

The model is a char-RNN trained on replies written only in Cyrillic, while every prompt, notice and
label is Latin: any Cyrillic character anywhere outside the model's own files is a leak.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from pathlib import Path

import pytest
from google.protobuf.text_format import MessageToString

from tests.ui.conftest import open_tab, train_in_process

CYRILLIC = re.compile("[\u0400-\u04ff]")
WORDS = ["жизнь", "звезда", "щука", "ёлка", "юла", "эхо", "цирк", "фея"]


def cyrillic_chat_run(store, folder: Path):
    from genlab.core.config import SCREEN_CATEGORIES
    from genlab.core.registry import FAMILIES

    rng = random.Random(0)
    lines = []
    for _ in range(60):
        reply = " ".join(rng.choice(WORDS) for _ in range(6)) + "."
        messages = [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": reply}]
        lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
    corpus = folder / "replies.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = FAMILIES["rnn"].tiny_config().model_dump(mode="json")
    raw["data"].update({"source": "file", "name": str(corpus), "max_chars": None, "eval_pairs": 0})
    raw["model"].update({"sample_prompts": ["hello there"], "sample_new_tokens": 40})
    raw["trainer"].update({"max_steps": 40, "max_epochs": 50})
    raw["logging"]["sample_every_n_steps"] = 20
    raw["safety"].update(dict.fromkeys(SCREEN_CATEGORIES, 0.0))  # the screen flags everything
    run = train_in_process(store, FAMILIES["rnn"].config_cls.model_validate(raw))
    assert run.status == "completed", run.error
    return run


def page_text(at) -> str:
    """Every element the page rendered, as UTF-8 text (protobuf's default escapes non-ASCII)."""
    out = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(MessageToString(proto, as_utf8=True))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def test_a_screen_that_flags_everything_lets_no_generated_character_out(app, store, tmp_path, capsys):
    from genlab.cli.main import main
    from genlab.use.generate import SamplingSettings, TextStream, encode_prompt, load_text_module

    run = cyrillic_chat_run(store, tmp_path)
    module = load_text_module(run.id, store=store)
    control = TextStream(module, encode_prompt(module, "hello there"), SamplingSettings(temperature=0)).consume()
    assert CYRILLIC.search(control), "unscreened, the model writes Cyrillic (so the checks below can fail)"

    shown = []
    base = ["--max-new-tokens", "40", "--seed", "1", "--threshold", "0"]
    for extra in ([], ["--no-stream"], ["--json"], ["--no-chat"], ["--no-chat", "--action", "mask"]):
        assert main(["generate", run.id, "--prompt", "hello there", *base, *extra]) == 0
        out = capsys.readouterr()
        shown += [out.out, out.err]
        assert "withheld" in out.out + out.err
    # greedy, as the control above: a sampled first token may be the stop token (an empty, harmless answer)
    chat = ["chat", run.id, "--message", "hello there", "--message", "hello again", *base, "--temperature", "0"]
    assert main(chat) == 0
    out = capsys.readouterr()
    shown += [out.out, out.err]
    assert out.out.count("withheld") == 2, (out.out, out.err)

    at = app("playground", run=run.id)
    assert at.segmented_control(key="text.mode").value == "Chat"
    at.number_input(key="text.max_new").set_value(30)
    at.chat_input(key="text.chat_input").set_value("hello there").run()
    at.chat_input(key="text.chat_input").set_value("hello again").run()
    assert not at.exception and len(at.chat_message) == 4
    shown.append(page_text(at))
    at.segmented_control(key="text.mode").set_value("Continue text").run()
    at.text_area(key="text.prompt").set_value("hello there")
    at.button(key="text.generate").click().run()
    assert not at.exception and "withheld" in page_text(at)
    shown.append(page_text(at))
    at = open_tab(app("run", id=run.id), "Safety & feedback")
    at.number_input(key="run.bias.samples").set_value(1)
    at.number_input(key="run.bias.tokens").set_value(10)
    at.button(key="run.bias.build").click().run()
    assert not at.exception and not at.error
    assert at.get("plotly_chart"), "the bias report's chart"
    (report,) = store.artifacts(run.id, kind="bias_report")
    assert json.loads(Path(report["path"]).read_text())["groups"][0]["flagged_rate"] == 1.0
    shown.append(page_text(at))

    leaks = [s for s in shown if CYRILLIC.search(s)]
    assert not leaks, leaks[0][:500]

    # files: everything the run wrote except the model itself (its tokenizer's vocabulary is Cyrillic)
    folder = store.run_folder(run.id)
    samples = sorted((folder / "samples").glob("*.txt"))
    assert samples and all("withheld" in p.read_text(encoding="utf-8") for p in samples)
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix != ".ckpt":
            assert not CYRILLIC.search(path.read_text(encoding="utf-8", errors="ignore")), path

    # the store: every table; the audit keeps hashes only
    con = sqlite3.connect(store.db_path)
    dump = "\n".join(con.iterdump())
    con.close()
    assert not CYRILLIC.search(dump)
    summary = store.safety_summary(run.id)
    assert summary["flagged_rate"] == 1.0 and summary["screened"] >= 10
    paths = {e["path"] for e in store.safety_events(run.id)}
    assert {"training.samples", "cli.generate", "cli.chat", "playground.chat", "playground.generate"} <= paths


@pytest.fixture(autouse=True)
def _no_detoxify(monkeypatch, tmp_path):
    """The screen that runs here is the fallback (no Detoxify checkpoint on this machine)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("GENLAB_DETOXIFY_CKPT", raising=False)
