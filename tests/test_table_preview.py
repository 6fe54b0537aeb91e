"""The Data page's check of an uploaded table: pairs or texts with labels shown as the run would read
them, a clear message for each bad table (missing columns, empty targets, one class), notes for rows
skipped and texts that training will cut, and the same check in the page itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlab.core.errors import DataError
from genlab.core.paths import uploads_dir
from genlab.data.api import table_preview


def _upload(name: str, text: str) -> str:
    uploads_dir().mkdir(parents=True, exist_ok=True)
    (uploads_dir() / name).write_text(text, encoding="utf-8")
    return Path(name).stem


def test_pairs_are_previewed_with_skipped_rows_and_long_sources_noted(home: Path) -> None:
    long = " ".join(["word"] * 40)
    name = _upload(
        "pairs.csv", f'source,target\nteddy bear,:teddy_bear:\nhot pepper,:hot_pepper:\n"{long}",:long:\nx,\n'
    )
    prev = table_preview(name, kind="pairs", max_len=(32, 16))
    assert prev.rows[:2] == [("teddy bear", ":teddy_bear:"), ("hot pepper", ":hot_pepper:")]
    assert (prev.usable, prev.skipped) == (3, 1)
    assert any("1 of 4 rows have an empty" in n for n in prev.notes)
    assert any("at least 1 sources" in n and "data.max_source_len=32" in n for n in prev.notes)


def test_labelled_texts_show_their_classes(home: Path) -> None:
    rows = "\n".join(f"line {i},{'a' if i % 3 else 'b'}" for i in range(9))
    name = _upload("lab.csv", "words,kind\n" + rows + "\n")
    prev = table_preview(name, kind="labelled", first="words", second="kind", max_len=64)
    assert prev.label_counts == {"a": 6, "b": 3} and prev.headers == ("words", "kind")
    assert not prev.notes


@pytest.mark.parametrize(
    ("text", "kind", "says"),
    [
        ("input,output\na,b\nc,d\n", "pairs", "no column 'source', 'target'; its columns are: input, output"),
        ('source,target\na,""\nb,""\n', "pairs", "every row has an empty source or target"),
        ("text,label\nfirst line,x\nsecond line,x\n", "labelled", "one class ('x')"),
        ("text,label\nonly one,x\n", "labelled", "only 1 usable row"),
    ],
)
def test_bad_tables_say_what_is_wrong(home: Path, text: str, kind: str, says: str) -> None:
    with pytest.raises(DataError, match=says.replace("(", r"\(").replace(")", r"\)")):
        table_preview(_upload("bad.csv", text), kind=kind)


def test_jsonl_and_a_missing_upload(home: Path) -> None:
    name = _upload("p.jsonl", '{"source": "a b", "target": "c"}\n{"source": "d", "target": "e f"}\n')
    assert table_preview(name, kind="pairs").rows == [("a b", "c"), ("d", "e f")]
    with pytest.raises(DataError, match="no file 'nothing'"):
        table_preview("nothing", kind="pairs")


def test_the_data_page_panel_shows_pairs_and_errors(home: Path) -> None:
    from streamlit.testing.v1 import AppTest

    _upload("mine.csv", "source,target\nteddy bear,:teddy_bear:\nhot pepper,:hot_pepper:\n")

    def page() -> None:
        from ui.widgets.table_views import table_check_panel

        table_check_panel("mine", key="t")

    at = AppTest.from_function(page, default_timeout=90).run()
    at.button(key="t.check").click().run()
    assert "2 usable pairs" in at.success[0].value
    assert at.dataframe[0].value.iloc[0].tolist() == ["teddy bear", ":teddy_bear:"]
    at.radio(key="t.kind").set_value("Texts with labels").run()
    at.button(key="t.check").click().run()
    assert "no column 'text'" in at.error[0].value


def test_training_notes_texts_cut_to_the_context(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from genlab.core.registry import FAMILIES
    from genlab.runner.build import build_datamodule

    long = " ".join(f"word{i}" for i in range(40))
    path = tmp_path / "long.csv"
    rows = [f'"{long if i == 0 else f"short {i}"}",target {i % 3},{"a" if i % 2 else "b"}' for i in range(24)]
    path.write_text("source,target,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    t5 = FAMILIES["t5"].tiny_config()
    t5.data = t5.data.model_copy(update={"source": "file", "name": str(path)})
    build_datamodule(t5).setup()
    assert "Note: 1 of 24 sources are longer than data.max_source_len=12 tokens and were truncated" in (
        capsys.readouterr().out
    )
    bert = FAMILIES["bert"].tiny_config()
    bert.data = bert.data.model_copy(update={"source": "file", "name": str(path), "text_column": "source"})
    dm = build_datamodule(bert)
    dm.setup()
    assert dm.info()["truncated"] == 1
    assert "1 of 24 texts are longer than data.max_length=16 tokens" in capsys.readouterr().out
