"""Load test of the REST server on loopback: tiny runs of each kind behind `python -m genlab serve`,
N requests with C in flight (a bounded asyncio client), p50/p95 latency per route and requests per second.

    python benchmarks/bench_serve.py --requests 500 --concurrency 16

Trains its tiny runs in a throwaway GENLAB_HOME (or serves --run IDs of the current one).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m
from benchmarks.served import start_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def png_bytes(side: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (200, 80, 40)).save(buf, format="PNG")
    return buf.getvalue()


def plan_for(runs: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, path, httpx request kwargs), one per kind present; the load cycles through them."""
    out = []
    if "text" in runs:
        out.append(
            ("text generate", f"/runs/{runs['text']}/generate", {"json": {"prompt": "ROMEO:", "max_new_tokens": 16}})
        )
    if "chat" in runs:
        body = {"messages": [{"role": "user", "content": "hi"}], "max_new_tokens": 16}
        out.append(("gpt chat", f"/runs/{runs['chat']}/chat", {"json": body}))
    if "cgan" in runs:
        out.append(("cgan sample x4", f"/runs/{runs['cgan']}/sample", {"json": {"n": 4, "label": 1}}))
    if "vae" in runs:
        out.append(("vae sample x4", f"/runs/{runs['vae']}/sample", {"json": {"n": 4, "format": "base64"}}))
    if "pix2pix" in runs:
        upload = {"files": {"file": ("x.png", png_bytes(), "image/png")}}
        out.append(("pix2pix translate", f"/runs/{runs['pix2pix']}/translate", upload))
    return out


async def _load(base_url: str, plan: list, total: int, concurrency: int, headers: dict[str, str]) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {label: [] for label, _, _ in plan}
    errors: list[str] = []
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits, headers=headers) as client:

        async def one(i: int) -> None:
            label, path, kwargs = plan[i % len(plan)]
            async with sem:
                t = time.perf_counter()
                r = await client.post(path, **kwargs)
                dt = time.perf_counter() - t
            if r.status_code != 200:
                errors.append(f"{label}: {r.status_code} {r.text[:200]}")
            latencies[label].append(dt)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        wall = time.perf_counter() - start
    every = [x for v in latencies.values() for x in v]
    return {
        "requests": total,
        "concurrency": concurrency,
        "errors": errors,
        "wall_s": wall,
        "req_per_s": total / wall,
        "p50_ms": 1000 * float(np.percentile(every, 50)),
        "p95_ms": 1000 * float(np.percentile(every, 95)),
        "routes": {
            label: {
                "n": len(v),
                "p50_ms": 1000 * float(np.percentile(v, 50)),
                "p95_ms": 1000 * float(np.percentile(v, 95)),
            }
            for label, v in latencies.items()
            if v
        },
    }


def run_load(
    base_url: str, plan: list, total: int, concurrency: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return asyncio.run(_load(base_url, plan, total, concurrency, headers or {}))


def train_tiny_runs() -> dict[str, str]:
    """Tiny completed runs of each kind in the current GENLAB_HOME."""
    from genlab.core.registry import FAMILIES
    from genlab.runner import jobs
    from genlab.store.runs import RunStore

    store = RunStore()
    specs = {
        "text": ("rnn", {}),
        "chat": ("gpt", {"name": "genlab_chat"}),
        "cgan": ("cgan", {}),
        "vae": ("vae", {}),
        "pix2pix": ("pix2pix", {}),
    }
    out = {}
    for kind, (family, data) in specs.items():
        fam = FAMILIES[family]
        raw = fam.tiny_config().model_dump(mode="json")
        raw["data"].update(data)
        run = store.create_run(fam.config_cls.model_validate(raw), monitor=fam.monitor)
        store.claim_next(1)
        jobs.run_worker(run.id, store)
        assert store.get(run.id).status == "completed", store.get(run.id).error
        out[kind] = run.id
    return out


def serve(runs: dict[str, str]) -> tuple[subprocess.Popen, str]:
    return start_server(list(runs.values()), ready_within_s=300)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["GENLAB_HOME"] = home
        runs = train_tiny_runs()
        proc, url = serve(runs)
        try:
            run_load(url, plan_for(runs), 2 * len(runs), 2)  # warm-up
            res = run_load(url, plan_for(runs), args.requests, args.concurrency)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(
        f"{res['requests']} requests, {res['concurrency']} in flight: {res['req_per_s']:.1f} req/s, "
        f"p50 {res['p50_ms']:.0f} ms, p95 {res['p95_ms']:.0f} ms, errors {len(res['errors'])}"
    )
    print("| route | requests | p50 ms | p95 ms |\n| --- | --- | --- | --- |")
    for label, r in res["routes"].items():
        print(f"| {label} | {r['n']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} |")
    for e in res["errors"][:5]:
        print("error:", e)
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
