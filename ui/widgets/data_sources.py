"""What data a config's `data.name` can name: the built-in sets of its data kind, and stored uploads."""

from __future__ import annotations

from pathlib import Path

from genlab.core.paths import uploads_dir
from genlab.data.api import IMAGE_SUFFIXES, builtin_sets, list_uploads

TEXT_SUFFIXES = {".txt", ".md", ".jsonl", ".csv"}


def _newest_first(folder: Path, names: list[str]) -> list[str]:
    """The just-uploaded set first: it is what a person switching the source to an upload means."""
    return sorted(names, key=lambda n: (-(folder / n).stat().st_mtime, n))


def text_uploads() -> list[str]:
    folder = uploads_dir()
    names = [p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES]
    return _newest_first(folder, names)


def image_uploads() -> list[str]:
    return _newest_first(uploads_dir(), list_uploads())


def name_choices(kind: str, source: str | None, data_cls: type | None = None) -> list[str] | None:
    """Suggestions for data.name given the family's data kind and the data section's source.

    A data section that declares its own built-in names (`builtin_names`: the bert family's labelled sets,
    the t5 family's pair tasks) offers those instead of its kind's catalogue (the GPT corpora for "text").
    """
    if source == "builtin":
        own = getattr(data_cls, "builtin_names", None)
        return list(own or builtin_sets(kind)) or None
    if source in ("zip", "folder"):
        return image_uploads()
    if source == "upload":
        return text_uploads()
    return None


def first_images(folder: Path, n: int = 32) -> list[Path]:
    """A few image files of an upload folder, for a preview."""
    out: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(s.startswith(".") for s in p.parts):
            out.append(p)
            if len(out) >= n:
                break
    return out
