"""Export size and CPU latency per family and variant, against PyTorch eager, in one run.

Each family's preset (configs/*.yaml, real widths; the weights need no training for size and speed) is
built with its data module, and every net it exports is converted to TFLite fp32 / fp16 / int8 / dynamic
and ONNX fp32 / dynamic. Latency: median ms per batch-1 call, one thread each side, exported and eager
calls interleaved. Goals: fp32 TFLite no slower than eager; int8 weight-only at most 30% of fp32 size.

    python benchmarks/bench_export.py [--families dcgan,vae] [--reps 50] [--markdown]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from genlab.core.parsing import load_config  # noqa: E402
from genlab.export import parity  # noqa: E402
from genlab.export.engine import FORMATS, load_runner, prepared_for_conversion  # noqa: E402
from genlab.runner.train import prepare  # noqa: E402

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
PRESETS = {
    "vae": "vae_mnist.yaml",
    "dcgan": "dcgan_emoji.yaml",
    "cgan": "cgan_mnist.yaml",
    "cyclegan": "cyclegan_emoji.yaml",
    "pix2pix": "pix2pix_edges2emoji.yaml",
    "stargan": "stargan_emoji_faces.yaml",
    "gpt": "gpt_shakespeare.yaml",
    "rnn": "rnn_shakespeare.yaml",
    "biggan": "biggan_mnist.yaml",
}
VARIANTS = [
    ("tflite", "fp32"),
    ("tflite", "fp16"),
    ("tflite", "int8"),
    ("tflite", "dynamic"),
    ("onnx", "fp32"),
    ("onnx", "dynamic"),
]


def bench_family(family: str, reps: int, folder: Path) -> list[dict]:
    config = load_config(CONFIGS / PRESETS[family])
    _, _, module = prepare(config)
    module.eval()
    rows = []
    for name, net in module.export_nets().items():
        converted, _ = prepared_for_conversion(net)
        n_params = sum(p.numel() for p in net.module.parameters())
        for fmt, variant in VARIANTS:
            path = folder / f"{family}-{name}-{variant}{FORMATS[fmt].SUFFIX}"
            FORMATS[fmt].convert(converted, path, variant, module)
            figures = parity.compare(net, load_runner(fmt, path, 1), variant)
            figures.update(parity.latency(net, load_runner(fmt, path, 1), reps))
            rows.append(
                {
                    "family": family,
                    "net": name,
                    "params": n_params,
                    "format": fmt,
                    "variant": variant,
                    "size_kb": parity.size_on_disk(path) / 1024,
                    "max_abs_diff": figures["max_abs_diff"],
                    "passed": figures["passed"],
                    "eager_ms": figures["eager_ms"],
                    "export_ms": figures["export_ms"],
                    "speedup": figures["speedup_vs_eager"],
                }
            )
            print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| family | net | params | format | variant | size KiB | % of fp32 | max abs diff | ms export | ms eager | x eager |",
        "| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    fp32 = {(r["family"], r["net"], r["format"]): r["size_kb"] for r in rows if r["variant"] == "fp32"}
    for r in rows:
        base = fp32.get((r["family"], r["net"], r["format"]))
        share = f"{100 * r['size_kb'] / base:.0f}%" if base else "-"
        lines.append(
            f"| {r['family']} | {r['net']} | {r['params'] / 1e6:.2f} M | {r['format']} | {r['variant']} | "
            f"{r['size_kb']:.0f} | {share} | {r['max_abs_diff']:.1e} | {r['export_ms']:.3f} | {r['eager_ms']:.3f} | "
            f"{r['speedup']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default=",".join(PRESETS))
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            rows += bench_family(family, args.reps, Path(tmp))
    print(markdown(rows))


if __name__ == "__main__":
    main()
