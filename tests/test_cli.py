"""The CLI as a newcomer uses it: help texts, clear errors with exit 2 and no traceback, the run lifecycle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def genlab(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {
        "GENLAB_HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "WANDB_MODE": "offline",
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "genlab", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("command", [[], ["train"], ["runs"], ["runs", "list"], ["cancel"], ["resume"]])
def test_every_command_has_help(command: list[str], home: Path) -> None:
    out = genlab(*command, "--help", home=home)
    assert out.returncode == 0 and "usage:" in out.stdout and len(out.stdout) > 100


def test_bad_config_prints_the_field_and_exits_2(home: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("family: vae\ndata:\n  image_size: 30\noptim:\n  lr: -1\n  learning_rate: 3\n")
    out = genlab("train", "--config", str(cfg), home=home)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    for text in ("data.image_size", "optim.lr", "optim.learning_rate: unknown key"):
        assert text in out.stderr


def test_bad_override_and_unknown_run_exit_2(home: Path) -> None:
    out = genlab("train", "--config", "configs/vae_mnist.yaml", "--set", "trainer.max_epochs=zero", home=home)
    assert out.returncode == 2 and "trainer.max_epochs" in out.stderr
    out = genlab("runs", "show", "nope", home=home)
    assert out.returncode == 2 and "No run with id 'nope'" in out.stderr
    out = genlab("train", "--config", "missing.yaml", home=home)
    assert out.returncode == 2 and "not found" in out.stderr


def test_train_wait_then_list_and_show(home: Path) -> None:
    out = genlab(
        "train",
        "--config",
        "configs/vae_mnist.yaml",
        "--set",
        "data.name=digits",
        "--set",
        "data.image_size=16",
        "--set",
        "data.max_items=64",
        "--set",
        "data.batch_size=16",
        "--set",
        "trainer.max_epochs=1",
        "--set",
        "model.base_width=8",
        "--wait",
        home=home,
    )
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.split()[1]
    assert "completed" in out.stdout.splitlines()[-1] and "val/loss=" in out.stdout
    listing = json.loads(genlab("runs", "list", "--json", home=home).stdout)
    assert listing[0]["id"] == run_id and listing[0]["status"] == "completed"
    shown = json.loads(genlab("runs", "show", run_id, "--json", home=home).stdout)
    assert shown["cli"].endswith(f"{run_id}/config.yaml") and "val/loss" in shown["last_metrics"]
    assert {a["kind"] for a in shown["artifacts"]} >= {"samples", "log"}
    text = genlab("runs", "show", run_id, home=home).stdout
    assert "completed" in text and "replay" in text
    assert genlab("runs", "delete", run_id, home=home).returncode == 2  # needs --yes
    assert genlab("runs", "delete", run_id, "--yes", home=home).returncode == 0
    assert "No runs yet" in genlab("runs", "list", home=home).stdout


def test_the_command_table_names_every_command_its_module_registers() -> None:
    """`genlab X` loads only the module COMMANDS names for X: a command missing there, or named for the
    wrong module, would be unknown (or a different command) when run on its own."""
    import argparse

    from genlab.cli import COMMANDS, command_registrars

    seen = set()
    for register in command_registrars():
        sub = argparse.ArgumentParser().add_subparsers()
        register(sub)
        for name in sub.choices:
            assert COMMANDS.get(name) == f"{register.__module__}:register", name
            seen.add(name)
    assert seen == set(COMMANDS)


def test_runs_list_does_not_load_the_model_families(home: Path) -> None:
    """The tracker's most used command starts fast: it reads the store and never imports the families'
    configs, torch or the training stack (they were most of its time)."""
    code = (
        "import sys; from genlab.cli.main import main; rc = main(['runs', 'list']); "
        "print([m for m in ('genlab.core.registry', 'pydantic', 'torch', 'lightning') if m in sys.modules]); "
        "sys.exit(rc)"
    )
    env = {"GENLAB_HOME": str(home), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
