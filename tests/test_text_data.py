"""Text data: corpora, tokenizers (round trips), packing, seeded split, chat masking, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from datamodules.chat_format import IM_END, encode_chat
from datamodules.text import TextDataModule, chat_rows, pack_text, to_xy, trim_tail
from datamodules.tokenizers import IGNORE, tokenizer_from_spec, train_bpe
from genlab.core.config import ConfigError
from genlab.core.errors import DataError, OfflineError
from genlab.core.parsing import parse_config
from genlab.families.gpt import GPTRunConfig
from genlab.families.rnn import RNNRunConfig

TEXT = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n"
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and refuse thy name.\n"
) * 20


def gpt_config(**data) -> GPTRunConfig:
    base = {
        "block_size": 32,
        "batch_size": 4,
        "vocab_size": 300,
        "eval_pairs": 2,
        "eval_prompt_tokens": 8,
        "eval_new_tokens": 8,
    }
    return GPTRunConfig(data={**base, **data}, model={"n_layer": 2, "n_head": 2, "n_embd": 32})


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# -- tokenizers --------------------------------------------------------------------------------------


def test_trained_bpe_round_trips_text_and_survives_save_and_reload(home, tmp_path):
    from transformers import AutoTokenizer

    tok = tokenizer_from_spec(
        {"kind": "bpe", "chat": False, "json": train_bpe(TEXT.splitlines(True), 300, ["<|endoftext|>"]).to_str()}
    )
    sample = "O Romeo, wherefore art thou? Ünïcödé ✓ 123\n"
    ids = tok(sample, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == sample  # byte-level: any text round-trips, even unseen characters
    assert len(ids) < len(sample.encode("utf-8"))  # merges were learned
    tok.save_pretrained(tmp_path / "tok")
    again = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert again(sample, add_special_tokens=False)["input_ids"] == ids


def test_char_tokenizer_is_one_token_per_character(home, tmp_path):
    path = write(tmp_path, "c.txt", TEXT)
    dm = TextDataModule(gpt_config(source="file", name=str(path), tokenizer="char"))
    dm.setup("fit")
    ids = dm.tokenizer("Romeo", add_special_tokens=False)["input_ids"]
    assert len(ids) == 5 and dm.tokenizer.decode(ids) == "Romeo"
    assert dm.info()["vocab_size"] == len(set(TEXT)) + 2  # characters + <unk> + <|endoftext|>


def test_gpt2_tokenizer_from_the_shipped_files_gives_the_official_ids(home):
    tok = tokenizer_from_spec({"kind": "gpt2", "chat": False})
    assert tok("Hello world", add_special_tokens=False)["input_ids"] == [15496, 995]
    assert len(tok) == 50257 and tok.eos_token_id == 50256


def test_the_trained_tokenizer_travels_in_info_and_rebuilds_identically(home, tmp_path):
    dm = TextDataModule(gpt_config(source="file", name=str(write(tmp_path, "a.txt", TEXT)), tokenizer="bpe"))
    dm.setup("fit")
    info = dm.info()
    json.dumps(info)  # primitives only: it goes into the checkpoint's hyper-parameters
    rebuilt = tokenizer_from_spec(info["tokenizer"])
    assert rebuilt("wherefore art thou")["input_ids"] == dm.tokenizer("wherefore art thou")["input_ids"]


# -- packing and split -----------------------------------------------------------------------------


def test_packing_makes_overlapping_windows_and_targets_are_shifted_inputs():
    ids = torch.arange(10)
    blocks = pack_text(ids, 4)  # (2, 5): [0..4], [4..8]
    assert blocks.tolist() == [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8]]
    x, y = to_xy(blocks)
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]


def test_chat_rows_hold_one_whole_conversation_each_and_batches_drop_the_padding_tail():
    examples = [
        ([1, 2, 3], [False, True, True]),
        ([4, 5], [False, True]),
        ([6, 7, 8, 9, 10, 11, 12], [False] * 5 + [True] * 2),
    ]
    tokens, learn, truncated = chat_rows(examples, block_size=5, pad_id=0)
    # each conversation starts a row of its own, so it is learned as it is asked: alone, from position 0
    assert tokens.tolist() == [[1, 2, 3, 0, 0, 0], [4, 5, 0, 0, 0, 0], [6, 7, 8, 9, 10, 11]] and truncated == 1
    x, y = to_xy(tokens, learn)
    assert y.tolist() == [[2, 3, IGNORE, IGNORE, IGNORE], [5, IGNORE, IGNORE, IGNORE, IGNORE], [IGNORE] * 4 + [11]]
    bx, by = trim_tail(x[:2], y[:2], multiple=1)  # no target after column 1: the rest is cut
    assert bx.tolist() == [[1, 2], [4, 5]] and by.tolist() == [[2, 3], [5, IGNORE]]
    assert trim_tail(x, y, multiple=1)[0].shape == (3, 5)  # a target in the last column keeps the whole width
    assert trim_tail(x[:2], y[:2], multiple=4)[0].shape == (2, 4)  # rounded up: few distinct shapes


def test_split_is_seeded(home, tmp_path):
    path = str(write(tmp_path, "a.txt", TEXT))

    def val_first_rows(seed: int) -> list[list[int]]:
        cfg = gpt_config(source="file", name=path, tokenizer="char", val_fraction=0.2)
        cfg.seed = seed
        dm = TextDataModule(cfg)
        dm.setup("fit")
        return dm.val_xy[0][:3].tolist()

    assert val_first_rows(1) == val_first_rows(1)
    assert val_first_rows(1) != val_first_rows(2)


def test_builtin_corpora_load_offline(home):
    for name, word in (("shakespeare", "HIPPOLYTA:"), ("kjv", "In the beginning God created")):
        dm = TextDataModule(gpt_config(name=name, tokenizer="char", max_chars=200_000))
        dm.setup("fit")
        assert word in dm.corpus.text and dm.info()["n_train"] > 100


# -- chat formatting and loss masking ---------------------------------------------------------------


def test_chat_loss_is_taken_only_on_the_assistant_answers(home):
    dm = TextDataModule(gpt_config(name="genlab_chat", tokenizer="bpe", vocab_size=800, block_size=256, batch_size=2))
    dm.setup("fit")
    assert dm.info()["format"] == "chat"
    tok = dm.tokenizer
    conv = [
        {"role": "user", "content": "What is LoRA?"},
        {"role": "assistant", "content": "Small adapters."},
        {"role": "user", "content": "And BPE?"},
        {"role": "assistant", "content": "Merged byte pairs."},
    ]
    ids, mask = encode_chat(tok, conv)
    learned = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert learned == f"Small adapters.{IM_END}\nMerged byte pairs.{IM_END}\n"
    assert tok.decode(ids) == tok.apply_chat_template(conv, tokenize=False)  # the pieces add up to the template
    # in the packed batches, every target with a loss belongs to an answer
    x, y = dm.train_xy
    answers = [m["content"] for c in dm.corpus.chats for m in c if m["role"] == "assistant"]
    row = y[0][y[0] != IGNORE].tolist()
    first = tok.decode(row).split(IM_END)[0]
    assert first in answers
    assert "<|im_start|>" not in tok.decode(row)


def test_chat_jsonl_with_messages_and_csv_with_prompt_response_are_both_chat(home, tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"answer number {i}"}]}
        for i in range(20)
    ]
    jsonl = write(tmp_path, "c.jsonl", "\n".join(json.dumps(r) for r in rows))
    csv_path = write(tmp_path, "c.csv", "prompt,response\n" + "\n".join(f"q{i},answer number {i}" for i in range(20)))
    for path in (jsonl, csv_path):
        dm = TextDataModule(gpt_config(source="file", name=str(path), tokenizer="char", block_size=64, batch_size=2))
        dm.setup("fit")
        assert dm.info()["format"] == "chat" and dm.info()["eval_pairs"][0]["reference"].startswith("answer number")


def test_csv_text_column_is_used_for_plain_text(home, tmp_path):
    path = write(tmp_path, "t.csv", "id,body\n" + "\n".join(f'{i},"{TEXT[:200]}"' for i in range(10)))
    dm = TextDataModule(gpt_config(source="file", name=str(path), tokenizer="char", text_column="body"))
    dm.setup("fit")
    assert dm.info()["format"] == "text" and "Romeo" in dm.corpus.text


# -- bad inputs: clear errors, not tracebacks ------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("latin1.txt", "caf\xe9 au lait\n".encode("latin-1") * 50, "is not UTF-8 text"),
        ("empty.txt", b"", "is empty"),
        ("blank.md", b"  \n\n \t\n", "is empty"),
        ("short.txt", b"To be.", "too short"),
        ("data.pdf", b"%PDF-1.4", "unsupported file type"),
        ("bad.jsonl", b'{"text": "ok"}\n{not json}\n', "line 2 is not valid JSON"),
        ("cols.csv", b"a,b\n1,2\n3,4\n", "no text column 'text'"),
    ],
)
def test_bad_text_files_give_clear_errors(home, tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    dm = TextDataModule(gpt_config(source="file", name=str(path), tokenizer="char"))
    with pytest.raises(DataError, match=expected):
        dm.setup("fit")


def test_missing_file_unknown_builtin_and_plain_text_as_chat_are_clear(home, tmp_path):
    for cfg, expected in (
        (gpt_config(source="file", name=str(tmp_path / "nope.txt")), "no file"),
        (gpt_config(name="wikipedia"), "unknown built-in corpus"),
        (gpt_config(source="file", name=str(write(tmp_path, "p.txt", TEXT)), format="chat"), "chat data must be"),
    ):
        with pytest.raises(DataError, match=expected):
            TextDataModule(cfg).setup("fit")


def test_a_text_upload_is_checked_stored_and_used_by_name(home, tmp_path):
    from datamodules.corpora import import_text_upload

    stored = import_text_upload("My Sonnets", write(tmp_path, "sonnets.txt", TEXT))
    assert stored.name == "My_Sonnets.txt"
    dm = TextDataModule(gpt_config(source="upload", name="My_Sonnets", tokenizer="char"))
    dm.setup("fit")
    assert "Juliet" in dm.corpus.text
    with pytest.raises(DataError, match="not UTF-8"):
        import_text_upload("bad", write(tmp_path, "bad.txt", "caf\xe9".encode("latin-1")))


def test_batch_larger_than_the_data_says_what_to_lower(home, tmp_path):
    path = write(tmp_path, "a.txt", TEXT[:2000])
    with pytest.raises(DataError, match="data.batch_size"):
        TextDataModule(gpt_config(source="file", name=str(path), tokenizer="char", batch_size=512)).setup("fit")


def test_hf_dataset_offline_gives_a_clear_message(home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="save_to_disk"):
        TextDataModule(gpt_config(source="hf", name="no-such-user/no-such-text-set")).setup("fit")


def test_pretrained_hub_id_offline_gives_a_clear_message(home, monkeypatch):
    from genlab.core.assets import resolve_pretrained

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="model.pretrained=smollm2"):
        resolve_pretrained("no-such-user/no-such-model")


def test_config_rules_for_text_families():
    with pytest.raises(ConfigError, match="n_head"):
        parse_config({"family": "gpt", "model": {"n_head": 3, "n_embd": 32}})
    with pytest.raises(ConfigError, match="own tokenizer"):
        parse_config({"family": "gpt", "model": {"source": "pretrained"}, "data": {"tokenizer": "bpe"}})
    with pytest.raises(ConfigError, match="needs model.source=pretrained"):
        parse_config({"family": "gpt", "data": {"tokenizer": "pretrained"}})
    with pytest.raises(ConfigError, match="no pretrained model"):
        parse_config({"family": "rnn", "data": {"tokenizer": "pretrained"}})
    with pytest.raises(ConfigError, match="block_size"):
        parse_config({"family": "gpt", "data": {"block_size": 4}})
    assert isinstance(parse_config({"family": "rnn"}), RNNRunConfig)
