"""Dynamic batching of a trained tiny GPT: requests decoded together give exactly the tokens each gets
decoding alone (seeded sampling and greedy, past the context window too), they really share forward
passes, and a stream closed early frees its row for the next request."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers import train_tiny, wait_for


@pytest.fixture(scope="module")
def gpt(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path):
    from genlab.core.registry import FAMILIES
    from genlab.store.runs import RunStore

    home = tmp_path_factory.mktemp("batching_home")
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        _, module = train_tiny(store, FAMILIES["gpt"])
        module.eval()
        yield module
        store.close()


def alone(module, prompt_ids, settings) -> list[int]:
    from lightning_modules.text_sampling import generate_ids

    return generate_ids(module, prompt_ids, settings)


def prompts(module) -> list[list[int]]:
    tok = module.tokenizer
    texts = ["ROMEO:", "JULIET: O", "First Citizen:\nBefore we proceed", "KING", "A", "What light"]
    return [list(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]


def test_slot_logits_match_the_single_sequence_cache(gpt):
    ids = prompts(gpt)[2]
    cache = gpt.slot_cache(4)
    first = gpt.slot_logits(cache, torch.tensor([ids[:-1]]), [3], [0])
    alone_logits, kv = gpt.next_logits(torch.tensor([ids[:-1]]), None)
    torch.testing.assert_close(first, alone_logits, rtol=1e-4, atol=1e-5)
    nxt = gpt.slot_logits(cache, torch.tensor([[ids[-1]]]), [3], [len(ids) - 1])
    alone_next, _ = gpt.next_logits(torch.tensor([[ids[-1]]]), kv)
    torch.testing.assert_close(nxt, alone_next, rtol=1e-4, atol=1e-5)


def test_requests_decoded_together_get_the_tokens_each_gets_alone(gpt):
    from genlab.use.batching import BatchedDecoder
    from lightning_modules.text_sampling import SamplingSettings

    settings = [
        SamplingSettings(
            temperature=0.9, top_k=20, top_p=0.9, max_new_tokens=12 + 3 * i, seed=i, repetition_penalty=1.1
        )
        for i in range(5)
    ] + [SamplingSettings(temperature=0.0, max_new_tokens=40)]  # greedy, past the 32-token context
    want = [alone(gpt, p, s) for p, s in zip(prompts(gpt), settings, strict=True)]
    decoder = BatchedDecoder(gpt, max_batch=8)
    try:
        with decoder.cond:  # every request is waiting before the first step: they all join it
            streams = [decoder.submit(p, s) for p, s in zip(prompts(gpt), settings, strict=True)]
        got = [list(s) for s in streams]
    finally:
        decoder.close()
    assert got == want
    assert decoder.widest == 6, "the six requests shared forward passes"
    assert decoder.steps < sum(len(w) for w in want) / 2


def test_more_requests_than_rows_wait_their_turn_and_a_closed_stream_frees_its_row(gpt):
    from genlab.use.batching import BatchedDecoder
    from lightning_modules.text_sampling import SamplingSettings

    decoder = BatchedDecoder(gpt, max_batch=2)
    try:
        s = SamplingSettings(temperature=0.0, max_new_tokens=30)
        early = decoder.submit(prompts(gpt)[0], s)
        assert [next(early) for _ in range(3)] == alone(gpt, prompts(gpt)[0], s)[:3]
        early.close()  # a stop string or a flagged chunk ends the stream early
        many = [decoder.submit(p, SamplingSettings(temperature=0.0, max_new_tokens=6)) for p in prompts(gpt)]
        assert [list(m) for m in many] == [
            alone(gpt, p, SamplingSettings(temperature=0.0, max_new_tokens=6)) for p in prompts(gpt)
        ]
        assert decoder.widest == 2
        wait_for(lambda: sorted(decoder.free) == [0, 1], timeout=10, what="every row to be free again")
    finally:
        decoder.close()
