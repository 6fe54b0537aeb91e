"""The safety gate: which screen runs and why, Detoxify's real code path on a Detoxify-format checkpoint,
checkpoints refused before unpickling, per-category thresholds, block/mask/annotate, streaming that
releases only screened chunks, chat regeneration, the audit, data screening and the bias report."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from genlab.core.config import SafetyConfig
from genlab.core.errors import GenLabError
from genlab.safety.gate import Gate, screen, screen_many, screener_status, with_overrides
from genlab.safety.screeners import FALLBACK_LABEL, CheckpointRefused, install_checkpoint

LABELLED = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "safety_labelled.tsv"


def labelled() -> list[tuple[str, str]]:
    rows = [line.rstrip("\n").split("\t") for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    return [(label, text) for label, text in (r for r in rows if not r[0].startswith("#"))]


@pytest.fixture
def fresh_screener(home, monkeypatch, tmp_path):
    """No Detoxify checkpoint anywhere (empty GenLab and torch hub folders), and the screens built anew."""
    from genlab.safety import gate as safety

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("GENLAB_DETOXIFY_CKPT", raising=False)
    monkeypatch.delenv("GENLAB_DETOXIFY_HF_CONFIG", raising=False)
    safety.reset_screener()
    yield
    safety.reset_screener()


def test_without_a_detoxify_checkpoint_the_fallback_runs_labelled_as_profanity_only(fresh_screener):
    status = screener_status()
    assert status["screener"] == "alt-profanity-check" and status["label"] == FALLBACK_LABEL
    assert "--install-checkpoint" in status["note"] and "misses threats" in status["note"]
    result = screen("you are a fucking idiot")
    assert result.flagged and FALLBACK_LABEL in result.summary()


def _named_by_hash(path: Path, stem: str) -> Path:
    """Rename a file the way torch hub names downloads: stem-<first 8 hex digits of its sha256>.ckpt."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return path.rename(path.with_name(f"{stem}-{digest[:8]}.ckpt"))


def _detoxify_format_checkpoint(folder: Path, threat_bias: float) -> Path:
    """A checkpoint in Detoxify's own format (config + state_dict) around a tiny BERT with a local
    config and tokenizer: the real checkpoint is a GitHub release file that cannot be fetched here."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder.mkdir()
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "you", "are", "a", "lovely", "morning", "i", "will"]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    config.num_labels = 6
    config.save_pretrained(folder)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    state = model.state_dict()
    state["classifier.weight"].zero_()
    state["classifier.bias"].copy_(torch.tensor([-8.0, -8.0, -8.0, threat_bias, -8.0, -8.0]))
    classes = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
    args = {"model_type": str(folder), "model_name": "BertForSequenceClassification"}
    args |= {"tokenizer_name": "BertTokenizer", "num_classes": 6}
    path = folder / "checkpoint.tmp"
    torch.save(
        {"config": {"arch": {"args": args}, "dataset": {"args": {"classes": classes}}}, "state_dict": state}, path
    )
    return _named_by_hash(path, "toxic_original")


@pytest.mark.parametrize("threat_bias,flagged", [(-8.0, False), (8.0, True)])
def test_a_detoxify_checkpoint_runs_detoxifys_own_code_with_per_category_thresholds(
    fresh_screener, monkeypatch, tmp_path, threat_bias, flagged
):
    from genlab.safety import gate as safety

    ckpt = _detoxify_format_checkpoint(tmp_path / "detoxify", threat_bias)
    monkeypatch.setenv("GENLAB_DETOXIFY_CKPT", str(ckpt))
    monkeypatch.setenv("GENLAB_DETOXIFY_HF_CONFIG", str(ckpt.parent))
    safety.reset_screener()
    assert screener_status()["screener"] == "detoxify"
    result = screen("you are a lovely morning")
    assert result.screener == "detoxify" and result.flagged is flagged and result.label == "Detoxify original"
    assert set(result.scores) == {
        "toxicity",
        "severe_toxicity",
        "obscene",
        "threat",
        "insult",
        "identity_attack",
        "block_list",
    }
    assert (result.scores["threat"] > 0.99) is flagged and result.scores["insult"] < 0.01
    assert ("threat=" in result.summary()) is flagged
    # per-category thresholds: a threat threshold above the score lets it pass; 0 on insult flags it
    assert not screen("you are a lovely morning", SafetyConfig(threat=1.0)).flagged
    assert "insult" in screen("you are a lovely morning", SafetyConfig(insult=0.0)).flagged_categories


class _Boom:
    """A pickle that runs code when loaded: what an attacker would upload as a 'checkpoint'."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_wrong_checkpoint_is_refused_before_anything_unpickles_it(fresh_screener, monkeypatch, tmp_path):
    from genlab.safety import gate as safety

    marker = tmp_path / "code_ran"
    evil = tmp_path / "upload" / "toxic_original-c1212f89.ckpt"  # the official name, other content
    evil.parent.mkdir()
    torch.save({"config": _Boom(marker), "state_dict": {}}, evil)
    with pytest.raises(CheckpointRefused, match="sha256 starts with"):
        install_checkpoint(evil, "original")
    renamed = evil.rename(evil.with_name("my_detoxify.ckpt"))
    with pytest.raises(CheckpointRefused, match="named toxic_original-c1212f89.ckpt"):
        install_checkpoint(renamed, "original")
    with pytest.raises(GenLabError, match="Unknown Detoxify model"):
        install_checkpoint(renamed, "tiny")
    monkeypatch.setenv("GENLAB_DETOXIFY_CKPT", str(renamed))
    safety.reset_screener()
    status = screener_status()
    assert status["screener"] == "alt-profanity-check" and "refused" in status["note"]
    assert not marker.exists(), "nothing was unpickled"
    torch.load(renamed, weights_only=False)  # the control: loading it really would have run its code
    assert marker.exists()


def test_the_fallback_flags_plain_insults_and_passes_friendly_and_merely_rough_sentences(fresh_screener):
    rows = labelled()
    results = screen_many([t for _, t in rows])
    by_label: dict[str, list[bool]] = {}
    for (label, _), r in zip(rows, results, strict=True):
        by_label.setdefault(label, []).append(r.flagged)
    assert all(by_label["insult"]) and len(by_label["insult"]) >= 10
    assert not any(by_label["friendly"]) and not any(by_label["rough"])
    assert screen("").flagged is False  # empty output is screened too, without errors


def test_the_fallback_gives_alt_profanity_checks_own_probabilities():
    """The screen computes the package's model directly (9x faster per call); it must not change a score."""
    from profanity_check import predict_prob

    from genlab.safety.screeners import ProfanityScreener

    texts = ["What light through yonder window breaks?", "you stupid fucking idiot", "", "shit happens", "die"]
    ours = [s["profanity"] for s in ProfanityScreener("test").scores(texts)]
    assert ours == pytest.approx(list(predict_prob(texts)), abs=1e-12)


def test_threshold_overrides_a_bare_value_sets_every_category_and_bad_values_are_clear(fresh_screener):
    policy = with_overrides(SafetyConfig(), ["0.2", "threat=0.9"])
    assert policy.toxicity == policy.profanity == 0.2 and policy.threat == 0.9
    assert screen("have a lovely day", with_overrides(SafetyConfig(), ["0"])).flagged
    for bad in (["toxicity=1.5"], ["nonsense=0.3"], ["high"]):
        with pytest.raises(GenLabError):
            with_overrides(SafetyConfig(), bad)


class Pieces:
    """A text stream of fixed pieces (what a model would yield), counting how many were pulled."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces, self.pulled, self.n_tokens, self.stop_reason = pieces, 0, 0, "end_of_text"

    def __iter__(self):
        for p in self.pieces:
            self.pulled += 1
            self.n_tokens += 1
            yield p


def test_streaming_releases_screened_sentences_and_a_flagged_one_stops_generation(fresh_screener, store):
    source = Pieces(["Have a ", "nice day. ", "You are a ", "stupid idiot. ", "More ", "text ", "here."])
    st = Gate(store=store, run_id="r1", path="test.stream").stream(lambda: source)
    released = list(st)
    assert released[0] == "Have a nice day."  # nothing before the sentence was complete and screened
    assert "idiot" not in "".join(released) and "More" not in "".join(released)
    assert source.pulled == 4, "generation stopped at the flagged chunk"
    assert st.withheld and st.stop_reason == "flagged" and "withheld" in released[-1]
    assert st.text == "".join(released) and st.shown_model_text == "Have a nice day."
    (event,) = store.safety_events("r1")
    expected = hashlib.sha256(b"Have a nice day. You are a stupid idiot. ").hexdigest()
    assert event["action"] == "blocked" and event["sha256"] == expected and event["text"] is None


def test_mask_hides_the_flagged_words_and_annotate_shows_text_with_a_warning(fresh_screener):
    masked = Gate(SafetyConfig(action="mask")).release("What a fucking mess. Let us clean up.")
    assert masked.action == "masked" and masked.text == "What a ******* mess. Let us clean up."
    noted = Gate(SafetyConfig(action="annotate")).release("you are a stupid idiot")
    assert noted.action == "annotated" and noted.text.startswith("you are a stupid idiot\n[warning:")
    st = Gate(SafetyConfig(action="mask")).stream(lambda: Pieces(["Fine. ", "What a fucking ", "mess. ", "Bye."]))
    assert "".join(st) == "Fine. What a ******* mess. Bye." and st.action == "masked"


def test_the_audit_counts_every_output_and_keeps_text_only_when_the_owner_asks(fresh_screener, store, capsys):
    from genlab.cli.main import main

    gate = Gate(store=store, run_id="r2", path="test.release")
    for text in ("have a lovely day", "you are a stupid idiot", "thank you"):
        gate.release(text)
    summary = store.safety_summary("r2")
    assert summary["screened"] == 3 and summary["flagged"] == 1 and summary["flagged_rate"] == pytest.approx(1 / 3)
    assert [e["action"] for e in store.safety_events("r2", flagged_only=True)] == ["blocked"]
    assert all(e["text"] is None for e in store.safety_events("r2"))
    Gate(SafetyConfig(reveal_in_audit=True), store=store, run_id="r3").release("you are a stupid idiot")
    assert store.safety_events("r3")[0]["text"] == "you are a stupid idiot"
    capsys.readouterr()
    assert main(["audit", "r2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["summary"]["flagged"] == 1 and [e["action"] for e in shown["events"]] == ["blocked"]
    assert main(["audit", "r2"]) == 0 and "1 of 3 outputs flagged" in capsys.readouterr().out


def test_an_empty_output_is_audited_as_passed_with_nothing_flagged_even_at_threshold_zero(fresh_screener, store):
    strict = with_overrides(SafetyConfig(), ["0"])  # every category flags any text at all
    gate = Gate(strict, store=store, run_id="empty", path="test.empty")
    assert gate.release("   ").action == "pass"
    streamed = gate.stream(lambda: Pieces(["", "  "]))
    assert "".join(streamed) == "" and streamed.action == "pass"
    assert gate.release("have a lovely day").action == "blocked", "a real text is still flagged at 0"
    events = store.safety_events("empty")
    assert [e["action"] for e in events] == ["blocked", "pass", "pass"]
    for event in events[1:]:
        assert event["flagged"] == [] and set(event["scores"].values()) == {0.0}


def test_chat_regenerates_a_flagged_reply_then_refuses_and_keeps_no_withheld_text(fresh_screener, store):
    from genlab.use.generate import ChatSession, SamplingSettings, TextStream
    from tests.test_generate import build

    chat_model = build("gpt", name="genlab_chat", block_size=64, batch_size=2, vocab_size=600)
    gate = Gate(SafetyConfig(max_regenerations=2, profanity=0.0), store=store, run_id="chat", path="test.chat")
    session = ChatSession(chat_model, settings=SamplingSettings(max_new_tokens=12, seed=5), gate=gate)
    result = session.send("What is a GAN?")
    assert result.withheld and result.attempts == 3 and "3 attempts" in result.text
    events = store.safety_events("chat")
    assert sorted(e["action"] for e in events) == ["blocked", "regenerated", "regenerated"]
    assert len({e["sha256"] for e in events}) == 3, "each attempt is a new generation"
    raw = TextStream(chat_model, session._prompt_ids("What is a GAN?"), SamplingSettings(max_new_tokens=12, seed=5))
    first_attempt = raw.consume().strip()
    assert first_attempt and first_attempt not in json.dumps(session.history)
    assert session.history[-1] == {"role": "assistant", "content": result.text}


def test_cli_screen_exit_codes_json_and_file(fresh_screener, tmp_path, capsys):
    from genlab.cli.main import main

    assert main(["screen", "have a lovely day", "thank you"]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["screen", "have a lovely day", "you are a stupid idiot", "--json"]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["flagged"] for x in lines] == [False, True] and lines[1]["label"] == FALLBACK_LABEL
    f = tmp_path / "lines.txt"
    f.write_text("good morning\n\nsee you soon\n", encoding="utf-8")
    assert main(["screen", "--file", str(f)]) == 0
    assert main(["screen", "--file", str(f), "--threshold", "0"]) == 1
    assert main(["screen", "--file", str(tmp_path / "missing.txt")]) == 2
    assert main(["screen"]) == 2
    assert main(["screen", "x", "--threshold", "toxicity=2"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_data_screening_reports_the_flagged_share_and_a_run_can_drop_those_lines(fresh_screener, store, tmp_path):
    from genlab.cli.main import main
    from genlab.core.data_config import TextDataConfig
    from genlab.core.registry import FAMILIES
    from genlab.runner.train import screened_data
    from genlab.safety.data_screen import screen_corpus

    good = ["the king rode to the castle at dawn", "a quiet river runs past the mill"]
    bad = "you are a stupid idiot and a worthless moron"
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(good * 20 + [bad] * 5) + "\n", encoding="utf-8")
    report = screen_corpus(TextDataConfig(source="file", name=str(corpus)))
    assert report.screened == 45 and report.flagged == 5 and report.share == pytest.approx(5 / 45)
    assert report.examples[0]["text"] == bad and report.by_category == {"profanity": 5}
    assert main(["screen-data", "--source", "file", "--name", str(corpus), "--json"]) == 0
    assert main(["screen-data", "--source", "file", "--name", str(tmp_path / "nope.txt")]) == 2

    raw = FAMILIES["rnn"].tiny_config().model_dump(mode="json")
    raw["data"].update({"source": "file", "name": str(corpus), "max_chars": None})
    raw["safety"]["drop_flagged_data"] = True
    config = FAMILIES["rnn"].config_cls.model_validate(raw)
    run = store.create_run(config)
    used = screened_data(config, store, run.id)
    text = Path(used.data.name).read_text(encoding="utf-8")
    assert "idiot" not in text and text.count("the king rode") == 20
    assert store.get(run.id).config["data"]["name"] == str(corpus), "the run's config still names its corpus"
    (art,) = store.artifacts(run.id, kind="data_screen")
    assert art["meta"]["flagged"] == 5


def test_a_model_that_learned_profanity_has_its_output_withheld(fresh_screener, tmp_path):
    """Overfit a tiny char-RNN on one rude line, then ask it to continue: the reply is flagged and withheld."""
    import lightning as L

    from datamodules.text import TextDataModule
    from genlab.families.rnn import RNNRunConfig
    from genlab.use.generate import SamplingSettings, TextStream, generate
    from lightning_modules.rnn import RNNModule

    line = "you are a fucking idiot and a damn fool\n"
    path = tmp_path / "rude.txt"
    path.write_text(line * 60)
    cfg = RNNRunConfig(
        data={"source": "file", "name": str(path), "block_size": 32, "batch_size": 8, "eval_pairs": 0},
        model={"n_layer": 1, "hidden": 64, "embed_dim": 16, "dropout": 0.0},
        optim={"lr": 0.01, "schedule": "constant", "warmup_steps": 0},
        trainer={"max_steps": 150},
    )
    dm = TextDataModule(cfg)
    dm.setup("fit")
    torch.manual_seed(0)
    module = RNNModule(cfg.model_dump(mode="json"), dm.info())
    L.Trainer(
        max_steps=150,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    ).fit(module, datamodule=dm)
    module.eval()
    greedy = SamplingSettings(temperature=0, max_new_tokens=30)
    assert "fucking" in TextStream(module, module.tokenizer("you are a")["input_ids"], greedy).consume()
    result = generate(module, "you are a", greedy)
    assert result.safety.flagged and result.withheld and "raw_text" not in result.to_dict()
    assert "fucking" not in result.text and result.text.startswith("[withheld")
    masked = generate(module, "you are a", greedy, gate=Gate(SafetyConfig(action="mask")))
    assert "fucking" not in masked.text and "*******" in masked.text

    from genlab.safety.bias_report import bias_report

    report = bias_report(module, SafetyConfig(), samples=2, max_new_tokens=20, groups=("women", "men"))
    assert [g["group"] for g in report["groups"]] == ["women", "men"] and report["score"] == "profanity"
    assert all(g["n"] == 2 * len(report["templates"]) and 0 <= g["flagged_rate"] <= 1 for g in report["groups"])
    assert "fucking" not in json.dumps(report), "the report holds scores, never generated text"
