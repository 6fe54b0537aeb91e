"""The same chat run answers the same question the same way from the CLI and from the Playground (issue 28):
the gpt_smollm2_chat preset trained to its first validation (40 LoRA steps, 2 epochs), asked "What is the capital of Italy?" ten times with its
default decoding (the base model's generation_config: SmolLM2's low temperature, no repetition penalty),
names Rome at least nine times in each. The Playground's chat is the engine's ChatSession with the model's
own defaults (gen.sampling_for) and the system prompt the run was trained with, which is what is run here.

Slow: it trains SmolLM2 with LoRA on the CPU and generates twenty answers (about 5 minutes on an idle 2-core
machine).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]

QUESTION = "What is the capital of Italy?"
ASKS = 10


def test_a_chat_run_names_rome_nine_times_in_ten_from_the_cli_and_the_playground(home, store):
    from genlab.core.parsing import load_config
    from genlab.runner import jobs
    from genlab.safety.gate import Gate, policy_of
    from genlab.use import generate as gen

    config = load_config(ROOT / "configs" / "gpt_smollm2_chat.yaml")
    # To its first validation. Fewer steps leave the offline SmolLM2 (a 4-bit GGUF) as it is, and it opens
    # this answer with "Il" more often than "The"; the preset's general-knowledge pairs (Italy not among them)
    # teach it to answer such questions plainly (docs/BENCHMARKS.md, "The same chat run's answers").
    config.trainer.max_steps = 40
    config.data.eval_pairs = 1
    run = jobs.wait(jobs.start(config, store).id, store)
    assert run.status == "completed", run.error

    cli = []
    for _ in range(ASKS):  # the CLI twin, as a person types it: defaults only, a fresh process each time
        out = subprocess.run(
            [sys.executable, "-m", "genlab", "generate", run.id, "--prompt", QUESTION],
            cwd=ROOT,
            env=dict(os.environ, GENLAB_HOME=str(home)),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        cli.append(out.stdout)

    module = gen.load_text_module(run.id)
    defaults = gen.sampling_for(module)
    assert defaults.temperature <= 0.3 and defaults.repetition_penalty == 1.0  # SmolLM2's generation_config
    playground = []
    for _ in range(ASKS):  # the Playground's chat: a new conversation per question
        session = gen.ChatSession(
            module, system_prompt=gen.trained_system_prompt(module), settings=defaults, gate=Gate(policy_of(module))
        )
        playground.append(session.send(QUESTION).text)

    for where, answers in (("CLI", cli), ("Playground", playground)):
        right = sum("rome" in a.lower() for a in answers)
        assert right >= 9, f"{where}: {right}/{ASKS} named Rome: {answers}"
