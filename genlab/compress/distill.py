"""Distil a finished run into a smaller student, trained as a normal run linked to its teacher
(`distilled_from`): a GPT student with a knowledge-distillation loss on the teacher's corpus, or a
smaller GAN generator that learns to reproduce the teacher's images for the same latents."""

from __future__ import annotations

from typing import Any

from genlab.core.errors import GenLabError
from genlab.core.parsing import apply_overrides, parse_config
from genlab.core.registry import get_family
from genlab.runner.checkpoints import load_module
from genlab.runner.finetune import finished_run, train_given_module
from genlab.store.runs import RunStore
from lightning_modules.cgan import CGANModule
from lightning_modules.dcgan import GANModule
from lightning_modules.distill import DistilledCGAN, DistilledDCGAN, DistilledGPT
from lightning_modules.gpt import GPTModule


def default_student(raw: dict[str, Any]) -> list[str]:
    """Half the teacher: half the GPT's layers, or half the generator's width."""
    model = raw["model"]
    if "n_layer" in model:
        return [f"model.n_layer={max(1, int(model['n_layer']) // 2)}"]
    return [f"model.g_width={max(4, int(model['g_width']) // 2)}"]


def _student_class(teacher: Any) -> type:
    """The student's module class for this teacher: what it is decides how it teaches."""
    if isinstance(teacher, GPTModule):
        if teacher.run_config.model.source != "scratch":
            raise GenLabError(
                "distillation takes GPT runs trained from scratch; a pretrained teacher's vocabulary needs its own student"
            )
        return DistilledGPT
    if isinstance(teacher, CGANModule):
        return DistilledCGAN
    if isinstance(teacher, GANModule):
        return DistilledDCGAN
    raise GenLabError(f"{teacher.family.title} runs cannot be distilled yet; GPT, DCGAN and conditional GAN runs can")


def _params(module: Any) -> int:
    if isinstance(module, GANModule):  # what is served: the generator
        return sum(p.numel() for p in module.generator.parameters())
    return sum(p.numel() for p in module.parameters())


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
    student_class = _student_class(teacher)
    raw = source.config
    overrides = student or default_student(raw)
    bad = [o for o in overrides if not o.startswith("model.")]
    if bad:
        raise GenLabError(f"--student changes the model section only (model.key=value), got {', '.join(bad)}")
    raw = apply_overrides(raw, overrides)
    raw["name"] = f"{source.name} student"
    raw["trainer"] = dict(raw["trainer"], max_steps=steps)
    config = parse_config(raw)
    datamodule = get_family(config.family).build_datamodule(config)
    datamodule.setup("fit")
    if student_class is DistilledGPT:
        module: Any = DistilledGPT(config, datamodule.info(), teacher, temperature, alpha)
    else:
        module = student_class(config, datamodule.info(), teacher)
    teacher_params, student_params = _params(teacher), _params(module)
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
