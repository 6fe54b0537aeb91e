"""Aggregate throughput under concurrency, batched against one-at-a-time decoding, side by side in one run:
the gpt_shakespeare preset's network (trained for a few steps only: speed depends on the shape, not the
weights) behind `python -m genlab serve`, once with `--batch 16` and once with `--batch 0` (today's lock
per model). For each server: one streaming client alone, then 8 at once (total tokens/s, time to first
token p50/p95), then 200 requests with 16 in flight (errors), through the official openai client on
/v1/completions and through the native /runs/ID/generate events (the OpenAI routes' cost).

    python benchmarks/bench_batching.py [--tokens 64] [--steps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]

PROMPTS = ["ROMEO:\n", "KING HENRY V:\n", "To be, or not to be", "JULIET:\n", "First Citizen:\n", "HAMLET:\n"]


def train_preset(steps: int) -> str:
    """The gpt_shakespeare preset's network, trained for `steps` steps in the current GENLAB_HOME."""
    from genlab.core.parsing import parse_config
    from genlab.core.registry import FAMILIES
    from genlab.runner import jobs
    from genlab.store.runs import RunStore

    raw = yaml.safe_load((ROOT / "configs" / "gpt_shakespeare.yaml").read_text())
    raw["data"].update({"max_chars": 400_000, "eval_pairs": 2})
    raw["trainer"].update({"max_steps": steps, "limit_train_batches": steps, "limit_val_batches": 2, "max_epochs": 1})
    raw["logging"] = {"sample_every_n_steps": 10_000}
    config = parse_config(raw)
    store = RunStore()
    run = store.create_run(config, monitor=FAMILIES["gpt"].monitor)
    store.claim_next(1)
    jobs.run_worker(run.id, store)
    assert store.get(run.id).status == "completed", store.get(run.id).error
    return run.id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(run_id: str, batch: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "genlab", "serve", "--port", str(port), "--rate-limit", "0", "--run", run_id]
    proc = subprocess.Popen(
        [*cmd, "--batch", str(batch)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/ready", timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the server exited while starting")
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the server was not ready within 300 s")


async def openai_stream(client: Any, run_id: str, i: int, tokens: int) -> tuple[int, float]:
    """(completion tokens, seconds to the first text) of one streamed /v1/completions request."""
    start, first, used = time.perf_counter(), None, 0
    stream = await client.completions.create(
        model=run_id,
        prompt=PROMPTS[i % len(PROMPTS)],
        max_tokens=tokens,
        temperature=0.8,
        seed=i,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].text and first is None:
            first = time.perf_counter() - start
        if chunk.usage is not None:
            used = chunk.usage.completion_tokens
    return used, first if first is not None else time.perf_counter() - start


async def native_stream(client: httpx.AsyncClient, run_id: str, i: int, tokens: int) -> tuple[int, float]:
    start, first, used = time.perf_counter(), None, 0
    body = {"prompt": PROMPTS[i % len(PROMPTS)], "max_new_tokens": tokens, "temperature": 0.8, "top_k": 0, "seed": i}
    async with client.stream("POST", f"/runs/{run_id}/generate", json=body | {"stream": True}) as r:
        r.raise_for_status()
        event = ""
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "chunk" and first is None:
                    first = time.perf_counter() - start
                elif event == "done":
                    used = int(data["n_tokens"])
    return used, first if first is not None else time.perf_counter() - start


async def load(url: str, run_id: str, route: str, total: int, concurrency: int, tokens: int) -> dict[str, Any]:
    from openai import AsyncOpenAI

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http = httpx.AsyncClient(base_url=url, timeout=600, limits=limits)
    oa = AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=600, http_client=http)
    sem = asyncio.Semaphore(concurrency)
    results: list[tuple[int, float]] = []
    errors: list[str] = []

    async def one(i: int) -> None:
        async with sem:
            try:
                call = (
                    openai_stream(oa, run_id, i, tokens)
                    if route == "openai"
                    else native_stream(http, run_id, i, tokens)
                )
                results.append(await call)
            except Exception as err:  # counted, not raised: the figure is the error count
                errors.append(f"{type(err).__name__}: {err}")

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    wall = time.perf_counter() - start
    await http.aclose()
    ttft = [t for _, t in results] or [0.0]
    n_tokens = sum(n for n, _ in results)
    return {
        "requests": total,
        "concurrency": concurrency,
        "tokens": n_tokens,
        "tok_per_s": n_tokens / wall,
        "ttft_p50_ms": 1000 * float(np.percentile(ttft, 50)),
        "ttft_p95_ms": 1000 * float(np.percentile(ttft, 95)),
        "errors": errors,
    }


def measure(url: str, run_id: str, tokens: int) -> dict[str, dict[str, Any]]:
    asyncio.run(load(url, run_id, "openai", 4, 2, 8))  # warm-up
    out = {}
    for route in ("openai", "native"):
        out[f"{route} 1 client"] = asyncio.run(load(url, run_id, route, 8, 1, tokens))
        out[f"{route} 8 clients"] = asyncio.run(load(url, run_id, route, 32, 8, tokens))
    out["openai 200 req, 16 at once"] = asyncio.run(load(url, run_id, "openai", 200, 16, tokens))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64, help="max_tokens of every request")
    ap.add_argument("--steps", type=int, default=20, help="training steps of the preset (speed needs no quality)")
    ap.add_argument("--run", help="serve this run instead of training the preset (current GENLAB_HOME)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        if not args.run:
            os.environ["GENLAB_HOME"] = home
        run_id = args.run or train_preset(args.steps)
        table: dict[str, dict[str, dict[str, Any]]] = {}
        for label, batch in (("batched (--batch 16)", 16), ("one at a time (--batch 0)", 0)):
            proc, url = serve(run_id, batch)
            try:
                table[label] = measure(url, run_id, args.tokens)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    print(f"load: {os.getloadavg()}")
    print("| server | load | tokens/s | TTFT p50 ms | TTFT p95 ms | errors |\n| --- | --- | --- | --- | --- | --- |")
    for label, rows in table.items():
        for name, r in rows.items():
            print(
                f"| {label} | {name} | {r['tok_per_s']:.0f} | {r['ttft_p50_ms']:.0f} | {r['ttft_p95_ms']:.0f} | "
                f"{len(r['errors'])} |"
            )
    for label, rows in table.items():
        single, eight = rows["openai 1 client"]["tok_per_s"], rows["openai 8 clients"]["tok_per_s"]
        print(f"{label}: 8 clients / 1 client = {eight / single:.2f}x (openai route)")
        for r in rows.values():
            for e in r["errors"][:3]:
                print("error:", e)
    errors = sum(len(r["errors"]) for rows in table.values() for r in rows.values())
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
