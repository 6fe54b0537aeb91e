"""Distil a finished run into a smaller student, trained as a normal run linked to its teacher
(`distilled_from`). Distillation is a capability the family provides (Distillable): the teacher's module
says what its default student is and builds the student that learns from it (how it is taught lives with
the family); here only the run around it: the student's config, its size check, training and the link."""

from __future__ import annotations

from typing import Any

from genlab.core.errors import GenLabError
from genlab.core.parsing import apply_overrides, parse_config
from genlab.core.registry import FAMILIES
from genlab.runner.build import build_datamodule
from genlab.runner.checkpoints import load_module
from genlab.runner.finetune import finished_run, train_given_module
from genlab.store.runs import RunStore
from lightning_modules.base import Distillable


def distill_run(
    store: RunStore,
    teacher_id: str,
    student: list[str] | None = None,
    steps: int = 100,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> dict[str, Any]:
    """Train a student of `teacher_id` for `steps` batches; `student` are model.* overrides of the teacher's
    config (default: half size). Returns both sizes and monitored metrics."""
    if steps < 1:
        raise GenLabError(f"--steps must be at least 1, got {steps}")
    if temperature <= 0 or not 0.0 <= alpha <= 1.0:
        raise GenLabError("--temperature must be > 0 and --alpha within [0, 1]")
    source = finished_run(store, teacher_id, "distilled")
    teacher = load_module(store, teacher_id)
    if not isinstance(teacher, Distillable):
        able = ", ".join(f.title for f in FAMILIES.values() if f.can("Distillable"))
        raise GenLabError(f"{teacher.family.title} runs cannot be distilled yet; {able} runs can")
    defaults = teacher.student_overrides()  # raises when this teacher cannot teach
    raw = source.config
    overrides = student or defaults
    bad = [o for o in overrides if not o.startswith("model.")]
    if bad:
        raise GenLabError(f"--student changes the model section only (model.key=value), got {', '.join(bad)}")
    raw = apply_overrides(raw, overrides)
    raw["name"] = f"{source.name} student"
    raw["trainer"] = dict(raw["trainer"], max_steps=steps)
    config = parse_config(raw)
    datamodule = build_datamodule(config)
    datamodule.setup("fit")
    module = teacher.distill_student(config, datamodule.info(), temperature=temperature, alpha=alpha)
    teacher_params, student_params = teacher.served_parameters(), module.served_parameters()
    if student_params >= teacher_params:
        raise GenLabError(
            f"the student ({student_params:,} parameters) is not smaller than the teacher ({teacher_params:,}); "
            "shrink it with --student model.<key>=<value>"
        )
    run = store.create_run(config, status="running")
    train_given_module(store, run.id, config, module)
    figures = {
        "student": overrides,
        "teacher_params": teacher_params,
        "student_params": student_params,
        "size_ratio": student_params / teacher_params,
        "temperature": temperature,
        "alpha": alpha,
        "monitor": source.monitor,
        "teacher_monitor": source.best_value,
        "student_monitor": store.get(run.id).best_value,
        "steps": steps,
    }
    store.add_link(run.id, "distilled_from", teacher_id, figures)
    return {"run_id": run.id, "teacher_id": teacher_id, **figures}
