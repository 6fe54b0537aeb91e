"""Text generation speed: GenLab's streaming API against transformers' own `generate`, on the same loaded
model (the offline SmolLM2-135M-Instruct by default, or a trained run), same prompt and settings.

    python benchmarks/bench_generate.py                    # SmolLM2, greedy, 128 new tokens, 3 rounds
    python benchmarks/bench_generate.py --run <run id>     # a trained GPT run (its exported HF weights)

Both sides are timed in the same process, alternating in rounds: time to first token (prompt in -> first
new token out), tokens/s after it, and process CPU seconds per token (steadier on a shared machine). Greedy decoding makes both produce the same tokens, which is
checked. GenLab's side is TextStream (what the CLI, the UI and the server use: sampling core, KV cache,
stop ids, incremental text), with the safety screen left out (it runs once, after the last token).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from genlab.use.generate import SamplingSettings, TextStream  # noqa: E402
from lightning_modules.text_sampling import encode_prompt, stop_token_ids  # noqa: E402

PROMPT = "Write a long story about a dragon who learns to bake bread."


class _Clock:
    """A transformers streamer that stamps each new token (the first put() is the prompt)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.calls = 0

    def put(self, value: torch.Tensor) -> None:
        self.calls += 1
        if self.calls > 1:
            self.stamps.append(time.perf_counter())

    def end(self) -> None:
        pass


def time_genlab(module, ids: list[int], new: int) -> tuple[float, float, list[int]]:
    settings = SamplingSettings(temperature=0.0, max_new_tokens=new)
    stream = TextStream(module, ids, settings)  # the raw stream the safety gate wraps
    t0, c0 = time.perf_counter(), time.process_time()
    first = None
    for _ in stream:
        if first is None:
            first = time.perf_counter()
    end, cpu = time.perf_counter(), time.process_time() - c0
    tokens = stream.token_ids
    return first - t0, (len(tokens) - 1) / (end - first), tokens, cpu / max(1, len(tokens))


def time_hf(model, ids: list[int], new: int, stops: list[int]) -> tuple[float, float, list[int]]:
    clock = _Clock()
    x = torch.tensor([ids])
    t0, c0 = time.perf_counter(), time.process_time()
    out = model.generate(
        x,
        attention_mask=torch.ones_like(x),
        max_new_tokens=new,
        do_sample=False,
        eos_token_id=stops,
        pad_token_id=stops[0],
        streamer=clock,
    )
    cpu = time.process_time() - c0
    tokens = out[0, len(ids) :].tolist()
    if tokens and tokens[-1] in stops:
        tokens = tokens[:-1]
    first, end = clock.stamps[0], clock.stamps[len(tokens) - 1] if tokens else clock.stamps[-1]
    return first - t0, (len(tokens) - 1) / (end - first), tokens, cpu / max(1, len(tokens))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2", help="pretrained model (smollm2, a folder or hub id)")
    ap.add_argument("--run", help="a trained gpt run id instead of --model")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--prompt", default=PROMPT)
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from genlab.use.generate import load_text_module

    t = time.perf_counter()
    module = load_text_module(args.run, None if args.run else args.model)
    load_s = time.perf_counter() - t
    hf = module.plain_model().eval()
    ids = encode_prompt(module, args.prompt, chat=module.is_chat)
    stops = sorted(stop_token_ids(module))
    time_genlab(module, ids, 4)  # warm both paths up
    time_hf(hf, ids, 4, stops)
    rows = []
    for r in range(args.rounds):
        g = time_genlab(module, ids, args.new_tokens)
        h = time_hf(hf, ids, args.new_tokens, stops)
        same = g[2] == h[2]
        rows.append(
            {
                "genlab_ttft_s": g[0],
                "genlab_tok_s": g[1],
                "genlab_cpu_s_per_token": g[3],
                "hf_ttft_s": h[0],
                "hf_tok_s": h[1],
                "hf_cpu_s_per_token": h[3],
                "same": same,
            }
        )
        print(
            f"round {r + 1}: GenLab {g[1]:.2f} tok/s (first token {g[0] * 1000:.0f} ms), transformers generate"
            f" {h[1]:.2f} tok/s (first token {h[0] * 1000:.0f} ms), {len(g[2])} tokens, identical: {same}",
            flush=True,
        )
    keys = ("genlab_ttft_s", "genlab_tok_s", "genlab_cpu_s_per_token", "hf_ttft_s", "hf_tok_s", "hf_cpu_s_per_token")
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    result = {
        "model": args.run or args.model,
        "prompt_tokens": len(ids),
        "new_tokens": args.new_tokens,
        "threads": torch.get_num_threads(),
        "load_s": load_s,
        **med,
        "ratio_tok_s": med["genlab_tok_s"] / med["hf_tok_s"],
        "ratio_ttft": med["hf_ttft_s"] / med["genlab_ttft_s"],
        "ratio_cpu_per_token": med["hf_cpu_s_per_token"] / med["genlab_cpu_s_per_token"],
        "identical_tokens": all(r["same"] for r in rows),
        "rounds": rows,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
