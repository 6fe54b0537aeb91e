"""Trained tiny runs of each kind, made once per session, and servers on them.

The runs are real (trained through the worker entry point): a chat GPT, a chat char-RNN whose safety
thresholds are all 0 (its screen flags everything), a plain-text char-RNN, a VAE, a cGAN and a pix2pix.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import wait_for
from tests.ui.conftest import train_in_process

ROOT = Path(__file__).resolve().parents[2]


def tiny(family: str, **sections: dict[str, Any]) -> Any:
    from genlab.core.registry import FAMILIES

    fam = FAMILIES[family]
    raw = fam.tiny_config().model_dump(mode="json")
    for name, values in sections.items():
        raw[name].update(values)
    return fam.config_cls.model_validate(raw)


@pytest.fixture(scope="session")
def serve_home(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("serve_home")
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        yield home


@pytest.fixture(scope="session")
def serve_store(serve_home: Path) -> Iterator[Any]:
    from genlab.store.runs import RunStore

    store = RunStore(serve_home)
    yield store
    store.close()


@pytest.fixture(scope="session")
def runs(serve_store) -> dict[str, str]:
    """kind -> run id of a completed tiny run."""
    from genlab.core.config import SCREEN_CATEGORIES

    chat_data = {"name": "genlab_chat", "max_chars": None}
    configs = {
        "chat": tiny("gpt", data=chat_data),
        "flagged": tiny("rnn", data=chat_data, safety=dict.fromkeys(SCREEN_CATEGORIES, 0.0)),
        "text": tiny("rnn"),
        "vae": tiny("vae"),
        "cgan": tiny("cgan"),
        "pix2pix": tiny("pix2pix"),
    }
    out = {}
    for kind, config in configs.items():
        run = train_in_process(serve_store, config)
        assert run.status == "completed", run.error
        out[kind] = run.id
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m genlab serve` in a subprocess on loopback, stopped by the test."""

    def __init__(self, home: Path, run_ids: list[str], *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "genlab", "serve", "--port", str(self.port), *extra]
        for r in run_ids:
            cmd += ["--run", r]
        env = {**os.environ, "GENLAB_HOME": str(home)}
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def wait_ready(self, timeout: float = 180.0) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, self.output()
            try:
                return httpx.get(self.url + "/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=timeout, what="the server to be ready")

    def output(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        return self.proc.stdout.read() if self.proc.stdout else ""

    def stop(self) -> str:
        return self.output()
