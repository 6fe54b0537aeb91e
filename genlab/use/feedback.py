"""Ratings of generated text (thumbs up/down, an optional corrected answer) from the Playground and the
REST API, kept in the run store beside the run that wrote the text; and the loop that turns them into
the next fine-tune: a chat data set of preferred answers and corrections, trained from the rated run's
Hugging Face export, linked to it as its parent.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from genlab.core.config import RunConfig
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES, get_family
from genlab.runner.jobs import start
from genlab.store.runs import Run, RunStore
from genlab.store.schema import feedback

RATINGS = {"up": 1, "down": -1}
SOURCES = ("api", "playground", "cli")
MAX_TEXT = 20_000  # characters of a prompt, output or correction
MIN_CONVERSATIONS = 32  # the data module holds some back for validation: repeat few examples up to this


@dataclass
class Feedback:
    id: int
    run_id: str
    time: float
    source: str
    prompt: str
    output: str
    rating: int
    correction: str | None
    system_prompt: str

    @property
    def preferred(self) -> str | None:
        """The answer to learn from: the correction, else a liked output, else nothing."""
        if self.correction:
            return self.correction
        return self.output if self.rating > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_feedback(
    store: RunStore,
    run_id: str,
    *,
    prompt: str,
    output: str,
    rating: str,
    correction: str | None = None,
    source: str = "api",
    system_prompt: str = "",
) -> Feedback:
    """Store one rating of an output the run generated for `prompt`."""
    if rating not in RATINGS:
        raise GenLabError(f"rating must be 'up' or 'down', got {rating!r}")
    if source not in SOURCES:
        raise GenLabError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    store.get(run_id)  # RunNotFound for an unknown run
    correction = (correction or "").strip() or None
    if not prompt.strip():
        raise GenLabError("feedback needs the prompt the output answered")
    for label, text in (("prompt", prompt), ("output", output), ("correction", correction or "")):
        if len(text) > MAX_TEXT:
            raise GenLabError(f"the {label} is {len(text)} characters; the limit is {MAX_TEXT}")
    now = time.time()
    row = {
        "run_id": run_id,
        "time": now,
        "source": source,
        "prompt": prompt,
        "output": output,
        "rating": RATINGS[rating],
        "correction": correction,
        "system_prompt": system_prompt,
    }
    with store.db.write() as con:
        fid = int(con.execute(feedback.insert().values(**row).returning(feedback.c.id)).scalar_one())
    return Feedback(fid, run_id, now, source, prompt, output, RATINGS[rating], correction, system_prompt)


def list_feedback(store: RunStore, run_id: str) -> list[Feedback]:
    q = sa.select(feedback).where(feedback.c.run_id == run_id).order_by(feedback.c.time, feedback.c.id)
    with store.db.read() as con:
        return [Feedback(**dict(r._mapping)) for r in con.execute(q)]


def feedback_summary(store: RunStore, run_id: str) -> dict[str, int]:
    items = list_feedback(store, run_id)
    return {
        "ratings": len(items),
        "up": sum(f.rating > 0 for f in items),
        "down": sum(f.rating < 0 for f in items),
        "corrections": sum(bool(f.correction) for f in items),
        "examples": sum(f.preferred is not None for f in items),
    }


def chat_examples(store: RunStore, run_id: str) -> list[list[dict[str, str]]]:
    """One conversation per rated output worth learning from (a correction, or a liked answer)."""
    out = []
    for f in list_feedback(store, run_id):
        answer = f.preferred
        if answer is None:
            continue
        system = [{"role": "system", "content": f.system_prompt}] if f.system_prompt else []
        out.append(system + [{"role": "user", "content": f.prompt}, {"role": "assistant", "content": answer}])
    return out


def write_chat_dataset(store: RunStore, run_id: str, path: Path) -> int:
    """Write the rated examples as chat jsonl (repeated up to MIN_CONVERSATIONS so a validation share
    can be held out); returns the number of distinct examples."""
    examples = chat_examples(store, run_id)
    if not examples:
        raise GenLabError(
            f"Run {run_id} has no ratings to learn from yet: give a thumbs up to good answers or a corrected answer"
        )
    copies = max(1, -(-MIN_CONVERSATIONS // len(examples)))
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"messages": m}, ensure_ascii=False) for _ in range(copies) for m in examples]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(examples)


def hf_export(store: RunStore, run: Run) -> Path:
    """The run's Hugging Face folder (written at the end of training; exported now if it is missing)."""
    folder = store.run_folder(run.id) / "exports" / "hf"
    if not (folder / "config.json").is_file():
        from genlab.runner.checkpoints import load_module  # torch: kept out of the Run page's start-up

        load_module(store, run.id, get_family(run.family).serve_checkpoint).export_hf(folder)
    return folder


def _finetunable_families() -> str:
    return " or ".join(f.name for f in FAMILIES.values() if f.can("ChatFinetunable")) or "no"


def can_finetune(run: Run) -> bool:
    """Feedback fine-tunes start from a run's Hugging Face export: families that are ChatFinetunable."""
    family = FAMILIES.get(run.family)
    return family is not None and family.can("ChatFinetunable") and run.status == "completed"


def finetune_config(store: RunStore, run_id: str, data_path: Path, *, steps: int | None = None) -> RunConfig:
    """The parent's config, switched by its family (ChatFinetunable) to fine-tune its own export on the
    feedback chat set; the name, steps, warm-up and tags are set here."""
    run = store.get(run_id)
    family = get_family(run.family)
    if not family.can("ChatFinetunable"):
        raise GenLabError(
            f"Run {run_id} is a {run.family} run; fine-tuning on feedback needs a finished {_finetunable_families()} run"
        )
    if run.status != "completed":
        raise GenLabError(f"Run {run_id} is {run.status}; fine-tune on feedback from a completed run")
    raw = store.load_config(run_id).model_dump(mode="json")
    raw["name"] = f"{run.name} + feedback"[:120]
    export = hf_export(store, run)
    from genlab.runner.build import module_class  # torch: kept out of the Run page's start-up

    raw = module_class(family).feedback_finetune_config(raw, export, data_path)
    if steps is not None:
        raw["trainer"].update({"max_steps": int(steps), "max_epochs": max(int(raw["trainer"]["max_epochs"]), steps)})
        # a short fine-tune must not spend itself warming up (the parent's warm-up was for a long run)
        raw["optim"]["warmup_steps"] = min(int(raw["optim"].get("warmup_steps", 0)), steps // 10)
    raw["tags"] = sorted(set(raw.get("tags", [])) | {"feedback"})
    return parse_config(raw)


def finetune_on_feedback(store: RunStore, run_id: str, *, steps: int | None = None, launch: bool = True) -> Run:
    """Build the chat set from the run's ratings and queue a fine-tune of it (a child run)."""
    data_path = store.home / "feedback" / f"{run_id}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    write_chat_dataset(store, run_id, data_path)
    config = finetune_config(store, run_id, data_path, steps=steps)
    if launch:
        return start(config, store, parent_id=run_id)
    return store.create_run(config, parent_id=run_id, status="running")
