"""Sampling, streaming, stop strings, seeds, the sliding context window, multi-turn chat trimming and the CLI."""

from __future__ import annotations

import pytest
import torch

from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES
from genlab.use.generate import ChatSession, TextStream, generate, stream
from lightning_modules.text_sampling import SamplingSettings, generate_ids, pick_next


def build(family: str = "gpt", **data):
    from datamodules.text import TextDataModule
    from genlab.runner.train import build_module

    raw = FAMILIES[family].tiny_config().model_dump(mode="json")
    raw["data"].update(data)
    cfg = FAMILIES[family].config_cls.model_validate(raw)
    dm = TextDataModule(cfg)
    dm.setup("fit")
    torch.manual_seed(0)
    return build_module(cfg, dm.info()).eval()


@pytest.fixture(scope="module")
def gpt(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(tmp_path_factory.mktemp("home")))
        return build("gpt")


def test_pick_next_greedy_top_k_top_p_and_repetition_penalty():
    logits = torch.tensor([1.0, 3.0, 2.0, -1.0])
    g = torch.Generator().manual_seed(0)
    assert pick_next(logits, [], SamplingSettings(temperature=0), None) == 1
    assert all(pick_next(logits, [], SamplingSettings(temperature=5.0, top_k=1), g) == 1 for _ in range(20))
    assert all(pick_next(logits, [], SamplingSettings(temperature=5.0, top_k=0, top_p=0.01), g) == 1 for _ in range(20))
    top2 = {pick_next(logits, [], SamplingSettings(temperature=2.0, top_k=2), g) for _ in range(200)}
    assert top2 == {1, 2}
    # a penalty of 2 halves the positive logit of a token already seen: 3 -> 1.5 < 2
    assert pick_next(logits, [1], SamplingSettings(temperature=0, repetition_penalty=2.0), None) == 2


def test_sampling_draws_each_token_as_often_as_its_probability_and_never_a_filtered_one():
    """The draw behind every sampled token (alone and batched): frequencies follow the softmax, a token
    cut by top-k is never drawn, each request's seed repeats its own draws whatever rows sit beside it."""
    from lightning_modules.text_sampling import TokenPicker, pick_rows

    logits = torch.log(torch.tensor([0.5, 0.3, 0.2, 0.0001]))
    s = SamplingSettings(temperature=1.0, top_k=3)
    g = torch.Generator().manual_seed(1)
    counts = torch.bincount(torch.tensor([pick_next(logits, [], s, g) for _ in range(4000)]), minlength=4)
    assert counts[3] == 0
    torch.testing.assert_close(
        counts[:3] / 4000, torch.tensor([0.5 / 0.9999, 0.3 / 0.9999, 0.2 / 0.9999]), atol=0.03, rtol=0
    )
    alone = [TokenPicker(s, torch.Generator().manual_seed(7)) for _ in range(2)]
    batched = [TokenPicker(s, torch.Generator().manual_seed(7)), TokenPicker(SamplingSettings(temperature=0.5), None)]
    rows = torch.stack([logits, logits])
    assert [alone[0](logits) for _ in range(30)] == [pick_rows(batched, rows)[0] for _ in range(30)]


def test_a_top_p_too_small_for_float32_still_picks_the_likeliest_token():
    logits = torch.tensor([0.5, 3.0, 1.0, -2.0])
    g = torch.Generator().manual_seed(0)
    assert all(pick_next(logits, [], SamplingSettings(top_p=5e-324), g) == 1 for _ in range(5))


def test_bad_sampling_settings_are_clear_errors():
    for kwargs in ({"temperature": -1}, {"top_p": 0}, {"top_k": -2}, {"repetition_penalty": 0}, {"max_new_tokens": 0}):
        with pytest.raises(GenLabError):
            SamplingSettings(**kwargs)


def raw(module, prompt: str, settings: SamplingSettings) -> str:
    """The unscreened continuation (the sampling core's own output, before the safety gate)."""
    return TextStream(module, module.tokenizer(prompt)["input_ids"], settings).consume()


def test_same_seed_same_text_and_different_seed_different_text(gpt):
    s = lambda seed: SamplingSettings(temperature=1.5, top_k=0, max_new_tokens=24, seed=seed)  # noqa: E731
    a, b, c = (raw(gpt, "ROMEO:", s(seed)) for seed in (1, 1, 2))
    assert a == b and a != c
    assert generate(gpt, "ROMEO:", s(1)).text == a  # a passing text reaches the user unchanged


def test_streamed_pieces_add_up_to_the_text_and_max_new_tokens_is_respected(gpt):
    st = stream(gpt, "ROMEO:", SamplingSettings(temperature=1.0, max_new_tokens=17, seed=3))
    pieces = list(st)
    assert "".join(pieces) == st.text and st.n_tokens <= 17
    assert st.safety is not None and st.safety.screener  # every returned text is screened
    with pytest.raises(GenLabError):
        list(st)  # a stream is consumed once


def test_stop_strings_end_generation_and_are_never_shown(gpt):
    free = raw(gpt, "ROMEO:", SamplingSettings(temperature=0, max_new_tokens=30))
    assert len(free) > 4
    stop = free[2:4]  # a string the greedy continuation is known to produce
    st = TextStream(
        gpt, gpt.tokenizer("ROMEO:")["input_ids"], SamplingSettings(temperature=0, max_new_tokens=30, stop=[stop])
    )
    shown = "".join(st)
    assert stop not in shown and shown == free[: free.find(stop)] and st.stop_reason == "stop_string"


def test_generation_slides_past_the_context_window(gpt):
    window = gpt.context_window  # 32 tokens in the tiny config
    long_prompt = list(range(5, 5 + 3 * window))
    out = generate_ids(gpt, long_prompt, SamplingSettings(temperature=1.0, max_new_tokens=2 * window, seed=0))
    assert len(out) > window  # generated past the position table without an overflow
    assert all(0 <= t < gpt.data_info["vocab_size"] for t in out)


def test_chat_on_a_plain_text_model_is_refused(gpt):
    with pytest.raises(GenLabError, match="no chat template"):
        ChatSession(gpt)


def test_chat_keeps_history_and_drops_old_turns_to_fit_the_window(home):
    chat_model = build("gpt", name="genlab_chat", block_size=64, batch_size=2, vocab_size=600)
    assert chat_model.is_chat
    session = ChatSession(
        chat_model, system_prompt="Be brief.", settings=SamplingSettings(temperature=0, max_new_tokens=8)
    )
    for q in ("What is LoRA?", "What is BPE?", "What is a GAN?", "And a VAE?"):
        result = session.send(q)
        assert result.safety is not None
    assert [m["role"] for m in session.history] == ["user", "assistant"] * 4
    assert session.dropped_turns > 0  # 4 exchanges do not fit a 64-token window
    ids = session._prompt_ids("One more?")
    assert len(ids) <= chat_model.context_window - min(8, chat_model.context_window // 2)
    text = chat_model.tokenizer.decode(ids)
    assert "One more?" in text and "Be brief." in text  # the newest turn and the system prompt survive trimming


def test_a_chat_run_is_chatted_with_the_system_prompt_it_was_trained_with(home):
    from lightning_modules.text_sampling import trained_system_prompt

    chat_model = build(
        "gpt", name="genlab_chat", block_size=64, batch_size=2, vocab_size=600, system_prompt="Be brief."
    )
    assert trained_system_prompt(chat_model) == "Be brief."
    ids = ChatSession(chat_model, system_prompt=trained_system_prompt(chat_model))._prompt_ids("Hi?")
    assert "Be brief." in chat_model.tokenizer.decode(ids)


def test_rnn_generates_through_the_same_api(home):
    rnn = build("rnn")
    st = TextStream(rnn, rnn.tokenizer("ROMEO:")["input_ids"], SamplingSettings(max_new_tokens=12, seed=0))
    assert len(st.consume()) > 0


def test_cli_generate_chat_and_export(store, capsys):
    from genlab.cli.main import main
    from genlab.runner.train import fit

    run = store.create_run(FAMILIES["gpt"].tiny_config())
    fit(store, run.id)
    capsys.readouterr()  # training's own progress lines (the worker log's) are not generate's output
    assert main(["generate", run.id, "--prompt", "ROMEO:", "--max-new-tokens", "8", "--seed", "1"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("ROMEO:") and "safety:" in out.err and "alt-profanity-check" in out.err
    assert main(["generate", run.id, "--prompt", "ROMEO:", "--max-new-tokens", "4", "--json"]) == 0
    assert '"safety"' in capsys.readouterr().out
    assert main(["chat", run.id, "--message", "hi"]) == 2  # a plain-text run has no chat template
    assert "no chat template" in capsys.readouterr().err
    assert main(["export-hf", run.id]) == 0
    assert (store.run_folder(run.id) / "exports" / "hf" / "model.safetensors").is_file()
    assert main(["generate", "--prompt", "x"]) == 2  # neither a run nor --model
