"""The retraining loop end to end under the embedded defaults, with no cron: ratings arrive, the app's job
queue (jobs.schedule, what every page refresh and every finished worker calls) sees the schedule is due and
starts the background retraining (DPO fine-tune + champion/challenger gate) by itself.

- A challenger that loses is not promoted: the ratings on the training prompts prefer the shouted word salad
  while the held-out prompts prefer the real verse, so the child learns the opposite of what it is judged on.
- One that wins is promoted, and a `genlab serve` started on the root before the retraining answers with the
  champion without a restart; the Run page shows the new lineage.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from tests.helpers import train_tiny, wait_for

pytestmark = pytest.mark.slow
RETRAIN_TIMEOUT_S = 900  # the background process imports torch and trains on a shared 2-core machine


def _trained_root(store) -> str:
    from genlab.core.registry import FAMILIES

    run_id, _ = train_tiny(store, FAMILIES["gpt"])
    return run_id


def _rate(store, run_id: str, pairs) -> None:
    from genlab.use.feedback import add_feedback

    for p in pairs:
        add_feedback(store, run_id, prompt=p.prompt, output=p.rejected, rating="down", correction=p.chosen)


def _decided(store, root: str) -> dict:
    """Wait (the app's queue is what starts the work) until the retraining recorded its decision."""
    from genlab.runner import jobs
    from genlab.runner.retrain_jobs import log_path, retraining_pid
    from genlab.runner.retrain_schedule import read_schedule

    assert jobs.schedule(store) == []  # no queued run: what it starts is the retraining
    assert retraining_pid(store) is not None, "the job queue started the due retraining"

    def done() -> dict | None:
        history = read_schedule(store, root)["history"]
        if history:
            return history[-1]
        assert retraining_pid(store) is not None, log_path(store).read_text(encoding="utf-8")[-3000:]
        return None

    return wait_for(done, timeout=RETRAIN_TIMEOUT_S, interval=1.0, what="the retraining's decision")


def test_a_challenger_that_loses_is_not_promoted(store):
    from genlab.runner.retrain import split_pairs
    from genlab.runner.retrain_schedule import is_due, read_schedule, set_schedule
    from genlab.use.preferences import builtin_preferences

    root = _trained_root(store)
    set_schedule(store, root, every_ratings=8, steps=16, beta=0.5)
    pairs = builtin_preferences(24, seed=3)
    train, held_out = split_pairs(pairs)  # the same split the loop makes of these prompts
    _rate(store, root, [replace(p, chosen=p.rejected, rejected=p.chosen) for p in train] + held_out)
    assert is_due(store, root)

    decision = _decided(store, root)
    assert not decision["promoted"] and "kept the champion" in decision["why"]
    assert decision["challenger_score"]["margin"] < decision["champion_score"]["margin"]
    state = read_schedule(store, root)
    assert state["served"] == root
    assert store.get(decision["challenger"]).parent_id == root, "the challenger is kept as a child run"
    assert not is_due(store, root), "the ratings it judged are counted"


def test_a_winning_challenger_is_promoted_and_a_running_server_switches_to_it(store):
    from streamlit.testing.v1 import AppTest

    from genlab.runner.retrain_schedule import read_schedule, set_schedule
    from genlab.use.preferences import builtin_preferences
    from tests.serve.conftest import Server
    from tests.ui.conftest import APP, TIMEOUT, open_tab

    root = _trained_root(store)
    set_schedule(store, root, every_ratings=8, steps=16, beta=0.5)
    server = Server(store.home, [root])
    try:
        server.wait_ready(timeout=600)  # a shared 2-core machine under load imports torch slowly
        info = httpx.get(f"{server.url}/runs/{root}", timeout=30).json()
        assert (info["run_id"], info["serving"]) == (root, root)

        _rate(store, root, builtin_preferences(24, seed=3))
        decision = _decided(store, root)
        assert decision["promoted"], decision["why"]
        champion = decision["challenger"]
        assert read_schedule(store, root)["served"] == champion

        def switched() -> bool:
            return httpx.get(f"{server.url}/runs/{root}", timeout=30).json()["serving"] == champion

        wait_for(switched, timeout=120, interval=0.5, what="the running server to serve the champion")
        body = {"model": root, "prompt": "My lord", "max_tokens": 4, "seed": 1}
        reply = httpx.post(f"{server.url}/v1/completions", json=body, timeout=60).json()
        assert reply["model"] == champion, reply
        assert server.proc.poll() is None, "no restart"
        models = httpx.get(f"{server.url}/v1/models", timeout=30).json()["data"]
        assert [m["id"] for m in models] == [root], "clients keep calling the root's name"
    finally:
        server.stop()

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["id"] = root
    at.switch_page("views/run.py")
    at = open_tab(at, "Preferences & lineage")
    tree = next(d.value for d in at.dataframe if "role" in d.value.columns)
    assert dict(zip(tree["run"].str.strip(" └"), tree["role"], strict=True))[champion] == "served (champion)"
