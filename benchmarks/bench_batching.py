"""Aggregate throughput under concurrency, batched against one-at-a-time decoding, side by side in one run:
the gpt_shakespeare preset's network (trained for a few steps only: speed depends on the shape, not the
weights) behind two `python -m genlab serve` processes at once, one with `--batch 16` and one with
`--batch 0` (the lock per model). In each of --rounds interleaved rounds, on each server in turn: one
streaming client alone, then 8 at once (total tokens/s, time to first token p50/p95), each through the
official openai client on /v1/completions and through the native /runs/ID/generate events (the OpenAI
routes' cost), so a load change on the shared machine hits both sides alike; medians and per-round
ratios are printed. Then 200 requests with 16 in flight on the batched server (errors).

    python -m benchmarks.bench_batching [--tokens 32] [--rounds 3] [--steps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m
from benchmarks.served import start_server  # noqa: E402

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


def serve(run_id: str, batch: int) -> tuple[subprocess.Popen, str]:
    return start_server([run_id], "--batch", str(batch))


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


CASES = ("openai 1 client", "native 1 client", "openai 8 clients", "native 8 clients")


def one_case(url: str, run_id: str, case: str, tokens: int, single: int) -> dict[str, Any]:
    """One case of a round: `single` requests one at a time, or max(4 * single, 16) with 8 in flight."""
    route, clients = case.split()[0], int(case.split()[1])
    total = single if clients == 1 else max(4 * single, 16)
    return asyncio.run(load(url, run_id, route, total, clients, tokens))


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=32, help="max_tokens of every request")
    ap.add_argument("--steps", type=int, default=20, help="training steps of the preset (speed needs no quality)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (every case on every server per round)")
    ap.add_argument("--single", type=int, default=4, help="requests of the one-client case (8 clients: 4x, >= 16)")
    ap.add_argument("--burst", type=int, default=200, help="requests of the burst (16 at once) on the batched server")
    ap.add_argument("--run", help="serve this run instead of training the preset (current GENLAB_HOME)")
    ap.add_argument(
        "--no-baseline", action="store_true", help="only the batched server (no --batch 0 server in the rounds)"
    )
    args = ap.parse_args()
    servers = {"batched (--batch 16)": 16} | ({} if args.no_baseline else {"one at a time (--batch 0)": 0})
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    loads: list[tuple[float, float, float]] = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as home:
        if not args.run:
            os.environ["GENLAB_HOME"] = home
        run_id = args.run or train_preset(args.steps)
        started = {label: serve(run_id, batch) for label, batch in servers.items()}
        try:
            for _, url in started.values():
                asyncio.run(load(url, run_id, "openai", 4, 2, 8))  # warm-up
            for rnd in range(args.rounds):
                for label, (_, url) in started.items():  # both servers in every round, the same cases in turn
                    for case in CASES:
                        r = one_case(url, run_id, case, args.tokens, args.single)
                        rows.setdefault((label, case), []).append(r)
                        print(
                            f"round {rnd + 1} {label} {case}: {r['tok_per_s']:.1f} tok/s, load {os.getloadavg()[0]:.1f}"
                        )
                loads.append(os.getloadavg())
            url = started["batched (--batch 16)"][1]
            burst = asyncio.run(load(url, run_id, "openai", args.burst, 16, args.tokens))
            loads.append(os.getloadavg())
        finally:
            for proc, _ in started.values():
                proc.terminate()
                proc.wait(timeout=60)
    print(
        f"load (1/5/15 min) before, after each round, after the burst: {[tuple(round(x, 1) for x in lo) for lo in loads]}"
    )
    print("| server | case | tokens/s (median of rounds) | per round | TTFT p50 ms | TTFT p95 ms | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (label, case), rs in rows.items():
        per = ", ".join(f"{r['tok_per_s']:.0f}" for r in rs)
        print(
            f"| {label} | {case} | {median([r['tok_per_s'] for r in rs]):.1f} | {per} | "
            f"{median([r['ttft_p50_ms'] for r in rs]):.0f} | {median([r['ttft_p95_ms'] for r in rs]):.0f} | "
            f"{sum(len(r['errors']) for r in rs)} |"
        )
    print(
        f"| batched (--batch 16) | openai, {args.burst} requests, 16 at once | {burst['tok_per_s']:.1f} | | "
        f"{burst['ttft_p50_ms']:.0f} | {burst['ttft_p95_ms']:.0f} | {len(burst['errors'])} |"
    )
    for label in servers:
        for route in ("openai", "native"):
            ratios = [
                e["tok_per_s"] / o["tok_per_s"]
                for o, e in zip(rows[(label, f"{route} 1 client")], rows[(label, f"{route} 8 clients")], strict=True)
            ]
            print(
                f"{label} {route}: 8 clients / 1 client per round = {[round(x, 2) for x in ratios]}, median {median(ratios):.2f}x"
            )
        for n in ("1 client", "8 clients"):
            ratios = [
                o["tok_per_s"] / nat["tok_per_s"]
                for o, nat in zip(rows[(label, f"openai {n}")], rows[(label, f"native {n}")], strict=True)
            ]
            print(
                f"{label} {n}: openai / native per round = {[round(x, 2) for x in ratios]}, median {median(ratios):.2f}"
            )
    for e in [e for rs in rows.values() for r in rs for e in r["errors"]][:3] + burst["errors"][:3]:
        print("error:", e)
    return 1 if burst["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
